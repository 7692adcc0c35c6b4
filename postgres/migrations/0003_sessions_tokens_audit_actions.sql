-- 0003_sessions_tokens_audit_actions adds sessions, API tokens, the audit
-- log and the one-time action tokens of password resets and invitations.
--
-- Times are timestamptz truncated in Go to the microsecond, and key columns
-- COLLATE "C", as in 0001_users_groups_throttles.

-- Sessions are short-lived state that may live in another store than the
-- users (Redis), so nothing here ties them to users: no foreign key, and
-- the account layer ends a deleted user's sessions with DeleteUserSessions.
-- Nothing references sessions with a foreign key either, so RekeySession
-- can change id, the primary key, in place.
CREATE TABLE sessions (
	id               text        COLLATE "C" NOT NULL PRIMARY KEY CHECK (id <> ''),
	-- SHA-256 of the cookie secret; the secret itself is never stored. The
	-- unique index is what every request's lookup uses.
	token_hash       bytea       NOT NULL UNIQUE CHECK (length(token_hash) > 0),
	-- NULL for a guest session, which has no user, so that user_id = $1
	-- never matches one, not even for $1 = ''.
	user_id          text        COLLATE "C" CHECK (user_id <> ''),
	created_at       timestamptz NOT NULL,
	last_seen_at     timestamptz NOT NULL,
	expires_at       timestamptz NOT NULL,
	-- Nanoseconds, a time.Duration: rounding it would disagree with
	-- gatehouse.Session.Expired.
	idle_timeout_ns  bigint      NOT NULL CHECK (idle_timeout_ns >= 0),
	-- When the session ends unless used again, last_seen_at +
	-- idle_timeout_ns, in nanoseconds since the Unix epoch (clamped to
	-- bigint), kept by every write of last_seen_at: DeleteExpiredSessions
	-- compares it, indexed, with the nanosecond of now, so that it agrees
	-- with gatehouse.Session.Expired, which timestamptz alone could not.
	idle_ends_ns     bigint      NOT NULL,
	-- NULL when the session never proved a first factor.
	authenticated_at timestamptz,
	remember         boolean     NOT NULL,
	two_factor       boolean     NOT NULL,
	-- '' for a full session.
	scope            text        NOT NULL,
	client_addr      text        NOT NULL,
	user_agent       text        NOT NULL,
	-- A session has a user unless it is a guest's, and a guest's never has.
	CHECK ((user_id IS NULL) = (scope = 'guest'))
);

-- UserSessions (newest first) and DeleteUserSessions.
CREATE INDEX sessions_user_id ON sessions (user_id, created_at, id);
-- Sessions pages newest first by (created_at, id), each page one range scan
-- read backwards from the cursor, however many sessions there are.
CREATE INDEX sessions_created_at ON sessions (created_at, id);
-- DeleteExpiredSessions: WHERE idle_ends_ns <= $1 OR expires_at <= $2, a
-- BitmapOr of these two, which reads only the ended sessions.
CREATE INDEX sessions_idle_ends_ns ON sessions (idle_ends_ns);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE tokens (
	id           text        COLLATE "C" NOT NULL PRIMARY KEY CHECK (id <> ''),
	user_id      text        COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name         text        NOT NULL,
	-- SHA-256 of the secret; the secret itself is never stored.
	hash         bytea       NOT NULL UNIQUE CHECK (length(hash) > 0),
	-- The first characters of the secret, for people to tell tokens apart.
	hint         text        NOT NULL,
	-- In the order given; empty means all of the owner's permissions.
	permissions  text[]      NOT NULL,
	created_at   timestamptz NOT NULL,
	-- NULL when the token does not expire.
	expires_at   timestamptz,
	-- NULL when the token was never used.
	last_used_at timestamptz
);

-- UserTokens and DeleteUserTokens, and the tokens the foreign key deletes
-- with a user.
CREATE INDEX tokens_user_id ON tokens (user_id, created_at, id);
-- Tokens pages every token newest first.
CREATE INDEX tokens_created_at ON tokens (created_at, id);

-- The audit log has no foreign keys: it outlives the users, groups,
-- sessions and tokens it names.
CREATE TABLE audit (
	id          text        COLLATE "C" NOT NULL PRIMARY KEY CHECK (id <> ''),
	-- The order of appending, which orders the events of one microsecond
	-- (newest appended first), so that paging by offset is stable.
	seq         bigint      GENERATED ALWAYS AS IDENTITY,
	time        timestamptz NOT NULL,
	kind        text        COLLATE "C" NOT NULL,
	-- '' for an anonymous client.
	actor_id    text        COLLATE "C" NOT NULL,
	actor_name  text        NOT NULL,
	target_id   text        COLLATE "C" NOT NULL,
	client_addr text        NOT NULL,
	user_agent  text        NOT NULL,
	-- An object of strings; '{}' when there is no detail.
	detail      jsonb       NOT NULL CHECK (jsonb_typeof(detail) = 'object')
);

-- Audit reads newest first, ORDER BY time DESC, seq DESC: each index ends
-- with (time, seq), so it yields that order read backwards, with or
-- without the filter of its first column. A user filter (actor or target)
-- is a BitmapOr of the two user indexes.
CREATE INDEX audit_time ON audit (time, seq);
CREATE INDEX audit_actor_id ON audit (actor_id, time, seq);
CREATE INDEX audit_target_id ON audit (target_id, time, seq);
CREATE INDEX audit_kind ON audit (kind, time, seq);

CREATE TABLE action_tokens (
	id         text        COLLATE "C" NOT NULL PRIMARY KEY CHECK (id <> ''),
	user_id    text        COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	purpose    text        NOT NULL CHECK (purpose IN ('reset', 'invite')),
	-- SHA-256 of the secret mailed to the user; the secret itself is never
	-- stored.
	hash       bytea       NOT NULL UNIQUE CHECK (length(hash) > 0),
	-- The user's security stamp when the token was issued.
	stamp      text        NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	-- NULL until the token is used, which it can be once: UseActionToken
	-- sets it only where it is NULL.
	used_at    timestamptz
);

-- DeleteActionTokens, and the tokens the foreign key deletes with a user.
CREATE INDEX action_tokens_user_id ON action_tokens (user_id, purpose);
-- DeleteStaleActionTokens: WHERE expires_at < $1 OR used_at < $1, a
-- BitmapOr of these two.
CREATE INDEX action_tokens_expires_at ON action_tokens (expires_at);
CREATE INDEX action_tokens_used_at ON action_tokens (used_at) WHERE used_at IS NOT NULL;
