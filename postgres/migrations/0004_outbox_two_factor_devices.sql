-- 0004_outbox_two_factor_devices adds the mail outbox, users' second-factor
-- settings, the pending logins between a correct password and the second
-- factor, and remembered devices.
--
-- As in 0001, times are timestamptz truncated to the microsecond in Go,
-- and key columns are COLLATE "C". Counters are bigint, Go's int, so that
-- no value a caller passes is out of the column's range.

-- The outbox has no foreign keys: a message is addressed to an address, not
-- a user, and a message already queued is still sent after its user is
-- deleted (a notice that an account was deleted, say).
CREATE TABLE outbox (
	id              text        COLLATE "C" NOT NULL PRIMARY KEY,
	to_addr         text        NOT NULL,
	-- The subject and bodies are blanked once the message is sent or given
	-- up: they may hold one-time links.
	subject         text        NOT NULL,
	text_body       text        NOT NULL,
	html_body       text        NOT NULL,
	-- What the message is ('invite', 'reset', ...), for logs and metrics.
	kind            text        NOT NULL,
	created_at      timestamptz NOT NULL,
	attempts        bigint      NOT NULL CHECK (attempts >= 0),
	-- When the next attempt is due, or while a sender holds the message,
	-- when its lease ends. NULL when no attempt is ever due again: the
	-- senders gave up on the message.
	next_attempt_at timestamptz,
	-- The reason the last attempt failed, '' if none did.
	last_error      text        NOT NULL,
	-- NULL until the mail server accepted the message.
	sent_at         timestamptz
);

-- ClaimMail reads the unsent messages due at a time, oldest due first:
-- WHERE sent_at IS NULL AND next_attempt_at <= $1 ORDER BY next_attempt_at, id.
-- The index holds only unsent messages, so sent ones, which pile up until
-- DeleteOldMail, cost the claim nothing; PendingMail counts from it too.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE sent_at IS NULL;

-- One row per user with second-factor settings; none for a user without.
CREATE TABLE two_factor (
	user_id        text        COLLATE "C" NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	-- The TOTP key sealed with the server's key; NULL until enrolment is
	-- confirmed.
	totp_secret    bytea,
	-- The sealed key of an enrolment not yet confirmed; NULL when none.
	totp_pending   bytea,
	-- The last time step whose code was accepted: UseTOTPStep raises it
	-- only with a single conditional UPDATE, so that a code is accepted
	-- once.
	totp_last_step bigint      NOT NULL DEFAULT 0,
	-- E.164, '' when none.
	phone          text        NOT NULL DEFAULT '',
	-- The SHA-256 hashes of the unused recovery codes. In the row, not a
	-- table of their own, so that using one is a single UPDATE of this row
	-- that removes the code and changes the version together: of
	-- concurrent uses of a code exactly one finds it, and no PutTwoFactor
	-- of settings read before the use can write it back.
	recovery_codes bytea[]     NOT NULL DEFAULT '{}',
	updated_at     timestamptz NOT NULL,
	-- A new random value on every write: PutTwoFactor is a compare-and-swap
	-- on it (gatehouse.TwoFactor.Version). Never 0, which means "none read".
	version        bigint      NOT NULL CHECK (version <> 0)
);

CREATE TABLE pending_logins (
	id              text        COLLATE "C" NOT NULL PRIMARY KEY,
	-- SHA-256 of the cookie secret; the secret itself is never stored.
	token_hash      bytea       NOT NULL UNIQUE,
	user_id         text        COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	-- The user's security stamp at the password check.
	stamp           text        NOT NULL,
	remember        boolean     NOT NULL,
	created_at      timestamptz NOT NULL,
	expires_at      timestamptz NOT NULL,
	attempts        bigint      NOT NULL CHECK (attempts >= 0),
	-- SHA-256 of the email or SMS code sent, NULL when none was.
	code_hash       bytea,
	-- 'email' or 'sms', '' when no code was sent.
	code_provider   text        NOT NULL,
	-- NULL when no code was sent.
	code_expires_at timestamptz,
	sends           bigint      NOT NULL CHECK (sends >= 0)
);

-- DeleteUserPendingLogins, and the pending logins the foreign key deletes
-- with a user.
CREATE INDEX pending_logins_user_id ON pending_logins (user_id);

-- DeleteExpiredPendingLogins: WHERE expires_at <= $1.
CREATE INDEX pending_logins_expires_at ON pending_logins (expires_at);

CREATE TABLE devices (
	id          text        COLLATE "C" NOT NULL PRIMARY KEY,
	-- SHA-256 of the cookie secret; the secret itself is never stored.
	token_hash  bytea       NOT NULL UNIQUE,
	user_id     text        COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	-- The session created with the device, '' when none. No foreign key:
	-- sessions may live in another store (Redis), and a session may end
	-- long before its device; only its revocation from the session list
	-- forgets the device, by DeleteDevices.
	session_id  text        COLLATE "C" NOT NULL,
	-- The user's security stamp when the device was remembered.
	stamp       text        NOT NULL,
	created_at  timestamptz NOT NULL,
	expires_at  timestamptz NOT NULL,
	client_addr text        NOT NULL,
	user_agent  text        NOT NULL
);

-- DeleteDevices: WHERE user_id = $1 [AND session_id = $2]; also the devices
-- the foreign key deletes with a user.
CREATE INDEX devices_user_id_session_id ON devices (user_id, session_id);

-- DeleteExpiredDevices: WHERE expires_at <= $1.
CREATE INDEX devices_expires_at ON devices (expires_at);
