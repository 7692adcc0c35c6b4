package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/session"
)

// hostTable limits /admin to admin.example.com and makes everything else
// on *.example.com need a user.
func hostTable(t *testing.T) *policy.Table {
	t.Helper()
	table, err := policy.Compile([]policy.Rule{
		{Path: "/admin/**", Hosts: []string{"admin.example.com"}, Access: policy.Authenticated},
		{Path: "/admin/**", Access: policy.Deny},
		{Path: "/auth/management/**", Hosts: []string{"app.example.com"}, Access: policy.Deny},
		{Path: "/**", Hosts: []string{"*.example.com"}, Access: policy.Public},
	})
	if err != nil {
		t.Fatal(err)
	}
	return table
}

func withCookieDomain(d string) envOption {
	return func(_ *httpapi.Config, _ *account.Config, s *session.Config) { s.CookieDomain = d }
}

func withHostRoutes(table *policy.Table) envOption {
	return func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
		h.Routes = table
		h.TrustedProxies = []netipPrefix{mustPrefix("10.0.0.0/8")}
	}
}

// TestProtectHosts: Protect decides on the host the client asked for:
// the Host header, or X-Forwarded-Host from a trusted proxy only.
func TestProtectHosts(t *testing.T) {
	e := newEnv(t, withHostRoutes(hostTable(t)))
	b, _ := e.loggedIn()
	h := e.api.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	serve := func(b *browser, host, peer string, hdr ...string) int {
		t.Helper()
		r := newRequest(b, "GET", "/admin/panel")
		r.Host = host
		r.RemoteAddr = peer
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	const client, proxy = "192.0.2.10:40000", "10.0.0.2:5000"
	for _, c := range []struct {
		name       string
		b          *browser
		host, peer string
		hdr        []string
		want       int
	}{
		{"admin host, user", b, "admin.example.com", client, nil, 204},
		{"admin host with port and case", b, "ADMIN.Example.com:8443", client, nil, 204},
		{"admin host, anonymous", e.browser(), "admin.example.com", client, nil, 401},
		{"other host", b, "app.example.com", client, nil, 403},
		{"untrusted X-Forwarded-Host ignored", b, "app.example.com", client, []string{"X-Forwarded-Host", "admin.example.com"}, 403},
		{"trusted X-Forwarded-Host believed", b, "gatehouse.internal", proxy, []string{"X-Forwarded-Host", "admin.example.com"}, 204},
		{"trusted proxy: last X-Forwarded-Host entry", b, "gatehouse.internal", proxy, []string{"X-Forwarded-Host", "admin.example.com, app.example.com"}, 403},
		{"trusted proxy, no X-Forwarded-Host: Host", b, "admin.example.com", proxy, nil, 204},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := serve(c.b, c.host, c.peer, c.hdr...); got != c.want {
				t.Errorf("status %d, want %d", got, c.want)
			}
		})
	}
}

// TestOwnEndpointHosts: a host rule gates gatehouse's own management API.
func TestOwnEndpointHosts(t *testing.T) {
	e := newEnv(t, withHostRoutes(hostTable(t)))
	b, _ := e.loggedIn()
	users := "/auth/management/api/v1/users"
	if w := b.do("GET", users, "", func(r *http.Request) { r.Host = "admin.example.com" }); w.Code != 200 {
		t.Errorf("admin.example.com: %d %s", w.Code, w.Body)
	}
	wantProblem(t, b.do("GET", users, "", func(r *http.Request) { r.Host = "App.Example.com" }), 403, gatehouse.CodePermissionDenied)
}

