-- 0006_devices adds remembered devices: browsers whose cookie skips the
-- second factor for their user until they expire or are forgotten.
--
-- Times are INTEGER microseconds since the Unix epoch in UTC, and tables
-- STRICT, as in 0001_init.

CREATE TABLE devices (
	id          TEXT    NOT NULL PRIMARY KEY,
	-- SHA-256 of the cookie secret; the secret itself is never stored.
	token_hash  BLOB    NOT NULL UNIQUE,
	user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	-- The session created with the device, '' when none. No foreign key:
	-- the session may end, and be deleted, long before the device; only its
	-- revocation from the session list forgets the device, by DeleteDevices.
	session_id  TEXT    NOT NULL,
	-- The user's security stamp when the device was remembered.
	stamp       TEXT    NOT NULL,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	client_addr TEXT    NOT NULL,
	user_agent  TEXT    NOT NULL
) STRICT;

-- DeleteDevices: WHERE user_id = ? [AND session_id = ?]; also the devices
-- the foreign key deletes with a user.
CREATE INDEX devices_user_id_session_id ON devices (user_id, session_id);

-- DeleteExpiredDevices: WHERE expires_at <= ?.
CREATE INDEX devices_expires_at ON devices (expires_at);
