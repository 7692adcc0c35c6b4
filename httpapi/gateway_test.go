package httpapi_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/session"
)

// gatewayTable is the route table of the gateway tests.
func gatewayTable(t *testing.T) *policy.Table {
	t.Helper()
	table, err := policy.Compile([]policy.Rule{
		{Path: "/app/public/**", Access: policy.Public},
		{Path: "/app/office/**", Access: policy.Public, Networks: []string{"198.51.100.0/24"}},
		{Path: "/app/office/**", Access: policy.Deny},
		{Path: "/app/admin/**", Access: policy.Permission, Permission: "section:admin"},
		{Path: "/app/servers/{id}", Methods: []string{"PATCH", "DELETE"}, Access: policy.Permission, Permission: "servers.write"},
		{Path: "/app/**", Access: policy.Authenticated},
		{Path: "/auth/ext/**", Access: policy.Authenticated},
	})
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// withGateway configures the gateway: the table (nil for none), a trusted
// proxy network, example.com for rd, and the upstream (nil for none).
func withGateway(table *policy.Table, upstream *url.URL) envOption {
	return func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
		h.Routes = table
		h.TrustedProxies = []netipPrefix{mustPrefix("10.0.0.0/8")}
		h.RedirectDomains = []string{"example.com"}
		h.Upstream = upstream
	}
}

const proxyAddr = "10.0.0.2:5000" // a trusted proxy

// nginxAuth are the headers of nginx's auth_request sub-request.
func nginxAuth(method, uri string) []reqOpt {
	return []reqOpt{
		header("X-Original-Method", method),
		header("X-Original-URI", uri),
		header("X-Original-URL", "http://app.example.com"+uri),
		header("X-Forwarded-For", "203.0.113.5"),
	}
}

// traefikAuth are the headers of Traefik's forwardAuth (and Caddy's forward_auth).
func traefikAuth(method, uri string) []reqOpt {
	return []reqOpt{
		header("X-Forwarded-Method", method),
		header("X-Forwarded-Uri", uri),
		header("X-Forwarded-Proto", "http"),
		header("X-Forwarded-Host", "app.example.com"),
		header("X-Forwarded-For", "203.0.113.5"),
	}
}

// verify asks GET /auth/verify from a trusted proxy with b's cookies.
func (b *browser) verify(opts ...reqOpt) *httptest.ResponseRecorder {
	b.e.t.Helper()
	saved := b.addr
	b.addr = proxyAddr
	defer func() { b.addr = saved }()
	return b.do("GET", "/auth/verify", "", opts...)
}

func with(opts []reqOpt, more ...reqOpt) []reqOpt {
	return append(append([]reqOpt{}, opts...), more...)
}

func wantAllowed(t *testing.T, w *httptest.ResponseRecorder, user, groups string) {
	t.Helper()
	if w.Code != 200 {
		t.Fatalf("status = %d, want 200; body %s", w.Code, w.Body)
	}
	if got := w.Header().Get("Remote-User"); got != user {
		t.Errorf("Remote-User = %q, want %q", got, user)
	}
	if user == "" {
		for _, h := range []string{"Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups"} {
			if _, ok := w.Header()[h]; ok {
				t.Errorf("anonymous answer has %s", h)
			}
		}
		return
	}
	if got := w.Header().Get("Remote-Email"); got != user+"@example.com" {
		t.Errorf("Remote-Email = %q", got)
	}
	if got := w.Header().Get("Remote-Groups"); got != groups {
		t.Errorf("Remote-Groups = %q, want %q", got, groups)
	}
}

func TestVerify(t *testing.T) {
	e := newEnv(t, withGateway(gatewayTable(t), nil))
	e.group("writers", "servers.write")
	viewer, _, _ := e.userBrowser("viewer")
	writer, wCSRF, _ := e.userBrowser("wren", "writers")
	anon := e.browser()
	admin := e.browser()
	admin.login("admin", adminPassword)

	for name, family := range map[string]func(string, string) []reqOpt{"nginx": nginxAuth, "traefik": traefikAuth} {
		t.Run(name, func(t *testing.T) {
			// Public routes: anonymous is fine, and gets no identity.
			wantAllowed(t, anon.verify(family("GET", "/app/public/logo.png")...), "", "")
			// With credentials on a public route, the identity comes along.
			wantAllowed(t, viewer.verify(family("GET", "/app/public/x?y=1")...), "viewer", "")
			// Authenticated routes.
			wantProblem(t, anon.verify(family("GET", "/app/x")...), 401, gatehouse.CodeUnauthenticated)
			wantAllowed(t, viewer.verify(family("GET", "/app/x")...), "viewer", "")
			// Permission routes.
			wantProblem(t, viewer.verify(family("GET", "/app/admin/users")...), 403, gatehouse.CodePermissionDenied)
			wantProblem(t, anon.verify(family("GET", "/app/admin/users")...), 401, gatehouse.CodeUnauthenticated)
			wantAllowed(t, admin.verify(family("GET", "/app/admin/users")...), "admin", "administrators")
			// Method-specific rules apply to the original method, with the
			// CSRF token of the session (forwarded as a header).
			wantProblem(t, viewer.verify(with(family("PATCH", "/app/servers/7"), header("X-CSRF-Token", "x"))...), 403, gatehouse.CodeCSRFFailed)
			wantProblem(t, writer.verify(family("PATCH", "/app/servers/7")...), 403, gatehouse.CodeCSRFFailed)
			wantAllowed(t, writer.verify(with(family("PATCH", "/app/servers/7"), header("X-CSRF-Token", wCSRF))...), "wren", "writers")
			// …and must be same-origin, judged against the original host.
			wantProblem(t, writer.verify(with(family("DELETE", "/app/servers/7"), header("X-CSRF-Token", wCSRF), header("Sec-Fetch-Site", "cross-site"))...), 403, gatehouse.CodeCSRFFailed)
			wantProblem(t, writer.verify(with(family("DELETE", "/app/servers/7"), header("X-CSRF-Token", wCSRF), header("Origin", "http://evil.example"))...), 403, gatehouse.CodeCSRFFailed)
			wantAllowed(t, writer.verify(with(family("DELETE", "/app/servers/7"), header("X-CSRF-Token", wCSRF), header("Origin", "http://app.example.com"))...), "wren", "writers")
			// A GET of the same path is only "authenticated".
			wantAllowed(t, viewer.verify(family("GET", "/app/servers/7")...), "viewer", "")
			// Nothing matches: deny.
			wantProblem(t, admin.verify(family("GET", "/elsewhere")...), 403, gatehouse.CodePermissionDenied)
		})
	}

	// The network rules judge the client's address from X-Forwarded-For,
	// never the entries a client put in front of it.
	office := func(xff string) []reqOpt {
		return with(traefikAuth("GET", "/app/office/report"), header("X-Forwarded-For", xff))
	}
	wantAllowed(t, anon.verify(office("198.51.100.7")...), "", "")
	wantProblem(t, anon.verify(office("203.0.113.9")...), 403, gatehouse.CodePermissionDenied)
	wantProblem(t, anon.verify(office("198.51.100.7, 203.0.113.9")...), 403, gatehouse.CodePermissionDenied)
	wantAllowed(t, anon.verify(office("203.0.113.9, 198.51.100.7, 10.0.0.3")...), "", "")

	// An API token.
	adminCSRF := ""
	var res struct{ CSRFToken string }
	decode(t, admin.do("GET", "/auth/session", ""), &res)
	adminCSRF = res.CSRFToken
	w := admin.do("POST", "/auth/tokens", `{"name":"ci"}`, header("X-CSRF-Token", adminCSRF))
	var tok struct{ Secret string }
	decode(t, w, &tok)
	bearer := header("Authorization", "Bearer "+tok.Secret)
	wantAllowed(t, anon.verify(with(nginxAuth("GET", "/app/admin/x"), bearer)...), "admin", "administrators")
	// A token needs no CSRF token, and is not ambient: cross-site is fine.
	wantAllowed(t, anon.verify(with(nginxAuth("DELETE", "/app/servers/1"), bearer, header("Sec-Fetch-Site", "cross-site"))...), "admin", "administrators")
	wantProblem(t, anon.verify(with(nginxAuth("GET", "/app/public/x"), header("Authorization", "Bearer gat_nope"))...), 401, gatehouse.CodeUnauthenticated)
}