// TestVerifyHosts: forward auth decides on the original request's host,
// from nginx's X-Original-URL or Traefik's X-Forwarded-Host.
func TestVerifyHosts(t *testing.T) {
	e := newEnv(t, withGateway(hostTable(t), nil))
	b, _ := e.loggedIn()
	nginx := func(host string) []reqOpt {
		return with(nginxAuth("GET", "/admin/x"), header("X-Original-URL", "http://"+host+"/admin/x"))
	}
	traefik := func(host string) []reqOpt {
		return with(traefikAuth("GET", "/admin/x"), header("X-Forwarded-Host", host))
	}
	wantAllowed(t, b.verify(nginx("admin.example.com")...), "admin", "administrators")
	wantAllowed(t, b.verify(traefik("admin.example.com:443")...), "admin", "administrators")
	wantProblem(t, b.verify(nginx("app.example.com")...), 403, gatehouse.CodePermissionDenied)
	wantProblem(t, b.verify(traefik("app.example.com")...), 403, gatehouse.CodePermissionDenied)
	wantAllowed(t, e.browser().verify(with(nginxAuth("GET", "/x"), header("X-Original-URL", "http://www.example.com/x"))...), "", "")
	wantProblem(t, e.browser().verify(with(nginxAuth("GET", "/x"), header("X-Original-URL", "http://example.com/x"))...), 403, gatehouse.CodePermissionDenied)
}

// TestProxyHosts: the reverse proxy decides on the Host the client sent.
func TestProxyHosts(t *testing.T) {
	up := newUpstream(t)
	u, _ := url.Parse(up.URL)
	e := newEnv(t, withGateway(hostTable(t), u))
	b, _ := e.loggedIn()
	get := func(b *browser, host string) int {
		t.Helper()
		return b.do("GET", "/admin/x", "", func(r *http.Request) { r.Host = host }).Code
	}
	if got := get(b, "admin.example.com"); got != 200 {
		t.Errorf("admin host: %d", got)
	}
	if got := get(b, "app.example.com"); got != 403 {
		t.Errorf("app host: %d", got)
	}
	if got := get(e.browser(), "admin.example.com"); got != 401 {
		t.Errorf("admin host, anonymous: %d", got)
	}
}

// TestCookieDomain: with session.cookie_domain the session and XSRF-TOKEN
// cookies get its Domain (and over HTTPS the __Secure- name); the login's
// other cookies stay host-only; logout clears both with the same Domain;
// and only the name the configuration implies is read.
func TestCookieDomain(t *testing.T) {
	for _, c := range []struct {
		name, domain string
		https        bool
		session      string
	}{
		{"host-only over HTTP", "", false, "gh_session"},
		{"host-only over HTTPS", "", true, "__Host-gh_session"},
		{"domain over HTTP", "example.com", false, "gh_session"},
		{"domain over HTTPS", "example.com", true, "__Secure-gh_session"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, withCookieDomain(c.domain))
			b := e.browser()
			b.https = c.https
			w := b.login("admin", adminPassword)
			if w.Code != 200 {
				t.Fatalf("login: %d %s", w.Code, w.Body)
			}
			got := map[string]*http.Cookie{}
			for _, ck := range w.Result().Cookies() {
				got[ck.Name] = ck
			}
			sc, xc := got[c.session], got["XSRF-TOKEN"]
			if sc == nil || xc == nil {
				t.Fatalf("login set %v, want %s and XSRF-TOKEN", w.Result().Header.Values("Set-Cookie"), c.session)
			}
			for _, ck := range []*http.Cookie{sc, xc} {
				if ck.Domain != c.domain || ck.Secure != c.https || ck.Path != "/" {
					t.Errorf("%s: Domain=%q Secure=%v Path=%q, want Domain=%q Secure=%v Path=/", ck.Name, ck.Domain, ck.Secure, ck.Path, c.domain, c.https)
				}
			}
			if !sc.HttpOnly {
				t.Errorf("%s is not HttpOnly", sc.Name)
			}
			for name, ck := range got {
				if name != c.session && name != "XSRF-TOKEN" && ck.Domain != "" {
					t.Errorf("%s has Domain=%s: only the session and XSRF-TOKEN cookies are shared", name, ck.Domain)
				}
			}
			if w := b.do("GET", "/auth/session", ""); w.Code != 200 {
				t.Fatalf("GET /auth/session with the cookie: %d", w.Code)
			}

			// A cookie of another name than the configuration implies is
			// not a session: over HTTPS with a domain, not __Host-, and
			// without one, not __Secure-.
			other := map[string]string{"__Host-gh_session": "__Secure-gh_session", "__Secure-gh_session": "__Host-gh_session"}[c.session]
			if other != "" {
				wrong := e.browser()
				wrong.https = true
				wrong.cookies[other] = &http.Cookie{Name: other, Value: sc.Value}
				wantProblem(t, wrong.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
			}

			var tok struct{ CSRFToken string }
			decode(t, b.do("GET", "/auth/csrf", ""), &tok)
			w = b.do("DELETE", "/auth/session", "", header("X-CSRF-Token", tok.CSRFToken))
			if w.Code != 204 {
				t.Fatalf("logout: %d %s", w.Code, w.Body)
			}
			cleared := map[string]*http.Cookie{}
			for _, ck := range w.Result().Cookies() {
				cleared[ck.Name] = ck
			}
			for _, name := range []string{c.session, "XSRF-TOKEN"} {
				ck := cleared[name]
				if ck == nil || ck.MaxAge >= 0 || ck.Domain != c.domain {
					t.Errorf("logout: %s cleared as %v, want MaxAge<0 and Domain=%q", name, ck, c.domain)
				}
			}
		})
	}
}

