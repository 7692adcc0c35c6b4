-- 0014_external_login_sessions keeps what an external login (issue 13)
-- leaves on a session and on the pending login of its second step: the
-- provider's configured id and the raw ID token it issued, which names the
-- session at the provider's sign-out (id_token_hint). Both are '' for any
-- other login, and for the sessions and pending logins of earlier
-- releases. An ID token can be several kilobytes (Entra ID lists groups in
-- it); TEXT has no length limit.
ALTER TABLE sessions ADD COLUMN provider TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN id_token TEXT NOT NULL DEFAULT '';
ALTER TABLE pending_logins ADD COLUMN provider TEXT NOT NULL DEFAULT '';
ALTER TABLE pending_logins ADD COLUMN id_token TEXT NOT NULL DEFAULT '';

-- Action tokens take a third purpose, 'recovery': a password reset link an
-- operator issued. SQLite cannot change a CHECK constraint in place, so
-- the table is rebuilt (the "generalized ALTER TABLE procedure"). Nothing
-- references action_tokens with a foreign key, so dropping the old table
-- inside this transaction is safe.
CREATE TABLE action_tokens_new (
	id         TEXT    NOT NULL PRIMARY KEY,
	user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	purpose    TEXT    NOT NULL CHECK (purpose IN ('reset', 'invite', 'recovery')),
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

INSERT INTO action_tokens_new (id, user_id, purpose, hash, stamp, created_at, expires_at, used_at)
SELECT id, user_id, purpose, hash, stamp, created_at, expires_at, used_at
FROM action_tokens;

DROP TABLE action_tokens;
ALTER TABLE action_tokens_new RENAME TO action_tokens;

CREATE INDEX action_tokens_user_id ON action_tokens (user_id, purpose);