func TestVerifyBrowserRedirect(t *testing.T) {
	e := newEnv(t, withGateway(gatewayTable(t), nil))
	anon := e.browser()
	html := header("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")

	// Traefik and Caddy: 302 to the login page, rd the original URL when
	// its host is allowed.
	w := anon.verify(with(traefikAuth("GET", "/app/x?tab=2"), html)...)
	if w.Code != 302 || w.Header().Get("Location") != "/auth/ui/login?rd="+url.QueryEscape("http://app.example.com/app/x?tab=2") {
		t.Fatalf("redirect: %d %q", w.Code, w.Header().Get("Location"))
	}
	for _, host := range []string{"example.com", "deep.sub.example.com", "example.com:8443"} {
		w = anon.verify(with(traefikAuth("GET", "/app/x"), html, header("X-Forwarded-Host", host), header("X-Forwarded-Proto", "https"))...)
		if w.Code != 302 || w.Header().Get("Location") != "/auth/ui/login?rd="+url.QueryEscape("https://"+host+"/app/x") {
			t.Errorf("host %s: %d %q", host, w.Code, w.Header().Get("Location"))
		}
	}
	// Other hosts: no rd, never an open redirect.
	for _, host := range []string{"evil.com", "example.com.evil.com", "notexample.com"} {
		w = anon.verify(with(traefikAuth("GET", "/app/x"), html, header("X-Forwarded-Host", host))...)
		if w.Code != 302 || w.Header().Get("Location") != "/auth/ui/login" {
			t.Errorf("host %s: %d %q", host, w.Code, w.Header().Get("Location"))
		}
	}
	// nginx takes a 302 from auth_request for an error: it gets the 401
	// with the login page in Location.
	w = anon.verify(with(nginxAuth("GET", "/app/x"), html)...)
	wantProblem(t, w, 401, gatehouse.CodeUnauthenticated)
	if got := w.Header().Get("Location"); got != "/auth/ui/login?rd="+url.QueryEscape("http://app.example.com/app/x") {
		t.Errorf("nginx Location = %q", got)
	}
	// Not for API requests, unsafe methods or a missing permission.
	wantProblem(t, anon.verify(traefikAuth("GET", "/app/x")...), 401, gatehouse.CodeUnauthenticated)
	wantProblem(t, anon.verify(with(traefikAuth("POST", "/app/x"), html)...), 401, gatehouse.CodeUnauthenticated)
	viewer, _, _ := e.userBrowser("viewer")
	wantProblem(t, viewer.verify(with(traefikAuth("GET", "/app/admin/x"), html)...), 403, gatehouse.CodePermissionDenied)
}

