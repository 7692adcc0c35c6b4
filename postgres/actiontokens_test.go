package postgres_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storetest"
)

func TestActionTokens(t *testing.T) {
	storetest.RunActionTokens(t, func(t *testing.T) storetest.ActionTokenStores {
		s := open(t)
		return storetest.ActionTokenStores{ActionTokenStore: s, UserStore: s, TokenStore: s, SessionStore: s}
	})
}

// The sweep of used and expired action tokens reads only them, from the
// indexes on expires_at and used_at, however many live tokens there are;
// a user's tokens are found by their index.
func TestActionTokenQueriesUseIndexes(t *testing.T) {
	const fill = `INSERT INTO users (id, username, username_key, email, email_key, name, name_key, state,
			password_hash, security_stamp, created_at, updated_at)
		SELECT 'user' || u, 'user' || u, 'user' || u, u || '@example.com', u || '@example.com', '', '', 'active', '', '', now(), now()
		FROM generate_series(1, 1000) AS u;
		INSERT INTO action_tokens (id, user_id, purpose, hash, stamp, created_at, expires_at, used_at)
		SELECT 'id' || i, 'user' || (i % 1000 + 1), 'reset', sha256(i::text::bytea), '', t, t + interval '1 day',
			CASE WHEN i % 100 = 0 THEN t END
		FROM generate_series(1, 300000) AS i, LATERAL (SELECT timestamptz '2025-01-01' + i * interval '1 second') AS x(t)`
	at := time.Date(2025, time.January, 1, 12, 0, 0, 0, time.UTC)
	wantIndexes(t, fill, "action_tokens", []planCase{
		{"action_tokens_expires_at", `DELETE FROM action_tokens WHERE expires_at < $1 OR used_at < $1`, []any{at}},
		{"action_tokens_used_at", `DELETE FROM action_tokens WHERE expires_at < $1 OR used_at < $1`, []any{at}},
		{"action_tokens_user_id", `DELETE FROM action_tokens WHERE user_id = $1 AND purpose = $2`, []any{"user7", "reset"}},
		{"action_tokens_hash_key", `SELECT * FROM action_tokens WHERE hash = $1`, []any{[]byte("x")}},
	})
}
