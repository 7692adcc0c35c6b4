package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/sqlite"
)

// TestCrashDurability kills the server and concurrent `user create`
// processes with SIGKILL, three times, and checks after each crash that
// every user whose creation was acknowledged (exit 0) survived, can log in
// over HTTP with its exact password, and that the database passes SQLite's
// integrity check.
//
// Each crash comes right after a random number (1 to 3) of creates of that
// cycle were acknowledged, while the other workers' creates are under way:
// waiting for acknowledgements rather than for a fixed time makes every
// cycle prove the durability of at least one acknowledged write however
// slow the machine is (a fixed sleep of up to 2 s sometimes ended before the
// first create, which starts a process and hashes a password, finished).
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and crashes it repeatedly")
	}
	bin := buildBinary(t)
	dataDir := t.TempDir()
	procs := newProcSet(t)

	const (
		cycles        = 3
		createWorkers = 4
		loginWorkers  = 2
		// ackTimeout bounds the wait for a cycle's acknowledged creates.
		ackTimeout = 2 * time.Minute
	)
	acked := map[string]string{} // username → password, of every exit 0
	var ackOrder []string        // usernames in the order they were acknowledged
	var next atomic.Int64

	for cycle := 0; cycle <= cycles; cycle++ {
		srv := startProcServer(t, procs, bin, "--data", dataDir)
		if cycle == 0 {
			token := srv.log.wait(t, setupLinkRe, 20*time.Second)[2]
			r := doJSON(t, newClient(t), "POST", srv.base+"/setup", map[string]any{
				"token": token, "username": adminName, "email": adminEmail, "password": adminPassword,
			}, nil)
			if r.status != http.StatusCreated {
				t.Fatalf("setup: %d %s", r.status, r.raw)
			}
		} else {
			if setupLinkRe.MatchString(srv.log.String()) {
				t.Errorf("cycle %d: restart printed a setup link although users exist", cycle)
			}
			spotCheckLogins(t, srv.base, acked, ackOrder)
		}
		if cycle == cycles {
			// The last restart: the command line sees every user too.
			out, err := exec.Command(bin, "user", "list", "--data", dataDir).CombinedOutput()
			if err != nil {
				t.Fatalf("user list: %v\n%s", err, out)
			}
			for u := range acked {
				if !strings.Contains(string(out), " "+u+" ") {
					t.Errorf("user list lacks acknowledged user %s", u)
				}
			}
			break
		}

		// Load: user creates in separate processes and admin logins over
		// HTTP, until a random moment when everything is killed at once.
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			killed  atomic.Bool
			logins  atomic.Int64
			creates atomic.Int64
			cut     atomic.Int64 // user creates killed midway
		)
		for range createWorkers {
			wg.Go(func() {
				for !killed.Load() {
					n := next.Add(1)
					username := fmt.Sprintf("u%d", n)
					pw := fmt.Sprintf("password of number %d, kept exactly ", n)
					cmd := exec.Command(bin, "user", "create", "--data", dataDir,
						"--username", username, "--email", username+"@example.com", "--password-stdin")
					cmd.Stdin = strings.NewReader(pw + "\n")
					cmd.Env = childEnv()
					out, err := procs.run(cmd)
					if errors.Is(err, errStopped) {
						return
					}
					if err == nil {
						mu.Lock()
						acked[username] = pw
						ackOrder = append(ackOrder, username)
						mu.Unlock()
						creates.Add(1)
						continue
					}
					if !killed.Load() {
						t.Errorf("user create %s failed before the crash: %v\n%s", username, err, out)
						return
					}
					cut.Add(1)
				}
			})
		}
		for range loginWorkers {
			wg.Go(func() {
				c := newClient(t)
				c.Timeout = 10 * time.Second
				for !killed.Load() {
					r, err := tryJSON(c, "POST", srv.base+"/session", loginBody(adminName, adminPassword), nil)
					switch {
					case killed.Load():
						return
					case err != nil:
						t.Errorf("admin login before the crash: %v", err)
						return
					case r.status != http.StatusOK:
						t.Errorf("admin login before the crash: %d %s", r.status, r.raw)
						return
					}
					logins.Add(1)
				}
			})
		}

		want := int64(1 + rand.IntN(3))
		deadline := time.Now().Add(ackTimeout)
		for creates.Load() < want && time.Now().Before(deadline) && !t.Failed() {
			time.Sleep(5 * time.Millisecond)
		}
		killed.Store(true)
		srv.kill()
		procs.killAll()
		if !waitGroup(&wg, 30*time.Second) {
			t.Fatal("load workers did not stop within 30s of the crash")
		}
		procs.resume()
		t.Logf("cycle %d: %d users acknowledged, %d user creates killed midway, %d admin logins before the crash",
			cycle, creates.Load(), cut.Load(), logins.Load())
		if t.Failed() {
			t.FailNow()
		}
		if creates.Load() == 0 {
			t.Fatalf("cycle %d: no user create was acknowledged within %v; the crash would prove nothing", cycle, ackTimeout)
		}
		checkDatabase(t, dataDir, acked)
	}
}

