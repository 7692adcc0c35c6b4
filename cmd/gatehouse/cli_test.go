package main

import (
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/server"
)

// openTestApp opens the services over dataDir in this process, as a second
// process on the same data directory would.
func openTestApp(t *testing.T, dataDir string) *server.Services {
	t.Helper()
	s, err := loadSettings(commonFlags{data: dataDir}, "", mapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	a, err := openApp(t.Context(), s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestCommands(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{name: "version", args: []string{"version"}, wantCode: exitOK, wantOut: "gatehouse (devel)"},
		{name: "help", args: []string{"help"}, wantCode: exitOK, wantOut: "usage: gatehouse"},
		{name: "--help", args: []string{"--help"}, wantCode: exitOK, wantOut: "usage: gatehouse"},
		{name: "no command", args: nil, wantCode: exitUsage, wantErr: "no command given"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: exitUsage, wantErr: `unknown command "frobnicate"`},
		{name: "user without subcommand", args: []string{"user"}, wantCode: exitUsage, wantErr: "user: expected"},
		{name: "unknown user subcommand", args: []string{"user", "frob"}, wantCode: exitUsage, wantErr: `unknown subcommand "frob"`},
		{name: "config without check", args: []string{"config"}, wantCode: exitUsage, wantErr: "config: expected check"},
		{name: "config frob", args: []string{"config", "frob"}, wantCode: exitUsage, wantErr: `config: unknown subcommand "frob"; expected check`},
		{name: "serve unknown flag", args: []string{"serve", "--bogus"}, wantCode: exitUsage, wantErr: "bogus"},
		{name: "user list extra argument", args: []string{"user", "list", "extra"}, wantCode: exitUsage, wantErr: `unexpected argument "extra"`},
		{name: "user disable without name", args: []string{"user", "disable"}, wantCode: exitUsage, wantErr: "exactly one"},
		{name: "user unlock two names", args: []string{"user", "unlock", "a", "b"}, wantCode: exitUsage, wantErr: "exactly one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"GATEHOUSE_DATA_DIR": filepath.Join(t.TempDir(), "data")}
			code, stdout, stderr := runCmd(t, env, "", tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.wantOut) {
				t.Errorf("stdout does not contain %q: %s", tt.wantOut, stdout)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr does not contain %q: %s", tt.wantErr, stderr)
			}
		})
	}
}

func TestUserCreate(t *testing.T) {
	dataDir := t.TempDir()
	createUser(t, dataDir, "alice", "correct horse battery")
	strict := writeFile(t, t.TempDir(), "strict.yaml", "password:\n  min_length: 30\n")

	const pw = "correct horse battery\n"
	tests := []struct {
		name     string
		args     []string // after "user create --data DIR"
		stdin    string
		wantCode int
		wantOut  string
		wantErr  []string
	}{
		{
			name:     "ok",
			args:     []string{"--username", "bob", "--email", "bob@example.com", "--name", "Bob B", "--group", "administrators", "--password-stdin"},
			stdin:    pw,
			wantCode: exitOK,
			wantOut:  "created user bob (id ",
		},
		{
			name:     "missing username",
			args:     []string{"--email", "x@example.com", "--password-stdin"},
			stdin:    pw,
			wantCode: exitUsage,
			wantErr:  []string{"--username"},
		},
		{
			name:     "missing email",
			args:     []string{"--username", "x", "--password-stdin"},
			stdin:    pw,
			wantCode: exitUsage,
			wantErr:  []string{"--email"},
		},
		{
			name:     "missing --password-stdin",
			args:     []string{"--username", "x", "--email", "x@example.com"},
			stdin:    pw,
			wantCode: exitUsage,
			wantErr:  []string{"--password-stdin"},
		},
		{
			name:     "password as an argument is refused",
			args:     []string{"--username", "x", "--email", "x@example.com", "--password", "secret"},
			stdin:    pw,
			wantCode: exitUsage,
			wantErr:  []string{"password"},
		},
		{
			name:     "unexpected argument",
			args:     []string{"--username", "x", "--email", "x@example.com", "--password-stdin", "extra"},
			stdin:    pw,
			wantCode: exitUsage,
			wantErr:  []string{`unexpected argument "extra"`},
		},
		{
			name:     "empty stdin",
			args:     []string{"--username", "x", "--email", "x@example.com", "--password-stdin"},
			stdin:    "",
			wantCode: exitUsage,
			wantErr:  []string{"no password on standard input"},
		},
		{
			name:     "empty line",
			args:     []string{"--username", "x", "--email", "x@example.com", "--password-stdin"},
			stdin:    "\n",
			wantCode: exitUsage,
			wantErr:  []string{"no password on standard input"},
		},
		{
			name:     "too short",
			args:     []string{"--username", "x", "--email", "x@example.com", "--password-stdin"},
			stdin:    "short\n",
			wantCode: exitFailure,
			wantErr:  []string{"password policy", "at least 12 characters"},
		},
		{
			name:     "too short for the configured policy",
			args:     []string{"--config", strict, "--username", "x", "--email", "x@example.com", "--password-stdin"},
			stdin:    pw,
			wantCode: exitFailure,
			wantErr:  []string{"at least 30 characters"},
		},
		{
			name:     "duplicate username",
			args:     []string{"--username", "alice", "--email", "other@example.com", "--password-stdin"},
			stdin:    pw,
			wantCode: exitFailure,
			wantErr:  []string{"already exists"},
		},
		{
			name:     "duplicate username in other case",
			args:     []string{"--username", "ALICE", "--email", "other@example.com", "--password-stdin"},
			stdin:    pw,
			wantCode: exitFailure,
			wantErr:  []string{"already exists"},
		},
		{
			name:     "duplicate email",
			args:     []string{"--username", "alice2", "--email", "alice@example.com", "--password-stdin"},
			stdin:    pw,
			wantCode: exitFailure,
			wantErr:  []string{"already exists"},
		},
		{
			name:     "bad email",
			args:     []string{"--username", "x", "--email", "not an address", "--password-stdin"},
			stdin:    pw,
			wantCode: exitFailure,
			wantErr:  []string{"email: Email is not a valid address."},
		},
		{
			name:     "bad username",
			args:     []string{"--username", "has space", "--email", "x@example.com", "--password-stdin"},
			stdin:    pw,
			wantCode: exitFailure,
			wantErr:  []string{"username:"},
		},
		{
			name:     "unknown group",
			args:     []string{"--username", "x", "--email", "x@example.com", "--group", "no-such-group", "--password-stdin"},
			stdin:    pw,
			wantCode: exitFailure,
			wantErr:  []string{"no-such-group"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"user", "create", "--data", dataDir}, tt.args...)
			code, stdout, stderr := runCmd(t, nil, tt.stdin, args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.wantOut) {
				t.Errorf("stdout does not contain %q: %s", tt.wantOut, stdout)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not contain %q: %s", w, stderr)
				}
			}
			if code != exitOK && strings.Contains(stdout, "created user") {
				t.Errorf("a failed create printed %q", stdout)
			}
		})
	}

	// Only alice and bob exist, bob as asked.
	a := openTestApp(t, dataDir)
	users, _, err := a.Store.ListUsers(t.Context(), gatehouse.UserFilter{})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Username, Email, Name string
		State                 gatehouse.UserState
		Groups                []string
	}
	var got []row
	for _, u := range users {
		got = append(got, row{u.Username, u.Email, u.Name, u.State, u.Groups})
	}
	want := []row{
		{"alice", "alice@example.com", "", gatehouse.StateActive, nil},
		{"bob", "bob@example.com", "Bob B", gatehouse.StateActive, []string{"administrators"}},
	}
	if diff := cmp.Diff(want, got, cmp.Transformer("nilEmpty", func(s []string) []string {
		if len(s) == 0 {
			return nil
		}
		return s
	})); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
}

