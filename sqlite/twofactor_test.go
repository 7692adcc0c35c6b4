package sqlite

import (
	"crypto/sha256"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse"
)

// TestMigrateFrom0003 upgrades a database that has 0001 to 0003, with data
// in it, as a database of the third release would be: its users, sessions,
// tokens, action tokens and mail survive, and the new tables work and
// cascade.
func TestMigrateFrom0003(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 4 || ms[0].version != 1 || ms[1].version != 2 || ms[2].version != 3 || ms[3].version != 4 {
		t.Fatalf("migrations are not 0001, 0002, 0003, 0004, ...")
	}
	if err := createFile(path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)
	userID, sessionID, tokenID, actionID, mailID := gatehouse.NewID(), gatehouse.NewID(), gatehouse.NewID(), gatehouse.NewID(), gatehouse.NewID()
	hash := sha256.Sum256([]byte("secret"))
	tokenHash := sha256.Sum256([]byte("token"))
	actionHash := sha256.Sum256([]byte("action"))
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL) STRICT`, nil},
		{ms[0].sql, nil},
		{`INSERT INTO schema_migrations (version, applied_at) VALUES (1, 'then')`, nil},
		{ms[1].sql, nil},
		{`INSERT INTO schema_migrations (version, applied_at) VALUES (2, 'later')`, nil},
		{ms[2].sql, nil},
		{`INSERT INTO schema_migrations (version, applied_at) VALUES (3, 'lately')`, nil},
		// The column lists of 0001 to 0003, not those of the Go code, which
		// later migrations may extend.
		{`INSERT INTO users (id, username, username_key, email, email_key, name, name_key, state, password_hash,
			security_stamp, email_confirmed, created_at, updated_at, last_login_at) VALUES (?, 'Alice', 'alice',
			'alice@example.com', 'alice@example.com', 'Alice Liddell', 'alice liddell', 'active', 'hash', 'stamp', 1, ?, ?, ?)`,
			[]any{userID, micros(now), micros(now.Add(time.Minute)), micros(now.Add(2 * time.Minute))}},
		{`INSERT INTO user_groups (user_id, group_name) VALUES (?, 'administrators')`, []any{userID}},
		{`INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, idle_timeout_ns,
			remember, two_factor, client_addr, user_agent, scope) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 0, '192.0.2.1', 'curl', 'invite')`,
			[]any{sessionID, hash[:], userID, micros(now), micros(now), micros(now.Add(time.Hour)), int64(time.Hour)}},
		{`INSERT INTO tokens (id, user_id, name, hash, hint, permissions, created_at) VALUES (?, ?, 'deploy', ?, 'gh_', '[]', ?)`,
			[]any{tokenID, userID, tokenHash[:], micros(now)}},
		{`INSERT INTO action_tokens (id, user_id, purpose, hash, stamp, created_at, expires_at) VALUES (?, ?, 'reset', ?, 'stamp', ?, ?)`,
			[]any{actionID, userID, actionHash[:], micros(now), micros(now.Add(time.Hour))}},
		{`INSERT INTO outbox (id, to_addr, subject, text_body, html_body, kind, created_at, attempts, next_attempt_at, last_error)
			VALUES (?, 'alice@example.com', 'Reset', 'link', '', 'reset', ?, 0, ?, '')`,
			[]any{mailID, micros(now), micros(now)}},
	} {
		if _, err := db.ExecContext(ctx, st.q, st.args...); err != nil {
			t.Fatalf("%s: %v", st.q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open of a 0003 database: %v", err)
	}
	defer s.Close()

	wantUser := &gatehouse.User{
		ID: userID, Username: "Alice", Email: "alice@example.com", Name: "Alice Liddell",
		State: gatehouse.StateActive, PasswordHash: "hash", SecurityStamp: "stamp",
		Groups: []string{gatehouse.GroupAdministrators}, EmailConfirmed: true,
		CreatedAt: now, UpdatedAt: now.Add(time.Minute), LastLoginAt: now.Add(2 * time.Minute),
		Version: 1, // users of releases before migration 0012
	}
	u, err := s.UserByID(ctx, userID)
	if err != nil {
		t.Fatalf("the user did not survive migrating: %v", err)
	}
	if d := cmp.Diff(wantUser, u); d != "" {
		t.Errorf("UserByID after migrating (-want +got):\n%s", d)
	}
	wantSession := &gatehouse.Session{
		ID: sessionID, TokenHash: hash[:], UserID: userID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleTimeout: time.Hour,
		Remember: true, Scope: gatehouse.ScopeInvite, ClientAddr: "192.0.2.1", UserAgent: "curl",
	}
	ses, err := s.SessionByTokenHash(ctx, hash[:])
	if err != nil {
		t.Fatalf("the session did not survive migrating: %v", err)
	}
	if d := cmp.Diff(wantSession, ses); d != "" {
		t.Errorf("SessionByTokenHash after migrating (-want +got):\n%s", d)
	}
	if _, err := s.TokenByID(ctx, tokenID); err != nil {
		t.Errorf("the token did not survive migrating: %v", err)
	}
	if at, err := s.ActionTokenByHash(ctx, actionHash[:]); err != nil || at.ID != actionID {
		t.Errorf("ActionTokenByHash after migrating = %+v, %v; want the action token", at, err)
	}
	if n, err := s.PendingMail(ctx); err != nil || n != 1 {
		t.Errorf("PendingMail after migrating = %d, %v; want 1", n, err)
	}

	// A user of the old release has no second factor.
	if _, err := s.TwoFactor(ctx, userID); err != gatehouse.ErrNotFound {
		t.Errorf("TwoFactor of a migrated user = %v, want ErrNotFound", err)
	}

	// The new tables work, and cascade as they should.
	code := sha256.Sum256([]byte("recovery"))
	tf := &gatehouse.TwoFactor{UserID: userID, TOTPSecret: []byte("sealed"), TOTPLastStep: 7, Phone: "+15555550123",
		RecoveryCodes: [][]byte{code[:]}, UpdatedAt: now}
	if err := s.PutTwoFactor(ctx, tf); err != nil {
		t.Fatal(err)
	}
	if got, err := s.TwoFactor(ctx, userID); err != nil || cmp.Diff(tf, got) != "" {
		t.Errorf("TwoFactor after PutTwoFactor = %+v, %v; want %+v", got, err, tf)
	}
	pendingHash := sha256.Sum256([]byte("pending"))
	p := &gatehouse.PendingLogin{ID: gatehouse.NewID(), TokenHash: pendingHash[:], UserID: userID, Stamp: "stamp",
		CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
	if err := s.CreatePendingLogin(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got, err := s.PendingLoginByTokenHash(ctx, pendingHash[:]); err != nil || cmp.Diff(p, got) != "" {
		t.Errorf("PendingLoginByTokenHash = %+v, %v; want %+v", got, err, p)
	}
	if err := s.DeleteUser(ctx, userID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TwoFactor(ctx, userID); err != gatehouse.ErrNotFound {
		t.Errorf("TwoFactor after DeleteUser = %v, want ErrNotFound", err)
	}
	if _, err := s.PendingLoginByTokenHash(ctx, pendingHash[:]); err != gatehouse.ErrNotFound {
		t.Errorf("PendingLoginByTokenHash after DeleteUser = %v, want ErrNotFound", err)
	}
	var codes int
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes`).Scan(&codes); err != nil {
		t.Fatal(err)
	}
	if codes != 0 {
		t.Errorf("%d recovery codes left after DeleteUser, want 0", codes)
	}

	var versions string
	if err := s.reader.QueryRowContext(ctx, `SELECT group_concat(version) FROM schema_migrations`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if want := allVersions(t); versions != want {
		t.Errorf("schema_migrations versions = %q, want %s", versions, want)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}

// TestSchema0004 checks what 0004 promises: STRICT tables, foreign keys
// that cascade from users to the settings and pending logins and from the
// settings to the recovery codes, the CHECK constraints, and the index the
// expiry sweep uses.
func TestSchema0004(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, table := range []string{"two_factor", "recovery_codes", "pending_logins"} {
		var strict bool
		if err := s.reader.QueryRowContext(ctx, `SELECT strict FROM pragma_table_list(?)`, table).Scan(&strict); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if !strict {
			t.Errorf("table %s is not STRICT", table)
		}
	}
	type fk struct{ Table, From, To, OnDelete string }
	fks := func(table string) []fk {
		rows, err := s.reader.QueryContext(ctx, `SELECT "table", "from", "to", on_delete FROM pragma_foreign_key_list(?)`, table)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []fk
		for rows.Next() {
			var f fk
			if err := rows.Scan(&f.Table, &f.From, &f.To, &f.OnDelete); err != nil {
				t.Fatal(err)
			}
			out = append(out, f)
		}
		return out
	}
	for table, want := range map[string][]fk{
		"two_factor":     {{"users", "user_id", "id", "CASCADE"}},
		"recovery_codes": {{"two_factor", "user_id", "user_id", "CASCADE"}},
		"pending_logins": {{"users", "user_id", "id", "CASCADE"}},
	} {
		if d := cmp.Diff(want, fks(table)); d != "" {
			t.Errorf("foreign keys of %s (-want +got):\n%s", table, d)
		}
	}

	var plan string
	rows, err := s.reader.QueryContext(ctx, `EXPLAIN QUERY PLAN DELETE FROM pending_logins WHERE expires_at <= 0`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan += detail + "; "
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "pending_logins_expires_at"; !strings.Contains(plan, want) {
		t.Errorf("the expiry sweep's plan %q does not use %s", plan, want)
	}

	u := &gatehouse.User{ID: gatehouse.NewID(), Username: "alice", Email: "alice@example.com", State: gatehouse.StateActive}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	const pending = `INSERT INTO pending_logins (id, token_hash, user_id, stamp, remember, created_at, expires_at,
		attempts, code_hash, code_provider, code_expires_at, sends) VALUES `
	for _, q := range []string{
		pending + `('x', x'00', '` + u.ID + `', '', 2, 0, 0, 0, NULL, '', NULL, 0)`,
		pending + `('x', x'00', '` + u.ID + `', '', 0, 0, 0, -1, NULL, '', NULL, 0)`,
		pending + `('x', x'00', '` + u.ID + `', '', 0, 0, 0, 0, NULL, '', NULL, -1)`,
		pending + `('x', NULL, '` + u.ID + `', '', 0, 0, 0, 0, NULL, '', NULL, 0)`,
		pending + `('x', x'00', '` + u.ID + `', '', 0, 0, 0, 0, 'text', '', NULL, 0)`,
		`INSERT INTO two_factor (user_id, totp_secret, updated_at) VALUES ('` + u.ID + `', 'text', 0)`,
		`INSERT INTO two_factor (user_id, phone, updated_at) VALUES ('` + u.ID + `', NULL, 0)`,
		`INSERT INTO two_factor (user_id, updated_at) VALUES ('nobody', 0)`,
		// Recovery codes belong to settings.
		`INSERT INTO recovery_codes (user_id, hash) VALUES ('` + u.ID + `', x'00')`,
	} {
		if _, err := s.writer.ExecContext(ctx, q); err == nil {
			t.Errorf("%s: succeeded, want a constraint failure", q)
		}
	}
}
