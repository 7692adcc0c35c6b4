-- 0004_two_factor adds second factors: each user's TOTP enrolment, SMS
-- phone and recovery codes, and the pending logins between a correct
-- password and the second factor.
--
-- Times are INTEGER microseconds since the Unix epoch in UTC, and tables
-- STRICT, as in 0001_init.

-- One row per user with second-factor settings; none for a user without.
CREATE TABLE two_factor (
	user_id        TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	-- The TOTP key sealed with the server's key; NULL until enrolment is
	-- confirmed.
	totp_secret    BLOB,
	-- The sealed key of an enrolment not yet confirmed; NULL when none.
	totp_pending   BLOB,
	-- The last time step whose code was accepted: UseTOTPStep raises it only
	-- with a single conditional UPDATE, so that a code is accepted once.
	totp_last_step INTEGER NOT NULL DEFAULT 0,
	-- E.164, '' when none.
	phone          TEXT    NOT NULL DEFAULT '',
	updated_at     INTEGER NOT NULL
) STRICT;

-- The unused recovery codes, one row each, so that using one is a single
-- DELETE whose row count tells whether the code was there: of concurrent
-- uses of a code, exactly one deletes it. They hang off two_factor, so
-- deleting a user's settings, or the user, deletes them too.
CREATE TABLE recovery_codes (
	user_id TEXT NOT NULL REFERENCES two_factor (user_id) ON DELETE CASCADE,
	-- SHA-256 of the code; the code itself is never stored.
	hash    BLOB NOT NULL,
	PRIMARY KEY (user_id, hash)
) STRICT, WITHOUT ROWID;

CREATE TABLE pending_logins (
	id              TEXT    NOT NULL PRIMARY KEY,
	-- SHA-256 of the cookie secret; the secret itself is never stored.
	token_hash      BLOB    NOT NULL UNIQUE,
	user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	-- The user's security stamp at the password check.
	stamp           TEXT    NOT NULL,
	remember        INTEGER NOT NULL CHECK (remember IN (0, 1)),
	created_at      INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL,
	attempts        INTEGER NOT NULL CHECK (attempts >= 0),
	-- SHA-256 of the email or SMS code sent, NULL when none was.
	code_hash       BLOB,
	-- 'email' or 'sms', '' when no code was sent.
	code_provider   TEXT    NOT NULL,
	-- NULL when no code was sent.
	code_expires_at INTEGER,
	sends           INTEGER NOT NULL CHECK (sends >= 0)
) STRICT;

-- The pending logins the foreign key deletes with a user.
CREATE INDEX pending_logins_user_id ON pending_logins (user_id);

-- DeleteExpiredPendingLogins: WHERE expires_at <= ?.
CREATE INDEX pending_logins_expires_at ON pending_logins (expires_at);
