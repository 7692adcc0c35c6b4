package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// corsGatehouseConfig is gatehouse behind nginx for TestNginxCORS: a front
// end on https://app.example.com calls the two cors: true routes.
const corsGatehouseConfig = `trusted_proxies: [127.0.0.1]
cors:
  allowed_origins: [https://app.example.com]
  allow_credentials: true
  exposed_headers: [Retry-After]
  max_age: 10m
routes:
  - path: /api/servers/{id}
    methods: [PATCH, DELETE]
    access: authenticated
    cors: true
  - path: /api/dashboard
    access: authenticated
    cors: true
  - path: /api/**
    access: authenticated
  - path: /**
    access: public
`

// TestNginxCORS runs examples/gateway/nginx.conf with its "#cors" lines
// uncommented, as its comment tells: preflights to cors: true routes are answered by gatehouse
// without a session and never reach the application; the answers carry
// gatehouse's CORS headers and not the application's; other origins and
// other routes get none.
func TestNginxCORS(t *testing.T) {
	bin := needBinary(t, "nginx")
	var hits atomic.Int64
	appURL := startCORSApp(t, &hits)
	gh := startCORSGatehouse(t)
	addr := "127.0.0.1:" + freePort(t)
	startNginx(t, bin, addr, exampleFile(t, "nginx.conf",
		"#cors ", "",
		"listen 80;", "listen "+addr+";",
		"127.0.0.1:8080", gh.addr,
		"127.0.0.1:3000", appURL.Host))
	corsWalk(t, "http://"+addr, &hits)
}

// startCORSApp starts the application of the CORS walks: it counts its
// requests in hits and sets CORS headers of its own, which must not pass.
func startCORSApp(t *testing.T, hits *atomic.Int64) *url.URL {
	t.Helper()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Methods", "GET, TRACE")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"app":"duplistatus"}`)
	}))
	t.Cleanup(app.Close)
	u, _ := url.Parse(app.URL)
	return u
}

// startCORSGatehouse starts gatehouse with corsGatehouseConfig and user ada.
func startCORSGatehouse(t *testing.T) *served {
	t.Helper()
	dir := t.TempDir()
	createUser(t, dir+"/data", "ada", adminPassword)
	return startServe(t, nil, "--config", writeFile(t, dir, "gatehouse.yaml", corsGatehouseConfig), "--addr", "127.0.0.1:0", "--data", dir+"/data")
}

