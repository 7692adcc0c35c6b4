package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres"
)

// sampleSnapshot returns a snapshot with records of every area, in the
// order and form a store's Snapshot returns them, including the corners:
// a guest session, an expired and a used action token, a locked throttle,
// audit events of one microsecond, mail queued, sent and given up, and an
// administrators group changed from the one the migrations seed.
func sampleSnapshot() *gatehouse.Snapshot {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	h := func(s string) []byte { return []byte("hash-" + s) }
	return &gatehouse.Snapshot{
		Users: []*gatehouse.User{
			{ID: "u1", Username: "Alice", Email: "alice@example.com", Name: "Alice Ä", State: gatehouse.StateActive,
				PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", SecurityStamp: "stamp1",
				Groups: []string{"administrators", "ops"}, EmailConfirmed: true, CreatedAt: t0, UpdatedAt: t0.Add(time.Hour),
				LastLoginAt: t0.Add(2 * time.Hour), Version: 8_000_000_000},
			{ID: "u2", Username: "carol", Email: "carol@example.com", State: gatehouse.StateInvited,
				SecurityStamp: "stamp2", CreatedAt: t0, UpdatedAt: t0, Version: 1},
		},
		Groups: []*gatehouse.Group{
			{Name: "administrators", Description: "Everyone in charge", Permissions: []string{"*"}, RequireTwoFactor: true},
			{Name: "empty", Permissions: []string{}},
			{Name: "ops", Description: "Operators", Permissions: []string{"servers.write", "section:settings"}},
		},
		Tokens: []*gatehouse.Token{
			{ID: "t1", UserID: "u1", Name: "ci", Hash: h("t1"), Hint: "gh_abc", Permissions: []string{"servers.write"},
				CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour), LastUsedAt: t0.Add(time.Minute)},
			{ID: "t2", UserID: "u1", Name: "forever", Hash: h("t2"), Hint: "gh_def", CreatedAt: t0},
		},
		ActionTokens: []*gatehouse.ActionToken{
			{ID: "a1", UserID: "u2", Purpose: gatehouse.PurposeInvite, Hash: h("a1"), Stamp: "stamp2", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
			{ID: "a2", UserID: "u1", Purpose: gatehouse.PurposeReset, Hash: h("a2"), Stamp: "old", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), UsedAt: t0.Add(time.Minute)},
			{ID: "a3", UserID: "u1", Purpose: gatehouse.PurposeRecovery, Hash: h("a3"), Stamp: "stamp1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		},
		TwoFactors: []*gatehouse.TwoFactor{
			{UserID: "u1", TOTPSecret: []byte("sealed"), TOTPLastStep: 59_000_000, Phone: "+15550100",
				RecoveryCodes: [][]byte{h("r1"), h("r2")}, UpdatedAt: t0, Version: 42},
			{UserID: "u2", TOTPPending: []byte("pending"), UpdatedAt: t0, Version: 1},
		},
		Devices: []*gatehouse.Device{
			{ID: "d1", TokenHash: h("d1"), UserID: "u1", SessionID: "s1", Stamp: "stamp1", CreatedAt: t0,
				ExpiresAt: t0.Add(720 * time.Hour), ClientAddr: "192.0.2.1", UserAgent: "Firefox"},
		},
		// By provider and subject in byte order; no email, unverified.
		Identities: []*gatehouse.Identity{
			{Provider: "github", Subject: "4711", UserID: "u2", LinkedAt: t0, LastUsedAt: t0},
			{Provider: "google", Subject: "1093", UserID: "u1", Email: "alice@example.com", EmailVerified: true,
				LinkedAt: t0, LastUsedAt: t0.Add(time.Hour)},
		},
		Sessions: []*gatehouse.Session{
			{ID: "s1", TokenHash: h("s1"), UserID: "u1", CreatedAt: t0, LastSeenAt: t0.Add(time.Minute),
				ExpiresAt: t0.Add(12 * time.Hour), IdleTimeout: 20 * time.Minute, AuthenticatedAt: t0,
				Remember: true, TwoFactor: true, ClientAddr: "192.0.2.1", UserAgent: "Firefox",
				Provider: "entra", IDToken: "eyJhbGciOiJSUzI1NiJ9." + strings.Repeat("eyJncm91cHMiOlsi", 400) + ".c2ln"},
			{ID: "s2", TokenHash: h("s2"), CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour),
				IdleTimeout: time.Hour, Scope: gatehouse.ScopeGuest},
			{ID: "s3", TokenHash: h("s3"), UserID: "u2", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour),
				IdleTimeout: time.Hour, Scope: gatehouse.ScopeInvite},
		},
		Throttles: []gatehouse.Throttle{
			{Key: "addr:192.0.2.9", Failures: 3, WindowStart: t0},
			{Key: "user:alice", Failures: 5, WindowStart: t0, LockedUntil: t0.Add(15 * time.Minute), Pending: 1, PendingUntil: t0.Add(time.Minute)},
		},
		// Appended in this order, the last two in one microsecond: not
		// the order of their ids.
		Audit: []*gatehouse.AuditEvent{
			{ID: "e3", Time: t0, Kind: gatehouse.AuditUserCreated, TargetID: "u1"},
			{ID: "e2", Time: t0.Add(time.Second), Kind: gatehouse.AuditLoginSucceeded, ActorID: "u1", ActorName: "Alice",
				ClientAddr: "192.0.2.1", UserAgent: "Firefox", Detail: map[string]string{"method": "password"}},
			{ID: "e1", Time: t0.Add(time.Second), Kind: gatehouse.AuditLogout, ActorID: "u1", ActorName: "Alice"},
		},
		Mail: []*gatehouse.Mail{
			{ID: "m1", To: "carol@example.com", Subject: "Invitation", Text: "link", HTML: "<a>link</a>", Kind: "invite",
				CreatedAt: t0, NextAttemptAt: t0},
			{ID: "m2", To: "alice@example.com", Kind: "reset", CreatedAt: t0, Attempts: 1, SentAt: t0.Add(time.Second)},
			{ID: "m3", To: "bounce@example.com", Kind: "reset", CreatedAt: t0, Attempts: 8, LastError: "550 no such user"},
		},
	}
}

