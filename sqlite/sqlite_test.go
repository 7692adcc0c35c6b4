package sqlite_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/sqlite"
	"github.com/gatehouse/gatehouse/storetest"
)

// open opens a store at path and closes it when the test ends.
func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) gatehouse.Store {
		return open(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	})
}

var now = time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)

func testUser(name string) *gatehouse.User {
	return &gatehouse.User{
		ID:        gatehouse.NewID(),
		Username:  name,
		Email:     name + "@example.com",
		State:     gatehouse.StateActive,
		Groups:    []string{gatehouse.GroupAdministrators},
		CreatedAt: now,
		UpdatedAt: now,
	}
}

func TestMigrateIdempotentAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	u := testUser("alice")
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate after reopening: %v", err)
	}
	got, err := s.UserByLogin(t.Context(), "alice")
	if err != nil {
		t.Fatalf("the user did not survive reopening: %v", err)
	}
	if got.ID != u.ID || len(got.Groups) != 1 {
		t.Errorf("reopened user = %+v, want %+v", got, u)
	}
	// The seed is applied once, not again on reopening.
	groups, err := s.Groups(t.Context())
	if err != nil || len(groups) != 1 {
		t.Errorf("Groups = %v, %v; want only administrators", groups, err)
	}

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var versions, mode string
	if err := db.QueryRow(`SELECT group_concat(version) FROM schema_migrations`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if versions != "1,2,3,4,5,6,7,8,9,10,11,12,13,14" {
		t.Errorf("schema_migrations versions = %q, want 1,2,3,4,5,6,7,8,9,10,11,12,13,14", versions)
	}
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s := open(t, path)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 'future')`); err != nil {
		t.Fatal(err)
	}
	err = s.Migrate(t.Context())
	if err == nil || !strings.Contains(err.Error(), "9999") {
		t.Errorf("Migrate on a newer schema = %v, want an error naming version 9999", err)
	}
}

func TestIntegrityCheck(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err := s.CreateUser(t.Context(), testUser("alice")); err != nil {
		t.Fatal(err)
	}
	if err := s.IntegrityCheck(t.Context()); err != nil {
		t.Errorf("IntegrityCheck: %v", err)
	}
}

func TestIntegrityCheckCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if err := s.CreateUser(t.Context(), testUser(fmt.Sprintf("user%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil { // checkpoints the WAL into the file
		t.Fatal(err)
	}
	// Overwrite the root page of an index with junk. The schema, on page 1,
	// stays intact, so the database still opens.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	var root, pageSize int64
	err = db.QueryRow(`SELECT rootpage FROM sqlite_schema WHERE name = 'users_email_key'`).Scan(&root)
	if err == nil {
		err = db.QueryRow(`PRAGMA page_size`).Scan(&pageSize)
	}
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := []byte(strings.Repeat("\xff\x00garbage", int(pageSize)/9+1))[:pageSize]
	if _, err := f.WriteAt(junk, (root-1)*pageSize); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Skipf("the corrupted database does not open at all: %v", err)
	}
	defer s.Close()
	if err := s.IntegrityCheck(t.Context()); err == nil {
		t.Error("IntegrityCheck of a corrupted database = nil, want an error")
	}
}

func TestTwoStoresOnOneFile(t *testing.T) {
	// Two Stores on one file stand for two gatehouse processes: each has its
	// own writer connection, and only SQLite's file locks serialise them.
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	var (
		stores [2]*sqlite.Store
		errs   [2]error
		wg     sync.WaitGroup
	)
	// Both open, and so migrate, at once.
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = sqlite.Open(t.Context(), path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	a, b := stores[0], stores[1]

	u := testUser("alice")
	if err := a.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if got, err := b.UserByID(t.Context(), u.ID); err != nil || got.Username != "alice" {
		t.Fatalf("the other store reads %v, %v; want alice", got, err)
	}
	// A conflict is found across processes too.
	dup := testUser("ALICE")
	if err := b.CreateUser(t.Context(), dup); gatehouse.ErrorCode(err) != gatehouse.CodeConflict {
		t.Errorf("CreateUser of a taken username in the other store = %v, want CodeConflict", err)
	}

	// Failures counted by both, concurrently, all count.
	const n = 40
	rule := gatehouse.ThrottleRule{MaxFailures: 1000, Window: time.Hour, Lockout: time.Hour}
	var failErrs [n]error
	for i := range n {
		wg.Go(func() {
			_, failErrs[i] = stores[i%2].AddFailure(context.WithoutCancel(t.Context()), "user:alice", now, rule)
		})
	}
	wg.Wait()
	for _, err := range failErrs {
		if err != nil {
			t.Fatal(err)
		}
	}
	th, err := a.Throttle(t.Context(), "user:alice")
	if err != nil {
		t.Fatal(err)
	}
	if th.Failures != n {
		t.Errorf("Failures = %d, want %d", th.Failures, n)
	}

	// Concurrent creates of one username across both: exactly one wins.
	var createErrs [10]error
	for i := range createErrs {
		wg.Go(func() {
			u := testUser("racer")
			u.Email = fmt.Sprintf("racer%d@example.com", i)
			createErrs[i] = stores[i%2].CreateUser(context.WithoutCancel(t.Context()), u)
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range createErrs {
		switch gatehouse.ErrorCode(err) {
		case "":
			ok++
		case gatehouse.CodeConflict:
		default:
			t.Errorf("concurrent CreateUser: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent CreateUser calls across two stores succeeded, want 1", ok)
	}
}

func TestOpenBadPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	notDB := filepath.Join(dir, "not.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("this is not a SQLite database\n", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing directory", filepath.Join(dir, "missing", "gatehouse.db"), "no such file or directory"},
		{"parent is a file", filepath.Join(file, "gatehouse.db"), "not a directory"},
		{"path is a directory", dir, "is a directory"},
		{"not a database", notDB, "not a database"},
		{"empty", "", "need the path"},
		{"memory", ":memory:", "need the path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlite.Open(t.Context(), tc.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tc.path)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%q) = %v, want an error saying %q", tc.path, err, tc.want)
			}
		})
	}

	t.Run("unwritable directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root can write anywhere")
		}
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		_, err := sqlite.Open(t.Context(), filepath.Join(ro, "gatehouse.db"))
		if err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("Open in a read-only directory = %v, want permission denied", err)
		}
	})
}

func TestOpenOddPath(t *testing.T) {
	// The path reaches SQLite as a URI, so characters special in URIs must
	// be escaped.
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%chars&x=1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "gate house.db")
	s := open(t, path)
	if err := s.CreateUser(t.Context(), testUser("alice")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("the database is not at the path given: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file mode = %v, want 0600", perm)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 2 {
		t.Errorf("found only %d files, want the database and its WAL", len(entries))
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "gate house.db") {
			t.Errorf("stray file %q beside the database", e.Name())
		}
		// The WAL and shared-memory files hold data too.
		fi, err := e.Info()
		if err != nil {
			t.Error(err)
			continue
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), perm)
		}
	}
}

func TestDeleteExpiredSessionsUsesIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	open(t, path)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`EXPLAIN QUERY PLAN DELETE FROM sessions WHERE min(last_seen_at * 1000 + idle_timeout_ns, expires_at * 1000) <= ?`, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if !strings.Contains(strings.Join(plan, "\n"), "sessions_ends_at") {
		t.Errorf("query plan %q does not use sessions_ends_at", plan)
	}
}

func BenchmarkSessionByTokenHash(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "gatehouse.db"))
	ctx := context.Background()
	u := testUser("alice")
	if err := s.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	const sessions = 1000
	hashes := make([][]byte, sessions)
	for i := range sessions {
		h := sha256.Sum256(fmt.Appendf(nil, "secret-%d", i))
		hashes[i] = h[:]
		err := s.CreateSession(ctx, &gatehouse.Session{
			ID: gatehouse.NewID(), TokenHash: h[:], UserID: u.ID,
			CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(24 * time.Hour), IdleTimeout: time.Hour,
			ClientAddr: "192.0.2.1", UserAgent: "Mozilla/5.0",
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := s.SessionByTokenHash(ctx, hashes[i%sessions]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkSessionByTokenHashParallel(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "gatehouse.db"))
	ctx := context.Background()
	u := testUser("alice")
	if err := s.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	h := sha256.Sum256([]byte("secret"))
	err := s.CreateSession(ctx, &gatehouse.Session{
		ID: gatehouse.NewID(), TokenHash: h[:], UserID: u.ID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(24 * time.Hour), IdleTimeout: time.Hour,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.SessionByTokenHash(ctx, h[:]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