// corsWalk is what a front end on https://app.example.com does through the
// proxy at front, and what another origin gets; hits counts the
// application's requests.
func corsWalk(t *testing.T, front string, hits *atomic.Int64) {
	t.Helper()
	const origin = "https://app.example.com"
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var cookies []*http.Cookie
	do := func(method, path, body string, h map[string]string) (*http.Response, string) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		r, err := http.NewRequest(method, front+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		for k, v := range h {
			r.Header.Set(k, v)
		}
		for _, ck := range cookies {
			r.AddCookie(ck)
		}
		res, err := c.Do(r)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	preflight := func(from, method, path string) (*http.Response, string) {
		t.Helper()
		return do("OPTIONS", path, "", map[string]string{"Origin": from, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": "content-type,x-csrf-token"})
	}
	wantACAO := func(what string, res *http.Response, want string) {
		t.Helper()
		got := res.Header.Values("Access-Control-Allow-Origin")
		switch {
		case want == "" && len(got) > 0:
			t.Errorf("%s: Access-Control-Allow-Origin %q, want none", what, got)
		case want != "" && (len(got) != 1 || got[0] != want):
			t.Errorf("%s: Access-Control-Allow-Origin %q, want only %q", what, got, want)
		}
		if want != "" && res.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("%s: Access-Control-Allow-Credentials %q", what, res.Header.Values("Access-Control-Allow-Credentials"))
		}
	}

	// Preflights to cors: true routes: gatehouse's 204, no session.
	for _, p := range []struct{ method, path string }{{"PATCH", "/api/servers/1"}, {"GET", "/api/dashboard"}} {
		res, body := preflight(origin, p.method, p.path)
		if res.StatusCode != 204 {
			t.Fatalf("preflight %s %s: %d %s", p.method, p.path, res.StatusCode, body)
		}
		wantACAO("preflight "+p.path, res, origin)
		if got := res.Header.Get("Access-Control-Allow-Methods"); got != p.method {
			t.Errorf("preflight %s: Access-Control-Allow-Methods %q", p.path, got)
		}
		if got := res.Header.Get("Access-Control-Allow-Headers"); got != "content-type,x-csrf-token" {
			t.Errorf("preflight %s: Access-Control-Allow-Headers %q", p.path, got)
		}
		if got := res.Header.Get("Access-Control-Max-Age"); got != "600" {
			t.Errorf("preflight %s: Access-Control-Max-Age %q", p.path, got)
		}
	}
	// Another origin, a route without cors: true, a method its rule does
	// not cover: no 2xx with CORS headers, so the browser stops there.
	for _, p := range []struct{ from, method, path string }{
		{"https://evil.example", "PATCH", "/api/servers/1"},
		{origin, "GET", "/api/other"},
		{origin, "GET", "/api/servers/1"},
	} {
		res, _ := preflight(p.from, p.method, p.path)
		if res.StatusCode < 400 {
			t.Errorf("preflight %s %s from %s: %d, want a refusal", p.method, p.path, p.from, res.StatusCode)
		}
		wantACAO("preflight "+p.path+" from "+p.from, res, "")
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d preflights reached the application", n)
	}

	// Log in from the front end's origin (gatehouse's own endpoint).
	res, body := do("POST", "/auth/session", `{"username":"ada","password":"`+adminPassword+`"}`, map[string]string{"Origin": origin})
	if res.StatusCode != 200 {
		t.Fatalf("login from %s: %d %s", origin, res.StatusCode, body)
	}
	wantACAO("login", res, origin)
	cookies = res.Cookies()
	var login struct{ CSRFToken string }
	if err := json.Unmarshal([]byte(body), &login); err != nil || login.CSRFToken == "" {
		t.Fatalf("login answer %s: %v", body, err)
	}

	// The protected PATCH: the application's answer, gatehouse's CORS
	// headers only.
	res, body = do("PATCH", "/api/servers/1", `{"name":"x"}`, map[string]string{"Origin": origin, "X-CSRF-Token": login.CSRFToken})
	if res.StatusCode != 200 || !strings.Contains(body, "duplistatus") {
		t.Fatalf("PATCH with the token: %d %s", res.StatusCode, body)
	}
	wantACAO("PATCH", res, origin)
	if got := res.Header.Get("Access-Control-Allow-Methods"); got != "" {
		t.Errorf("PATCH: the application's Access-Control-Allow-Methods %q came through", got)
	}
	if got := res.Header.Get("Access-Control-Expose-Headers"); got != "Retry-After" {
		t.Errorf("PATCH: Access-Control-Expose-Headers %q", got)
	}
	// Refusals are readable by the front end: without the token, and
	// without a session.
	res, body = do("PATCH", "/api/servers/1", `{"name":"x"}`, map[string]string{"Origin": origin})
	if res.StatusCode != 403 || !strings.Contains(body, "csrf_failed") {
		t.Fatalf("PATCH without the token: %d %s", res.StatusCode, body)
	}
	wantACAO("PATCH without the token", res, origin)
	saved := cookies
	cookies = nil
	res, _ = do("GET", "/api/dashboard", "", map[string]string{"Origin": origin})
	if res.StatusCode != 401 {
		t.Fatalf("GET /api/dashboard without a session: %d", res.StatusCode)
	}
	wantACAO("401", res, origin)
	cookies = saved

	// Another origin, or a route without cors: true: no CORS headers,
	// not even the application's.
	res, _ = do("GET", "/api/dashboard", "", map[string]string{"Origin": "https://evil.example"})
	if res.StatusCode != 200 {
		t.Fatalf("GET /api/dashboard from another origin: %d", res.StatusCode)
	}
	wantACAO("another origin", res, "")
	res, _ = do("GET", "/api/other", "", map[string]string{"Origin": origin})
	if res.StatusCode != 200 {
		t.Fatalf("GET /api/other: %d", res.StatusCode)
	}
	wantACAO("a route without cors: true", res, "")
}

// TestCaddyCORS runs examples/gateway/Caddyfile with its "#cors" lines
// uncommented, as its comment tells: the same walk as TestNginxCORS.
func TestCaddyCORS(t *testing.T) {
	bin := needBinary(t, "caddy")
	var hits atomic.Int64
	appURL := startCORSApp(t, &hits)
	gh := startCORSGatehouse(t)
	dir := t.TempDir()
	port := freePort(t)
	conf := writeFile(t, dir, "Caddyfile", "{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n}\n"+
		exampleFile(t, "Caddyfile",
			"#cors ", "",
			"admin.example.com {", "http://127.0.0.1:"+port+" {",
			"127.0.0.1:8080", gh.addr,
			"127.0.0.1:3000", appURL.Host))
	addr := "127.0.0.1:" + port
	startProxyProcess(t, addr, caddyCommand(bin, dir, conf))
	corsWalk(t, "http://"+addr, &hits)
}
