-- 0002_user_version gives each user a version, so that a user read,
-- changed and written back (gatehouse.UserStore.UpdateUser: a
-- compare-and-swap) never overwrites a change made meanwhile, from this
-- process or another. Every write stores a new random version, never a
-- counter; users created before this migration start at 1, which no write
-- stores again.
ALTER TABLE users ADD COLUMN version bigint NOT NULL DEFAULT 1;
