-- 0001_users_groups_throttles creates the users, groups and throttles of
-- gatehouse's PostgreSQL store. The other areas (sessions, tokens, audit, …)
-- follow in later migrations of this sequence, which is PostgreSQL's own and
-- not numbered like SQLite's.
--
-- Times are timestamptz, which keeps microseconds; the store truncates them
-- in Go before writing, so what is read back equals what was written at the
-- precision every gatehouse store keeps. A column sorted or compared as a
-- key is COLLATE "C", so that its order is Go's byte order whatever the
-- database's default collation is.

CREATE TABLE users (
	id             text        COLLATE "C" NOT NULL PRIMARY KEY,
	username       text        NOT NULL CHECK (username <> ''),
	-- username_key, email_key and name_key are the case-folded forms
	-- computed in Go (gatehouse.FoldName), the same Unicode folding every
	-- store and the login throttles use, rather than lower(), which depends
	-- on the collation. They are what uniqueness, logins and searches use;
	-- the plain columns are for display.
	username_key   text        COLLATE "C" NOT NULL,
	email          text        NOT NULL CHECK (email <> ''),
	email_key      text        COLLATE "C" NOT NULL,
	name           text        NOT NULL,
	name_key       text        COLLATE "C" NOT NULL,
	state          text        NOT NULL CHECK (state IN ('invited', 'active', 'disabled')),
	password_hash  text        NOT NULL,
	security_stamp text        NOT NULL,
	email_confirmed boolean    NOT NULL DEFAULT false,
	created_at     timestamptz NOT NULL,
	updated_at     timestamptz NOT NULL,
	-- NULL when the user never logged in.
	last_login_at  timestamptz
);

-- These enforce uniqueness within each column. That a username may not
-- equal another user's email is checked in the write transaction, which
-- holds the users' advisory lock (see the store's CreateUser), because a
-- single-column index cannot express it.
CREATE UNIQUE INDEX users_username_key ON users (username_key);
CREATE UNIQUE INDEX users_email_key ON users (email_key);

CREATE TABLE groups (
	name               text    COLLATE "C" NOT NULL PRIMARY KEY CHECK (name <> ''),
	description        text    NOT NULL DEFAULT '',
	-- In the order given: the order is the administrator's.
	permissions        text[]  NOT NULL DEFAULT '{}',
	require_two_factor boolean NOT NULL DEFAULT false
);

CREATE TABLE user_groups (
	user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	group_name text COLLATE "C" NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
	PRIMARY KEY (user_id, group_name)
);

-- Finds the members of a group, which the foreign key from user_groups to
-- groups needs whenever a group is deleted.
CREATE INDEX user_groups_group_name ON user_groups (group_name, user_id);

CREATE TABLE throttles (
	key           text        NOT NULL PRIMARY KEY,
	failures      integer     NOT NULL,
	window_start  timestamptz NOT NULL,
	-- NULL when never locked.
	locked_until  timestamptz,
	-- Attempts reserved and not yet settled (gatehouse.Throttle.Pending),
	-- and when they lapse into failures; NULL when pending is 0.
	pending       integer     NOT NULL DEFAULT 0 CHECK (pending >= 0),
	pending_until timestamptz
);

INSERT INTO groups (name, permissions) VALUES ('administrators', '{"*"}');