// buildBinary builds the gatehouse command into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatehouse")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// childEnv is the whole environment of the processes the test starts: no
// GATEHOUSE_* variable of the test's own environment leaks in.
func childEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
}

var errStopped = errors.New("process set stopped")

// procSet tracks the processes a test started, so they can all be killed at
// once and none outlives the test.
type procSet struct {
	mu      sync.Mutex
	running map[*exec.Cmd]bool
	stopped bool
}

func newProcSet(t *testing.T) *procSet {
	ps := &procSet{running: map[*exec.Cmd]bool{}}
	t.Cleanup(ps.killAll)
	return ps
}

// start starts cmd unless the set is stopped.
func (ps *procSet) start(cmd *exec.Cmd) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.stopped {
		return errStopped
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	ps.running[cmd] = true
	return nil
}

// done forgets a process that has been waited for.
func (ps *procSet) done(cmd *exec.Cmd) {
	ps.mu.Lock()
	delete(ps.running, cmd)
	ps.mu.Unlock()
}

// run starts cmd, waits for it (at most a minute) and returns its output.
func (ps *procSet) run(cmd *exec.Cmd) (string, error) {
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := ps.start(cmd); err != nil {
		return "", err
	}
	timer := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	ps.done(cmd)
	return out.String(), err
}

// killAll stops the set from starting processes and SIGKILLs every running one.
func (ps *procSet) killAll() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.stopped = true
	for cmd := range ps.running {
		cmd.Process.Kill() // SIGKILL; an error means it already ended
	}
}

// resume lets the set start processes again.
func (ps *procSet) resume() {
	ps.mu.Lock()
	ps.stopped = false
	ps.mu.Unlock()
}

// procServer is `gatehouse serve` running as a real process.
type procServer struct {
	cmd    *exec.Cmd
	log    *logLines
	exited chan struct{}
	base   string
}

// startProcServer starts `gatehouse serve --addr 127.0.0.1:0 ARGS` as a
// process of ps and waits until it answers its health check.
func startProcServer(t *testing.T, ps *procSet, bin string, args ...string) *procServer {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = childEnv()
	cmd.Stderr = pw
	s := &procServer{cmd: cmd, log: newLogLines(), exited: make(chan struct{})}
	err = ps.start(cmd)
	pw.Close()
	if err != nil {
		pr.Close()
		t.Fatalf("start server: %v", err)
	}
	go func() {
		s.log.consume(pr)
		pr.Close()
	}()
	go func() {
		cmd.Wait()
		ps.done(cmd)
		close(s.exited)
	}()
	t.Cleanup(s.kill)
	s.base = "http://" + s.log.wait(t, listeningRe, 30*time.Second)[1] + "/auth"
	// The setup link, if any, is logged before the server takes requests;
	// a health check therefore also means the log is complete so far.
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := tryJSON(newClient(t), "GET", s.base+"/healthz", nil, nil)
		if err == nil && r.status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not healthy: %v %d\n%s", err, r.status, s.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// kill sends SIGKILL and waits for the process to end.
func (s *procServer) kill() {
	s.cmd.Process.Kill()
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
	}
}

// spotCheckLogins logs in over HTTP as the administrator and as a few
// acknowledged users, the most recent ones (the likeliest to be lost) and a
// random older one.
func spotCheckLogins(t *testing.T, base string, acked map[string]string, order []string) {
	t.Helper()
	check := []string{adminName}
	for i := len(order) - 1; i >= 0 && i >= len(order)-3; i-- {
		check = append(check, order[i])
	}
	if len(order) > 3 {
		check = append(check, order[rand.IntN(len(order)-3)])
	}
	for _, u := range check {
		pw := adminPassword
		if u != adminName {
			pw = acked[u]
		}
		if r := login(t, newClient(t), base, u, pw); r.status != http.StatusOK {
			t.Errorf("login of %s after the crash: %d %s", u, r.status, r.raw)
		}
	}
}

// checkDatabase opens the crashed database directly and checks every
// acknowledged user is in it and SQLite finds no corruption.
func checkDatabase(t *testing.T, dataDir string, acked map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	st, err := sqlite.Open(ctx, filepath.Join(dataDir, "gatehouse.db"))
	if err != nil {
		t.Fatalf("open the crashed database: %v", err)
	}
	defer st.Close()
	if err := st.IntegrityCheck(ctx); err != nil {
		t.Errorf("integrity check: %v", err)
	}
	var missing []string
	for username := range acked {
		u, err := st.UserByLogin(ctx, username)
		switch {
		case errors.Is(err, gatehouse.ErrNotFound):
			missing = append(missing, username)
		case err != nil:
			t.Errorf("UserByLogin(%s): %v", username, err)
		case u.Email != username+"@example.com" || u.State != gatehouse.StateActive || u.PasswordHash == "":
			t.Errorf("user %s came back as %+v", username, u)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("acknowledged users lost in the crash: %v", missing)
	}
	if _, err := st.UserByLogin(ctx, adminName); err != nil {
		t.Errorf("administrator after the crash: %v", err)
	}
}

// waitGroup waits for wg at most timeout.
func waitGroup(wg *sync.WaitGroup, timeout time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}
