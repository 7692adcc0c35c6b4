package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagsAfterArguments: every command takes its flags before or after
// its positional arguments, and "--" ends the flags.
func TestFlagsAfterArguments(t *testing.T) {
	dataDir := t.TempDir()
	createUser(t, dataDir, "admin", "correct horse battery")
	tests := []struct {
		name    string
		args    []string
		wantOut string
	}{
		{name: "unlock, flag after the name", args: []string{"user", "unlock", "admin", "--data", dataDir}, wantOut: "cleared the login lockout of admin"},
		{name: "unlock, flag before the name", args: []string{"user", "unlock", "--data", dataDir, "admin"}, wantOut: "cleared the login lockout of admin"},
		{name: "unlock, flag=value after the name", args: []string{"user", "unlock", "admin", "--data=" + dataDir}, wantOut: "cleared the login lockout of admin"},
		{name: "unlock, a name after --", args: []string{"user", "unlock", "--data", dataDir, "--", "-admin"}, wantOut: "cleared the login lockout of -admin"},
		{name: "reset-link, flag after the name", args: []string{"user", "reset-link", "admin", "--data", dataDir}, wantOut: "one-time password reset link for admin"},
		{name: "disable, flag after the name", args: []string{"user", "disable", "admin", "-data", dataDir}, wantOut: "disabled user admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := mustRun(t, nil, "", tt.args...)
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("stdout %q does not contain %q", out, tt.wantOut)
			}
		})
	}

	// After "--" a flag is a name, so there are two names here.
	code, _, stderr := runCmd(t, nil, "", "user", "unlock", "admin", "--data", dataDir, "--", "--json")
	if code != exitUsage || !strings.Contains(stderr, "exactly one") {
		t.Errorf("two names around --: exit %d %q, want 2 and exactly one", code, stderr)
	}
}

// TestVersion: --version and version print the version, the revision
// (unknown in a test binary) and the Go version.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, stdout, stderr := runCmd(t, nil, "", args...)
		if code != exitOK || stderr != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
		}
		lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "gatehouse ") || !strings.HasPrefix(lines[1], "revision: ") || !strings.HasPrefix(lines[2], "go: go1.") {
			t.Errorf("%v: stdout %q, want gatehouse VERSION, revision: and go: lines", args, stdout)
		}
	}
	if code, _, stderr := runCmd(t, nil, "", "version", "extra"); code != exitUsage || !strings.Contains(stderr, `unexpected argument "extra"`) {
		t.Errorf("version extra: exit %d %q", code, stderr)
	}
}

// TestHelp: every command prints its usage and an example for --help, -h
// and help COMMAND, on stdout, exit 0.
func TestHelp(t *testing.T) {
	commands := [][]string{
		{"serve"}, {"user"}, {"user", "create"}, {"user", "list"}, {"user", "disable"}, {"user", "unlock"},
		{"user", "reset-link"}, {"policy"}, {"policy", "explain"}, {"import"}, {"import", "users"},
		{"migrate"}, {"config"}, {"config", "check"}, {"version"}, {"help"},
	}
	for _, cmd := range commands {
		name := strings.Join(cmd, " ")
		for _, form := range [][]string{append(cmd[:len(cmd):len(cmd)], "--help"), append(cmd[:len(cmd):len(cmd)], "-h"), append([]string{"help"}, cmd...)} {
			t.Run(strings.Join(form, " "), func(t *testing.T) {
				env := map[string]string{"GATEHOUSE_DATA_DIR": filepath.Join(t.TempDir(), "data")}
				code, stdout, stderr := runCmd(t, env, "", form...)
				if code != exitOK || stderr != "" {
					t.Fatalf("exit %d, stderr %q, want 0 and nothing", code, stderr)
				}
				if !strings.HasPrefix(stdout, "usage: gatehouse "+name) || !strings.Contains(stdout, "\nexample:\n  ") {
					t.Errorf("stdout %q, want the usage of %s and an example", stdout, name)
				}
			})
		}
	}
	// A flag after the arguments asks for help too, and a leaf command lists
	// its flags.
	_, stdout, _ := runCmd(t, nil, "", "user", "unlock", "admin", "--help")
	if !strings.Contains(stdout, "--data DIR") {
		t.Errorf("user unlock admin --help: %q, want the flags", stdout)
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		if code, stdout, _ := runCmd(t, nil, "", args...); code != exitOK || !strings.Contains(stdout, "gatehouse help") || !strings.Contains(stdout, "--version") {
			t.Errorf("%v: exit %d, stdout %q", args, code, stdout)
		}
	}
}

// TestUnknownWords: an unknown command, subcommand or flag is reported once,
// with the nearest known one if it is close, exit 2, nothing on stdout.
func TestUnknownWords(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string // all of stderr
	}{
		{args: []string{"usr", "list"}, wantErr: `gatehouse: unknown command "usr"; did you mean "user"?` + "\n"},
		{args: []string{"sevre"}, wantErr: `gatehouse: unknown command "sevre"; did you mean "serve"?` + "\n"},
		{args: []string{"frobnicate"}, wantErr: `gatehouse: unknown command "frobnicate"; expected serve, healthcheck, user, policy, import, migrate, migrate-data, backup, restore, config, version or help` + "\n"},
		{args: []string{"user", "lsit"}, wantErr: `gatehouse: user: unknown subcommand "lsit"; did you mean "list"?` + "\n"},
		{args: []string{"user", "reset_link", "admin"}, wantErr: `gatehouse: user: unknown subcommand "reset_link"; did you mean "reset-link"?` + "\n"},
		{args: []string{"serve", "--adr", "127.0.0.1:0"}, wantErr: "gatehouse: serve: unknown flag --adr; did you mean --addr?\n"},
		{args: []string{"user", "unlock", "admin", "--dat", "x"}, wantErr: "gatehouse: user unlock: unknown flag --dat; did you mean --data?\n"},
		{args: []string{"user", "create", "--passwordstdin"}, wantErr: "gatehouse: user create: unknown flag --passwordstdin; did you mean --password-stdin?\n"},
		{args: []string{"serve", "--bogus"}, wantErr: "gatehouse: serve: unknown flag --bogus (gatehouse help serve)\n"},
		{args: []string{"--verison"}, wantErr: "gatehouse: unknown flag --verison; did you mean --version?\n"},
		{args: []string{"help", "usr"}, wantErr: `gatehouse: help: unknown command "usr"; did you mean "user"?` + "\n"},
		{args: []string{"serve", "--addr"}, wantErr: "gatehouse: serve: flag needs an argument: -addr\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			env := map[string]string{"GATEHOUSE_DATA_DIR": filepath.Join(t.TempDir(), "data")}
			code, stdout, stderr := runCmd(t, env, "", tt.args...)
			if code != exitUsage || stdout != "" || stderr != tt.wantErr {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing and %q", code, stdout, stderr, tt.wantErr)
			}
		})
	}
}
