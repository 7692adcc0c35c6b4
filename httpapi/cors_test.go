package httpapi_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/session"
)

const appOrigin = "https://app.example.com"

// withCORS configures CORS.
func withCORS(c httpapi.CORS) envOption {
	return func(h *httpapi.Config, _ *account.Config, _ *session.Config) { h.CORS = c }
}

// credentialedCORS is the usual setting of a front end on another origin.
var credentialedCORS = httpapi.CORS{
	AllowedOrigins:   []string{appOrigin},
	AllowedHeaders:   []string{"Authorization"},
	ExposedHeaders:   []string{"Retry-After"},
	AllowCredentials: true,
	MaxAge:           10 * time.Minute,
}

// preflight are the headers of a browser's preflight from origin for method
// with the request headers reqHeaders.
func preflight(origin, method, reqHeaders string) []reqOpt {
	opts := []reqOpt{header("Origin", origin), header("Access-Control-Request-Method", method), header("Sec-Fetch-Mode", "cors"), header("Sec-Fetch-Site", "cross-site")}
	if reqHeaders != "" {
		opts = append(opts, header("Access-Control-Request-Headers", reqHeaders))
	}
	return opts
}

// wantPreflight checks an allowed preflight's 204 and its CORS headers.
func wantPreflight(t *testing.T, w *httptest.ResponseRecorder, origin, method, reqHeaders string, credentials bool) {
	t.Helper()
	if w.Code != http.StatusNoContent {
		t.Fatalf("preflight: %d %s, want 204", w.Code, w.Body)
	}
	h := w.Header()
	want := map[string]string{
		"Access-Control-Allow-Origin":  origin,
		"Access-Control-Allow-Methods": method,
	}
	if reqHeaders != "" {
		want["Access-Control-Allow-Headers"] = reqHeaders
	}
	if credentials {
		want["Access-Control-Allow-Credentials"] = "true"
	}
	for k, v := range want {
		if got := h.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if !credentials && h.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("Access-Control-Allow-Credentials = %q without credentials", h.Get("Access-Control-Allow-Credentials"))
	}
	if !strings.Contains(h.Get("Vary"), "Origin") {
		t.Errorf("Vary = %q, want Origin in it", h.Get("Vary"))
	}
	if c := h.Values("Set-Cookie"); len(c) > 0 {
		t.Errorf("a preflight set cookies: %q", c)
	}
}

// wantNoCORS checks that an answer carries no CORS permission.
func wantNoCORS(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	for k := range w.Header() {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("%s = %q on an answer to an origin that is not allowed", k, w.Header()[k])
		}
	}
}