// TestVerifyAnswerHeaders: the allowing answer, read only by the proxy,
// carries the identity and Cache-Control: no-store but none of the
// browser-facing headers; every answer a browser may see (the 302 to the
// login page, a problem the proxy passes on) carries all of them.
func TestVerifyAnswerHeaders(t *testing.T) {
	e := newEnv(t, withGateway(gatewayTable(t), nil))
	b, _ := e.loggedIn()
	anon := e.browser()
	html := header("Accept", "text/html")
	browserFacing := []string{"X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options", "Content-Security-Policy"}

	w := b.verify(nginxAuth("GET", "/app/x")...)
	wantAllowed(t, w, "admin", "administrators")
	if got := w.Header().Values("Cache-Control"); len(got) != 1 || got[0] != "no-store" {
		t.Errorf("200: Cache-Control = %q, want no-store", got)
	}
	for _, h := range browserFacing {
		if v, ok := w.Header()[h]; ok {
			t.Errorf("200: has %s %q", h, v)
		}
	}
	if w.Body.Len() != 0 {
		t.Errorf("200: body %q", w.Body)
	}

	for name, w := range map[string]*httptest.ResponseRecorder{
		"401":           anon.verify(nginxAuth("GET", "/app/x")...),
		"401 to nginx":  anon.verify(with(nginxAuth("GET", "/app/x"), html)...),
		"302":           anon.verify(with(traefikAuth("GET", "/app/x"), html)...),
		"403":           b.verify(nginxAuth("GET", "/elsewhere")...),
		"403 malformed": b.verify(nginxAuth("GET", "/app/../x")...),
		"403 untrusted": b.do("GET", "/auth/verify", "", nginxAuth("GET", "/app/x")...),
		"405 not GET":   b.do("POST", "/auth/verify", "", nginxAuth("GET", "/app/x")...),
	} {
		if w.Code == 200 {
			t.Errorf("%s: answered 200", name)
		}
		for _, h := range append(browserFacing, "Cache-Control") {
			if w.Header().Get(h) == "" {
				t.Errorf("%s (%d): no %s", name, w.Code, h)
			}
		}
		// A refusal names its problem in a header too, for nginx, which
		// passes on a refusal's headers but not its body.
		if w.Code != 302 && w.Code != 405 {
			var p struct{ Code string }
			decode(t, w, &p)
			if got := w.Header().Get(httpapi.HeaderProblem); p.Code == "" || got != p.Code {
				t.Errorf("%s (%d): %s %q, problem code %q", name, w.Code, httpapi.HeaderProblem, got, p.Code)
			}
		}
	}
}

// TestVerifyEscapedPath: the shortcut of Server.ServeHTTP takes only the
// plain spelling of BASE/verify. An escaped slash is another path to the
// mux too, answered with a problem+json 404 (not in the OpenAPI document,
// so asked without the harness's check).
func TestVerifyEscapedPath(t *testing.T) {
	e := newEnv(t, withGateway(gatewayTable(t), nil))
	b, _ := e.loggedIn()
	for _, target := range []string{"/auth%2Fverify", "/auth%2fverify", "/nowhere"} {
		r := newRequest(b, "GET", target)
		r.RemoteAddr = proxyAddr
		for _, o := range nginxAuth("GET", "/app/x") {
			o(r)
		}
		w := httptest.NewRecorder()
		e.api.ServeHTTP(w, r)
		wantProblem(t, w, 404, gatehouse.CodeNotFound)
		if w.Header().Get("Remote-User") != "" {
			t.Errorf("GET %s: Remote-User %q", target, w.Header().Get("Remote-User"))
		}
	}
}