// TestPasswordStdinExact checks that --password-stdin takes the password
// exactly as typed: only the line ending goes, spaces stay. It logs in with
// the exact password and fails with the trimmed one.
func TestPasswordStdinExact(t *testing.T) {
	dataDir := t.TempDir()
	tests := []struct {
		name  string
		stdin string
		want  string // the password that works
		wrong string // a near miss that must not work
	}{
		{name: "trailing space kept", stdin: "correct horse battery \n", want: "correct horse battery ", wrong: "correct horse battery"},
		{name: "leading and inner spaces kept", stdin: "  two  spaces  each \n", want: "  two  spaces  each ", wrong: "two spaces each"},
		{name: "CRLF removed", stdin: "windows line ending\r\n", want: "windows line ending", wrong: "windows line ending\r"},
		{name: "no newline at EOF", stdin: "no newline at the end ", want: "no newline at the end ", wrong: "no newline at the end"},
		{name: "trailing tab kept", stdin: "tab at the very end\t\n", want: "tab at the very end\t", wrong: "tab at the very end"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			username := "user" + string(rune('a'+i))
			createUser(t, dataDir, username, strings.TrimSuffix(tt.stdin, "\n"))
			a := openTestApp(t, dataDir)
			ctx := t.Context()
			req := account.LoginRequest{Username: username, Client: account.Client{Addr: "192.0.2.1"}}
			req.Password = tt.want
			if _, err := a.Accounts.Login(ctx, req); err != nil {
				t.Errorf("login with %q: %v", tt.want, err)
			}
			req.Password = tt.wrong
			_, err := a.Accounts.Login(ctx, req)
			if got := gatehouse.ErrorCode(err); got != gatehouse.CodeInvalidCredentials {
				t.Errorf("login with %q: %v, want %s", tt.wrong, err, gatehouse.CodeInvalidCredentials)
			}
		})
	}
}