func TestCORSOwnEndpoints(t *testing.T) {
	// The route table and csrf.every_request must not stand in a
	// preflight's way: it carries no cookie and no token.
	table, err := policy.Compile([]policy.Rule{
		{Path: "/auth/management/**", Access: policy.Permission, Permission: "section:users", Networks: []string{"192.0.2.0/24"}},
		{Path: "/**", Access: policy.Authenticated},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withCORS(credentialedCORS), func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
		h.Routes = table
		h.CSRFEveryRequest = true
	})
	anon := e.browser()

	t.Run("preflight needs no session", func(t *testing.T) {
		for _, c := range []struct{ method, path, headers string }{
			{"POST", "/auth/session", "content-type"},
			{"GET", "/auth/session", "x-csrf-token"},
			{"PATCH", "/auth/management/api/v1/users/u1", "content-type,x-csrf"},
			{"DELETE", "/auth/session", "x-xsrf-token"},
			{"GET", "/auth/management/api/v1/users", "authorization"},
		} {
			w := anon.do("OPTIONS", c.path, "", preflight(appOrigin, c.method, c.headers)...)
			wantPreflight(t, w, appOrigin, c.method, c.headers, true)
			if got := w.Header().Get("Access-Control-Max-Age"); got != "600" {
				t.Errorf("%s %s: Access-Control-Max-Age = %q, want 600", c.method, c.path, got)
			}
		}
	})

	t.Run("origin, method or header not allowed", func(t *testing.T) {
		for _, opts := range [][]reqOpt{
			preflight("https://evil.example", "POST", "content-type"),
			preflight("http://app.example.com", "POST", "content-type"), // another scheme is another origin
			preflight("https://app.example.com:8443", "POST", "content-type"),
			preflight(appOrigin, "POST", "content-type,x-secret"),
			preflight(appOrigin, "CONNECT", ""),
		} {
			wantNoCORS(t, anon.do("OPTIONS", "/auth/session", "", opts...))
		}
	})

	b, token := e.loggedIn()
	t.Run("actual requests", func(t *testing.T) {
		w := b.do("GET", "/auth/session", "", header("Origin", appOrigin), header("Sec-Fetch-Site", "cross-site"))
		if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != appOrigin || w.Header().Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("GET /session from %s: %d %v", appOrigin, w.Code, w.Header())
		}
		if got := w.Header().Get("Access-Control-Expose-Headers"); got != "Retry-After" {
			t.Errorf("Access-Control-Expose-Headers = %q", got)
		}
		// Refusals carry them too, so the script can read the 401.
		w = anon.do("GET", "/auth/session", "", header("Origin", appOrigin))
		wantProblem(t, w, 401, gatehouse.CodeUnauthenticated)
		if w.Header().Get("Access-Control-Allow-Origin") != appOrigin {
			t.Errorf("401 to an allowed origin without Access-Control-Allow-Origin")
		}
		// Another origin: the answer is the same, without permission to
		// read it.
		w = b.do("GET", "/auth/session", "", header("Origin", "https://evil.example"), header("Sec-Fetch-Site", "cross-site"))
		wantNoCORS(t, w)
		// No Origin: no CORS headers at all (and nothing to vary on).
		w = b.do("GET", "/auth/session", "")
		if w.Code != 200 || w.Header().Get("Vary") != "" {
			t.Errorf("same-origin GET: %d Vary %q", w.Code, w.Header().Get("Vary"))
		}
	})

	t.Run("one list of origins with the CSRF check", func(t *testing.T) {
		me := e.userID("admin")
		patch := func(origin, tok string) *httptest.ResponseRecorder {
			opts := []reqOpt{header("Origin", origin), header("Sec-Fetch-Site", "cross-site")}
			if tok != "" {
				opts = append(opts, header("X-CSRF-Token", tok))
			}
			return b.do("PATCH", "/auth/management/api/v1/users/"+me, `{"name":"Ada"}`, opts...)
		}
		// A CORS origin is a trusted origin: with the token, it passes.
		if w := patch(appOrigin, token); w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != appOrigin {
			t.Fatalf("PATCH from the CORS origin with the token: %d %s", w.Code, w.Body)
		}
		// The token is still required.
		w := patch(appOrigin, "")
		wantProblem(t, w, 403, gatehouse.CodeCSRFFailed)
		if w.Header().Get("Access-Control-Allow-Origin") != appOrigin {
			t.Errorf("csrf_failed to an allowed origin without Access-Control-Allow-Origin")
		}
		// Any other origin is refused, token or not.
		wantProblem(t, patch("https://evil.example", token), 403, gatehouse.CodeCSRFFailed)
	})
}

// TestCORSProtect: an embedding program's handlers get the same CORS
// setting through Server.CORS, outside Protect.
func TestCORSProtect(t *testing.T) {
	e := newEnv(t, withCORS(credentialedCORS))
	h := e.api.CORS(e.api.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	})))
	serve := func(b *browser, method string, opts ...reqOpt) *httptest.ResponseRecorder {
		r := newRequest(b, method, "/api/notes")
		for _, o := range opts {
			o(r)
		}
		w := newRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	wantPreflight(t, serve(e.browser(), "OPTIONS", preflight(appOrigin, "POST", "x-csrf-token")...), appOrigin, "POST", "x-csrf-token", true)
	wantNoCORS(t, serve(e.browser(), "OPTIONS", preflight("https://evil.example", "POST", "x-csrf-token")...))
	b, token := e.loggedIn()
	cross := []reqOpt{header("Origin", appOrigin), header("Sec-Fetch-Site", "cross-site")}
	w := serve(b, "GET", cross...)
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != appOrigin {
		t.Fatalf("GET from %s: %d %v", appOrigin, w.Code, w.Header())
	}
	if w := serve(b, "POST", append(cross, header("X-CSRF-Token", token))...); w.Code != 200 {
		t.Fatalf("POST from %s with the token: %d %s", appOrigin, w.Code, w.Body)
	}
	wantProblem(t, serve(b, "POST", cross...), 403, gatehouse.CodeCSRFFailed)
	// Without Origin: not CORS, but caches are told the answer varies.
	if w := serve(b, "GET"); w.Code != 200 || w.Header().Get("Vary") != "Origin" || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("same-origin GET: %d %v", w.Code, w.Header())
	}
	// Without CORS origins, CORS is the handler itself.
	plain := newEnv(t)
	inner := http.NewServeMux()
	if got := plain.api.CORS(inner); got != http.Handler(inner) {
		t.Error("CORS without origins wraps the handler")
	}
}