// TestVerifyConcurrent: verify builds each original request in pooled
// scratch space, so proxies asking at once about different callers must
// each get their own answer (CI runs it under -race).
func TestVerifyConcurrent(t *testing.T) {
	e := newEnv(t, withGateway(gatewayTable(t), nil))
	e.group("writers", "servers.write")
	viewer, _, _ := e.userBrowser("viewer")
	writer, _, _ := e.userBrowser("wren", "writers")
	anon := e.browser()
	cases := []struct {
		b              *browser
		method, uri    string
		status         int
		user, location string
	}{
		{viewer, "GET", "/app/x?i=", 200, "viewer", ""},
		{writer, "PATCH", "/app/servers/7?i=", 403, "", ""}, // no CSRF token
		{writer, "GET", "/app/x?i=", 200, "wren", ""},
		{anon, "GET", "/app/x?i=", 401, "", ""},
		{viewer, "GET", "/app/admin/y?i=", 403, "", ""},
		{anon, "GET", "/app/public/z?i=", 200, "", ""},
		{writer, "GET", "/app/../x?i=", 403, "", ""},
		{anon, "GET", "/app/caf%C3%A9?i=", 401, "", "/auth/ui/login?rd=http%3A%2F%2Fapp.example.com%2Fapp%2Fcaf%25C3%25A9%3Fi%3D"},
	}
	const goroutines, requests = 8, 250
	errs := make(chan string, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range requests {
				c := cases[(g+i)%len(cases)]
				uri := c.uri + strconv.Itoa(i)
				r := newRequest(c.b, "GET", "/auth/verify")
				r.RemoteAddr = proxyAddr
				for _, o := range nginxAuth(c.method, uri) {
					o(r)
				}
				if c.location != "" {
					r.Header.Set("Accept", "text/html")
				}
				w := httptest.NewRecorder()
				e.api.ServeHTTP(w, r)
				loc := w.Header().Get("Location")
				if c.location != "" {
					c.location += strconv.Itoa(i)
				}
				if w.Code != c.status || w.Header().Get("Remote-User") != c.user || loc != c.location {
					errs <- fmt.Sprintf("%s %s: %d, Remote-User %q, Location %q; want %d, %q, %q",
						c.method, uri, w.Code, w.Header().Get("Remote-User"), loc, c.status, c.user, c.location)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}

// TestVerifyFailsClosed: anything that cannot be parsed, or can be read two
// ways, is refused — on a public route, where a fall-through would say 200.
func TestVerifyFailsClosed(t *testing.T) {
	e := newEnv(t, withGateway(gatewayTable(t), nil))
	b, _ := e.loggedIn()
	xff := header("X-Forwarded-For", "203.0.113.5")
	twice := func(k, v1, v2 string) reqOpt {
		return func(r *http.Request) { r.Header.Del(k); r.Header.Add(k, v1); r.Header.Add(k, v2) }
	}
	del := func(k string) reqOpt { return func(r *http.Request) { r.Header.Del(k) } }
	bad := map[string][]reqOpt{
		"no headers":                    {xff},
		"nginx without method":          {header("X-Original-URI", "/app/public/x"), xff},
		"nginx without URI":             {header("X-Original-Method", "GET"), xff},
		"traefik without URI":           {header("X-Forwarded-Method", "GET"), xff},
		"traefik without method":        {header("X-Forwarded-Uri", "/app/public/x"), xff},
		"no X-Forwarded-For":            with(traefikAuth("GET", "/app/public/x"), del("X-Forwarded-For")),
		"malformed X-Forwarded-For":     with(traefikAuth("GET", "/app/public/x"), header("X-Forwarded-For", "somewhere")),
		"URI twice":                     with(nginxAuth("GET", "/app/public/x"), twice("X-Original-URI", "/app/public/x", "/app/admin/x")),
		"method twice":                  with(traefikAuth("GET", "/app/public/x"), twice("X-Forwarded-Method", "GET", "DELETE")),
		"families disagree on the URI":  with(nginxAuth("GET", "/app/public/x"), header("X-Forwarded-Method", "GET"), header("X-Forwarded-Uri", "/app/admin/x")),
		"families disagree on method":   with(nginxAuth("GET", "/app/public/x"), header("X-Forwarded-Method", "DELETE"), header("X-Forwarded-Uri", "/app/public/x")),
		"URL and URI disagree":          with(nginxAuth("GET", "/app/public/x"), header("X-Original-URL", "http://app.example.com/app/admin/x")),
		"URL and Host disagree":         with(nginxAuth("GET", "/app/public/x"), header("X-Forwarded-Host", "other.example.com")),
		"URL and Proto disagree":        with(nginxAuth("GET", "/app/public/x"), header("X-Forwarded-Proto", "https")),
		"URL not http":                  with(nginxAuth("GET", "/app/public/x"), header("X-Original-URL", "ftp://app.example.com/app/public/x")),
		"URL with user info":            with(nginxAuth("GET", "/app/public/x"), header("X-Original-URL", "http://u@app.example.com/app/public/x")),
		"proto not http(s)":             with(traefikAuth("GET", "/app/public/x"), header("X-Forwarded-Proto", "gopher")),
		"bad host":                      with(traefikAuth("GET", "/app/public/x"), header("X-Forwarded-Host", "a b/c")),
		"bad method":                    with(traefikAuth("GET / HTTP/1.1", "/app/public/x")),
		"empty method":                  with(traefikAuth("GET", "/app/public/x"), header("X-Forwarded-Method", " ")),
		"relative URI":                  traefikAuth("GET", "app/public/x"),
		"absolute URI":                  traefikAuth("GET", "http://app.example.com/app/public/x"),
		"dot-dot":                       traefikAuth("GET", "/app/public/../admin/x"),
		"encoded dot-dot":               traefikAuth("GET", "/app/public/%2e%2E/admin/x"),
		"dot-dot-semicolon":             traefikAuth("GET", "/app/public/..;/admin/x"),
		"dot-dot in a name":             traefikAuth("GET", "/app/public/a..b"),
		"encoded slash":                 traefikAuth("GET", "/app/public%2F..%2Fadmin/x"),
		"encoded backslash":             traefikAuth("GET", "/app/public/%5C/x"),
		"backslash":                     traefikAuth("GET", `/app/public\..\admin`),
		"NUL":                           traefikAuth("GET", "/app/public/x\x00"),
		"encoded NUL":                   traefikAuth("GET", "/app/public/x%00"),
		"overlong dot-dot":              traefikAuth("GET", "/app/public/%c0%ae%c0%ae/admin/x"),
		"double slash":                  traefikAuth("GET", "/app/public//x"),
		"leading double slash":          traefikAuth("GET", "//app/public/x"),
		"dot segment":                   traefikAuth("GET", "/app/public/./x"),
		"space":                         traefikAuth("GET", "/app/public/x y"),
		"fragment":                      traefikAuth("GET", "/app/public/x#y"),
		"bad escape":                    traefikAuth("GET", "/app/public/%zz"),
		"encoded percent":               traefikAuth("GET", "/app/public/%252e%252e/admin"),
		"nginx URI dot-dot":             nginxAuth("GET", "/app/public/../admin/x"),
		"nginx URI encoded slash":       nginxAuth("GET", "/app/public%2f..%2fadmin/x"),
		"nginx URI with control":        nginxAuth("GET", "/app/public/\r\nx"),
		"nginx URL without path":        with(nginxAuth("GET", "/app/public/x"), del("X-Original-URI"), header("X-Original-URL", "http://app.example.com")),
		"nginx URL host with query":     with(nginxAuth("GET", "/app/public/x"), del("X-Original-URI"), header("X-Original-URL", "http://app.example.com?x/app/public/x")),
		"very long URI":                 traefikAuth("GET", "/app/public/"+strings.Repeat("a", 9000)),
		"Proto twice":                   with(traefikAuth("GET", "/app/public/x"), twice("X-Forwarded-Proto", "https", "http")),
		"nginx URL twice":               with(nginxAuth("GET", "/app/public/x"), twice("X-Original-URL", "http://app.example.com/app/public/x", "http://app.example.com/app/public/x")),
		"empty URI":                     with(traefikAuth("GET", "/app/public/x"), header("X-Forwarded-Uri", "")),
		"Host twice (same host as URL)": with(nginxAuth("GET", "/app/public/x"), twice("X-Forwarded-Host", "app.example.com", "app.example.com")),
	}
	for name, opts := range bad {
		w := b.verify(opts...)
		if w.Code == 200 || w.Code < 400 {
			t.Errorf("%s: %d, want a refusal", name, w.Code)
			continue
		}
		// A 403: nginx's auth_request would turn a 400 into a 500.
		wantProblem(t, w, 403, gatehouse.CodeBadRequest)
	}
	// The same requests, well-formed, are allowed.
	wantAllowed(t, b.verify(traefikAuth("GET", "/app/public/x")...), "admin", "administrators")
	wantAllowed(t, b.verify(nginxAuth("GET", "/app/public/x")...), "admin", "administrators")
	wantAllowed(t, b.verify(with(nginxAuth("GET", "/app/public/x"), header("X-Forwarded-Method", "GET"), header("X-Forwarded-Uri", "/app/public/x"))...), "admin", "administrators")
	wantAllowed(t, b.verify(with(nginxAuth("GET", "/app/public/x"), header("X-Forwarded-Host", "APP.example.com"), header("X-Forwarded-Proto", "http"))...), "admin", "administrators")
	wantAllowed(t, b.verify(traefikAuth("GET", "/app/public/caf%C3%A9?q=a..b&r=%2F")...), "admin", "administrators")

	// A peer that is not a trusted proxy gets nothing, however good its
	// headers: forward auth from there is a misconfiguration.
	b.addr = "192.0.2.10:40000"
	wantProblem(t, b.do("GET", "/auth/verify", "", traefikAuth("GET", "/app/public/x")...), 403, gatehouse.CodePermissionDenied)
	b.addr = "127.0.0.1:40000"
	wantProblem(t, b.do("GET", "/auth/verify", "", nginxAuth("GET", "/app/x")...), 403, gatehouse.CodePermissionDenied)
}

// TestVerifyMalformedCookies: a session cookie that is not one gatehouse
// issued — malformed, oversized, quoted oddly, another session's hash —
// authenticates nobody (authentik, 2026: a malformed cookie gave 200).
func TestVerifyMalformedCookies(t *testing.T) {
	e := newEnv(t, withGateway(gatewayTable(t), nil))
	_, _ = e.loggedIn()
	for name, cookie := range map[string]string{
		"empty":              "gh_session=",
		"short":              "gh_session=abc",
		"not base64url":      "gh_session=" + strings.Repeat("+", 43),
		"padding bits set":   "gh_session=" + strings.Repeat("A", 42) + "B",
		"oversized":          "gh_session=" + strings.Repeat("A", 8000),
		"NUL":                "gh_session=" + strings.Repeat("A", 21) + "\x00" + strings.Repeat("A", 21),
		"unbalanced quote":   `gh_session="` + strings.Repeat("A", 43),
		"unknown token":      "gh_session=" + strings.Repeat("A", 43),
		"two unknown":        "gh_session=" + strings.Repeat("A", 43) + "; gh_session=" + strings.Repeat("B", 42) + "A",
		"name in other case": "GH_SESSION=" + strings.Repeat("A", 43),
	} {
		anon := e.browser()
		w := anon.verify(with(nginxAuth("GET", "/app/x"), header("Cookie", cookie))...)
		if w.Code != 401 {
			t.Errorf("%s: %d on an authenticated route, want 401", name, w.Code)
		}
		wantAllowed(t, anon.verify(with(nginxAuth("GET", "/app/public/x"), header("Cookie", cookie))...), "", "")
	}
}

// TestVerifyWithoutRoutes: with no route table, an authenticated user is
// required; the HTTPS-ness of Basic is the original request's.
func TestVerifyWithoutRoutes(t *testing.T) {
	e := newEnv(t, withGateway(nil, nil), func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
		h.BasicAuth.Enabled = true
	})
	wantProblem(t, e.browser().verify(traefikAuth("GET", "/anything")...), 401, gatehouse.CodeUnauthenticated)
	b, _ := e.loggedIn()
	wantAllowed(t, b.verify(traefikAuth("GET", "/anything")...), "admin", "administrators")

	anon := e.browser()
	basic := basicHeader("admin", adminPassword)
	wantProblem(t, anon.verify(with(traefikAuth("GET", "/x"), basic)...), 403, gatehouse.CodeInsecureBasicAuth)
	wantAllowed(t, anon.verify(with(traefikAuth("GET", "/x"), basic, header("X-Forwarded-Proto", "https"))...), "admin", "administrators")
	https := with(nginxAuth("GET", "/x"), header("X-Original-URL", "https://app.example.com/x"))
	wantAllowed(t, anon.verify(with(https, basic)...), "admin", "administrators")
	wantProblem(t, anon.verify(with(https, basicHeader("admin", "wrong password"))...), 401, gatehouse.CodeInvalidCredentials)

	// Over HTTPS the session cookie is the __Host- one: a session made over
	// HTTPS is found when the original request was HTTPS.
	s := e.browser()
	s.https = true
	if w := s.login("admin", adminPassword); w.Code != 200 || s.cookies["__Host-gh_session"] == nil {
		t.Fatalf("https login: %d %v", w.Code, s.cookies)
	}
	s.https = false
	wantAllowed(t, s.verify(https...), "admin", "administrators")
	wantProblem(t, s.verify(traefikAuth("GET", "/x")...), 401, gatehouse.CodeUnauthenticated)
}

// upstream is a tiny application behind the proxy that echoes what it got.
type upstream struct {
	*httptest.Server
	hits    atomic.Int64
	release chan struct{} // lets /app/stream finish
}

type echo struct {
	Method, Path, RawQuery, Host string
	Header                       http.Header
	Cookies                      []string
	Body                         string
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/app/stream", func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "one\n")
		w.(http.Flusher).Flush()
		select {
		case <-u.release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "two\n")
	})
	mux.HandleFunc("/app/slow", func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		select {
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/app/ws", func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "not an upgrade", 400)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Seen-User: %s\r\n\r\n", r.Header.Get("Remote-User"))
		brw.Flush()
		buf := make([]byte, 64)
		for {
			n, err := brw.Read(buf)
			if n > 0 {
				conn.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		e := echo{Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Host: r.Host, Header: r.Header, Body: string(body)}
		for _, c := range r.Cookies() {
			e.Cookies = append(e.Cookies, c.Name+"="+c.Value)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", "yes")
		json.NewEncoder(w).Encode(e)
	})
	u.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		select {
		case <-u.release:
		default:
			close(u.release)
		}
		u.Close()
	})
	return u
}

