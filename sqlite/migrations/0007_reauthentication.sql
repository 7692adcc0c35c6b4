-- 0007_reauthentication records when each session last proved a first
-- factor (a password), for the re-authentication that sensitive changes
-- need (ASVS 7.5.1): NULL for never. Existing sessions proved it when they
-- were created, except the partial sessions of invitations, which never did.
--
-- Microseconds since the Unix epoch in UTC, as in 0001_init.

ALTER TABLE sessions ADD COLUMN authenticated_at INTEGER;

UPDATE sessions SET authenticated_at = created_at WHERE scope <> 'invite';