func TestCORSOffByDefault(t *testing.T) {
	e := newEnv(t)
	w := e.browser().do("OPTIONS", "/auth/session", "", preflight(appOrigin, "POST", "content-type")...)
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("OPTIONS without cors: %d, want 405 as before", w.Code)
	}
	wantNoCORS(t, w)
}

func TestCORSWildcardWithoutCredentials(t *testing.T) {
	e := newEnv(t, withCORS(httpapi.CORS{AllowedOrigins: []string{"*"}}))
	anon := e.browser()
	w := anon.do("OPTIONS", "/auth/password/policy", "", preflight("https://anywhere.example", "GET", "")...)
	if w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("wildcard preflight: %d %v", w.Code, w.Header())
	}
	w = anon.do("GET", "/auth/password/policy", "", header("Origin", "https://anywhere.example"))
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("wildcard GET: %d %v", w.Code, w.Header())
	}
	// "*" is not a trusted origin: a cross-origin unsafe request with the
	// session cookie is still refused.
	b, token := e.loggedIn()
	w = b.do("DELETE", "/auth/session", "", header("Origin", "https://anywhere.example"), header("Sec-Fetch-Site", "cross-site"), header("X-CSRF-Token", token))
	wantProblem(t, w, 403, gatehouse.CodeCSRFFailed)
}

func TestCheckCORS(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  httpapi.CORS
		want string // a part of the error; "" for none
	}{
		{"off", httpapi.CORS{}, ""},
		{"listed with credentials", httpapi.CORS{AllowedOrigins: []string{"https://a.example", "http://127.0.0.1:5173", "http://[::1]:3000"}, AllowCredentials: true}, ""},
		{"wildcard", httpapi.CORS{AllowedOrigins: []string{"*"}, AllowedHeaders: []string{"*"}, ExposedHeaders: []string{"*"}}, ""},
		{"wildcard with credentials", httpapi.CORS{AllowedOrigins: []string{"*"}, AllowCredentials: true}, "credentials"},
		{"wildcard and more", httpapi.CORS{AllowedOrigins: []string{"*", "https://a.example"}}, `"*" alone`},
		{"path", httpapi.CORS{AllowedOrigins: []string{"https://a.example/app"}}, "no path"},
		{"trailing slash", httpapi.CORS{AllowedOrigins: []string{"https://a.example/"}}, "no path"},
		{"no scheme", httpapi.CORS{AllowedOrigins: []string{"a.example"}}, "not an origin"},
		{"ftp", httpapi.CORS{AllowedOrigins: []string{"ftp://a.example"}}, "not an origin"},
		{"user info", httpapi.CORS{AllowedOrigins: []string{"https://u@a.example"}}, "not an origin"},
		{"query", httpapi.CORS{AllowedOrigins: []string{"https://a.example?x"}}, "not an origin"},
		{"subdomain wildcard", httpapi.CORS{AllowedOrigins: []string{"https://*.a.example"}}, "not an origin"},
		{"default port", httpapi.CORS{AllowedOrigins: []string{"https://a.example:443"}}, "default port"},
		{"header", httpapi.CORS{AllowedOrigins: []string{"https://a.example"}, AllowedHeaders: []string{"X Bad"}}, "allowed_headers entry 1"},
		{"exposed wildcard with credentials", httpapi.CORS{AllowedOrigins: []string{"https://a.example"}, ExposedHeaders: []string{"*"}, AllowCredentials: true}, "exposed_headers"},
		{"negative max age", httpapi.CORS{AllowedOrigins: []string{"https://a.example"}, MaxAge: -time.Second}, "max_age"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := httpapi.CheckCORS(c.cfg)
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("CheckCORS = %v, want an error with %q", err, c.want)
			}
			// New refuses what CheckCORS refuses.
			_, err = httpapi.New(httpapi.Config{CORS: c.cfg}, httpapi.Deps{})
			if (c.want == "") != (err == nil || !strings.Contains(err.Error(), "cors")) {
				t.Fatalf("New = %v", err)
			}
		})
	}
	if _, err := httpapi.CheckCORS(httpapi.CORS{AllowedOrigins: []string{"*"}, AllowCredentials: true}); !errors.Is(err, httpapi.ErrCORSWildcardCredentials) {
		t.Errorf("wildcard with credentials: %v, want ErrCORSWildcardCredentials", err)
	}
	if o, _ := httpapi.CleanCORSOrigin("HTTPS://App.Example.com:8443"); o != "https://app.example.com:8443" {
		t.Errorf("CleanCORSOrigin = %q, want the lower-case origin browsers send", o)
	}
}

