package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/otp"
	"github.com/gatehouse/gatehouse/redis"
)

// propagationLimit bounds the wait for a change made through one process
// to show on the other. The caches hold entries for a second; the pushed
// invalidation should make it near-immediate, which the test logs.
const propagationLimit = 5 * time.Second

// TestMultiProcess runs two real `gatehouse serve` processes, A and B, on
// one PostgreSQL database and one Redis (under a random redis_prefix),
// with one two-factor key file and their own data directories: what a
// deployment of several processes looks like. It checks what users depend
// on: a session works on both, and an ended session, a lockout, a password
// reset, a removed permission and a disabled user hold on both, and logs how
// long each took to reach the other process.
func TestMultiProcess(t *testing.T) {
	pgURL, redisURL := sharedStoresOrSkip(t)
	bin := buildBinary(t)
	db := freshPostgres(t, pgURL)
	prefix := freshRedisPrefix(t, redisURL)

	dir := t.TempDir()
	key := filepath.Join(dir, "shared", "secrets.key")
	cfgA := writeSharedConfig(t, dir, "a", db, redisURL, prefix, key)
	cfgB := writeSharedConfig(t, dir, "b", db, redisURL, prefix, key)

	// Both start together on the empty database: one migrates it while
	// the other waits, and both create the default groups.
	procs := newProcSet(t)
	var a, b *procServer
	var wg sync.WaitGroup
	wg.Go(func() { a = startProcServer(t, procs, bin, "--config", cfgA) })
	wg.Go(func() { b = startProcServer(t, procs, bin, "--config", cfgB) })
	wg.Wait()
	if a == nil || b == nil {
		t.FailNow()
	}

	// The first administrator, with A's setup link; B's stops working.
	tokenA := a.log.wait(t, setupLinkRe, 10*time.Second)[2]
	tokenB := b.log.wait(t, setupLinkRe, 10*time.Second)[2]
	setup := func(base, token, username string) response {
		return doJSON(t, newClient(t), "POST", base+"/setup", map[string]any{
			"token": token, "username": username, "email": username + "@example.com", "password": adminPassword}, nil)
	}
	if r := setup(a.base, tokenA, adminName); r.status != http.StatusCreated {
		t.Fatalf("setup on A: %d %s", r.status, r.raw)
	}
	if r := setup(b.base, tokenB, "second"); r.status != http.StatusBadRequest || r.code() != "invalid_token" {
		t.Errorf("B's setup link after A's setup: %d %s, want 400 invalid_token", r.status, r.raw)
	}

	// 1. Logged in on A, the session works on B: the session itself, a
	// protected management GET, and an unsafe request with A's CSRF token.
	admin := newClient(t) // cookies go by host, not port: one jar serves A and B
	r := login(t, admin, a.base, adminName, adminPassword)
	if r.status != http.StatusOK {
		t.Fatalf("admin login on A: %d %s", r.status, r.raw)
	}
	adminCSRF := map[string]string{"X-CSRF-Token": field(r.body, "csrfToken")}
	if r := doJSON(t, admin, "GET", b.base+"/session", nil, nil); r.status != http.StatusOK || field(r.body, "user", "username") != adminName {
		t.Fatalf("A's session on B: %d %s", r.status, r.raw)
	}
	mgmt := "/management/api/v1"
	if r := doJSON(t, admin, "GET", b.base+mgmt+"/users", nil, nil); r.status != http.StatusOK {
		t.Fatalf("management GET on B with A's session: %d %s", r.status, r.raw)
	}
	if r := doJSON(t, admin, "POST", b.base+mgmt+"/groups", map[string]any{"name": "ops", "permissions": []string{"section:users"}}, adminCSRF); r.status != http.StatusCreated {
		t.Fatalf("create group on B with A's session and CSRF token: %d %s", r.status, r.raw)
	}
	ids := map[string]string{}
	for _, u := range []struct{ name, group string }{{"sam", ""}, {"carl", ""}, {"rita", ""}, {"olga", "ops"}, {"dora", ""}, {"tess", ""}} {
		body := map[string]any{"username": u.name, "email": u.name + "@example.com", "password": userPassword(u.name)}
		if u.group != "" {
			body["groups"] = []string{u.group}
		}
		r := doJSON(t, admin, "POST", a.base+mgmt+"/users", body, adminCSRF)
		if r.status != http.StatusCreated {
			t.Fatalf("create user %s on A: %d %s", u.name, r.status, r.raw)
		}
		ids[u.name] = field(r.body, "id")
	}

	// 2. Logged out on B, the cookie is refused on A, whose cache has just
	// seen the session alive.
	t.Run("logout on B ends the session on A", func(t *testing.T) {
		sam := newClient(t)
		r := login(t, sam, a.base, "sam", userPassword("sam"))
		if r.status != http.StatusOK {
			t.Fatalf("login on A: %d %s", r.status, r.raw)
		}
		stolen := cloneClient(t, sam, a.base) // the cookie, kept after logout clears it
		if r := doJSON(t, stolen, "GET", a.base+"/session", nil, nil); r.status != http.StatusOK {
			t.Fatalf("session on A before logout: %d %s", r.status, r.raw)
		}
		if r := doJSON(t, sam, "DELETE", b.base+"/session", nil, map[string]string{"X-CSRF-Token": field(r.body, "csrfToken")}); r.status != http.StatusNoContent {
			t.Fatalf("logout on B: %d %s", r.status, r.raw)
		}
		took := eventually(t, "A refuses the logged-out session", func() (bool, string) {
			r := doJSON(t, stolen, "GET", a.base+"/session", nil, nil)
			return r.status == http.StatusUnauthorized && r.code() == "unauthenticated", fmt.Sprintf("%d %s", r.status, r.raw)
		})
		t.Logf("logout on B → 401 on A after %v", took)
	})

	// 3. Failed logins alternating between A and B lock the account on
	// both after login.max_failures; then the right password is refused
	// on both.
	t.Run("failures on A and B lock the account on both", func(t *testing.T) {
		for i := range maxFailures {
			srv := []*procServer{a, b}[i%2]
			if r := login(t, newClient(t), srv.base, "carl", "not carl's password"); r.status != http.StatusUnauthorized || r.code() != "invalid_credentials" {
				t.Fatalf("failure %d: %d %s, want 401 invalid_credentials", i+1, r.status, r.raw)
			}
		}
		for name, srv := range map[string]*procServer{"A": a, "B": b} {
			r := login(t, newClient(t), srv.base, "carl", userPassword("carl"))
			if r.status != http.StatusTooManyRequests || r.code() != "too_many_attempts" || r.header.Get("Retry-After") == "" {
				t.Errorf("right password while locked, on %s: %d %s (Retry-After %q), want 429 too_many_attempts with Retry-After",
					name, r.status, r.raw, r.header.Get("Retry-After"))
			}
		}
	})

	// 4. A password reset finished on A ends the user's session on B.
	t.Run("password reset on A ends the sessions on B", func(t *testing.T) {
		rita := newClient(t)
		if r := login(t, rita, b.base, "rita", userPassword("rita")); r.status != http.StatusOK {
			t.Fatalf("login on B: %d %s", r.status, r.raw)
		}
		if r := doJSON(t, rita, "GET", b.base+"/session", nil, nil); r.status != http.StatusOK {
			t.Fatalf("session on B: %d %s", r.status, r.raw)
		}
		if r := doJSON(t, admin, "POST", a.base+mgmt+"/users/"+ids["rita"]+"/reset-password", nil, adminCSRF); r.status != http.StatusNoContent {
			t.Fatalf("admin reset on A: %d %s", r.status, r.raw)
		}
		// The mail driver log writes the link; either process's outbox
		// may send it.
		var link *url.URL
		eventually(t, "the reset link in a log", func() (bool, string) {
			link = resetLinkFor(ids["rita"], a.log, b.log)
			return link != nil, "no link"
		})
		r := doJSON(t, newClient(t), "POST", a.base+"/password/reset", map[string]any{
			"userId": ids["rita"], "token": link.Query().Get("token"), "password": "a brand new phrase after the reset"}, nil)
		if r.status != http.StatusNoContent {
			t.Fatalf("reset on A: %d %s", r.status, r.raw)
		}
		took := eventually(t, "B refuses the session after the reset", func() (bool, string) {
			r := doJSON(t, rita, "GET", b.base+"/session", nil, nil)
			return r.status == http.StatusUnauthorized, fmt.Sprintf("%d %s", r.status, r.raw)
		})
		t.Logf("password reset on A → 401 on B after %v", took)
		if r := login(t, newClient(t), b.base, "rita", "a brand new phrase after the reset"); r.status != http.StatusOK {
			t.Errorf("login on B with the new password: %d %s", r.status, r.raw)
		}
		if n := resetLinkCount(ids["rita"], a.log, b.log); n != 1 {
			t.Errorf("the reset mail was logged %d times by A and B together, want once", n)
		}
	})

	// 5. A permission removed on B is enforced on A, which has just
	// allowed it.
	t.Run("permission removed on B is refused on A", func(t *testing.T) {
		olga := newClient(t)
		if r := login(t, olga, a.base, "olga", userPassword("olga")); r.status != http.StatusOK {
			t.Fatalf("login on A: %d %s", r.status, r.raw)
		}
		if r := doJSON(t, olga, "GET", a.base+mgmt+"/users", nil, nil); r.status != http.StatusOK {
			t.Fatalf("section:users route on A before the change: %d %s", r.status, r.raw)
		}
		if r := doJSON(t, admin, "PATCH", b.base+mgmt+"/groups/ops", map[string]any{"permissions": []string{}}, adminCSRF); r.status != http.StatusOK {
			t.Fatalf("update group on B: %d %s", r.status, r.raw)
		}
		took := eventually(t, "A refuses the removed permission", func() (bool, string) {
			r := doJSON(t, olga, "GET", a.base+mgmt+"/users", nil, nil)
			return r.status == http.StatusForbidden && r.code() == "permission_denied", fmt.Sprintf("%d %s", r.status, r.raw)
		})
		t.Logf("permission removed on B → 403 on A after %v", took)
	})

	// 6. A user disabled on A is refused on B: the session B has just
	// accepted, and a new login.
	t.Run("user disabled on A is refused on B", func(t *testing.T) {
		dora := newClient(t)
		if r := login(t, dora, b.base, "dora", userPassword("dora")); r.status != http.StatusOK {
			t.Fatalf("login on B: %d %s", r.status, r.raw)
		}
		if r := doJSON(t, dora, "GET", b.base+"/session", nil, nil); r.status != http.StatusOK {
			t.Fatalf("session on B: %d %s", r.status, r.raw)
		}
		if r := doJSON(t, admin, "POST", a.base+mgmt+"/users/"+ids["dora"]+"/disable", nil, adminCSRF); r.status != http.StatusOK {
			t.Fatalf("disable on A: %d %s", r.status, r.raw)
		}
		took := eventually(t, "B refuses the disabled user's session", func() (bool, string) {
			r := doJSON(t, dora, "GET", b.base+"/session", nil, nil)
			return r.status == http.StatusUnauthorized, fmt.Sprintf("%d %s", r.status, r.raw)
		})
		t.Logf("user disabled on A → 401 on B after %v", took)
		if r := login(t, newClient(t), b.base, "dora", userPassword("dora")); r.status != http.StatusUnauthorized || r.code() != "invalid_credentials" {
			t.Errorf("login on B of the disabled user: %d %s, want 401 invalid_credentials", r.status, r.raw)
		}
	})

	// 7. A second factor enrolled on A works on B: B opens the TOTP
	// secret A sealed (the shared key file) and finishes the login whose
	// password step A took (the pending login is in Redis).
	t.Run("two-factor enrolled on A logs in on B", func(t *testing.T) {
		tess := newClient(t)
		r := login(t, tess, a.base, "tess", userPassword("tess"))
		if r.status != http.StatusOK {
			t.Fatalf("login on A: %d %s", r.status, r.raw)
		}
		h := map[string]string{"X-CSRF-Token": field(r.body, "csrfToken")}
		r = doJSON(t, tess, "POST", a.base+"/2fa/totp", nil, h)
		if r.status != http.StatusOK {
			t.Fatalf("enrol on A: %d %s", r.status, r.raw)
		}
		key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(field(r.body, "secret"))
		if err != nil {
			t.Fatal(err)
		}
		if r := doJSON(t, tess, "POST", a.base+"/2fa/totp/confirm", map[string]any{"code": otp.TOTP{Key: key}.At(time.Now())}, h); r.status != http.StatusOK {
			t.Fatalf("confirm on A: %d %s", r.status, r.raw)
		}
		c := newClient(t)
		if r := login(t, c, a.base, "tess", userPassword("tess")); r.status != http.StatusOK || field(r.body, "state") != "two_factor_required" {
			t.Fatalf("password step on A: %d %s", r.status, r.raw)
		}
		// The enrolment used the current step; the next one is within
		// the accepted window and unused.
		r = doJSON(t, c, "POST", b.base+"/2fa/verify", map[string]any{"provider": "totp", "code": otp.TOTP{Key: key}.At(time.Now().Add(30 * time.Second))}, nil)
		if r.status != http.StatusOK || field(r.body, "state") != "authenticated" {
			t.Fatalf("TOTP step on B: %d %s", r.status, r.raw)
		}
		if r := doJSON(t, c, "GET", a.base+"/session", nil, nil); r.status != http.StatusOK || field(r.body, "user", "username") != "tess" {
			t.Errorf("session from B on A: %d %s", r.status, r.raw)
		}
	})

	// Both stop cleanly on SIGTERM, their Redis and PostgreSQL
	// subscriptions included.
	for name, p := range map[string]*procServer{"A": a, "B": b} {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("SIGTERM %s: %v", name, err)
		}
		select {
		case <-p.exited:
			if code := p.cmd.ProcessState.ExitCode(); code != exitOK {
				t.Errorf("%s exited %d after SIGTERM, want 0:\n%s", name, code, p.log)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop within 30s of SIGTERM:\n%s", name, p.log)
		}
	}
	for name, p := range map[string]*procServer{"A": a, "B": b} {
		if log := p.log.String(); strings.Contains(log, "level=ERROR") {
			t.Errorf("%s logged an error:\n%s", name, log)
		}
	}
}

