package main

import (
	"crypto/sha256"
	"encoding/base32"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/otp"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlite"
)

// postgresWithPassword creates an empty database on the server of
// GATEHOUSE_TEST_POSTGRES (skipping t when it is unset) with
// freshPostgres, and returns its URL with password, which the server's
// trust authentication ignores: what the command prints must never
// contain it.
func postgresWithPassword(t *testing.T, password string) string {
	t.Helper()
	server := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	if server == "" {
		t.Skip("GATEHOUSE_TEST_POSTGRES is not set: set it to a PostgreSQL URL, such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable, to run the PostgreSQL tests")
	}
	u, err := url.Parse(freshPostgres(t, server))
	if err != nil {
		t.Fatalf("GATEHOUSE_TEST_POSTGRES: %v", err)
	}
	u.User = url.UserPassword(u.User.Username(), password)
	return u.String()
}

// filled is what fillSQLite made, to check it works after the move.
type filled struct {
	alicePassword, bobPassword string
	apiToken                   string   // alice's API token
	sessionToken               string   // alice's session cookie
	deviceToken                string   // bob's remembered device
	recoveryCodes              []string // bob's, the first one used
}

// fillSQLite fills the SQLite database of dataDir through the account use
// cases, as a server would: an administrator with an API token and a live
// session, a user with TOTP who logged in with a recovery code and had the
// browser remembered, an invited user (an action token and queued mail),
// a group of their own, failed logins (throttles) and the audit of it all,
// and an external login of alice's (linked through the store: no use case
// links one yet).
func fillSQLite(t *testing.T, dataDir string) filled {
	t.Helper()
	ctx := t.Context()
	svc, err := server.OpenServices(ctx, server.Config{DataDir: dataDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("OpenServices: %v", err)
	}
	defer svc.Close()
	acc := svc.Accounts
	f := filled{alicePassword: "correct horse battery staple", bobPassword: "a strong phrase of his own"}
	client := account.Client{Addr: "192.0.2.10", UserAgent: "migrate-data test"}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	must("create group", acc.CreateGroup(ctx, account.Actor{}, &gatehouse.Group{
		Name: "ops", Description: "Operators", Permissions: []string{"servers.write", "section:settings"}, RequireTwoFactor: true}))
	alice, err := acc.CreateUser(ctx, account.NewUser{Username: "alice", Email: "alice@example.com", Name: "Alice Ä",
		Password: f.alicePassword, Groups: []string{gatehouse.GroupAdministrators}})
	must("create alice", err)
	bob, err := acc.CreateUser(ctx, account.NewUser{Username: "bob", Email: "bob@example.com", Password: f.bobPassword, Groups: []string{"ops"}})
	must("create bob", err)

	f.apiToken, _, err = acc.CreateToken(ctx, account.Actor{User: alice}, alice, account.NewToken{Name: "ci"})
	must("create token", err)
	res, err := acc.Login(ctx, account.LoginRequest{Username: "alice", Password: f.alicePassword, Client: client})
	must("log alice in", err)
	f.sessionToken = res.Token

	enrol, err := acc.BeginTOTP(ctx, bob)
	must("begin TOTP", err)
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(enrol.Secret)
	must("TOTP secret", err)
	f.recoveryCodes, err = acc.ConfirmTOTP(ctx, account.Actor{User: bob}, bob, otp.TOTP{Key: key}.At(time.Now()))
	must("confirm TOTP", err)
	res, err = acc.Login(ctx, account.LoginRequest{Username: "bob", Password: f.bobPassword, Client: client})
	must("log bob in", err)
	res, err = acc.VerifyCode(ctx, account.VerifyRequest{Token: res.PendingToken, Provider: gatehouse.ProviderRecoveryCode,
		Code: f.recoveryCodes[0], RememberDevice: true, Client: client})
	must("bob's recovery code", err)
	f.deviceToken = res.DeviceToken

	must("link alice's external login", svc.Store.CreateIdentity(ctx, &gatehouse.Identity{Provider: "google",
		Subject: "109876543210", UserID: alice.ID, Email: "alice@example.com", EmailVerified: true,
		LinkedAt: time.Now(), LastUsedAt: time.Now()}))
	// A session of that external login, with an ID token as long as
	// Entra ID's with groups, and an operator's recovery link: stored
	// directly too, for the same reason.
	idTokenHash := sha256.Sum256([]byte("external session"))
	now := time.Now()
	must("store alice's external-login session", svc.Store.CreateSession(ctx, &gatehouse.Session{ID: gatehouse.NewID(),
		TokenHash: idTokenHash[:], UserID: alice.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour),
		IdleTimeout: time.Hour, AuthenticatedAt: now, ClientAddr: client.Addr, UserAgent: client.UserAgent,
		Provider: "google", IDToken: longIDToken}))
	recoveryHash := sha256.Sum256([]byte("recovery link"))
	must("store a recovery link for bob", svc.Store.CreateActionToken(ctx, &gatehouse.ActionToken{ID: gatehouse.NewID(),
		UserID: bob.ID, Purpose: gatehouse.PurposeRecovery, Hash: recoveryHash[:], Stamp: bob.SecurityStamp,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))

	_, err = acc.Invite(ctx, account.NewInvite{Email: "carol@example.com", Groups: []string{"ops"}})
	must("invite carol", err)
	for range 2 {
		if _, err := acc.Login(ctx, account.LoginRequest{Username: "bob", Password: "wrong password", Client: client}); err == nil {
			t.Fatal("a wrong password logged in")
		}
	}
	acc.WaitBackground()
	if f.deviceToken == "" || f.sessionToken == "" {
		t.Fatalf("no device or session token: %+v", f)
	}
	return f
}

// longIDToken is an ID token of 6 KB, shaped like a JWT, for the session
// of an external login: migrate-data must move it whole.
var longIDToken = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." + strings.Repeat("eyJncm91cHMiOlsiMDAwMDAwMDAtMDAwMCJdfQ", 170) + ".c2lnbmF0dXJl"

// sqliteSnapshot reads the snapshot of the SQLite database at path.
func sqliteSnapshot(t *testing.T, path string) *gatehouse.Snapshot {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	snap, err := s.Snapshot(t.Context())
	if err != nil {
		t.Fatalf("sqlite Snapshot: %v", err)
	}
	return snap
}

// postgresSnapshot reads the snapshot of the PostgreSQL database at url.
func postgresSnapshot(t *testing.T, url string) *gatehouse.Snapshot {
	t.Helper()
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	snap, err := s.Snapshot(t.Context())
	if err != nil {
		t.Fatalf("postgres Snapshot: %v", err)
	}
	return snap
}

// TestMigrateData moves a SQLite installation filled through the use
// cases to PostgreSQL with the command, checks every record arrived as it
// was, that a second run is refused without a change, and that a server
// on PostgreSQL takes the password, the API token, the session cookie and
// the remembered device of before.
func TestMigrateData(t *testing.T) {
	const password = "pg-Secret-7"
	pg := postgresWithPassword(t, password)
	data := t.TempDir()
	f := fillSQLite(t, data)
	want := sqliteSnapshot(t, filepath.Join(data, "gatehouse.db"))
	for _, a := range want.Counts() {
		if a.Count == 0 && a.Name != gatehouse.AreaThrottles {
			t.Fatalf("the filled SQLite database has no %s: the test would prove nothing of them", a.Name)
		}
	}
	external := 0
	for _, ses := range want.Sessions {
		if ses.Provider == "google" && ses.IDToken == longIDToken {
			external++
		}
	}
	if external != 1 || len(longIDToken) < 6*1024 {
		t.Fatalf("the filled SQLite database has %d sessions with the %d-byte ID token, want 1 of 6 KB", external, len(longIDToken))
	}

	// A relative file is in the data directory.
	code, stdout, stderr := runCmd(t, nil, "", "migrate-data", "--from", "sqlite://gatehouse.db", "--to", pg, "--data", data)
	if code != exitOK {
		t.Fatalf("migrate-data: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, password) {
		t.Errorf("the output shows the database password:\n%s%s", stdout, stderr)
	}
	for _, a := range want.Counts() {
		if !hasCountLine(stdout, a.Name, a.Count) {
			t.Errorf("the output does not say %d %s:\n%s", a.Count, a.Name, stdout)
		}
	}
	got := postgresSnapshot(t, pg)
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("PostgreSQL after migrate-data (-sqlite +postgres):\n%s", diff)
	}

	// A second run finds the target full and changes nothing.
	code, stdout, stderr = runCmd(t, nil, "", "migrate-data", "--from", "sqlite://"+filepath.Join(data, "gatehouse.db"), "--to", pg)
	if code != exitFailure || !strings.Contains(stderr, "already holds records") || strings.Contains(stdout+stderr, password) {
		t.Errorf("second migrate-data: exit %d, want 1 and a refusal without the password\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if diff := cmp.Diff(got, postgresSnapshot(t, pg), cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("the refused run changed PostgreSQL (-before +after):\n%s", diff)
	}

	// The server on PostgreSQL, with the same data directory (the key
	// file), knows everyone as before.
	g, err := server.Open(t.Context(), server.Config{DataDir: data, PostgresURL: pg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("server.Open on PostgreSQL: %v", err)
	}
	defer g.Close()
	mux := http.NewServeMux()
	mux.Handle(g.BasePath()+"/", g)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base := srv.URL + g.BasePath()

	r := doJSON(t, newClient(t), "GET", base+"/session", nil, map[string]string{"Cookie": "gh_session=" + f.sessionToken})
	if r.status != http.StatusOK || field(r.body, "user", "username") != "alice" {
		t.Errorf("GET /session with the session cookie of before: %d %s", r.status, r.raw)
	}
	r = doJSON(t, newClient(t), "GET", base+"/management/api/v1/users", nil, map[string]string{"Authorization": "Bearer " + f.apiToken})
	if r.status != http.StatusOK || !strings.Contains(r.raw, `"bob"`) {
		t.Errorf("list users with the API token of before: %d %s", r.status, r.raw)
	}
	r = doJSON(t, newClient(t), "POST", base+"/session", loginBody("alice", f.alicePassword), nil)
	if r.status != http.StatusOK || field(r.body, "state") != "authenticated" {
		t.Errorf("alice's password login: %d %s", r.status, r.raw)
	}
	// Bob's second factor moved: his password alone is not enough, a
	// recovery code of before (not the one used) is.
	c := newClient(t)
	r = doJSON(t, c, "POST", base+"/session", loginBody("bob", f.bobPassword), nil)
	if r.status != http.StatusOK || field(r.body, "state") != "two_factor_required" {
		t.Fatalf("bob's password login: %d %s, want two_factor_required", r.status, r.raw)
	}
	r = doJSON(t, c, "POST", base+"/2fa/verify", map[string]any{"provider": "recovery_code", "code": f.recoveryCodes[0]}, nil)
	if r.status != http.StatusUnauthorized {
		t.Errorf("the recovery code used before the move: %d %s, want 401", r.status, r.raw)
	}
	r = doJSON(t, c, "POST", base+"/2fa/verify", map[string]any{"provider": "recovery_code", "code": f.recoveryCodes[1]}, nil)
	if r.status != http.StatusOK || field(r.body, "state") != "authenticated" {
		t.Errorf("an unused recovery code: %d %s", r.status, r.raw)
	}
	// The browser bob had remembered skips the second step.
	res, err := g.Accounts().Login(t.Context(), account.LoginRequest{Username: "bob", Password: f.bobPassword, DeviceToken: f.deviceToken})
	if err != nil || res.Session == nil {
		t.Errorf("bob's login on his remembered device: %+v, %v; want a session", res, err)
	}
}

// hasCountLine reports whether out has a line naming area with count n.
func hasCountLine(out, area string, n int) bool {
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) > 1 && strings.Join(fields[:len(fields)-1], " ") == area && fields[len(fields)-1] == strconv.Itoa(n) {
			return true
		}
	}
	return false
}

// TestMigrateDataRefuses checks the command's mistakes: each is a clear
// message and the right exit code, never shows the password, and creates
// no database file.
func TestMigrateDataRefuses(t *testing.T) {
	data := t.TempDir()
	const password = "pg-Secret-7"
	unreachable := "postgres://gatehouse:" + password + "@127.0.0.1:1/gatehouse?connect_timeout=5"
	existing := filepath.Join(data, "existing.db")
	s, err := sqlite.Open(t.Context(), existing)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no --from", []string{"--to", unreachable}, exitUsage, "--from must be sqlite://FILE"},
		{"--from not sqlite", []string{"--from", "postgres://x/y", "--to", unreachable}, exitUsage, "--from must be sqlite://FILE"},
		{"no --to", []string{"--from", "sqlite://" + existing}, exitUsage, "--to must be postgres://"},
		{"--to not postgres", []string{"--from", "sqlite://" + existing, "--to", "sqlite://other.db"}, exitUsage, "--to must start with postgres://"},
		{"--to without host", []string{"--from", "sqlite://" + existing, "--to", "postgres:///db"}, exitUsage, "--to needs a host"},
		{"a / in the password", []string{"--from", "sqlite://" + existing, "--to", "postgres://gatehouse:" + password + "/x@127.0.0.1/db"}, exitUsage, "--to is not a valid URL"},
		{"an argument", []string{"--from", "sqlite://" + existing, "--to", unreachable, "extra"}, exitUsage, `unexpected argument "extra"`},
		{"a missing file", []string{"--from", "sqlite://missing.db", "--to", unreachable, "--data", data}, exitFailure, "no SQLite database at " + filepath.Join(data, "missing.db")},
		{"a directory", []string{"--from", "sqlite://" + data, "--to", unreachable}, exitFailure, "is a directory"},
		{"an unreachable server", []string{"--from", "sqlite://" + existing, "--to", unreachable}, exitFailure, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, nil, "", append([]string{"migrate-data"}, tc.args...)...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, want %d; stderr %q, want it to contain %q", code, tc.wantCode, stderr, tc.wantErr)
			}
			if strings.Contains(stdout+stderr, password) {
				t.Errorf("the output shows the password: %s%s", stdout, stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(data, "missing.db")); err == nil {
		t.Error("migrate-data created the missing source file")
	}
	// A database a serve runs on (it holds the lock) is not copied: what
	// the server writes after the copy would be lost.
	release, err := lockDatabase(existing)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if code, _, stderr := runCmd(t, nil, "", "migrate-data", "--from", "sqlite://"+existing, "--to", unreachable); code != exitFailure || !strings.Contains(stderr, "a gatehouse serve is running on it") || !strings.Contains(stderr, "stop it first") {
		t.Errorf("migrate-data of a served database: exit %d, %s", code, stderr)
	}
}