// snapshot reads s's snapshot or fails t.
func snapshot(t *testing.T, s *postgres.Store) *gatehouse.Snapshot {
	t.Helper()
	snap, err := s.Snapshot(t.Context())
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	return snap
}

// emptySnapshot is what a freshly migrated database holds: the
// administrators group.
func emptySnapshot() *gatehouse.Snapshot {
	return &gatehouse.Snapshot{Groups: []*gatehouse.Group{{Name: "administrators", Permissions: []string{"*"}}}}
}

func TestRestoreRoundTrip(t *testing.T) {
	s := open(t)
	want := sampleSnapshot()
	if err := s.Restore(t.Context(), want); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if diff := cmp.Diff(want, snapshot(t, s), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Snapshot after Restore (-want +got):\n%s", diff)
	}

	// The records work through the store as it runs, not only in a
	// snapshot: the version is the one compared, a login finds the user
	// by a case-folded name, the newest audit event of one microsecond
	// is the one appended last.
	ctx := t.Context()
	u, err := s.UserByLogin(ctx, "ALICE")
	if err != nil || u.ID != "u1" {
		t.Fatalf("UserByLogin(ALICE) = %v, %v; want u1", u, err)
	}
	u.Name = "Alice B"
	if err := s.UpdateUser(ctx, u); err != nil {
		t.Errorf("UpdateUser with the restored version: %v", err)
	}
	events, n, err := s.Audit(ctx, gatehouse.AuditFilter{})
	if err != nil || n != 3 || events[0].ID != "e1" || events[1].ID != "e2" {
		t.Errorf("Audit = %v, %d, %v; want e1, e2, e3 newest first", events, n, err)
	}
	ses, err := s.SessionByTokenHash(ctx, []byte("hash-s1"))
	if err != nil || ses.ID != "s1" {
		t.Errorf("SessionByTokenHash = %v, %v", ses, err)
	}
	// The session's idle end was computed: it ended 20 minutes after it
	// was last seen, and the sweeper finds it.
	gone, err := s.DeleteExpiredSessions(ctx, time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC))
	if err != nil || gone != 1 {
		t.Errorf("DeleteExpiredSessions = %d, %v; want 1 (s1 idle since 12:01)", gone, err)
	}
}