// TestRedirectDomainsFollowCookieDomain: without redirect_domains, rd may
// point to the cookie domain and its subdomains; a list replaces that.
func TestRedirectDomainsFollowCookieDomain(t *testing.T) {
	nav := func(host string) []reqOpt {
		return with(nginxAuth("GET", "/x"), header("X-Original-URL", "https://"+host+"/x"), header("Accept", "text/html"))
	}
	rdOf := func(t *testing.T, w *httptest.ResponseRecorder) string {
		t.Helper()
		// nginx's auth_request gets a 401 naming the login page.
		if w.Code != http.StatusUnauthorized || w.Header().Get("Location") == "" {
			t.Fatalf("status %d, Location %q; want 401 with the login page", w.Code, w.Header().Get("Location"))
		}
		u, err := url.Parse(w.Header().Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		return u.Query().Get("rd")
	}
	authed, err := policy.Compile([]policy.Rule{{Path: "/**", Access: policy.Authenticated}})
	if err != nil {
		t.Fatal(err)
	}
	gw := func(domains ...string) envOption {
		return func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
			h.Routes = authed
			h.TrustedProxies = []netipPrefix{mustPrefix("10.0.0.0/8")}
			h.RedirectDomains = domains
		}
	}

	e := newEnv(t, gw(), withCookieDomain("example.test"))
	for host, want := range map[string]bool{"a.example.test": true, "example.test": true, "x.y.example.test": true, "evil.test": false, "example.test.evil.com": false} {
		if rd := rdOf(t, e.browser().verify(nav(host)...)); (rd != "") != want || (want && rd != "https://"+host+"/x") {
			t.Errorf("cookie domain example.test, host %s: rd=%q, want allowed=%v", host, rd, want)
		}
	}

	e = newEnv(t, gw("example.org"), withCookieDomain("example.test"))
	if rd := rdOf(t, e.browser().verify(nav("a.example.test")...)); rd != "" {
		t.Errorf("redirect_domains example.org: rd=%q for a.example.test, want none", rd)
	}
	if rd := rdOf(t, e.browser().verify(nav("www.example.org")...)); rd == "" {
		t.Error("redirect_domains example.org: no rd for www.example.org")
	}

	e = newEnv(t, gw())
	if rd := rdOf(t, e.browser().verify(nav("a.example.test")...)); rd != "" {
		t.Errorf("no cookie domain, no redirect_domains: rd=%q", rd)
	}
	if !strings.HasPrefix(e.browser().verify(nav("a.example.test")...).Header().Get("Location"), "/auth/ui/login") {
		t.Error("Location is not the login page")
	}
}

