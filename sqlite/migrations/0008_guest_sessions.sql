-- 0008_guest_sessions lets a session have no user: the guest sessions of
-- session.guest (duplistatus's POST /api/session with no body), stored with
-- user_id NULL and scope 'guest'. NULL passes the foreign key, so a user's
-- sessions still go with the user, and user_id = ? never matches a guest
-- session: listing or ending a user's sessions leaves guests alone, and the
-- sweeper ends them by their times like any other.
--
-- SQLite cannot drop a NOT NULL constraint in place, so the table is
-- rebuilt (the "generalized ALTER TABLE procedure"). Nothing references
-- sessions with a foreign key (devices.session_id has none, see
-- 0006_devices), so dropping the old table inside this transaction is safe.

CREATE TABLE sessions_new (
	id               TEXT    NOT NULL PRIMARY KEY,
	-- SHA-256 of the cookie secret; the secret itself is never stored.
	token_hash       BLOB    NOT NULL UNIQUE,
	-- NULL for a guest session.
	user_id          TEXT    REFERENCES users (id) ON DELETE CASCADE,
	created_at       INTEGER NOT NULL,
	last_seen_at     INTEGER NOT NULL,
	expires_at       INTEGER NOT NULL,
	idle_timeout_ns  INTEGER NOT NULL,
	remember         INTEGER NOT NULL CHECK (remember IN (0, 1)),
	two_factor       INTEGER NOT NULL CHECK (two_factor IN (0, 1)),
	client_addr      TEXT    NOT NULL,
	user_agent       TEXT    NOT NULL,
	scope            TEXT    NOT NULL DEFAULT '',
	authenticated_at INTEGER,
	-- A session has a user unless it is a guest's, and a guest's never has.
	CHECK ((user_id IS NULL) = (scope = 'guest'))
) STRICT;

INSERT INTO sessions_new (id, token_hash, user_id, created_at, last_seen_at, expires_at, idle_timeout_ns,
	remember, two_factor, client_addr, user_agent, scope, authenticated_at)
SELECT id, token_hash, user_id, created_at, last_seen_at, expires_at, idle_timeout_ns,
	remember, two_factor, client_addr, user_agent, scope, authenticated_at
FROM sessions;

DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;

CREATE INDEX sessions_user_id ON sessions (user_id, created_at);
CREATE INDEX sessions_ends_at ON sessions (min(last_seen_at * 1000 + idle_timeout_ns, expires_at * 1000));