func TestRestoreEmptySnapshot(t *testing.T) {
	s := open(t)
	if err := s.Restore(t.Context(), &gatehouse.Snapshot{}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	// The seeded administrators group went, with the rest of the target:
	// the source had none.
	if diff := cmp.Diff(&gatehouse.Snapshot{}, snapshot(t, s), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Snapshot (-want +got):\n%s", diff)
	}
}

func TestRestoreRefusesNonEmptyTarget(t *testing.T) {
	ctx := t.Context()
	user := func(s *postgres.Store) error {
		return s.CreateUser(ctx, &gatehouse.User{ID: "x", Username: "x", Email: "x@example.com", State: gatehouse.StateActive})
	}
	for _, tc := range []struct {
		name   string
		fill   func(s *postgres.Store) error
		tables string
	}{
		{"a user", user, "users"},
		{"a group", func(s *postgres.Store) error { return s.CreateGroup(ctx, &gatehouse.Group{Name: "ops"}) }, "groups"},
		{"an audit event", func(s *postgres.Store) error {
			return s.AppendAudit(ctx, &gatehouse.AuditEvent{ID: "e", Time: time.Now(), Kind: gatehouse.AuditLogout})
		}, "audit"},
		// A table Restore does not write is checked all the same.
		{"a pending login", func(s *postgres.Store) error {
			if err := user(s); err != nil {
				return err
			}
			return s.CreatePendingLogin(ctx, &gatehouse.PendingLogin{ID: "p", TokenHash: []byte("p"), UserID: "x",
				CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Minute)})
		}, "pending_logins, users"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			if err := tc.fill(s); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, s)
			err := s.Restore(ctx, sampleSnapshot())
			if gatehouse.ErrorCode(err) != gatehouse.CodeConflict {
				t.Fatalf("Restore into a database with %s = %v, want CodeConflict", tc.name, err)
			}
			if !strings.Contains(err.Error(), "(in "+tc.tables+")") {
				t.Errorf("error %q does not name the tables %s, and only them", err, tc.tables)
			}
			if diff := cmp.Diff(before, snapshot(t, s), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("the refused Restore changed the database (-before +after):\n%s", diff)
			}
		})
	}
}

func TestRestoreFailureLeavesTargetEmpty(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	// A token of a user the snapshot lacks passes every check in Go and
	// fails on the foreign key, after the users and groups were copied.
	bad := sampleSnapshot()
	bad.Tokens[1].UserID = "nobody"
	if err := s.Restore(ctx, bad); err == nil {
		t.Fatal("Restore of a token without its user succeeded")
	}
	if diff := cmp.Diff(emptySnapshot(), snapshot(t, s), cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("a failed Restore left records (-want +got):\n%s", diff)
	}
	// Still empty, so the good snapshot goes in.
	if err := s.Restore(ctx, sampleSnapshot()); err != nil {
		t.Fatalf("Restore after a failed one: %v", err)
	}
}