// TestMultiProcessMigrate runs `gatehouse migrate` on PostgreSQL from two
// processes at once on an empty database (the advisory lock lets one
// migrate while the other waits), then twice more: each run says the
// database is up to date and every migration is recorded once.
func TestMultiProcessMigrate(t *testing.T) {
	pgURL, redisURL := sharedStoresOrSkip(t)
	bin := buildBinary(t)
	db := freshPostgres(t, pgURL)
	prefix := freshRedisPrefix(t, redisURL)
	dir := t.TempDir()
	key := filepath.Join(dir, "shared", "secrets.key")
	cfg := []string{
		writeSharedConfig(t, dir, "a", db, redisURL, prefix, key),
		writeSharedConfig(t, dir, "b", db, redisURL, prefix, key),
	}
	migrate := func(cfg string) (string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "migrate", "--config", cfg)
		cmd.Env = childEnv()
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	check := func(what, out string, err error) {
		t.Helper()
		if err != nil || !strings.Contains(out, "is up to date") {
			t.Errorf("%s: %v, want exit 0 and \"is up to date\":\n%s", what, err, out)
		}
		if strings.Contains(out, "postgres@") || strings.Contains(out, "sslmode") {
			t.Errorf("%s names the connection string: %s", what, out)
		}
	}
	outs := make([]string, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { outs[i], errs[i] = migrate(cfg[i]) })
	}
	wg.Wait()
	for i := range 2 {
		check(fmt.Sprintf("concurrent migrate %d", i+1), outs[i], errs[i])
	}
	for i := range 2 {
		out, err := migrate(cfg[0])
		check(fmt.Sprintf("migrate again (%d)", i+1), out, err)
	}

	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var rows, distinct, newest int
	err = conn.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT version), coalesce(max(version), 0) FROM schema_migrations`).Scan(&rows, &distinct, &newest)
	if err != nil {
		t.Fatal(err)
	}
	if rows != newest || distinct != newest || newest == 0 {
		t.Errorf("schema_migrations: %d rows, %d versions, newest %d; want every version 1…newest once", rows, distinct, newest)
	}
}

// maxFailures is login.max_failures in the shared configuration.
const maxFailures = 4

// userPassword is the password the multi-process test gives a user (one
// that names neither the user nor their address, as the policy asks).
func userPassword(name string) string {
	return "violet kettle drums at noon, " + hex.EncodeToString([]byte(name))
}

// sharedStoresOrSkip returns GATEHOUSE_TEST_POSTGRES and
// GATEHOUSE_TEST_REDIS, or skips t when either is unset or -short.
func sharedStoresOrSkip(t *testing.T) (pgURL, redisURL string) {
	t.Helper()
	pgURL, redisURL = os.Getenv("GATEHOUSE_TEST_POSTGRES"), os.Getenv("GATEHOUSE_TEST_REDIS")
	if pgURL == "" || redisURL == "" {
		t.Skip("needs GATEHOUSE_TEST_POSTGRES and GATEHOUSE_TEST_REDIS (a PostgreSQL server the test may create a database on, and a Redis)")
	}
	if testing.Short() {
		t.Skip("builds the binary and runs it against PostgreSQL and Redis")
	}
	return pgURL, redisURL
}

// freshPostgres creates an empty database on the server of serverURL,
// drops it when the test ends, and returns its URL.
func freshPostgres(t *testing.T, serverURL string) string {
	t.Helper()
	admin, err := pgx.Connect(t.Context(), serverURL)
	if err != nil {
		t.Fatalf("connect to GATEHOUSE_TEST_POSTGRES: %v", err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	name := "gatehouse_e2e_" + hex.EncodeToString(b)
	if _, err := admin.Exec(t.Context(), "CREATE DATABASE "+name); err != nil {
		admin.Close(context.Background())
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		defer admin.Close(ctx)
		// FORCE ends the connections of processes a failed test killed.
		if _, err := admin.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(serverURL)
	if err != nil || u.Scheme == "" {
		t.Fatalf("GATEHOUSE_TEST_POSTGRES must be a postgres:// URL for this test")
	}
	u.Path = "/" + name
	return u.String()
}

// freshRedisPrefix returns a random redis_prefix and deletes its keys,
// found with SCAN, when the test ends: the Redis is shared, never flushed.
func freshRedisPrefix(t *testing.T, redisURL string) string {
	t.Helper()
	c, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatalf("GATEHOUSE_TEST_REDIS: %v", err)
	}
	prefix := "gatehouse-e2e-" + rand.Text()
	t.Cleanup(func() {
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := c.Del(ctx, iter.Val()).Err(); err != nil {
				t.Errorf("delete test key: %v", err)
				return
			}
		}
		if err := iter.Err(); err != nil {
			t.Errorf("scan test keys: %v", err)
		}
	})
	return prefix
}

// writeSharedConfig writes the configuration of one process of the
// installation: its own data_dir, the shared database, Redis, prefix and
// two-factor key file.
func writeSharedConfig(t *testing.T, dir, name, db, redisURL, prefix, keyFile string) string {
	t.Helper()
	return writeFile(t, dir, name+".yaml", fmt.Sprintf(`database: %q
