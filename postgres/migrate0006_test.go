package postgres_test

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres"
)

// TestMigrate0006 upgrades a database with a session, a pending login and
// an action token from before migration 0006: the session and the pending
// login read back with no provider and no ID token, and action tokens then
// take the recovery purpose but, at the schema too, no unknown one.
func TestMigrate0006(t *testing.T) {
	ctx := t.Context()
	db := freshDatabase(t)
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (version integer NOT NULL PRIMARY KEY, applied_at timestamptz NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) < 6 {
		t.Fatalf("migration files: %v, %v", files, err)
	}
	for v, f := range files[:5] { // sorted by their NNNN
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, string(b)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())`, v+1); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)
	userID, sessionID, pendingID := gatehouse.NewID(), gatehouse.NewID(), gatehouse.NewID()
	sessionHash, pendingHash, resetHash := sha256.Sum256([]byte("session")), sha256.Sum256([]byte("pending")), sha256.Sum256([]byte("reset"))
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO users (id, username, username_key, email, email_key, name, name_key, state, password_hash,
			security_stamp, created_at, updated_at) VALUES ($1, 'alice', 'alice', 'alice@example.com', 'alice@example.com',
			'', '', 'active', '', 'stamp', $2, $2)`, []any{userID, now}},
		{`INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, idle_timeout_ns,
			idle_ends_ns, authenticated_at, remember, two_factor, scope, client_addr, user_agent)
			VALUES ($1, $2, $3, $4, $4, $5, 0, 0, $4, false, false, '', '', '')`,
			[]any{sessionID, sessionHash[:], userID, now, now.Add(time.Hour)}},
		{`INSERT INTO pending_logins (id, token_hash, user_id, stamp, remember, created_at, expires_at, attempts,
			code_provider, sends) VALUES ($1, $2, $3, 'stamp', false, $4, $5, 0, '', 0)`,
			[]any{pendingID, pendingHash[:], userID, now, now.Add(time.Hour)}},
		{`INSERT INTO action_tokens (id, user_id, purpose, hash, stamp, created_at, expires_at)
			VALUES ($1, $2, 'reset', $3, 'stamp', $4, $5)`, []any{gatehouse.NewID(), userID, resetHash[:], now, now.Add(time.Hour)}},
	} {
		if _, err := conn.Exec(ctx, st.q, st.args...); err != nil {
			t.Fatalf("%s: %v", st.q, err)
		}
	}

	s, err := postgres.Open(ctx, db)
	if err != nil {
		t.Fatalf("Open of a 0005 database: %v", err)
	}
	defer s.Close()
	ses, err := s.SessionByID(ctx, sessionID)
	if err != nil {
		t.Fatal(err)
	}
	if ses.Provider != "" || ses.IDToken != "" {
		t.Errorf("session from before 0006: Provider %q, IDToken %q; want both empty", ses.Provider, ses.IDToken)
	}
	p, err := s.PendingLoginByTokenHash(ctx, pendingHash[:])
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != pendingID || p.Provider != "" || p.IDToken != "" {
		t.Errorf("pending login from before 0006: %+v, want id %s and no provider or ID token", p, pendingID)
	}
	if tok, err := s.ActionTokenByHash(ctx, resetHash[:]); err != nil || tok.Purpose != gatehouse.PurposeReset {
		t.Errorf("reset token from before 0006 = %+v, %v", tok, err)
	}
	recovery := &gatehouse.ActionToken{ID: gatehouse.NewID(), UserID: userID, Purpose: gatehouse.PurposeRecovery,
		Hash: []byte("recovery hash"), Stamp: "stamp", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateActionToken(ctx, recovery); err != nil {
		t.Errorf("CreateActionToken(recovery) after 0006: %v", err)
	}
	// The schema refuses an unknown purpose even past the store's check.
	_, err = conn.Exec(ctx, `INSERT INTO action_tokens (id, user_id, purpose, hash, stamp, created_at, expires_at)
		VALUES ($1, $2, 'login', 'x', '', $3, $3)`, gatehouse.NewID(), userID, now)
	if err == nil || !strings.Contains(err.Error(), "action_tokens_purpose_check") {
		t.Errorf("an action token of purpose login = %v, want a failure of action_tokens_purpose_check", err)
	}
}
