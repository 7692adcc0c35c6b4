-- 0012_user_version gives each user a version, so that a user read,
-- changed and written back (gatehouse.UserStore.UpdateUser: a
-- compare-and-swap) never overwrites a change made meanwhile, from this
-- process or another: a password change cannot re-enable a user an
-- administrator disabled. Every write stores a new random version (never a
-- counter, as for 0011's two-factor settings). Users of earlier releases
-- start at 1, which no write stores again.
ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
