package sqlite

import (
	"crypto/sha256"
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse"
)

// TestMigrateFrom0001 upgrades a database that has only 0001_init, with data
// in it, as a database of the first release would be.
func TestMigrateFrom0001(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].version != 1 {
		t.Fatalf("first migration is %s", ms[0].name)
	}
	if err := createFile(path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)
	userID, sessionID := gatehouse.NewID(), gatehouse.NewID()
	hash := sha256.Sum256([]byte("secret"))
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL) STRICT`, nil},
		{ms[0].sql, nil},
		{`INSERT INTO schema_migrations (version, applied_at) VALUES (1, 'then')`, nil},
		{`INSERT INTO groups (name, permissions) VALUES ('editors', '["users:write"]')`, nil},
		{`INSERT INTO users (id, username, username_key, email, email_key, name, name_key, state, password_hash,
			security_stamp, created_at, updated_at) VALUES (?, 'alice', 'alice', 'alice@example.com', 'alice@example.com',
			'', '', 'active', '', 'stamp', ?, ?)`, []any{userID, micros(now), micros(now)}},
		{`INSERT INTO user_groups (user_id, group_name) VALUES (?, 'administrators'), (?, 'editors')`, []any{userID, userID}},
		// The columns of 0001, not sessionColumns, which later migrations extend.
		{`INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, idle_timeout_ns,
			remember, two_factor, client_addr, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, '', '')`,
			[]any{sessionID, hash[:], userID, micros(now), micros(now), micros(now.Add(time.Hour)), int64(time.Hour)}},
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
		t.Fatalf("Open of a 0001 database: %v", err)
	}
	defer s.Close()

	groups, err := s.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []*gatehouse.Group{
		{Name: gatehouse.GroupAdministrators, Permissions: []string{gatehouse.PermissionAll}},
		{Name: "editors", Permissions: []string{"users:write"}},
	}
	if d := cmp.Diff(want, groups); d != "" {
		t.Errorf("Groups after migrating (-want +got):\n%s", d)
	}
	u, err := s.UserByID(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{gatehouse.GroupAdministrators, "editors"}, u.Groups); d != "" {
		t.Errorf("memberships after migrating (-want +got):\n%s", d)
	}
	if _, err := s.SessionByID(ctx, sessionID); err != nil {
		t.Errorf("the session did not survive migrating: %v", err)
	}

	// The new tables work, and cascade as they should.
	tok := &gatehouse.Token{ID: gatehouse.NewID(), UserID: userID, Hash: hash[:], CreatedAt: now}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	e := &gatehouse.AuditEvent{ID: gatehouse.NewID(), Time: now, Kind: gatehouse.AuditLoginSucceeded, ActorID: userID}
	if err := s.AppendAudit(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, userID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByID(ctx, tok.ID); err != gatehouse.ErrNotFound {
		t.Errorf("TokenByID after DeleteUser = %v, want ErrNotFound", err)
	}
	if _, n, err := s.Audit(ctx, gatehouse.AuditFilter{UserID: userID}); err != nil || n != 1 {
		t.Errorf("Audit after DeleteUser = %d, %v; want the event", n, err)
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

// allVersions returns the versions of every embedded migration as
// group_concat lists them.
func allVersions(t *testing.T) string {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, m := range ms {
		vs = append(vs, strconv.Itoa(m.version))
	}
	return strings.Join(vs, ",")
}

// TestSchema0002 checks what the new tables promise: STRICT, a cascading
// foreign key from tokens to users, and none from the audit log.
func TestSchema0002(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, table := range []string{"groups", "tokens", "audit"} {
		var strict bool
		if err := s.reader.QueryRowContext(t.Context(), `SELECT strict FROM pragma_table_list(?)`, table).Scan(&strict); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if !strict {
			t.Errorf("table %s is not STRICT", table)
		}
	}
	type fk struct{ Table, From, To, OnDelete string }
	fks := func(table string) []fk {
		rows, err := s.reader.QueryContext(t.Context(), `SELECT "table", "from", "to", on_delete FROM pragma_foreign_key_list(?)`, table)
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
	if d := cmp.Diff([]fk{{"users", "user_id", "id", "CASCADE"}}, fks("tokens")); d != "" {
		t.Errorf("foreign keys of tokens (-want +got):\n%s", d)
	}
	if got := fks("audit"); len(got) != 0 {
		t.Errorf("foreign keys of audit = %v, want none: the log outlives what it names", got)
	}
}

// TestMigrate0011 upgrades a database with second-factor settings from
// before migration 0011: they read back with version 1, a write of them
// as read before the upgrade is a compare-and-swap on it like any other,
// and a write that read none (Version 0) does not replace them.
func TestMigrate0011(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if err := createFile(path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.version >= 11 {
			break
		}
		if _, err := db.ExecContext(ctx, m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, 'then')`, m.version); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)
	userID := gatehouse.NewID()
	code := sha256.Sum256([]byte("recovery"))
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO users (id, username, username_key, email, email_key, name, name_key, state, password_hash,
			security_stamp, created_at, updated_at) VALUES (?, 'alice', 'alice', 'alice@example.com', 'alice@example.com',
			'', '', 'active', '', 'stamp', ?, ?)`, []any{userID, micros(now), micros(now)}},
		{`INSERT INTO two_factor (user_id, totp_secret, totp_last_step, phone, updated_at) VALUES (?, X'01', 7, '', ?)`,
			[]any{userID, micros(now)}},
		{`INSERT INTO recovery_codes (user_id, hash) VALUES (?, ?)`, []any{userID, code[:]}},
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
		t.Fatalf("Open of a 0010 database: %v", err)
	}
	defer s.Close()
	tf, err := s.TwoFactor(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	if tf.Version != 1 || tf.TOTPLastStep != 7 || len(tf.RecoveryCodes) != 1 {
		t.Fatalf("settings from before 0011 = %+v, want version 1, step 7 and one recovery code", tf)
	}
	blind := *tf
	blind.Version = 0
	if err := s.PutTwoFactor(ctx, &blind); !errors.Is(err, gatehouse.ErrConflict) {
		t.Errorf("PutTwoFactor with Version 0 over existing settings = %v, want ErrConflict", err)
	}
	stale := *tf
	if err := s.UseRecoveryCode(ctx, userID, code[:]); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTwoFactor(ctx, &stale); !errors.Is(err, gatehouse.ErrConflict) {
		t.Errorf("PutTwoFactor of settings read before a recovery code was used = %v, want ErrConflict", err)
	}
	fresh, err := s.TwoFactor(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Version == 1 || fresh.RecoveryCodes != nil {
		t.Errorf("settings after the code was used = %+v, want a new version and no recovery code", fresh)
	}
	fresh.Phone = "+15555550123"
	if err := s.PutTwoFactor(ctx, fresh); err != nil {
		t.Errorf("PutTwoFactor of the settings as read: %v", err)
	}
}

// TestMigrate0014 upgrades a database with a session, a pending login and
// action tokens from before migration 0014: the session and the pending
// login read back with no provider and no ID token, the action tokens
// survive the rebuild of their table unchanged, and the table then takes
// the recovery purpose but, at the schema too, no unknown one.
func TestMigrate0014(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if err := createFile(path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.version >= 14 {
			break
		}
		if _, err := db.ExecContext(ctx, m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, 'then')`, m.version); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)
	userID, sessionID, pendingID := gatehouse.NewID(), gatehouse.NewID(), gatehouse.NewID()
	sessionHash, pendingHash := sha256.Sum256([]byte("session")), sha256.Sum256([]byte("pending"))
	tokens := []*gatehouse.ActionToken{
		{ID: gatehouse.NewID(), UserID: userID, Purpose: gatehouse.PurposeReset, Hash: []byte("reset hash"),
			Stamp: "stamp", CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		{ID: gatehouse.NewID(), UserID: userID, Purpose: gatehouse.PurposeInvite, Hash: []byte("invite hash"),
			Stamp: "stamp", CreatedAt: now, ExpiresAt: now.Add(time.Hour), UsedAt: now.Add(time.Minute)},
	}
	statements := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO users (id, username, username_key, email, email_key, name, name_key, state, password_hash,
			security_stamp, created_at, updated_at) VALUES (?, 'alice', 'alice', 'alice@example.com', 'alice@example.com',
			'', '', 'active', '', 'stamp', ?, ?)`, []any{userID, micros(now), micros(now)}},
		{`INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, idle_timeout_ns,
			remember, two_factor, client_addr, user_agent, scope, authenticated_at)
			VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, '', '', '', ?)`,
			[]any{sessionID, sessionHash[:], userID, micros(now), micros(now), micros(now.Add(time.Hour)), micros(now)}},
		{`INSERT INTO pending_logins (id, token_hash, user_id, stamp, remember, created_at, expires_at, attempts,
			code_provider, sends) VALUES (?, ?, ?, 'stamp', 0, ?, ?, 0, '', 0)`,
			[]any{pendingID, pendingHash[:], userID, micros(now), micros(now.Add(time.Hour))}},
	}
	for _, tok := range tokens {
		statements = append(statements, struct {
			q    string
			args []any
		}{`INSERT INTO action_tokens (` + actionTokenColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{tok.ID, tok.UserID, string(tok.Purpose), tok.Hash, tok.Stamp, micros(tok.CreatedAt),
				micros(tok.ExpiresAt), nullMicros(tok.UsedAt)}})
	}
	for _, st := range statements {
		if _, err := db.ExecContext(ctx, st.q, st.args...); err != nil {
			t.Fatalf("%s: %v", st.q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open of a 0013 database: %v", err)
	}
	defer s.Close()
	ses, err := s.SessionByID(ctx, sessionID)
	if err != nil {
		t.Fatal(err)
	}
	if ses.Provider != "" || ses.IDToken != "" {
		t.Errorf("session from before 0014: Provider %q, IDToken %q; want both empty", ses.Provider, ses.IDToken)
	}
	p, err := s.PendingLoginByTokenHash(ctx, pendingHash[:])
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != pendingID || p.Provider != "" || p.IDToken != "" {
		t.Errorf("pending login from before 0014: %+v, want id %s and no provider or ID token", p, pendingID)
	}
	for _, want := range tokens {
		got, err := s.ActionTokenByHash(ctx, want.Hash)
		if err != nil {
			t.Fatalf("action token %s after 0014: %v", want.Purpose, err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("action token %s after 0014 (-want +got):\n%s", want.Purpose, d)
		}
	}
	var index string
	if err := s.reader.QueryRowContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'action_tokens' AND name = 'action_tokens_user_id'`).Scan(&index); err != nil {
		t.Errorf("index action_tokens_user_id after 0014: %v", err)
	}

	recovery := &gatehouse.ActionToken{ID: gatehouse.NewID(), UserID: userID, Purpose: gatehouse.PurposeRecovery,
		Hash: []byte("recovery hash"), Stamp: "stamp", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateActionToken(ctx, recovery); err != nil {
		t.Errorf("CreateActionToken(recovery) after 0014: %v", err)
	}
	// The schema refuses an unknown purpose even past the store's check.
	_, err = s.writer.ExecContext(ctx, `INSERT INTO action_tokens (`+actionTokenColumns+`) VALUES (?, ?, 'login', ?, '', 0, 0, NULL)`,
		gatehouse.NewID(), userID, []byte("login hash"))
	if err == nil || !strings.Contains(err.Error(), "CHECK") {
		t.Errorf("an action token of purpose login = %v, want a CHECK constraint failure", err)
	}
	// The user's tokens still go with the user.
	if err := s.DeleteUser(ctx, userID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ActionTokenByHash(ctx, recovery.Hash); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("action token of a deleted user = %v, want ErrNotFound", err)
	}
}
