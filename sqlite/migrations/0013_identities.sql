-- 0013_identities adds external logins: a user's accounts at OpenID
-- Connect providers (issue 13).
--
-- Times are INTEGER microseconds since the Unix epoch in UTC, and tables
-- STRICT, as in 0001_init.

CREATE TABLE identities (
	-- The configured provider name and the provider's id of the account:
	-- a subject belongs to one user at most.
	provider       TEXT    NOT NULL,
	subject        TEXT    NOT NULL,
	user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	email          TEXT    NOT NULL,
	email_verified INTEGER NOT NULL CHECK (email_verified IN (0, 1)),
	linked_at      INTEGER NOT NULL,
	last_used_at   INTEGER NOT NULL,
	PRIMARY KEY (provider, subject),
	-- One identity per provider and user: DeleteIdentity(user, provider)
	-- names exactly one.
	UNIQUE (user_id, provider)
) STRICT;