func (u *upstream) url(t *testing.T) *url.URL {
	t.Helper()
	p, err := url.Parse(u.URL)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// gatewayFront is gatehouse in proxy mode, served on a real listener.
type gatewayFront struct {
	t      *testing.T
	e      *env
	srv    *httptest.Server
	client *http.Client
}

func newGatewayFront(t *testing.T, up *url.URL, opts ...envOption) *gatewayFront {
	t.Helper()
	e := newEnv(t, append([]envOption{withGateway(gatewayTable(t), up)}, opts...)...)
	srv := httptest.NewServer(e.api)
	t.Cleanup(srv.Close)
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &gatewayFront{t: t, e: e, srv: srv, client: client}
}

func (g *gatewayFront) do(method, path, body string, h http.Header) (*http.Response, []byte) {
	g.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, g.srv.URL+path, rd)
	if err != nil {
		g.t.Fatal(err)
	}
	for k, v := range h {
		r.Header[k] = v
	}
	res, err := g.client.Do(r)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func (g *gatewayFront) echo(method, path, body string, h http.Header) (*http.Response, echo) {
	g.t.Helper()
	res, b := g.do(method, path, body, h)
	var e echo
	if res.StatusCode != 200 || res.Header.Get("X-Upstream") != "yes" {
		g.t.Fatalf("%s %s: %d %s, want the upstream's 200", method, path, res.StatusCode, b)
	}
	if err := json.Unmarshal(b, &e); err != nil {
		g.t.Fatal(err)
	}
	return res, e
}

// sessionOf logs name in through gatehouse's API and returns the Cookie
// header of its session and the CSRF token.
func (g *gatewayFront) sessionOf(name, pw string) (string, string) {
	g.t.Helper()
	b := g.e.browser()
	w := b.login(name, pw)
	if w.Code != 200 {
		g.t.Fatalf("login %s: %d %s", name, w.Code, w.Body)
	}
	var res struct{ CSRFToken string }
	decode(g.t, w, &res)
	return "gh_session=" + b.cookies["gh_session"].Value, res.CSRFToken
}

func wantGatewayProblem(t *testing.T, res *http.Response, body []byte, status int, code gatehouse.Code) {
	t.Helper()
	var p problemBody
	json.Unmarshal(body, &p)
	if res.StatusCode != status || res.Header.Get("Content-Type") != "application/problem+json" || p.Code != string(code) || p.Status != status || p.Detail == "" || !strings.HasPrefix(p.Type, "https://tools.ietf.org/html/") {
		t.Fatalf("got %d %s %s, want %d %s", res.StatusCode, res.Header.Get("Content-Type"), body, status, code)
	}
	if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("gatehouse's answer without its security headers: %v", res.Header)
	}
}

