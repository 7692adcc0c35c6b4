-- 0005_identities adds external logins: a user's accounts at OpenID
-- Connect providers (issue 13).

CREATE TABLE identities (
	-- The configured provider name and the provider's id of the account:
	-- a subject belongs to one user at most. COLLATE "C" orders providers
	-- by bytes, as SQLite does.
	provider       text        COLLATE "C" NOT NULL,
	subject        text        COLLATE "C" NOT NULL,
	user_id        text        COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	email          text        NOT NULL,
	email_verified boolean     NOT NULL,
	linked_at      timestamptz NOT NULL,
	last_used_at   timestamptz NOT NULL,
	PRIMARY KEY (provider, subject),
	-- One identity per provider and user: DeleteIdentity(user, provider)
	-- names exactly one. Also UserIdentities' index, and the identities
	-- the foreign key deletes with a user.
	UNIQUE (user_id, provider)
);
