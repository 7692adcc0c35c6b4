package httpapi_test

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/sqlite"
)

// outage is a gateway whose durable records ("database", as PostgreSQL
// would hold them) and short-lived state ("sessions", as Redis would) are
// two downStores over one SQLite store, each able to go away on its own.
type outage struct {
	*gatewayFront
	up                 *upstream
	database, sessions *downStore
}

func newOutage(t *testing.T) *outage {
	t.Helper()
	o := &outage{up: newUpstream(t)}
	over := func(store *sqlite.Store) (account.Stores, gatehouse.SessionStore, []httpapi.ReadyCheck) {
		db, ss := &downStore{real: store}, &downStore{real: store}
		o.database, o.sessions = db, ss
		stores := account.Stores{Users: db, Sessions: ss, Throttles: ss, Tokens: db, Audit: db,
			ActionTokens: db, Outbox: db, TwoFactor: db, PendingLogins: ss, Devices: ss,
			Identities: db}
		return stores, ss, []httpapi.ReadyCheck{{Name: "database", Check: db.Ping}, {Name: "sessions", Check: ss.Ping}}
	}
	e := newEnvOver(t, over, withGateway(gatewayTable(t), o.up.url(t)))
	srv := httptest.NewServer(e.api)
	t.Cleanup(srv.Close)
	o.gatewayFront = &gatewayFront{t: t, e: e, srv: srv, client: &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	return o
}

// wantUnavailable checks a 503 store_unavailable with Retry-After.
func wantUnavailable(t *testing.T, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != 503 {
		t.Fatalf("%s: %d %s, want 503 store_unavailable", what, w.Code, w.Body)
	}
	wantProblem(t, w, 503, gatehouse.CodeStoreUnavailable)
	if w.Header().Get("Retry-After") == "" {
		t.Errorf("%s: 503 without Retry-After", what)
	}
}

// TestStoreOutage takes each store away in turn: whatever needs it
// answers 503 store_unavailable (GET /auth/verify: 403), never a 500 nor
// a pass-through; a login is neither refused as wrong nor counted; public
// routes and pages keep working; readyz names the store. When the store is
// back, the same session works again, without a restart, and nothing
// refused meanwhile was half-written.
func TestStoreOutage(t *testing.T) {
	for _, which := range []string{"database", "sessions"} {
		t.Run(which, func(t *testing.T) {
			o := newOutage(t)
			e := o.e
			down := map[string]*downStore{"database": o.database, "sessions": o.sessions}[which]
			other := map[string]*downStore{"database": o.sessions, "sessions": o.database}[which]

			b, csrfTok := e.loggedIn()
			cookie := "gh_session=" + b.cookies["gh_session"].Value
			w := b.do("POST", "/auth/tokens", `{"name":"ci"}`, header("X-CSRF-Token", csrfTok))
			var tok struct{ Secret string }
			decode(t, w, &tok)
			bearer := header("Authorization", "Bearer "+tok.Secret)

			// Past every in-memory cache (one second by default), so each
			// request below asks the stores.
			e.clock.Advance(2 * time.Second)
			down.down.Store(true)
			hits := o.up.hits.Load()

			wantUnavailable(t, "GET /auth/session", b.do("GET", "/auth/session", ""))
			wantUnavailable(t, "GET /auth/sessions", b.do("GET", "/auth/sessions", ""))
			wantUnavailable(t, "GET users", b.do("GET", "/auth/management/api/v1/users", ""))
			wantUnavailable(t, "POST groups", b.do("POST", "/auth/management/api/v1/groups", `{"name":"g1","permissions":["a.b"]}`, header("X-CSRF-Token", csrfTok)))
			// API tokens are durable records: only the database holds them.
			tokensDown := which == "database"
			if tokensDown {
				wantUnavailable(t, "bearer", e.browser().do("GET", "/auth/tokens", "", bearer))
			} else if w := e.browser().do("GET", "/auth/tokens", "", bearer); w.Code != 200 {
				t.Errorf("bearer with the session store down: %d %s", w.Code, w.Body)
			}

			r := b.verify(nginxAuth("GET", "/app/x")...)
			wantProblem(t, r, 403, gatehouse.CodeStoreUnavailable)
			if r.Header().Get("Retry-After") == "" || r.Header().Get(httpapi.HeaderProblem) != string(gatehouse.CodeStoreUnavailable) {
				t.Errorf("verify: headers %v", r.Header())
			}
			if tokensDown {
				wantProblem(t, e.browser().verify(with(nginxAuth("GET", "/app/x"), bearer)...), 403, gatehouse.CodeStoreUnavailable)
				// Credentials a client presents on purpose never become
				// anonymous, not even on a public route.
				wantProblem(t, e.browser().verify(with(nginxAuth("GET", "/app/public/x"), bearer)...), 403, gatehouse.CodeStoreUnavailable)
			}
			res, body := o.do("GET", "/app/x", "", http.Header{"Cookie": {cookie}})
			wantGatewayProblem(t, res, body, 503, gatehouse.CodeStoreUnavailable)
			if res.Header.Get("Retry-After") == "" {
				t.Error("proxy: 503 without Retry-After")
			}
			if n := o.up.hits.Load(); n != hits {
				t.Fatalf("the upstream was reached %d times with the store down", n-hits)
			}

			// Public routes: the cookie that cannot be resolved is ignored.
			wantAllowed(t, b.verify(nginxAuth("GET", "/app/public/x")...), "", "")
			_, seen := o.echo("GET", "/app/public/x", "", http.Header{"Cookie": {cookie}})
			if seen.Header.Get("Remote-User") != "" {
				t.Errorf("public route with the store down: Remote-User %q", seen.Header.Get("Remote-User"))
			}
			for _, p := range []string{"/auth/healthz", "/auth/openapi.json", "/auth/ui/login", "/auth/password/policy"} {
				if w := e.browser().do("GET", p, ""); w.Code != 200 {
					t.Errorf("GET %s with the store down: %d %s", p, w.Code, w.Body)
				}
			}

			// A login is not told its password is wrong, and not counted.
			down.calls()
			other.calls()
			for _, pw := range []string{adminPassword, "not the password"} {
				wantUnavailable(t, "POST /auth/session", e.browser().login("admin", pw))
				form := url.Values{"username": {"admin"}, "password": {pw}}
				wantUnavailable(t, "POST /auth/ui/login", e.browser().postLogin(form))
			}
			for _, c := range append(down.calls(), other.calls()...) {
				if c == "AddFailure" || c == "SettleAttempt" {
					t.Errorf("a login with the %s down counted an attempt (%s)", which, c)
				}
			}

			r = e.browser().do("GET", "/auth/readyz", "")
			wantProblem(t, r, 503, gatehouse.CodeStoreUnavailable)
			var ready struct{ Checks map[string]string }
			decode(t, r, &ready)
			want := map[string]string{"database": "ok", "sessions": "ok"}
			want[which] = "unreachable"
			if len(ready.Checks) != 2 || ready.Checks["database"] != want["database"] || ready.Checks["sessions"] != want["sessions"] {
				t.Errorf("readyz checks = %v, want %v", ready.Checks, want)
			}

			// Back: the same session, the same token, no restart.
			down.down.Store(false)
			if w := b.do("GET", "/auth/session", ""); w.Code != 200 {
				t.Fatalf("GET /auth/session after the outage: %d %s", w.Code, w.Body)
			}
			wantAllowed(t, b.verify(nginxAuth("GET", "/app/x")...), "admin", "administrators")
			wantAllowed(t, e.browser().verify(with(nginxAuth("GET", "/app/x"), bearer)...), "admin", "administrators")
			if _, seen := o.echo("GET", "/app/x", "", http.Header{"Cookie": {cookie}}); seen.Header.Get("Remote-User") != "admin" {
				t.Errorf("proxy after the outage: Remote-User %q", seen.Header.Get("Remote-User"))
			}
			mgmt := "/auth/management/api/v1/groups/g1"
			if w := b.do("GET", mgmt, ""); w.Code != 404 {
				t.Errorf("the group refused during the outage: GET %s = %d %s", mgmt, w.Code, w.Body)
			}
			if w := b.do("POST", "/auth/management/api/v1/groups", `{"name":"g1","permissions":["a.b"]}`, header("X-CSRF-Token", csrfTok)); w.Code != 201 {
				t.Errorf("POST groups after the outage: %d %s", w.Code, w.Body)
			}
			if w := e.browser().do("GET", "/auth/readyz", ""); w.Code != 200 {
				t.Errorf("readyz after the outage: %d %s", w.Code, w.Body)
			}
			if w := e.browser().login("admin", adminPassword); w.Code != 200 {
				t.Errorf("login after the outage: %d %s", w.Code, w.Body)
			}
		})
	}
}

// TestReadyChecks: readyz runs its checks at once — two that each wait
// for the other to start both answer — and a check that hangs is cut off
// at its own deadline and named unreachable.
func TestReadyChecks(t *testing.T) {
	started := map[string]chan struct{}{"database": make(chan struct{}), "sessions": make(chan struct{})}
	waitFor := func(self, peer string) func(context.Context) error {
		return func(ctx context.Context) error {
			close(started[self])
			select {
			case <-started[peer]:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	hang := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	for _, tc := range []struct {
		name   string
		checks []httpapi.ReadyCheck
		status int
		want   map[string]string
	}{
		{"concurrent", []httpapi.ReadyCheck{{Name: "database", Check: waitFor("database", "sessions")}, {Name: "sessions", Check: waitFor("sessions", "database")}},
			200, map[string]string{"database": "ok", "sessions": "ok"}},
		{"hanging", []httpapi.ReadyCheck{{Name: "database", Check: func(context.Context) error { return nil }}, {Name: "sessions", Check: hang}},
			503, map[string]string{"database": "ok", "sessions": "unreachable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvOver(t, func(store *sqlite.Store) (account.Stores, gatehouse.SessionStore, []httpapi.ReadyCheck) {
				return account.StoresOf(store), store, tc.checks
			})
			w := e.browser().do("GET", "/auth/readyz", "")
			if w.Code != tc.status {
				t.Fatalf("readyz: %d %s, want %d", w.Code, w.Body, tc.status)
			}
			var got struct{ Checks map[string]string }
			decode(t, w, &got)
			if !maps.Equal(got.Checks, tc.want) {
				t.Errorf("checks = %v, want %v", got.Checks, tc.want)
			}
		})
	}
}

// TestReadyChecksNamed: New refuses a ready check without a name, without
// a function, or with another's name.
func TestReadyChecksNamed(t *testing.T) {
	ping := func(context.Context) error { return nil }
	for _, checks := range [][]httpapi.ReadyCheck{
		{{Name: "", Check: ping}},
		{{Name: "database"}},
		{{Name: "database", Check: ping}, {Name: "database", Check: ping}},
	} {
		e := newEnv(t)
		_, err := httpapi.New(httpapi.Config{}, httpapi.Deps{Accounts: e.accounts, Sessions: e.accounts.Sessions(), Ready: checks})
		if err == nil || !strings.Contains(err.Error(), "Deps.Ready") {
			t.Errorf("New with ready checks %v: %v", checks, err)
		}
	}
}