func TestProxyIdentityAndCredentials(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayFront(t, up.url(t))
	g.e.createUser("viewer", "viewer@example.com", pwOf("viewer"))
	cookie, _ := g.sessionOf("viewer", pwOf("viewer"))

	spoof := http.Header{
		"Remote-User":   {"root"},
		"Remote-Email":  {"root@example.com"},
		"Remote-Groups": {"administrators"},
		"Remote_user":   {"root"},
		"Remote-Extra":  {"x"},
	}
	// Anonymous on a public route: the spoofed identity never arrives.
	_, got := g.echo("GET", "/app/public/x?a=1", "", spoof)
	for k := range got.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "remote") {
			t.Errorf("upstream got %s: %v", k, got.Header[k])
		}
	}
	if got.Path != "/app/public/x" || got.RawQuery != "a=1" || got.Method != "GET" {
		t.Errorf("upstream got %+v", got)
	}

	// With a session: gatehouse's identity, and its cookie stays home
	// while the application's own cookies pass.
	h := spoof.Clone()
	h.Set("Cookie", "theme=dark; "+cookie+"; gh_pending=abc; gh_known=def; app_session=42")
	h.Set("X-Forwarded-For", "1.2.3.4")
	h.Set("X-Real-Ip", "1.2.3.4")
	_, got = g.echo("GET", "/app/page", "", h)
	if u := got.Header.Get("Remote-User"); u != "viewer" || got.Header.Get("Remote-Email") != "viewer@example.com" || got.Header.Get("Remote-Groups") != "" {
		t.Errorf("identity = %q %q %q", u, got.Header.Get("Remote-Email"), got.Header.Get("Remote-Groups"))
	}
	if len(got.Header.Values("Remote-User")) != 1 || got.Header.Get("Remote_user") != "" || got.Header.Get("Remote-Extra") != "" {
		t.Errorf("spoofed identity headers reached the upstream: %v", got.Header)
	}
	if strings.Join(got.Cookies, "; ") != "theme=dark; app_session=42" {
		t.Errorf("upstream cookies = %v", got.Cookies)
	}
	// Forwarding headers: the client's own are not believed (it is no
	// trusted proxy).
	if xff := got.Header.Values("X-Forwarded-For"); len(xff) != 1 || xff[0] != "127.0.0.1" || got.Header.Get("X-Real-Ip") != "127.0.0.1" {
		t.Errorf("X-Forwarded-For %v, X-Real-Ip %q", xff, got.Header.Get("X-Real-Ip"))
	}
	if got.Header.Get("X-Forwarded-Proto") != "http" || got.Header.Get("X-Forwarded-Host") == "" {
		t.Errorf("X-Forwarded-Proto %q, -Host %q", got.Header.Get("X-Forwarded-Proto"), got.Header.Get("X-Forwarded-Host"))
	}

	// A Bearer token gatehouse verified is not passed on.
	admin, adminCSRF := g.e.loggedIn()
	w := admin.do("POST", "/auth/tokens", `{"name":"ci"}`, header("X-CSRF-Token", adminCSRF))
	var tok struct{ Secret string }
	decode(t, w, &tok)
	_, got = g.echo("POST", "/app/things", `{"x":1}`, http.Header{"Authorization": {"Bearer " + tok.Secret}, "Content-Type": {"application/json"}})
	if got.Header.Get("Authorization") != "" || got.Header.Get("Remote-User") != "admin" || got.Header.Get("Remote-Groups") != "administrators" || got.Body != `{"x":1}` {
		t.Errorf("bearer: upstream got %+v", got)
	}
	// An Authorization gatehouse does not take (Basic is off) is the
	// application's own: passed on, and it authenticates nobody here.
	_, got = g.echo("GET", "/app/public/x", "", http.Header{"Authorization": {"Basic dXNlcjpwdw=="}})
	if got.Header.Get("Authorization") != "Basic dXNlcjpwdw==" || got.Header.Get("Remote-User") != "" {
		t.Errorf("foreign Basic: upstream got %+v", got.Header)
	}
	res, body := g.do("GET", "/app/page", "", http.Header{"Authorization": {"Basic dXNlcjpwdw=="}})
	wantGatewayProblem(t, res, body, 401, gatehouse.CodeUnauthenticated)

	// The upstream's answer is its own: none of gatehouse's page headers.
	res, _ = g.echo("GET", "/app/public/x", "", nil)
	if res.Header.Get("Content-Security-Policy") != "" || res.Header.Get("X-Frame-Options") != "" {
		t.Errorf("gatehouse's headers on a proxied answer: %v", res.Header)
	}
}

