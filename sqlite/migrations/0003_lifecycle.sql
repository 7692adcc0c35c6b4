-- 0003_lifecycle adds what the account lifecycle needs: the scope of a
-- session, whether a user's email is confirmed, the one-time action tokens
-- of password resets and invitations, and the mail outbox.
--
-- Times are INTEGER microseconds since the Unix epoch in UTC, and tables
-- STRICT, as in 0001_init.

-- '' for a full session; a partial one, such as an invited user's 'invite'
-- session, is limited to a few endpoints. Existing sessions are full.
ALTER TABLE sessions ADD COLUMN scope TEXT NOT NULL DEFAULT '';

-- Existing users have not confirmed their email. SQLite checks a CHECK
-- constraint added with a column against the existing rows, which the
-- default 0 passes.
ALTER TABLE users ADD COLUMN email_confirmed INTEGER NOT NULL DEFAULT 0 CHECK (email_confirmed IN (0, 1));

CREATE TABLE action_tokens (
	id         TEXT    NOT NULL PRIMARY KEY,
	user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	purpose    TEXT    NOT NULL CHECK (purpose IN ('reset', 'invite')),
	-- SHA-256 of the secret mailed to the user; the secret itself is never
	-- stored.
	hash       BLOB    NOT NULL UNIQUE,
	-- The user's security stamp when the token was issued; the token is void
	-- once the stamp changes.
	stamp      TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	-- NULL until the token is used, which it can be once: UseActionToken
	-- sets it only where it is NULL.
	used_at    INTEGER
) STRICT;

-- Finds a user's tokens of a purpose, for DeleteActionTokens, and the tokens
-- the foreign key deletes with a user.
CREATE INDEX action_tokens_user_id ON action_tokens (user_id, purpose);

-- The outbox has no foreign keys: a message is addressed to an address, not
-- a user, and a message already queued is still sent after its user is
-- deleted (a notice that an account was deleted, say).
CREATE TABLE outbox (
	id              TEXT    NOT NULL PRIMARY KEY,
	to_addr         TEXT    NOT NULL,
	-- The subject and bodies are blanked once the message is sent: they may
	-- hold one-time links.
	subject         TEXT    NOT NULL,
	text_body       TEXT    NOT NULL,
	html_body       TEXT    NOT NULL,
	-- What the message is ('invite', 'reset', ...), for logs and metrics.
	kind            TEXT    NOT NULL,
	created_at      INTEGER NOT NULL,
	attempts        INTEGER NOT NULL CHECK (attempts >= 0),
	-- When the next attempt is due, or while a sender holds the message, when
	-- its lease ends. NULL when no attempt is ever due again: the senders gave
	-- up on the message.
	next_attempt_at INTEGER,
	-- The reason the last attempt failed, '' if none did.
	last_error      TEXT    NOT NULL,
	-- NULL until the mail server accepted the message.
	sent_at         INTEGER
) STRICT;

-- ClaimMail reads the unsent messages due at a time, oldest due first:
-- WHERE sent_at IS NULL AND next_attempt_at <= ? ORDER BY next_attempt_at, id.
-- The index holds only unsent messages, so sent ones, which pile up, cost the
-- claim nothing; PendingMail counts from it too.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE sent_at IS NULL;
