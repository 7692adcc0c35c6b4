package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestBackupWhileServingAndRestore: `gatehouse backup` while `gatehouse
// serve` answers a stream of logins (each writing a session, a login
// audit event and a last-login time) gives a sound backup; `gatehouse
// restore` brings the database back to it (a user created after the
// backup is gone), keeping what it replaced; wrong uses get clear errors.
func TestBackupWhileServingAndRestore(t *testing.T) {
	dataDir := t.TempDir()
	createUser(t, dataDir, "alice", "correct horse battery staple 1")
	srv := startServe(t, nil, "--addr", "127.0.0.1:0", "--data", dataDir)

	var logins atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t)
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := tryJSON(c, "POST", srv.base+"/session", loginBody("alice", "correct horse battery staple 1"), nil)
				if err != nil || r.status != 200 {
					t.Errorf("login during the backup: %v %d %s", err, r.status, r.raw)
					return
				}
				logins.Add(1)
			}
		}()
	}
	backups := t.TempDir()
	for i := range 3 {
		out := mustRun(t, nil, "", "backup", "--data", dataDir, "--to", filepath.Join(backups, "b"+string(rune('0'+i))+".db"))
		if !strings.Contains(out, "backed up") || !strings.Contains(out, "secrets.key") {
			t.Errorf("backup said %q", out)
		}
	}
	// --to an existing directory names the backup by its time, and a
	// second backup in the same second gets a name of its own.
	dir := t.TempDir()
	for range 2 {
		out := mustRun(t, nil, "", "backup", "--data", dataDir, "--to", dir)
		if !strings.Contains(out, "backed up") {
			t.Errorf("backup --to DIR said %q", out)
		}
	}
	named, _ := filepath.Glob(filepath.Join(dir, "gatehouse-2*Z*.db"))
	if len(named) != 2 {
		t.Errorf("backup --to DIR twice wrote %v, want two gatehouse-<time>.db files", named)
	}
	close(stop)
	wg.Wait()
	if logins.Load() < 2 {
		t.Fatalf("only %d logins ran during the backups", logins.Load())
	}
	if code, _, stderr := runCmd(t, nil, "", "backup", "--data", dataDir, "--to", filepath.Join(backups, "b0.db")); code != exitFailure || !strings.Contains(stderr, "exists already") {
		t.Errorf("backup over an existing file: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCmd(t, nil, "", "backup", "--data", dataDir); code != exitUsage || !strings.Contains(stderr, "--to FILE is required") {
		t.Errorf("backup without --to: exit %d, %s", code, stderr)
	}
	// While serve runs, a restore is refused (it would replace the
	// database under the server), and so is a second serve on the same
	// file (its caches would not hear of the first one's changes).
	if code, _, stderr := runCmd(t, nil, "", "restore", "--data", dataDir, "--from", filepath.Join(backups, "b0.db")); code != exitFailure || !strings.Contains(stderr, "a gatehouse serve is running on it") || !strings.Contains(stderr, "stop it first") {
		t.Errorf("restore while serving: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCmd(t, nil, "", "serve", "--addr", "127.0.0.1:0", "--data", dataDir); code != exitFailure || !strings.Contains(stderr, "a gatehouse serve is running on it") {
		t.Errorf("a second serve on the same database: exit %d, %s", code, stderr)
	}
	if code := srv.stop(); code != exitOK {
		t.Fatalf("serve exited %d", code)
	}

	createUser(t, dataDir, "bob", "correct horse battery staple 2")
	out := mustRun(t, nil, "", "restore", "--data", dataDir, "--from", filepath.Join(backups, "b2.db"))
	if !strings.Contains(out, "restored") || !strings.Contains(out, "kept the database as it was in") {
		t.Errorf("restore said %q", out)
	}
	list := mustRun(t, nil, "", "user", "list", "--data", dataDir)
	if !strings.Contains(list, "alice") || strings.Contains(list, "bob") {
		t.Errorf("users after the restore:\n%s", list)
	}
	kept, _ := filepath.Glob(filepath.Join(dataDir, "gatehouse.db.before-restore-*"))
	if len(kept) != 1 {
		t.Fatalf("kept copies %v, want one", kept)
	}
	// The kept copy is a backup like any other: restoring it brings bob back.
	mustRun(t, nil, "", "restore", "--data", dataDir, "--from", kept[0])
	if list := mustRun(t, nil, "", "user", "list", "--data", dataDir); !strings.Contains(list, "bob") {
		t.Errorf("users after restoring the kept copy:\n%s", list)
	}

	notDB := writeFile(t, t.TempDir(), "notes.txt", "not a database\n")
	if code, _, stderr := runCmd(t, nil, "", "restore", "--data", dataDir, "--from", notDB); code != exitFailure || !strings.Contains(stderr, "not a sound gatehouse backup") {
		t.Errorf("restore of a text file: exit %d, %s", code, stderr)
	}
	if list := mustRun(t, nil, "", "user", "list", "--data", dataDir); !strings.Contains(list, "bob") {
		t.Errorf("a refused restore changed the users:\n%s", list)
	}
	pg := writeFile(t, t.TempDir(), "pg.yaml", "database: postgres://gatehouse@127.0.0.1:1/gatehouse\n")
	for _, cmd := range []string{"backup --to x.db", "restore --from x.db"} {
		args := append(strings.Fields(cmd), "--config", pg)
		if code, _, stderr := runCmd(t, nil, "", args...); code != exitUsage || !strings.Contains(stderr, "pg_") {
			t.Errorf("%s with PostgreSQL: exit %d, %s", cmd, code, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "x.db")); err == nil {
		t.Error("a file was written for PostgreSQL")
	}
}
