package sqlite

import (
	"crypto/sha256"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse"
)

// TestMigrateFrom0002 upgrades a database that has 0001_init and
// 0002_tokens_audit, with data in it, as a database of the second release
// would be: its users and sessions survive, with email_confirmed false and
// an empty scope, and the new tables work.
func TestMigrateFrom0002(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 3 || ms[0].version != 1 || ms[1].version != 2 || ms[2].version != 3 {
		t.Fatalf("migrations are not 0001, 0002, 0003, ...")
	}
	if err := createFile(path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)
	userID, sessionID, tokenID := gatehouse.NewID(), gatehouse.NewID(), gatehouse.NewID()
	hash := sha256.Sum256([]byte("secret"))
	tokenHash := sha256.Sum256([]byte("token"))
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL) STRICT`, nil},
		{ms[0].sql, nil},
		{`INSERT INTO schema_migrations (version, applied_at) VALUES (1, 'then')`, nil},
		{ms[1].sql, nil},
		{`INSERT INTO schema_migrations (version, applied_at) VALUES (2, 'later')`, nil},
		// The column lists of 0001 and 0002, not userColumns and
		// sessionColumns, which 0003 extends.
		{`INSERT INTO groups (name, description, permissions) VALUES ('editors', 'Edit things', '["users:write"]')`, nil},
		{`INSERT INTO users (id, username, username_key, email, email_key, name, name_key, state, password_hash,
			security_stamp, created_at, updated_at, last_login_at) VALUES (?, 'Alice', 'alice', 'alice@example.com',
			'alice@example.com', 'Alice Liddell', 'alice liddell', 'active', 'hash', 'stamp', ?, ?, ?)`,
			[]any{userID, micros(now), micros(now.Add(time.Minute)), micros(now.Add(2 * time.Minute))}},
		{`INSERT INTO user_groups (user_id, group_name) VALUES (?, 'administrators'), (?, 'editors')`, []any{userID, userID}},
		{`INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, idle_timeout_ns,
			remember, two_factor, client_addr, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 1, '192.0.2.1', 'curl')`,
			[]any{sessionID, hash[:], userID, micros(now), micros(now), micros(now.Add(time.Hour)), int64(time.Hour)}},
		{`INSERT INTO tokens (id, user_id, name, hash, hint, permissions, created_at) VALUES (?, ?, 'deploy', ?, 'gh_', '[]', ?)`,
			[]any{tokenID, userID, tokenHash[:], micros(now)}},
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
		t.Fatalf("Open of a 0002 database: %v", err)
	}
	defer s.Close()

	wantUser := &gatehouse.User{
		ID: userID, Username: "Alice", Email: "alice@example.com", Name: "Alice Liddell",
		State: gatehouse.StateActive, PasswordHash: "hash", SecurityStamp: "stamp",
		Groups:         []string{gatehouse.GroupAdministrators, "editors"},
		EmailConfirmed: false,
		CreatedAt:      now, UpdatedAt: now.Add(time.Minute), LastLoginAt: now.Add(2 * time.Minute),
		Version: 1, // users of releases before migration 0012
	}
	u, err := s.UserByID(ctx, userID)
	if err != nil {
		t.Fatalf("the user did not survive migrating: %v", err)
	}
	if d := cmp.Diff(wantUser, u); d != "" {
		t.Errorf("UserByID after migrating (-want +got):\n%s", d)
	}
	users, _, err := s.ListUsers(ctx, gatehouse.UserFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]*gatehouse.User{wantUser}, users); d != "" {
		t.Errorf("ListUsers after migrating (-want +got):\n%s", d)
	}

	wantSession := &gatehouse.Session{
		ID: sessionID, TokenHash: hash[:], UserID: userID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleTimeout: time.Hour,
		Remember: true, TwoFactor: true, Scope: "", ClientAddr: "192.0.2.1", UserAgent: "curl",
		AuthenticatedAt: now, // 0007: a full session proved a password when it was created
	}
	ses, err := s.SessionByTokenHash(ctx, hash[:])
	if err != nil {
		t.Fatalf("the session did not survive migrating: %v", err)
	}
	if d := cmp.Diff(wantSession, ses); d != "" {
		t.Errorf("SessionByTokenHash after migrating (-want +got):\n%s", d)
	}
	if ses, err := s.SessionByID(ctx, sessionID); err != nil || ses.Scope != "" {
		t.Errorf("SessionByID after migrating = %+v, %v; want scope \"\"", ses, err)
	}
	if _, err := s.TokenByID(ctx, tokenID); err != nil {
		t.Errorf("the token did not survive migrating: %v", err)
	}

	// The new columns take values, and the new tables cascade.
	u.EmailConfirmed = true
	if err := s.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UserByID(ctx, userID); err != nil || !got.EmailConfirmed {
		t.Errorf("UserByID after confirming = %+v, %v; want EmailConfirmed", got, err)
	}
	inviteHash := sha256.Sum256([]byte("invite"))
	invite := &gatehouse.Session{ID: gatehouse.NewID(), TokenHash: inviteHash[:], UserID: userID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleTimeout: time.Hour, Scope: gatehouse.ScopeInvite}
	if err := s.CreateSession(ctx, invite); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SessionByID(ctx, invite.ID); err != nil || got.Scope != gatehouse.ScopeInvite {
		t.Errorf("SessionByID of an invite session = %+v, %v; want scope invite", got, err)
	}
	at := &gatehouse.ActionToken{ID: gatehouse.NewID(), UserID: userID, Purpose: gatehouse.PurposeReset,
		Hash: inviteHash[:], Stamp: "stamp", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateActionToken(ctx, at); err != nil {
		t.Fatal(err)
	}
	m := &gatehouse.Mail{ID: gatehouse.NewID(), To: "alice@example.com", Subject: "Reset", Text: "link", Kind: "reset",
		CreatedAt: now, NextAttemptAt: now}
	if err := s.EnqueueMail(ctx, m); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PendingMail(ctx); err != nil || n != 1 {
		t.Errorf("PendingMail = %d, %v; want 1", n, err)
	}
	if err := s.DeleteUser(ctx, userID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ActionTokenByHash(ctx, inviteHash[:]); err != gatehouse.ErrNotFound {
		t.Errorf("ActionTokenByHash after DeleteUser = %v, want ErrNotFound", err)
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

// TestSchema0003 checks what 0003 promises: STRICT tables, a cascading
// foreign key from action_tokens to users and none from the outbox, and the
// CHECK constraints, email_confirmed's included, though it came by ALTER
// TABLE.
func TestSchema0003(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, table := range []string{"users", "sessions", "action_tokens", "outbox"} {
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
	if d := cmp.Diff([]fk{{"users", "user_id", "id", "CASCADE"}}, fks("action_tokens")); d != "" {
		t.Errorf("foreign keys of action_tokens (-want +got):\n%s", d)
	}
	if got := fks("outbox"); len(got) != 0 {
		t.Errorf("foreign keys of outbox = %v, want none", got)
	}

	u := &gatehouse.User{ID: gatehouse.NewID(), Username: "alice", Email: "alice@example.com", State: gatehouse.StateActive}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE users SET email_confirmed = 2`,
		`UPDATE users SET email_confirmed = -1`,
		`INSERT INTO action_tokens (id, user_id, purpose, hash, stamp, created_at, expires_at)
			VALUES ('x', '` + u.ID + `', 'other', x'00', '', 0, 0)`,
		`INSERT INTO outbox (id, to_addr, subject, text_body, html_body, kind, created_at, attempts, last_error)
			VALUES ('x', '', '', '', '', '', 0, -1, '')`,
		`INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, idle_timeout_ns,
			remember, two_factor, client_addr, user_agent, scope) VALUES ('x', x'00', '` + u.ID + `', 0, 0, 0, 0, 0, 0, '', '', NULL)`,
	} {
		if _, err := s.writer.ExecContext(ctx, q); err == nil {
			t.Errorf("%s: succeeded, want a constraint failure", q)
		}
	}
}