// corsGatewayTable has one cors: true route, one whose PATCH rule is a
// cors one while its GET rule is not, and the gateway tests' table below.
func corsGatewayTable(t *testing.T) *policy.Table {
	t.Helper()
	rules := []policy.Rule{
		{Path: "/api/**", Access: policy.Authenticated, CORS: true},
		{Path: "/app/items/{id}", Methods: []string{"PATCH"}, Access: policy.Authenticated, CORS: true},
	}
	rules = append(rules, gatewayTable(t).Rules()...)
	table, err := policy.Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// withoutCORS is table with no rule saying cors: true.
func withoutCORS(t *testing.T, table *policy.Table) *policy.Table {
	t.Helper()
	rules := table.Rules()
	for i := range rules {
		rules[i].CORS = false
	}
	plain, err := policy.Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

func TestCORSGatewayProxy(t *testing.T) {
	up := newUpstream(t)
	upstreamCORS := newUpstreamWithCORS(t)
	for name, u := range map[string]*upstream{"echo": up, "upstream with its own CORS": upstreamCORS} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, withGateway(corsGatewayTable(t), u.url(t)), withCORS(credentialedCORS))
			plain := newEnv(t, withGateway(withoutCORS(t, corsGatewayTable(t)), u.url(t))) // the same without CORS
			anon := e.browser()
			hits := u.hits.Load()

			// A preflight to a cors route: answered here, no session.
			w := anon.do("OPTIONS", "/api/servers/1", "", preflight(appOrigin, "PATCH", "content-type,x-csrf-token")...)
			wantPreflight(t, w, appOrigin, "PATCH", "content-type,x-csrf-token", true)
			// Decided by the rule of the announced method.
			wantPreflight(t, anon.do("OPTIONS", "/app/items/7", "", preflight(appOrigin, "PATCH", "")...), appOrigin, "PATCH", "", true)
			if u.hits.Load() != hits {
				t.Fatalf("a preflight reached the upstream")
			}

			// OPTIONS to a route without cors: true is unchanged: the
			// same answer as without CORS, and no CORS headers.
			for _, c := range []struct{ method, path string }{{"GET", "/app/items/7"}, {"GET", "/app/x"}, {"PATCH", "/app/servers/1"}} {
				w := anon.do("OPTIONS", c.path, "", preflight(appOrigin, c.method, "")...)
				before := plain.browser().do("OPTIONS", c.path, "", preflight(appOrigin, c.method, "")...)
				if w.Code != before.Code || w.Code < 400 {
					t.Errorf("OPTIONS %s for %s: %d, want %d as without cors", c.path, c.method, w.Code, before.Code)
				}
				wantNoCORS(t, w)
			}
			// From an origin that is not allowed, a preflight to a cors
			// route goes the usual way too (no session: 401).
			w = anon.do("OPTIONS", "/api/servers/1", "", preflight("https://evil.example", "PATCH", "")...)
			wantProblem(t, w, 401, gatehouse.CodeUnauthenticated)
			wantNoCORS(t, w)

			b, token := e.loggedIn()
			// Actual requests: gatehouse's headers, the upstream's dropped.
			w = b.do("PATCH", "/api/servers/1", `{"a":1}`, header("Origin", appOrigin), header("Sec-Fetch-Site", "cross-site"), header("X-CSRF-Token", token))
			if w.Code != 200 || w.Header().Get("X-Upstream") != "yes" {
				t.Fatalf("PATCH through the proxy: %d %s", w.Code, w.Body)
			}
			if got := w.Header().Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != appOrigin {
				t.Errorf("Access-Control-Allow-Origin = %q, want only gatehouse's %q", got, appOrigin)
			}
			if got := w.Header().Values("Access-Control-Allow-Credentials"); len(got) != 1 || got[0] != "true" {
				t.Errorf("Access-Control-Allow-Credentials = %q", got)
			}
			if got := w.Header().Get("Access-Control-Expose-Headers"); got != "Retry-After" {
				t.Errorf("Access-Control-Expose-Headers = %q, want gatehouse's, not the upstream's", got)
			}
			if got := w.Header().Get("Access-Control-Allow-Methods"); got != "" {
				t.Errorf("the upstream's Access-Control-Allow-Methods %q came through", got)
			}
			// The CSRF token is still required.
			w = b.do("PATCH", "/api/servers/1", `{"a":1}`, header("Origin", appOrigin), header("Sec-Fetch-Site", "cross-site"))
			wantProblem(t, w, 403, gatehouse.CodeCSRFFailed)
			if w.Header().Get("Access-Control-Allow-Origin") != appOrigin {
				t.Errorf("csrf_failed on a cors route without Access-Control-Allow-Origin")
			}
			// Another origin: no CORS headers, the upstream's dropped too.
			w = b.do("GET", "/api/servers/1", "", header("Origin", "https://evil.example"), header("Sec-Fetch-Site", "cross-site"))
			if w.Code != 200 {
				t.Fatalf("GET from another origin: %d", w.Code)
			}
			wantNoCORS(t, w)
			// A route without cors: true keeps the upstream's own headers.
			w = b.do("GET", "/app/x", "", header("Origin", appOrigin), header("Sec-Fetch-Site", "cross-site"))
			if u == upstreamCORS && w.Header().Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("the upstream's own CORS headers were dropped on a route without cors: true: %v", w.Header())
			}
			if u == up {
				wantNoCORS(t, w)
			}
		})
	}
}