func basicValue(user, pw string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pw))
}

func TestProxyBasicStripped(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayFront(t, up.url(t), func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
		h.BasicAuth = httpapi.BasicAuth{Enabled: true, AllowInsecure: true}
	})
	basic := http.Header{"Authorization": {"Basic " + basicValue("admin", adminPassword)}, "Cookie": {"app=1"}}
	_, got := g.echo("GET", "/app/page", "", basic)
	if got.Header.Get("Authorization") != "" || got.Header.Get("Remote-User") != "admin" || strings.Join(got.Cookies, ";") != "app=1" {
		t.Errorf("basic: upstream got %v %v", got.Header, got.Cookies)
	}
	res, body := g.do("GET", "/app/public/x", "", http.Header{"Authorization": {"Basic " + basicValue("admin", "wrong")}})
	wantGatewayProblem(t, res, body, 401, gatehouse.CodeInvalidCredentials)
}

func TestProxyDecisions(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayFront(t, up.url(t))
	g.e.createUser("viewer", "viewer@example.com", pwOf("viewer"))
	cookie, csrfTok := g.sessionOf("viewer", pwOf("viewer"))
	sess := http.Header{"Cookie": {cookie}}

	res, body := g.do("GET", "/app/page", "", nil)
	wantGatewayProblem(t, res, body, 401, gatehouse.CodeUnauthenticated)
	res, body = g.do("GET", "/app/admin/x", "", sess)
	wantGatewayProblem(t, res, body, 403, gatehouse.CodePermissionDenied)
	res, body = g.do("GET", "/nowhere", "", sess)
	wantGatewayProblem(t, res, body, 403, gatehouse.CodePermissionDenied)

	// A browser that is not logged in goes to the login page, with the
	// path to come back to.
	res, _ = g.do("GET", "/app/page?tab=2", "", http.Header{"Accept": {"text/html"}})
	if res.StatusCode != 302 || res.Header.Get("Location") != "/auth/ui/login?rd="+url.QueryEscape("/app/page?tab=2") {
		t.Errorf("browser: %d %q", res.StatusCode, res.Header.Get("Location"))
	}

	// Unsafe methods with the session cookie need its CSRF token, and
	// must be same-origin.
	res, body = g.do("POST", "/app/x", "a=1", http.Header{"Cookie": {cookie}, "Content-Type": {"application/x-www-form-urlencoded"}})
	wantGatewayProblem(t, res, body, 403, gatehouse.CodeCSRFFailed)
	_, got := g.echo("POST", "/app/x", "a=1", http.Header{"Cookie": {cookie}, "X-CSRF-Token": {csrfTok}, "Content-Type": {"application/x-www-form-urlencoded"}})
	if got.Body != "a=1" || got.Header.Get("Remote-User") != "viewer" {
		t.Errorf("with token: %+v", got)
	}
	form := url.Values{"csrf_token": {csrfTok}, "note": {"kept"}}.Encode()
	_, got = g.echo("POST", "/app/x", form, http.Header{"Cookie": {cookie}, "Content-Type": {"application/x-www-form-urlencoded"}})
	if got.Body != form {
		t.Errorf("form body reached the upstream as %q", got.Body)
	}
	res, body = g.do("POST", "/app/x", "", http.Header{"Cookie": {cookie}, "X-CSRF-Token": {csrfTok}, "Sec-Fetch-Site": {"cross-site"}})
	wantGatewayProblem(t, res, body, 403, gatehouse.CodeCSRFFailed)
	res, body = g.do("DELETE", "/app/x", "", http.Header{"Cookie": {cookie}, "X-CSRF-Token": {csrfTok}, "Origin": {"http://evil.example"}})
	wantGatewayProblem(t, res, body, 403, gatehouse.CodeCSRFFailed)
	// A public route needs no credentials for an unsafe method, and a
	// cross-site one without gatehouse's credentials is the application's
	// business.
	g.echo("POST", "/app/public/upload", "data", http.Header{"Sec-Fetch-Site": {"cross-site"}})

	// Malformed paths are refused before anything reaches the upstream.
	before := up.hits.Load()
	addr := strings.TrimPrefix(g.srv.URL, "http://")
	for _, p := range []string{
		"/app/public/../admin/x", "/app/public/%2e%2e/admin/x", "/app/public%2F..%2Fadmin/x",
		"/app/public/..;/admin/x", "/app/public/x%00", "/app/public//x", "/app/public/%5Cx",
		"/app/public/./x", "/app/public/%c0%ae%c0%ae/admin/x", "/app/public/%ff",
	} {
		if status := rawStatus(t, addr, "GET "+p+" HTTP/1.1\r\nHost: app.example.com\r\n\r\n"); status != 400 {
			t.Errorf("GET %s: %d, want 400", p, status)
		}
	}
	if up.hits.Load() != before {
		t.Error("a malformed path reached the upstream")
	}

	// Under the base path: gatehouse's own endpoints stay gatehouse's (a
	// served path with another method is its 405); the rest is proxied.
	res, body = g.do("GET", "/auth/session", "", sess)
	if res.StatusCode != 200 || res.Header.Get("X-Upstream") != "" || !strings.Contains(string(body), "csrfToken") {
		t.Errorf("GET /auth/session: %d %s", res.StatusCode, body)
	}
	res, body = g.do("PUT", "/auth/session", "", sess)
	wantGatewayProblem(t, res, body, 405, gatehouse.CodeMethodNotAllowed)
	_, got = g.echo("GET", "/auth/ext/data", "", sess)
	if got.Path != "/auth/ext/data" || got.Header.Get("Remote-User") != "viewer" {
		t.Errorf("proxied under BASE: %+v", got)
	}
	res, body = g.do("GET", "/auth/other", "", sess)
	wantGatewayProblem(t, res, body, 403, gatehouse.CodePermissionDenied)
	res, _ = g.do("GET", "/auth/ui/login", "", nil)
	if res.StatusCode != 200 || res.Header.Get("X-Upstream") != "" {
		t.Errorf("login page: %d", res.StatusCode)
	}
}