func TestTruncateRunes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc"},
		{"ééééé", 3, "ééé"},
		{"a€b", 2, "a€"},
		{"abc", 0, ""},
	} {
		if got := truncateRunes(tc.in, tc.n); got != tc.want {
			t.Errorf("truncateRunes(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// TestMailRows looks at the outbox rows themselves, which the interface
// cannot show: a message sent keeps no subject or body, and a failure's
// reason is kept to its first 1000 characters.
func TestMailRows(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)
	m := &gatehouse.Mail{ID: gatehouse.NewID(), To: "alice@example.com", Subject: "Reset your password",
		Text: "https://gatehouse.example/reset#secret", HTML: "<a href=\"https://gatehouse.example/reset#secret\">reset</a>",
		Kind: "reset", CreatedAt: now, NextAttemptAt: now}
	if err := s.EnqueueMail(ctx, m); err != nil {
		t.Fatal(err)
	}
	// A reason of 1500 characters of two bytes each.
	reason := strings.Repeat("é", 1500)
	if err := s.MarkMailFailed(ctx, m.ID, reason, now); err != nil {
		t.Fatal(err)
	}
	var lastError string
	if err := s.reader.QueryRowContext(ctx, `SELECT last_error FROM outbox WHERE id = ?`, m.ID).Scan(&lastError); err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(lastError); n != maxMailError || lastError != reason[:2*maxMailError] {
		t.Errorf("last_error has %d characters, want the first %d of the reason", n, maxMailError)
	}

	if err := s.MarkMailSent(ctx, m.ID, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var (
		to, subject, text, html, kind string
		sent                          sql.NullInt64
	)
	const q = `SELECT to_addr, subject, text_body, html_body, kind, sent_at FROM outbox WHERE id = ?`
	if err := s.reader.QueryRowContext(ctx, q, m.ID).Scan(&to, &subject, &text, &html, &kind, &sent); err != nil {
		t.Fatal(err)
	}
	if subject != "" || text != "" || html != "" {
		t.Errorf("a sent message keeps subject %q, text %q, html %q; want them blank", subject, text, html)
	}
	if to != m.To || kind != m.Kind || !sent.Valid || sent.Int64 != micros(now.Add(time.Minute)) {
		t.Errorf("sent message row = %q, %q, sent %v; want the address, kind and time of sending", to, kind, sent)
	}
	// Marking it sent again keeps the first time.
	if err := s.MarkMailSent(ctx, m.ID, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.reader.QueryRowContext(ctx, `SELECT sent_at FROM outbox WHERE id = ?`, m.ID).Scan(&sent); err != nil {
		t.Fatal(err)
	}
	if sent.Int64 != micros(now.Add(time.Minute)) {
		t.Errorf("sent_at after marking sent again = %v, want the first time", fromMicros(sent.Int64))
	}
	// A failure reported after the message was sent changes nothing.
	var next sql.NullInt64
	const failed = `SELECT last_error, next_attempt_at FROM outbox WHERE id = ?`
	if err := s.reader.QueryRowContext(ctx, failed, m.ID).Scan(&lastError, &next); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkMailFailed(ctx, m.ID, "timeout", now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var lastError2 string
	var next2 sql.NullInt64
	if err := s.reader.QueryRowContext(ctx, failed, m.ID).Scan(&lastError2, &next2); err != nil {
		t.Fatal(err)
	}
	if lastError2 != lastError || next2 != next {
		t.Errorf("MarkMailFailed of a sent message changed last_error, next_attempt_at from %.20q, %v to %.20q, %v",
			lastError, next, lastError2, next2)
	}
}

// TestMailGivenUpIsBlanked: a message given up loses its subject and bodies
// like a sent one, since they may hold a live one-time link; a message
// still to be retried keeps them.
func TestMailGivenUpIsBlanked(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)
	m := &gatehouse.Mail{ID: gatehouse.NewID(), To: "bob@example.com", Subject: "Reset", Text: "link#secret", HTML: "<a>link#secret</a>",
		Kind: "reset", CreatedAt: now, NextAttemptAt: now}
	if err := s.EnqueueMail(ctx, m); err != nil {
		t.Fatal(err)
	}
	read := func() (subject, text, html string) {
		t.Helper()
		if err := s.reader.QueryRowContext(ctx, `SELECT subject, text_body, html_body FROM outbox WHERE id = ?`, m.ID).Scan(&subject, &text, &html); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := s.MarkMailFailed(ctx, m.ID, "451 try later", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if subject, text, _ := read(); subject != "Reset" || text != "link#secret" {
		t.Fatalf("a message to retry lost its content: %q %q", subject, text)
	}
	if err := s.MarkMailFailed(ctx, m.ID, "550 no such user", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if subject, text, html := read(); subject != "" || text != "" || html != "" {
		t.Errorf("a given-up message keeps %q %q %q", subject, text, html)
	}
}