sessions: %q
redis_prefix: %q
data_dir: %q
two_factor: {key_file: %q}
login: {max_failures: %d}
`, db, redisURL, prefix, filepath.Join(dir, name), keyFile, maxFailures))
}

// eventually polls cond until it holds, for up to propagationLimit, and
// returns how long that took; it fails t with cond's last description.
func eventually(t *testing.T, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for {
		ok, desc := cond()
		if ok {
			return time.Since(start)
		}
		last = desc
		if time.Since(start) > propagationLimit {
			t.Fatalf("%s: not within %v; last: %s", what, propagationLimit, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cloneClient returns a new client holding the cookies c has for base.
func cloneClient(t *testing.T, c *http.Client, base string) *http.Client {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	n := newClient(t)
	n.Jar.SetCookies(u, c.Jar.Cookies(u))
	return n
}

// mailResetRe finds the reset links the log mail driver wrote.
var mailResetRe = regexp.MustCompile(`http://[^\s"\\]+/auth/ui/reset\?[^\s"\\]+`)

// resetLinks returns the reset links for userID in the logs.
func resetLinks(userID string, logs ...*logLines) []*url.URL {
	var links []*url.URL
	for _, l := range logs {
		for _, m := range mailResetRe.FindAllString(l.String(), -1) {
			u, err := url.Parse(m)
			if err == nil && u.Query().Get("userId") == userID && u.Query().Get("token") != "" {
				links = append(links, u)
			}
		}
	}
	return links
}

// resetLinkFor returns the first reset link for userID in the logs, or nil.
func resetLinkFor(userID string, logs ...*logLines) *url.URL {
	if l := resetLinks(userID, logs...); len(l) > 0 {
		return l[0]
	}
	return nil
}

// resetLinkCount counts the reset links for userID in the logs.
func resetLinkCount(userID string, logs ...*logLines) int {
	return len(resetLinks(userID, logs...))
}