func TestRestoreRefusesRecordsPostgresCannotHold(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*gatehouse.Snapshot)
		want   string
	}{
		{"NUL in a username", func(s *gatehouse.Snapshot) { s.Users[1].Username = "car\x00ol" }, `user "u2"`},
		{"invalid UTF-8 in a group description", func(s *gatehouse.Snapshot) { s.Groups[2].Description = "\xff" }, `group "ops"`},
		{"an unknown user state", func(s *gatehouse.Snapshot) { s.Users[0].State = "frozen" }, `user "u1"`},
		{"a token without hash", func(s *gatehouse.Snapshot) { s.Tokens[0].Hash = nil }, `API token "t1"`},
		{"invalid UTF-8 in an identity's email", func(s *gatehouse.Snapshot) { s.Identities[1].Email = "\xfe" }, `external login "google 1093"`},
		{"two-factor version 0", func(s *gatehouse.Snapshot) { s.TwoFactors[1].Version = 0 }, `two-factor settings of user "u2"`},
		{"a guest session with a user", func(s *gatehouse.Snapshot) { s.Sessions[1].UserID = "u1" }, `session "s2"`},
		{"NUL in a session's ID token", func(s *gatehouse.Snapshot) { s.Sessions[0].IDToken = "a\x00b" }, `session "s1"`},
		{"NUL in a queued mail", func(s *gatehouse.Snapshot) { s.Mail[0].Text = "a\x00b" }, `mail message "m1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			snap := sampleSnapshot()
			tc.change(snap)
			err := s.Restore(t.Context(), snap)
			if gatehouse.ErrorCode(err) != gatehouse.CodeValidation || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Restore = %v, want CodeValidation naming %s", err, tc.want)
			}
			if diff := cmp.Diff(emptySnapshot(), snapshot(t, s), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("a refused Restore wrote (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRestoreKeepsClientTexts checks that the texts clients sent, which a
// SQLite database may hold in any bytes, are stored as the store's own
// writes store them rather than failing the whole move.
func TestRestoreKeepsClientTexts(t *testing.T) {
	s := open(t)
	snap := sampleSnapshot()
	snap.Sessions[0].UserAgent = "bad\xffagent"
	snap.Audit[1].ActorName = "nul\x00name"
	if err := s.Restore(t.Context(), snap); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	got := snapshot(t, s)
	if ua := got.Sessions[0].UserAgent; ua != "bad\uFFFDagent" {
		t.Errorf("user agent = %q", ua)
	}
	if n := got.Audit[1].ActorName; n != "nul\uFFFDname" {
		t.Errorf("actor name = %q", n)
	}
}

// TestUnknownTables checks that a table the snapshot does not know (one a
// later migration added, say) fails a Snapshot rather than being left
// behind, and that Restore requires it empty like every other.
func TestUnknownTables(t *testing.T) {
	ctx := t.Context()
	url := freshDatabase(t)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `CREATE TABLE passkeys (id text PRIMARY KEY); INSERT INTO passkeys VALUES ('i1')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Snapshot(ctx); err == nil || !strings.Contains(err.Error(), "(passkeys)") {
		t.Errorf("Snapshot with an unknown table = %v, want an error naming it", err)
	}
	err = s.Restore(ctx, sampleSnapshot())
	if gatehouse.ErrorCode(err) != gatehouse.CodeConflict || !strings.Contains(err.Error(), "(in passkeys)") {
		t.Errorf("Restore with a row in an unknown table = %v, want CodeConflict naming it", err)
	}
}

// TestRestoreWaitsForLocksOnlySoLong checks that a database another
// session holds a lock in (a server running on it) fails the Restore,
// after the lock timeout, rather than hanging it, and is left as it was.
func TestRestoreWaitsForLocksOnlySoLong(t *testing.T) {
	ctx := t.Context()
	url := freshDatabase(t)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	// What any reader of the table holds until its transaction ends.
	if _, err := tx.Exec(ctx, `SELECT count(*) FROM sessions`); err != nil {
		t.Fatal(err)
	}
	err = s.Restore(ctx, sampleSnapshot())
	if gatehouse.ErrorCode(err) != gatehouse.CodeBusy || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("Restore while another session reads = %v, want CodeBusy saying the database is in use", err)
	}
	tx.Rollback(ctx)
	if diff := cmp.Diff(emptySnapshot(), snapshot(t, s), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("the refused Restore wrote (-want +got):\n%s", diff)
	}
}
