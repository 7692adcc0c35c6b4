package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/sqlite"
)

// TestBackupUnderWrites: backups taken while another store (as another
// process would) keeps creating users, each with its group membership in
// the same transaction, are each one instant of the database — sound,
// every user with its membership, never fewer users than an earlier
// backup — and one file, readable by its owner only.
func TestBackupUnderWrites(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "gatehouse.db")
	live := open(t, path)
	writer := open(t, path) // a second process on the same file
	if err := live.CreateGroup(ctx, &gatehouse.Group{Name: "staff", Permissions: []string{"section:users"}}); err != nil {
		t.Fatal(err)
	}

	var created atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			u := testUser(fmt.Sprintf("user%05d", i))
			u.Email = fmt.Sprintf("user%05d@example.com", i)
			u.Groups = []string{"staff"}
			if err := writer.CreateUser(ctx, u); err != nil {
				t.Errorf("CreateUser during the backups: %v", err)
				return
			}
			created.Add(1)
		}
	}()

	last := -1
	for i := range 5 {
		for created.Load() < int64(20*(i+1)) {
			if t.Failed() {
				break
			}
			time.Sleep(time.Millisecond)
		}
		dest := filepath.Join(dir, fmt.Sprintf("backup-%d.db", i))
		info, err := sqlite.Backup(ctx, path, dest)
		if err != nil {
			t.Fatalf("Backup #%d: %v", i, err)
		}
		if info.Bytes <= 0 || info.SchemaVersion <= 0 {
			t.Errorf("Backup #%d: info %+v", i, info)
		}
		fi, err := os.Stat(dest)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("backup mode %v, want 0600", fi.Mode().Perm())
		}
		n := checkBackupUsers(t, dest)
		if n < last {
			t.Errorf("backup #%d has %d users, fewer than the %d of the one before", i, n, last)
		}
		last = n
		// One file: no journal beside it, no partial file left.
		entries, _ := filepath.Glob(filepath.Join(dir, "*backup-*"))
		for _, e := range entries {
			if strings.Contains(e, "partial") || strings.HasSuffix(e, "-wal") || strings.HasSuffix(e, "-shm") || strings.HasSuffix(e, "-journal") {
				t.Errorf("left beside the backups: %s", e)
			}
		}
	}
	close(stop)
	wg.Wait()
	if last < 100 {
		t.Errorf("the last backup has %d users; the writes did not go on", last)
	}
}

// checkBackupUsers opens a copy of the backup at path as the server would
// and checks every user has the membership created with it; it returns
// how many users the backup has.
func checkBackupUsers(t *testing.T, path string) int {
	t.Helper()
	cp := filepath.Join(t.TempDir(), "copy.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, cp)
	users, total, err := s.ListUsers(t.Context(), gatehouse.UserFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if len(u.Groups) != 1 || u.Groups[0] != "staff" {
			t.Errorf("user %s in the backup has groups %v: a half-written record", u.Username, u.Groups)
		}
	}
	if err := s.IntegrityCheck(t.Context()); err != nil {
		t.Errorf("integrity of %s: %v", path, err)
	}
	return total
}

// TestBackupRefusals: an existing destination is never overwritten, a
// missing source is never backed up as an empty database, and a failure
// leaves no file behind.
func TestBackupRefusals(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "gatehouse.db")
	open(t, path)

	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Backup(ctx, path, existing); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("Backup over an existing file = %v", err)
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("the existing file was changed: %q", b)
	}
	if _, err := sqlite.Backup(ctx, filepath.Join(dir, "typo.db"), filepath.Join(dir, "b.db")); err == nil || !strings.Contains(err.Error(), "no database") {
		t.Errorf("Backup of a missing database = %v", err)
	}
	if _, err := sqlite.Backup(ctx, path, filepath.Join(dir, "no", "such", "dir.db")); err == nil {
		t.Error("Backup into a missing directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if name := e.Name(); name != "gatehouse.db" && name != "existing.db" && !strings.HasPrefix(name, "gatehouse.db-") {
			t.Errorf("left in the directory: %s", name)
		}
	}
}

// TestRestore: a backup restored over a database that changed since makes
// it the backup again (the user created after the backup is gone, the one
// before is back, its sessions ended); files that are not sound gatehouse backups are refused
// and the database is left as it was.
func TestRestore(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "gatehouse.db")
	s := open(t, path)
	before := testUser("before")
	if err := s.CreateUser(ctx, before); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	sess := &gatehouse.Session{
		ID: gatehouse.NewID(), TokenHash: make([]byte, 32), UserID: before.ID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleTimeout: time.Hour,
	}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup.db")
	if _, err := sqlite.Backup(ctx, path, backup); err != nil {
		t.Fatal(err)
	}
	after := testUser("after")
	if err := s.CreateUser(ctx, after); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, before.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	refused := map[string]func(string) error{
		"a text file": func(p string) error { return os.WriteFile(p, []byte("not a database\n"), 0o600) },
		"a database without gatehouse's schema": func(p string) error {
			db, err := sql.Open("sqlite", p)
			if err != nil {
				return err
			}
			defer db.Close()
			_, err = db.Exec("CREATE TABLE t (x)")
			return err
		},
		"a newer gatehouse's backup": func(p string) error {
			b, err := os.ReadFile(backup)
			if err != nil {
				return err
			}
			if err := os.WriteFile(p, b, 0o600); err != nil {
				return err
			}
			db, err := sql.Open("sqlite", p)
			if err != nil {
				return err
			}
			defer db.Close()
			_, err = db.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 'future')")
			return err
		},
	}
	for name, make := range refused {
		bad := filepath.Join(t.TempDir(), "bad.db")
		if err := make(bad); err != nil {
			t.Fatal(err)
		}
		if _, err := sqlite.Restore(ctx, bad, path); err == nil {
			t.Errorf("Restore of %s succeeded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, err := sqlite.Restore(ctx, filepath.Join(dir, "typo.db"), path); err == nil {
		t.Error("Restore of a missing file succeeded")
	}
	s = open(t, path)
	if _, err := s.UserByID(ctx, after.ID); err != nil {
		t.Fatalf("a refused restore changed the database: %v", err)
	}
	s.Close()

	if _, err := sqlite.Restore(ctx, backup, path); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	if _, err := s.UserByID(ctx, before.ID); err != nil {
		t.Errorf("the user of the backup after the restore: %v", err)
	}
	if list, err := s.UserSessions(ctx, before.ID); err != nil || len(list) != 0 {
		t.Errorf("the backup's sessions after the restore: %d, %v; want none (one revoked since must not come back)", len(list), err)
	}
	if _, err := s.UserByID(ctx, after.ID); gatehouse.ErrorCode(err) != gatehouse.CodeNotFound {
		t.Errorf("the user created after the backup, after the restore: %v", err)
	}
	if err := s.IntegrityCheck(context.Background()); err != nil {
		t.Error(err)
	}
}
