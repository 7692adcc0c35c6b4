-- 0009_throttle_pending keeps, per throttling key, the attempts being
-- verified right now (gatehouse.Throttle.Pending): a guess is reserved,
-- in the same transaction that checks the lock, before its password is
-- verified, and settled after; so parallel guesses, from any number of
-- processes, can never all pass the check before one failure is counted.
ALTER TABLE throttles ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
-- When the pending reservations lapse (a process died while verifying):
-- they then count as failures. NULL when pending is 0.
ALTER TABLE throttles ADD COLUMN pending_until INTEGER;