// rawStatus sends a raw HTTP/1.1 request (so nothing cleans its path) and
// returns the status.
func rawStatus(t *testing.T, addr, req string) int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, req)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestProxyUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	ln.Close()
	g := newGatewayFront(t, dead)
	start := time.Now()
	res, body := g.do("GET", "/app/public/x", "", nil)
	wantGatewayProblem(t, res, body, 502, "bad_gateway")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("502 took %v", d)
	}
}

func TestProxyTimeout(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayFront(t, up.url(t), func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
		h.ProxyTimeout = 300 * time.Millisecond
	})
	res, body := g.do("GET", "/app/public/slow", "", nil)
	// /app/public/slow is not the slow handler: the echo answers at once.
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	g.e.createUser("viewer", "viewer@example.com", pwOf("viewer"))
	cookie, _ := g.sessionOf("viewer", pwOf("viewer"))
	start := time.Now()
	res, body = g.do("GET", "/app/slow", "", http.Header{"Cookie": {cookie}})
	wantGatewayProblem(t, res, body, 504, "gateway_timeout")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("504 took %v", d)
	}
}

func TestProxyStreaming(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayFront(t, up.url(t))
	g.e.createUser("viewer", "viewer@example.com", pwOf("viewer"))
	cookie, _ := g.sessionOf("viewer", pwOf("viewer"))
	r, _ := http.NewRequest("GET", g.srv.URL+"/app/stream", nil)
	r.Header.Set("Cookie", cookie)
	res, err := g.client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	// The first line arrives while the upstream is still holding the rest.
	line, err := br.ReadString('\n')
	if err != nil || line != "one\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	close(up.release)
	rest, _ := io.ReadAll(br)
	if string(rest) != "two\n" {
		t.Errorf("rest %q", rest)
	}
}

func TestProxyWebSocket(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayFront(t, up.url(t))
	g.e.createUser("viewer", "viewer@example.com", pwOf("viewer"))
	cookie, _ := g.sessionOf("viewer", pwOf("viewer"))
	addr := strings.TrimPrefix(g.srv.URL, "http://")
	handshake := "GET /app/ws HTTP/1.1\r\nHost: app.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nRemote-User: root\r\n"

	// Without a session the upgrade is refused.
	if status := rawStatus(t, addr, handshake+"\r\n"); status != 401 {
		t.Errorf("anonymous upgrade: %d", status)
	}

	// A cross-origin page cannot open one with the user's session
	// (cross-site WebSocket hijacking).
	for _, h := range []string{"Origin: http://evil.example\r\n", "Sec-Fetch-Site: cross-site\r\n", "Sec-Fetch-Site: same-site\r\n"} {
		if status := rawStatus(t, addr, handshake+h+"Cookie: "+cookie+"\r\n\r\n"); status != 403 {
			t.Errorf("cross-origin upgrade (%q): %d", h, status)
		}
	}

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, handshake+"Origin: http://app.example.com\r\nCookie: "+cookie+"\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 101 || res.Header.Get("X-Seen-User") != "viewer" {
		t.Fatalf("upgrade: %d %v", res.StatusCode, res.Header)
	}
	for _, msg := range []string{"ping", "pong and more"} {
		io.WriteString(conn, msg)
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != msg {
			t.Fatalf("round trip %q: %q %v", msg, buf, err)
		}
	}
}

func TestGatewayConfig(t *testing.T) {
	for _, raw := range []string{"ftp://x", "http://", "http://u:p@x", "http://x/?q=1", "x:3000", "/just/a/path", "http://x/#f"} {
		if _, err := httpapi.ParseUpstream(raw); err == nil {
			t.Errorf("ParseUpstream(%q) accepted", raw)
		}
	}
	for _, raw := range []string{"http://127.0.0.1:3000", "https://app.internal/prefix"} {
		if _, err := httpapi.ParseUpstream(raw); err != nil {
			t.Errorf("ParseUpstream(%q): %v", raw, err)
		}
	}
	for _, d := range []string{"", "https://example.com", "*.example.com", "example.com:443", "exa mple.com", "example.com/x", "a..b"} {
		if _, err := httpapi.CleanRedirectDomain(d); err == nil {
			t.Errorf("CleanRedirectDomain(%q) accepted", d)
		}
	}
	if d, err := httpapi.CleanRedirectDomain(" .Example.COM. "); err != nil || d != "example.com" {
		t.Errorf("CleanRedirectDomain = %q, %v", d, err)
	}
	ctx := httpapi.Config{RedirectDomains: []string{"https://x"}}
	if _, err := httpapi.New(ctx, httpapi.Deps{}); err == nil {
		t.Error("New accepted a bad redirect domain")
	}
	if _, err := httpapi.New(httpapi.Config{Upstream: &url.URL{Scheme: "ftp", Host: "x"}}, httpapi.Deps{}); err == nil {
		t.Error("New accepted an ftp upstream")
	}
}

// TestProxyStripsEveryPrefixOfItsCookies: the reverse proxy keeps
// gatehouse's cookies from the application under every name they may have
// — with __Host- or __Secure-, in any letter case — since a browser still
// sends the ones set before session.cookie_domain was turned on or off,
// and such a cookie may name a live session.
func TestProxyStripsEveryPrefixOfItsCookies(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayFront(t, up.url(t))
	cookie := "__Host-gh_session=a; __Secure-gh_session=b; gh_session=c; __host-GH_SESSION=d; " +
		"__Host-gh_known=e; __Secure-gh_pending=f; app=1; __Host-app=2"
	_, e := g.echo("GET", "/app/public/x", "", http.Header{"Cookie": {cookie}})
	if got := strings.Join(e.Cookies, "; "); got != "app=1; __Host-app=2" {
		t.Errorf("the upstream got the cookies %q, want only the application's", got)
	}
}