// TestCORSGatewayUpstreamDown: the 502 of an upstream that cannot be
// reached keeps the CORS headers of a cors: true route, so the front end
// reads the status.
func TestCORSGatewayUpstreamDown(t *testing.T) {
	up := newUpstream(t)
	u := up.url(t)
	up.Close()
	e := newEnv(t, withGateway(corsGatewayTable(t), u), withCORS(credentialedCORS))
	b, _ := e.loggedIn()
	w := b.do("GET", "/api/servers/1", "", header("Origin", appOrigin), header("Sec-Fetch-Site", "cross-site"))
	if w.Code != http.StatusBadGateway || w.Header().Get("Access-Control-Allow-Origin") != appOrigin {
		t.Fatalf("GET with the upstream down: %d %v", w.Code, w.Header())
	}
	wantNoCORS(t, b.do("GET", "/app/x", "", header("Origin", appOrigin), header("Sec-Fetch-Site", "cross-site")))
}

// newUpstreamWithCORS is an upstream that answers every request with
// CORS headers of its own.
func newUpstreamWithCORS(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{release: make(chan struct{})}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", "GET, TRACE")
		h.Set("Access-Control-Expose-Headers", "X-Upstream")
		h.Set("Content-Type", "application/json")
		h.Set("X-Upstream", "yes")
		w.Write([]byte("{}"))
	}))
	t.Cleanup(u.Close)
	return u
}

