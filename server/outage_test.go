package server_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/internal/testservers"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/server"
)

// outagePrompt is how long any request may take while a store is down:
// gatehouse bounds its store calls well below it (see postgres.Open and
// redis.ParseURL), so a request that reaches it hangs on the store. It
// is the client's timeout: no timing is measured, a hang fails.
const outagePrompt = 15 * time.Second

// outageRecovery is how long gatehouse may take to notice that a store
// is back (readyz 200) without a restart.
const outageRecovery = 30 * time.Second

// offsetClock is the real clock plus an offset the test moves forward,
// past the in-memory caches, without waiting.
type offsetClock struct{ offset atomic.Int64 }

func (c *offsetClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *offsetClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// outageClient talks to one gatehouse over HTTP, as a browser and as the
// reverse proxy asking forward auth.
type outageClient struct {
	t      *testing.T
	base   string
	client *http.Client
}

// answer is a response with its body read.
type answer struct {
	*http.Response
	body string
}

// do sends one request with cookie (the session cookie's value, or "")
// and headers given as name, value pairs.
func (c *outageClient) do(method, path, body, cookie string, headers ...string) answer {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "gh_session", Value: cookie})
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	began := time.Now()
	res, err := c.client.Do(req)
	if d := time.Since(began); d > time.Second {
		// Not a failure (timing is not asserted), but worth seeing.
		c.t.Logf("%s %s took %s", method, path, d.Round(time.Millisecond))
	}
	if err != nil {
		c.t.Fatalf("%s %s: %v (a request must not hang while a store is down)", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return answer{res, string(b)}
}

// login signs in and returns the session cookie's value and the CSRF
// token.
func (c *outageClient) login(user, pw string) (cookie, csrf string) {
	c.t.Helper()
	a := c.do("POST", "/auth/session", `{"username":"`+user+`","password":"`+pw+`"}`, "")
	if a.StatusCode != 200 {
		c.t.Fatalf("login %s: %d %s", user, a.StatusCode, a.body)
	}
	var body struct{ CSRFToken string }
	if err := json.Unmarshal([]byte(a.body), &body); err != nil || body.CSRFToken == "" {
		c.t.Fatalf("login %s: no CSRF token in %s (%v)", user, a.body, err)
	}
	for _, ck := range a.Cookies() {
		if ck.Name == "gh_session" && ck.Value != "" {
			return ck.Value, body.CSRFToken
		}
	}
	c.t.Fatalf("login %s: no session cookie", user)
	return "", ""
}

// verify asks forward auth, as nginx's auth_request does, about GET uri
// with the session cookie (or none).
func (c *outageClient) verify(uri, cookie string) answer {
	c.t.Helper()
	return c.do("GET", "/auth/verify", "", cookie,
		"X-Original-Method", "GET", "X-Original-URI", uri, "X-Original-URL", "http://app.example.com"+uri,
		"X-Forwarded-For", "203.0.113.5")
}

// wantProblem checks that a is a problem+json answer with status and code.
func wantProblem(t *testing.T, what string, a answer, status int, code gatehouse.Code) {
	t.Helper()
	var p struct {
		Status int
		Code   string
	}
	if a.StatusCode != status || a.Header.Get("Content-Type") != "application/problem+json" ||
		json.Unmarshal([]byte(a.body), &p) != nil || p.Status != status || p.Code != string(code) {
		t.Errorf("%s: %d %s %s, want a %d problem %s", what, a.StatusCode, a.Header.Get("Content-Type"), a.body, status, code)
	}
}

// wantUnavailable checks a 503 store_unavailable with Retry-After.
func wantUnavailable(t *testing.T, what string, a answer) {
	t.Helper()
	wantProblem(t, what, a, 503, gatehouse.CodeStoreUnavailable)
	if a.Header.Get("Retry-After") == "" {
		t.Errorf("%s: 503 without Retry-After", what)
	}
}

// TestOutage takes the real Redis, then the real PostgreSQL, away from a
// running gatehouse (database in PostgreSQL, sessions in Redis, forward
// auth with a route table), by stopping the server, then by freezing it
// (SIGSTOP: connections are accepted and never answered, as with a hung
// server or a network that drops packets). While one is away, whatever
// needs it answers 503 store_unavailable (forward auth: 403), promptly,
// never 200 nor 500, logins are not refused as wrong, public routes work
// and readyz names the store; once it is back, gatehouse recovers on its
// own, and every write acknowledged before — a session, a user, a logout
// — is as it was.
func TestOutage(t *testing.T) {
	for _, tc := range []struct {
		name, which string // which: the readyz check of the store taken away
		frozen      bool
	}{
		{"redis stopped", "sessions", false},
		{"postgres stopped", "database", false},
		{"redis frozen", "sessions", true},
		{"postgres frozen", "database", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Most of the time is spent waiting for the bounds of a frozen
			// server, not computing: the cases run side by side.
			t.Parallel()
			pg := testservers.StartPostgres(t)
			rd := testservers.StartRedis(t)
			away, back := rd.Stop, rd.Start
			switch {
			case tc.which == "sessions" && tc.frozen:
				away, back = rd.Pause, rd.Resume
			case tc.which == "database" && !tc.frozen:
				away, back = pg.Stop, pg.Start
			case tc.which == "database" && tc.frozen:
				away, back = pg.Pause, pg.Resume
			}
			testOutage(t, tc.which, pg.URL(), rd.URL(), away, back)
		})
	}
}

