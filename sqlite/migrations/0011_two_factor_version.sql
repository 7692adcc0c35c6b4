-- 0011_two_factor_version gives each user's second-factor settings a
-- version, so that a change read from them is written back only if
-- nothing changed them meanwhile (gatehouse.TwoFactorStore.PutTwoFactor:
-- a compare-and-swap), from this process or another. Every write stores a
-- new random version (never a counter: settings deleted and created again
-- must not take up a version a stale writer still holds). The settings of
-- earlier releases start at 1, which no write stores again.
ALTER TABLE two_factor ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