func TestCORSForwardAuth(t *testing.T) {
	e := newEnv(t, withGateway(corsGatewayTable(t), nil), withCORS(credentialedCORS))
	anon := e.browser()
	for name, family := range map[string]func(string, string) []reqOpt{"nginx": nginxAuth, "traefik": traefikAuth} {
		t.Run(name, func(t *testing.T) {
			// GET /auth/verify/preflight answers a preflight to a cors
			// route: 204 with the CORS headers, no session.
			w := anon.preflightVerify(with(family("OPTIONS", "/api/servers/1"), preflight(appOrigin, "DELETE", "x-csrf-token")...)...)
			wantPreflight(t, w, appOrigin, "DELETE", "x-csrf-token", true)
			// Not a cors route, not an allowed origin, not a preflight: 403.
			for _, opts := range [][]reqOpt{
				with(family("OPTIONS", "/app/x"), preflight(appOrigin, "DELETE", "")...),
				with(family("OPTIONS", "/api/servers/1"), preflight("https://evil.example", "DELETE", "")...),
				with(family("OPTIONS", "/api/servers/1"), header("Origin", appOrigin)),
				with(family("DELETE", "/api/servers/1"), preflight(appOrigin, "DELETE", "")...),
			} {
				w := anon.preflightVerify(opts...)
				wantProblem(t, w, 403, gatehouse.CodePermissionDenied)
				wantNoCORS(t, w)
			}
			// GET /auth/verify decides a preflight like any OPTIONS request,
			// since a 2xx lets it through to the application: a forged
			// preflight gets past no rule (here OPTIONS needs a user).
			for _, origin := range []string{appOrigin, "https://evil.example"} {
				w = anon.verify(with(family("OPTIONS", "/api/servers/1"), preflight(origin, "DELETE", "")...)...)
				wantProblem(t, w, 401, gatehouse.CodeUnauthenticated)
				wantNoCORS(t, w)
			}

			// Actual requests: the CORS headers on the answer, for
			// auth_request_set; a refusal carries them too.
			w = anon.verify(with(family("GET", "/api/servers/1"), header("Origin", appOrigin))...)
			wantProblem(t, w, 401, gatehouse.CodeUnauthenticated)
			if w.Header().Get("Access-Control-Allow-Origin") != appOrigin {
				t.Errorf("401 on a cors route without Access-Control-Allow-Origin: %v", w.Header())
			}
			b, _ := e.loggedIn()
			w = b.verify(with(family("GET", "/api/servers/1"), header("Origin", appOrigin))...)
			wantAllowed(t, w, "admin", "administrators")
			if w.Header().Get("Access-Control-Allow-Origin") != appOrigin || w.Header().Get("Access-Control-Allow-Credentials") != "true" {
				t.Errorf("allowed answer on a cors route: %v", w.Header())
			}
			wantNoCORS(t, b.verify(with(family("GET", "/api/servers/1"), header("Origin", "https://evil.example"))...))
			wantNoCORS(t, b.verify(with(family("GET", "/app/x"), header("Origin", appOrigin))...))
		})
	}
}

// preflightVerify asks GET /auth/verify/preflight, as a trusted proxy.
func (b *browser) preflightVerify(opts ...reqOpt) *httptest.ResponseRecorder {
	b.e.t.Helper()
	saved := b.addr
	b.addr = proxyAddr
	defer func() { b.addr = saved }()
	return b.do("GET", "/auth/verify/preflight", "", opts...)
}

// BenchmarkVerifyCORS is BenchmarkVerify with CORS on and the route a cors:
// true one: without Origin (what most forward-auth requests are) it should
// cost what BenchmarkVerify does; with an allowed Origin, the CORS headers
// are added.
func BenchmarkVerifyCORS(b *testing.B) {
	table, err := policy.Compile([]policy.Rule{
		{Path: "/api/health", Access: policy.Public},
		{Path: "/api/servers/{id}", Methods: []string{"PATCH", "DELETE"}, Access: policy.Authenticated, CORS: true},
		{Path: "/api/**", Access: policy.Authenticated, CORS: true},
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, origin := range []string{"", appOrigin} {
		name := "no Origin"
		if origin != "" {
			name = "allowed Origin"
		}
		b.Run(name, func(b *testing.B) {
			e := newBenchEnv(b, func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
				h.Routes = table
				h.TrustedProxies = []netipPrefix{mustPrefix("127.0.0.0/8")}
				h.CORS = credentialedCORS
			})
			r := httptest.NewRequest("GET", "/auth/verify", nil)
			r.RemoteAddr = "127.0.0.1:40000"
			r.Header.Set("X-Original-Method", "GET")
			r.Header.Set("X-Original-URI", "/api/dashboard")
			r.Header.Set("X-Original-URL", "http://app.example.com/api/dashboard")
			r.Header.Set("X-Forwarded-For", "203.0.113.5")
			r.Header.Set("X-Forwarded-Proto", "http")
			r.Header.Set("X-Forwarded-Host", "app.example.com")
			if origin != "" {
				r.Header.Set("Origin", origin)
			}
			r.AddCookie(&http.Cookie{Name: e.cookie.Name, Value: e.cookie.Value})
			benchRequest(b, e.api, r)
		})
	}
}

// TestCORSRouteWithoutOrigins: a rule's cors: true without CORS origins
// is refused by New, as by the configuration file, rather than ignored.
func TestCORSRouteWithoutOrigins(t *testing.T) {
	table, err := policy.Compile([]policy.Rule{{Path: "/api/**", Access: policy.Authenticated, CORS: true}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := httpapi.New(httpapi.Config{Routes: table}, httpapi.Deps{}); err == nil || !strings.Contains(err.Error(), "cors: true") {
		t.Errorf("New = %v, want an error about cors: true", err)
	}
}