func TestUserList(t *testing.T) {
	dataDir := t.TempDir()
	out := mustRun(t, nil, "", "user", "list", "--data", dataDir)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "ID") {
		t.Errorf("empty list: %q, want only the header", out)
	}

	createUser(t, dataDir, "zed", "correct horse battery")
	mustRun(t, nil, "correct horse battery\n", "user", "create", "--data", dataDir,
		"--username", "amy", "--email", "amy@example.com", "--group", "administrators", "--password-stdin")
	out = mustRun(t, nil, "", "user", "list", "--data", dataDir)
	var got [][]string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(l)
		got = append(got, f[1:]) // without the id
	}
	want := [][]string{
		{"amy", "amy@example.com", "active", "administrators", "never"},
		{"zed", "zed@example.com", "active", "never"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("user list (-want +got):\n%s\n%s", diff, out)
	}
}

// TestUserDisable disables a user who is logged in to a running server:
// their session ends and they cannot log in again.
func TestUserDisable(t *testing.T) {
	tests := []struct {
		name string
		ref  func(u *gatehouse.User) string
	}{
		{"by username", func(u *gatehouse.User) string { return u.Username }},
		{"by email", func(u *gatehouse.User) string { return u.Email }},
		{"by id", func(u *gatehouse.User) string { return u.ID }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each has its own data directory and server
			dataDir := t.TempDir()
			const pw = "correct horse battery"
			username := "victim" + string(rune('a'+i))
			createUser(t, dataDir, username, pw)
			a := openTestApp(t, dataDir)
			u, err := a.Store.UserByLogin(t.Context(), username)
			if err != nil {
				t.Fatal(err)
			}

			srv := startServe(t, nil, "--addr", "127.0.0.1:0", "--data", dataDir)
			c := newClient(t)
			if r := login(t, c, srv.base, username, pw); r.status != http.StatusOK {
				t.Fatalf("login: %d %s", r.status, r.raw)
			}
			if r := doJSON(t, c, "GET", srv.base+"/session", nil, nil); r.status != http.StatusOK {
				t.Fatalf("GET session: %d %s", r.status, r.raw)
			}

			out := mustRun(t, nil, "", "user", "disable", "--data", dataDir, tt.ref(u))
			if want := "disabled user " + username; !strings.Contains(out, want) {
				t.Errorf("stdout %q does not contain %q", out, want)
			}
			if n, err := a.Store.UserSessions(t.Context(), u.ID); err != nil || len(n) != 0 {
				t.Errorf("sessions after disable: %d, %v; want none", len(n), err)
			}
			// The server may trust its caches for a moment (a second by
			// default); the session must end soon after.
			deadline := time.Now().Add(10 * time.Second)
			for {
				r := doJSON(t, c, "GET", srv.base+"/session", nil, nil)
				if r.status == http.StatusUnauthorized {
					break
				}
				if r.status != http.StatusOK || time.Now().After(deadline) {
					t.Fatalf("GET session after disable: %d %s, want 401 soon", r.status, r.raw)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if r := login(t, newClient(t), srv.base, username, pw); r.status != http.StatusUnauthorized || r.code() != "invalid_credentials" {
				t.Errorf("login of a disabled user: %d %s, want 401 invalid_credentials", r.status, r.raw)
			}
			if out := mustRun(t, nil, "", "user", "list", "--data", dataDir); !strings.Contains(out, "disabled") {
				t.Errorf("user list does not show the user disabled:\n%s", out)
			}
		})
	}

	t.Run("unknown user", func(t *testing.T) {
		code, _, stderr := runCmd(t, nil, "", "user", "disable", "--data", t.TempDir(), "nobody")
		if code != exitFailure || !strings.Contains(stderr, `no user "nobody"`) {
			t.Errorf("exit %d, stderr %q; want 1 and no user %q", code, stderr, "nobody")
		}
	})
}

// TestUserUnlock locks a user out with failed logins over HTTP and clears
// the lockout from the command line while the server runs.
func TestUserUnlock(t *testing.T) {
	tests := []struct {
		name     string
		lockedAs string // the name the failed logins used
		unlockAs string // the name given to user unlock
	}{
		{name: "username", lockedAs: "carol", unlockAs: "carol"},
		{name: "locked by email, unlocked by username", lockedAs: "carol@example.com", unlockAs: "carol"},
		{name: "locked by username, unlocked by email in other case", lockedAs: "carol", unlockAs: "CAROL@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each has its own data directory and server
			dataDir := t.TempDir()
			const pw = "correct horse battery"
			createUser(t, dataDir, "carol", pw)
			cfg := writeFile(t, dataDir, "gatehouse.yaml", "login:\n  max_failures: 3\n")
			srv := startServe(t, nil, "--addr", "127.0.0.1:0", "--data", dataDir, "--config", cfg)
			c := newClient(t)
			for i := range 3 {
				if r := login(t, c, srv.base, tt.lockedAs, "wrong password!"); r.status != http.StatusUnauthorized {
					t.Fatalf("failed login %d: %d %s, want 401", i+1, r.status, r.raw)
				}
			}
			r := login(t, c, srv.base, tt.lockedAs, pw)
			if r.status != http.StatusTooManyRequests || r.code() != "too_many_attempts" || r.header.Get("Retry-After") == "" {
				t.Fatalf("login when locked: %d %v %s, want 429 too_many_attempts with Retry-After", r.status, r.header, r.raw)
			}

			out := mustRun(t, nil, "", "user", "unlock", "--data", dataDir, tt.unlockAs)
			if !strings.Contains(out, "cleared the login lockout of "+tt.unlockAs) {
				t.Errorf("stdout: %q", out)
			}
			if r := login(t, c, srv.base, tt.lockedAs, pw); r.status != http.StatusOK {
				t.Errorf("login after unlock: %d %s, want 200", r.status, r.raw)
			}
		})
	}
}