// TestExplainHost: GET …/policy/explain takes the host as a real request
// has it.
func TestExplainHost(t *testing.T) {
	e := newEnv(t, withHostRoutes(hostTable(t)))
	b, _ := e.loggedIn()
	explain := func(q string) *httptest.ResponseRecorder {
		return b.do("GET", "/auth/management/api/v1/policy/explain?method=GET&path=/admin/x"+q, "")
	}
	for q, want := range map[string]int{"&host=ADMIN.example.com:8443": 0, "&host=app.example.com": 1, "": 1} {
		w := explain(q)
		var out struct {
			Host string
			Rule *struct{ Index int }
		}
		decode(t, w, &out)
		if w.Code != 200 || out.Rule == nil || out.Rule.Index != want {
			t.Errorf("explain%s: %d %s, want rule %d", q, w.Code, w.Body, want)
		}
		if out.Host != strings.TrimPrefix(q, "&host=") {
			t.Errorf("explain%s: host %q", q, out.Host)
		}
	}
	wantProblem(t, explain("&host=https://admin.example.com/"), 422, gatehouse.CodeValidation)
}

// TestHostRulesFailClosed: under a table with host rules, a request that
// names no host, or one no rule could name, is refused as malformed — it
// must not fall through a rule for a host to a later, more open rule.
func TestHostRulesFailClosed(t *testing.T) {
	table, err := policy.Compile([]policy.Rule{
		{Path: "/**", Hosts: []string{"internal.example.com"}, Access: policy.Deny},
		{Path: "/**", Access: policy.Public},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("verify", func(t *testing.T) {
		e := newEnv(t, withGateway(table, nil))
		anon := e.browser()
		// No host at all: nginx without X-Original-URL, Traefik without
		// X-Forwarded-Host.
		wantProblem(t, anon.verify(header("X-Original-Method", "GET"), header("X-Original-URI", "/x"), header("X-Forwarded-For", "192.0.2.1")), 403, gatehouse.CodeBadRequest)
		wantProblem(t, anon.verify(header("X-Forwarded-Method", "GET"), header("X-Forwarded-Uri", "/x"), header("X-Forwarded-Proto", "http"), header("X-Forwarded-For", "192.0.2.1")), 403, gatehouse.CodeBadRequest)
		wantProblem(t, anon.verify(with(traefikAuth("GET", "/x"), header("X-Forwarded-Host", "internal.example.com.."))...), 403, gatehouse.CodeBadRequest)
		wantProblem(t, anon.verify(with(traefikAuth("GET", "/x"), header("X-Forwarded-Host", "internal.example.com"))...), 403, gatehouse.CodePermissionDenied)
		wantAllowed(t, anon.verify(with(traefikAuth("GET", "/x"), header("X-Forwarded-Host", "www.example.com"))...), "", "")
	})
	t.Run("protect", func(t *testing.T) {
		e := newEnv(t, withHostRoutes(table))
		h := e.api.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		for host, want := range map[string]int{"": 400, "internal.example.com..": 400, ".internal.example.com": 400, "internal.example.com.": 403, "www.example.com": 200} {
			r := newRequest(e.browser(), "GET", "/x")
			r.Host = host
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != want {
				t.Errorf("Host %q: %d, want %d", host, w.Code, want)
			}
		}
	})
	t.Run("proxy", func(t *testing.T) {
		up := newUpstream(t)
		g := newGatewayFront(t, up.url(t), withGateway(table, up.url(t)))
		// HTTP/1.0 may leave out Host.
		if got := rawStatus(t, g.srv.Listener.Addr().String(), "GET /x HTTP/1.0\r\n\r\n"); got != 400 {
			t.Errorf("HTTP/1.0 without Host: %d, want 400", got)
		}
		if got := rawStatus(t, g.srv.Listener.Addr().String(), "GET /x HTTP/1.1\r\nHost: internal.example.com\r\n\r\n"); got != 403 {
			t.Errorf("the internal host: %d, want 403", got)
		}
	})
}