func testOutage(t *testing.T, which, pgURL, redisURL string, away, back func(testing.TB)) {
	table, err := policy.Compile([]policy.Rule{
		{Path: "/app/public/**", Access: policy.Public},
		{Path: "/app/**", Access: policy.Authenticated},
		{Path: "/auth/management/**", Access: policy.Authenticated},
	})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	clock := &offsetClock{}
	gh := open(t, server.Config{
		DataDir:        t.TempDir(),
		PostgresURL:    pgURL,
		RedisURL:       redisURL,
		Routes:         table,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Gateway:        server.Gateway{RedirectDomains: []string{"example.com"}},
		Groups:         map[string][]string{"admins": {"section:users", "section:settings"}},
		Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
		Now:            clock.Now,
	})
	mux := http.NewServeMux()
	mux.Handle("/auth/", gh)
	mux.Handle("/app/", gh.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := "anonymous" // a public route
		if u := gatehouse.UserFrom(r.Context()); u != nil {
			name = u.Username
		}
		w.Write([]byte("app:" + name))
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := &outageClient{t: t, base: srv.URL, client: &http.Client{
		Timeout:       outagePrompt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gatehouse's log:\n%s", logs.String())
		}
	})

	// Before: acknowledged writes of every kind the stores hold.
	if _, err := gh.Accounts().CreateUser(t.Context(), account.NewUser{Username: "admin", Email: "admin@example.com", Password: testPassword, Groups: []string{"admins"}}); err != nil {
		t.Fatal(err)
	}
	cookie, csrf := c.login("admin", testPassword)
	a := c.do("POST", "/auth/management/api/v1/users", `{"username":"bob","email":"bob@example.com","password":"`+testPassword+`"}`, cookie, "X-CSRF-Token", csrf)
	if a.StatusCode != 201 {
		t.Fatalf("create bob: %d %s", a.StatusCode, a.body)
	}
	var bob struct{ ID string }
	if err := json.Unmarshal([]byte(a.body), &bob); err != nil || bob.ID == "" {
		t.Fatalf("create bob: %s (%v)", a.body, err)
	}
	gone, goneCSRF := c.login("bob", testPassword)
	if a := c.do("DELETE", "/auth/session", "", gone, "X-CSRF-Token", goneCSRF); a.StatusCode != 204 {
		t.Fatalf("logout: %d %s", a.StatusCode, a.body)
	}
	if a := c.do("GET", "/auth/session", "", gone); a.StatusCode != 401 {
		t.Fatalf("the session ended before the outage: %d %s", a.StatusCode, a.body)
	}
	if a := c.verify("/app/x", cookie); a.StatusCode != 200 || a.Header.Get("Remote-User") != "admin" {
		t.Fatalf("verify before the outage: %d %s", a.StatusCode, a.body)
	}

	t.Logf("taking the %s away", which)
	away(t)
	// Past the in-memory caches (a second by default), so that every
	// request below asks the stores.
	clock.Advance(2 * time.Second)

	wantUnavailable(t, "GET /auth/session", c.do("GET", "/auth/session", "", cookie))
	wantUnavailable(t, "GET users", c.do("GET", "/auth/management/api/v1/users", "", cookie))
	wantUnavailable(t, "GET user", c.do("GET", "/auth/management/api/v1/users/"+bob.ID, "", cookie))
	wantUnavailable(t, "POST users", c.do("POST", "/auth/management/api/v1/users", `{"username":"carol","email":"carol@example.com","password":"`+testPassword+`"}`, cookie, "X-CSRF-Token", csrf))
	wantUnavailable(t, "GET /app/x (Protect)", c.do("GET", "/app/x", "", cookie))
	a = c.verify("/app/x", cookie)
	wantProblem(t, "verify", a, 403, gatehouse.CodeStoreUnavailable)
	if a.Header.Get("Retry-After") == "" {
		t.Error("verify: 403 store_unavailable without Retry-After")
	}
	// A login is not told its password is wrong.
	for _, pw := range []string{testPassword, "not the password"} {
		wantUnavailable(t, "login", c.do("POST", "/auth/session", `{"username":"admin","password":"`+pw+`"}`, ""))
	}
	// Public routes: the cookie that cannot be resolved is ignored.
	if a := c.verify("/app/public/x", ""); a.StatusCode != 200 || a.Header.Get("Remote-User") != "" {
		t.Errorf("verify of a public route: %d %q %s", a.StatusCode, a.Header.Get("Remote-User"), a.body)
	}
	for _, p := range []string{"/auth/healthz", "/auth/ui/login", "/auth/openapi.json", "/app/public/x"} {
		if a := c.do("GET", p, "", ""); a.StatusCode != 200 {
			t.Errorf("GET %s: %d %s", p, a.StatusCode, a.body)
		}
	}
	a = c.do("GET", "/auth/readyz", "", "")
	wantProblem(t, "readyz", a, 503, gatehouse.CodeStoreUnavailable)
	var ready struct{ Checks map[string]string }
	json.Unmarshal([]byte(a.body), &ready)
	want := map[string]string{"database": "ok", "sessions": "ok"}
	want[which] = "unreachable"
	if len(ready.Checks) != 2 || ready.Checks["database"] != want["database"] || ready.Checks["sessions"] != want["sessions"] {
		t.Errorf("readyz checks = %v, want %v", ready.Checks, want)
	}

	t.Logf("bringing the %s back", which)
	back(t)
	restarted := time.Now()
	// Back, without restarting gatehouse: ready again within
	// outageRecovery.
	deadline := time.Now().Add(outageRecovery)
	for {
		a := c.do("GET", "/auth/readyz", "", "")
		if a.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz still %d %s %s after the %s came back", a.StatusCode, a.body, outageRecovery, which)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("ready %s after it came back", time.Since(restarted).Round(time.Millisecond))
	clock.Advance(2 * time.Second)
	if a := c.do("GET", "/auth/session", "", cookie); a.StatusCode != 200 || !strings.Contains(a.body, `"username":"admin"`) {
		t.Errorf("the same session after the outage: %d %s", a.StatusCode, a.body)
	}
	if a := c.verify("/app/x", cookie); a.StatusCode != 200 || a.Header.Get("Remote-User") != "admin" {
		t.Errorf("verify after the outage: %d %q %s", a.StatusCode, a.Header.Get("Remote-User"), a.body)
	}
	if a := c.do("GET", "/app/x", "", cookie); a.StatusCode != 200 || a.body != "app:admin" {
		t.Errorf("GET /app/x (Protect) after the outage: %d %s", a.StatusCode, a.body)
	}
	if a := c.do("GET", "/auth/management/api/v1/users/"+bob.ID, "", cookie); a.StatusCode != 200 || !strings.Contains(a.body, `"username":"bob"`) {
		t.Errorf("the user created before the outage: %d %s", a.StatusCode, a.body)
	}
	if a := c.do("GET", "/auth/session", "", gone); a.StatusCode != 401 {
		t.Errorf("the session ended before the outage: %d %s, want 401", a.StatusCode, a.body)
	}
	users, _, err := gh.Accounts().ListUsers(t.Context(), account.UserFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Username == "carol" {
			t.Error("the user refused during the outage exists")
		}
	}
	if a := c.do("POST", "/auth/management/api/v1/users", `{"username":"carol","email":"carol@example.com","password":"`+testPassword+`"}`, cookie, "X-CSRF-Token", csrf); a.StatusCode != 201 {
		t.Errorf("create carol after the outage: %d %s", a.StatusCode, a.body)
	}
	c.login("admin", testPassword)
}