// TestUserCommandsNeedNoServer checks user commands work against a data
// directory that does not exist yet, creating it.
func TestUserCommandsNeedNoServer(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "new", "data")
	mustRun(t, nil, "", "user", "list", "--data", dataDir)
	code, _, stderr := runCmd(t, nil, "", "user", "unlock", "--data", dataDir, "nobody")
	if code != exitOK {
		t.Errorf("unlock of an unknown name: exit %d (%s), want 0", code, stderr)
	}
}

// TestSMTPPortFollowsTLS: without a port, the mail sender takes the port of
// its TLS mode (465 for implicit TLS, 587 for STARTTLS), not a fixed 587.
func TestSMTPPortFollowsTLS(t *testing.T) {
	for tlsMode, wantPort := range map[string]int{"implicit": 0, "starttls": 0} {
		dir := t.TempDir()
		cfg := writeFile(t, dir, "gatehouse.yaml", "mail:\n  driver: smtp\n  from: gh@example.com\n  smtp: {host: smtp.example.com, tls: "+tlsMode+"}\n")
		s, err := loadSettings(commonFlags{config: cfg, data: filepath.Join(dir, "data")}, "", mapEnv(nil))
		if err != nil {
			t.Fatal(err)
		}
		if s.smtp == nil || s.smtp.Port != wantPort || s.smtp.TLS != tlsMode {
			t.Errorf("tls %s: smtp settings %+v, want port %d (the sender's default for the mode)", tlsMode, s.smtp, wantPort)
		}
	}
}
