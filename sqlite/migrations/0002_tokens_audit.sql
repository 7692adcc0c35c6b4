-- 0002_tokens_audit gives groups a description and adds API tokens and the
-- audit log.
--
-- Times are INTEGER microseconds since the Unix epoch in UTC, and tables
-- STRICT, as in 0001_init.

-- A STRICT table takes ADD COLUMN when the column has a constant default,
-- which the existing groups, administrators included, receive.
ALTER TABLE groups ADD COLUMN description TEXT NOT NULL DEFAULT '';

CREATE TABLE tokens (
	id           TEXT    NOT NULL PRIMARY KEY,
	user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name         TEXT    NOT NULL,
	-- SHA-256 of the secret; the secret itself is never stored.
	hash         BLOB    NOT NULL UNIQUE,
	-- The first characters of the secret, for people to tell tokens apart.
	hint         TEXT    NOT NULL,
	-- A JSON array of strings; empty means all of the owner's permissions.
	permissions  TEXT    NOT NULL CHECK (json_valid(permissions) AND json_type(permissions) = 'array'),
	created_at   INTEGER NOT NULL,
	-- NULL when the token does not expire.
	expires_at   INTEGER,
	-- NULL when the token was never used.
	last_used_at INTEGER
) STRICT;

-- Finds a user's tokens, newest first, and the tokens the foreign key
-- deletes with a user.
CREATE INDEX tokens_user_id ON tokens (user_id, created_at);

-- The audit log has no foreign keys: it outlives the users, groups, sessions
-- and tokens it names, so that deleting a user keeps the record of what they
-- did and what was done to them.
CREATE TABLE audit (
	id          TEXT    NOT NULL PRIMARY KEY,
	time        INTEGER NOT NULL,
	kind        TEXT    NOT NULL,
	-- '' for an anonymous client.
	actor_id    TEXT    NOT NULL,
	actor_name  TEXT    NOT NULL,
	target_id   TEXT    NOT NULL,
	client_addr TEXT    NOT NULL,
	user_agent  TEXT    NOT NULL,
	-- A JSON object of strings; '{}' when there is no detail.
	detail      TEXT    NOT NULL CHECK (json_valid(detail) AND json_type(detail) = 'object')
) STRICT;

-- Audit lists events newest first: ORDER BY time DESC, rowid DESC, the rowid
-- putting events of the same microsecond in the order they were appended,
-- newest first. Every index entry ends with the rowid, so an index ending
-- with time, read backwards, yields exactly that order without sorting. The
-- indexes are therefore ascending: one declared DESC would hold the rowids
-- of equal times ascending and need a sort for them.
CREATE INDEX audit_time ON audit (time);
CREATE INDEX audit_actor_id ON audit (actor_id, time);
CREATE INDEX audit_target_id ON audit (target_id, time);
CREATE INDEX audit_kind ON audit (kind, time);
