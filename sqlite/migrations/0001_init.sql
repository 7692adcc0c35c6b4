-- 0001_init creates the whole schema of gatehouse's SQLite store.
--
-- Times are INTEGER microseconds since the Unix epoch in UTC, so that SQL can
-- compare them (DeleteExpiredSessions, DeleteStaleThrottles) and they
-- round-trip exactly at the microsecond precision every gatehouse store keeps.
-- Tables are STRICT so that a value of the wrong type is an error instead of
-- being stored silently.

CREATE TABLE users (
	id             TEXT    NOT NULL PRIMARY KEY,
	username       TEXT    NOT NULL CHECK (username <> ''),
	-- username_key, email_key and name_key are the case-folded forms computed
	-- in Go (foldKey), because SQLite's lower() folds ASCII only. They are
	-- what uniqueness, logins and searches use; the plain columns are for
	-- display.
	username_key   TEXT    NOT NULL,
	email          TEXT    NOT NULL CHECK (email <> ''),
	email_key      TEXT    NOT NULL,
	name           TEXT    NOT NULL,
	name_key       TEXT    NOT NULL,
	state          TEXT    NOT NULL CHECK (state IN ('invited', 'active', 'disabled')),
	password_hash  TEXT    NOT NULL,
	security_stamp TEXT    NOT NULL,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL,
	-- NULL when the user never logged in.
	last_login_at  INTEGER
) STRICT;

-- These enforce uniqueness within each column. That a username may not equal
-- another user's email is checked in Go inside the write transaction, which
-- a single-column index cannot express.
CREATE UNIQUE INDEX users_username_key ON users (username_key);
CREATE UNIQUE INDEX users_email_key ON users (email_key);

CREATE TABLE groups (
	name        TEXT NOT NULL PRIMARY KEY CHECK (name <> ''),
	-- A JSON array of strings.
	permissions TEXT NOT NULL CHECK (json_valid(permissions) AND json_type(permissions) = 'array')
) STRICT;

CREATE TABLE user_groups (
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	group_name TEXT NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
	PRIMARY KEY (user_id, group_name)
) STRICT, WITHOUT ROWID;

-- Finds the members of a group, which the foreign key from user_groups to
-- groups needs whenever a group is deleted.
CREATE INDEX user_groups_group_name ON user_groups (group_name);

CREATE TABLE sessions (
	id              TEXT    NOT NULL PRIMARY KEY,
	-- SHA-256 of the cookie secret; the secret itself is never stored.
	token_hash      BLOB    NOT NULL UNIQUE,
	user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at      INTEGER NOT NULL,
	last_seen_at    INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL,
	idle_timeout_ns INTEGER NOT NULL,
	remember        INTEGER NOT NULL CHECK (remember IN (0, 1)),
	two_factor      INTEGER NOT NULL CHECK (two_factor IN (0, 1)),
	client_addr     TEXT    NOT NULL,
	user_agent      TEXT    NOT NULL
) STRICT;

CREATE INDEX sessions_user_id ON sessions (user_id, created_at);

-- sessions_ends_at indexes the end of each session in nanoseconds: the
-- earlier of the idle expiry (last_seen_at + idle_timeout_ns) and the absolute
-- expiry, which is Session.EndsAt. Nanoseconds, because the idle timeout is a
-- time.Duration and rounding it to microseconds would disagree with
-- Session.Expired. DeleteExpiredSessions uses this exact expression so that
-- SQLite can use the index.
CREATE INDEX sessions_ends_at ON sessions (min(last_seen_at * 1000 + idle_timeout_ns, expires_at * 1000));

CREATE TABLE throttles (
	key          TEXT    NOT NULL PRIMARY KEY,
	failures     INTEGER NOT NULL,
	window_start INTEGER NOT NULL,
	-- NULL when the key was never locked.
	locked_until INTEGER
) STRICT;

INSERT INTO groups (name, permissions) VALUES ('administrators', '["*"]');
