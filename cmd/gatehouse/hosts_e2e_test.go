package main

// End-to-end test of one login across subdomains (session.cookie_domain)
// and of rules limited to hosts, through real nginx serving two host
// names with forward auth to gatehouse (examples/gateway/nginx.conf).

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/publicsuffix"
)

// TestNginxHostsCookieDomain: nginx answers a.example.test and
// b.example.test; gatehouse has cookie_domain example.test and a rule for
// a.example.test alone. A login made through a is valid on b; the rule
// allows on a and not on b; a browser sent to log in from b may come back
// (rd); and logging out through b ends the login on both.
func TestNginxHostsCookieDomain(t *testing.T) {
	bin := needBinary(t, "nginx")
	up := newRecordingUpstream(t)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	createUser(t, dataDir, "ada", adminPassword)
	cfg := writeFile(t, dir, "gatehouse.yaml", `trusted_proxies: [127.0.0.1]
session:
  cookie_domain: example.test
routes:
  - path: /app/a-only/**
    hosts: [a.example.test]
    access: authenticated
  - path: /app/a-only/**
    access: deny
  - path: /app/**
    access: authenticated
  - path: /**
    access: public
`)
	gh := startServe(t, nil, "--config", cfg, "--addr", "127.0.0.1:0", "--data", dataDir)
	addr := "127.0.0.1:" + freePort(t)
	startNginx(t, bin, addr, exampleFile(t, "nginx.conf",
		"listen 80;", "listen "+addr+";",
		"server_name admin.example.com;", "server_name a.example.test b.example.test;",
		"127.0.0.1:8080", gh.addr,
		"127.0.0.1:3000", "127.0.0.1:"+up.port()))

	// A browser-like client: every host name reaches nginx, cookies are
	// kept per domain (with the public suffix list, as browsers do).
	jar, err := cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{
		Jar:     jar,
		Timeout: 20 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	_, port, _ := net.SplitHostPort(addr)
	a, b := "http://a.example.test:"+port, "http://b.example.test:"+port
	do := func(method, u, body string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, u, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, u, err)
		}
		defer res.Body.Close()
		got, _ := io.ReadAll(res.Body)
		return res, string(got)
	}
	want := func(method, u string, status int, hdr ...string) *http.Response {
		t.Helper()
		res, body := do(method, u, "", hdr...)
		if res.StatusCode != status {
			t.Fatalf("%s %s: %d, want %d: %s", method, u, res.StatusCode, status, body)
		}
		return res
	}
	cookieOn := func(site, name string) *http.Cookie {
		u, _ := url.Parse(site)
		for _, ck := range jar.Cookies(u) {
			if ck.Name == name {
				return ck
			}
		}
		return nil
	}

	want("GET", b+"/app/x", 401)
	// A browser on b is sent to the login page with rd back to b: the
	// cookie domain is where rd may point when redirect_domains is unset.
	res := want("GET", b+"/app/dashboard?tab=1", 302, "Accept", "text/html")
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || loc.Path != "/auth/ui/login" || loc.Query().Get("rd") != b+"/app/dashboard?tab=1" {
		t.Errorf("login redirect from b = %q, want the login page with rd %s/app/dashboard?tab=1", res.Header.Get("Location"), b)
	}

	// Log in through a.
	res, body := do("POST", a+"/auth/session", `{"username":"ada","password":"`+adminPassword+`"}`)
	if res.StatusCode != 200 {
		t.Fatalf("login via a: %d %s", res.StatusCode, body)
	}
	var setCookie string
	for _, v := range res.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, "gh_session=") {
			setCookie = v
		}
	}
	if !strings.Contains(strings.ToLower(setCookie), "domain=example.test") {
		t.Errorf("session cookie %q lacks Domain=example.test", setCookie)
	}
	if cookieOn(b, "gh_session") == nil || cookieOn(b, "XSRF-TOKEN") == nil {
		t.Fatalf("after login via a, the jar has no gh_session or XSRF-TOKEN for b: %v", jar.Cookies(&url.URL{Scheme: "http", Host: "b.example.test"}))
	}

	// The same cookie is a login on b.
	mark := up.mark()
	want("GET", b+"/app/x", 200)
	if seen := up.since(mark, "GET", "/app/x"); len(seen) != 1 || strings.Join(seen[0].RemoteUser, ",") != "ada" {
		t.Errorf("upstream saw %+v, want one GET /app/x as ada", seen)
	}
	res, body = do("GET", b+"/auth/session", "")
	if res.StatusCode != 200 || !strings.Contains(body, `"username":"ada"`) {
		t.Errorf("GET b/auth/session: %d %s", res.StatusCode, body)
	}

	// The rule for a.example.test: allowed on a, and on b it does not
	// match, so the next rule denies.
	want("GET", a+"/app/a-only/report", 200)
	res = want("GET", b+"/app/a-only/report", 403)
	if got := res.Header.Get("Content-Type"); got != "application/problem+json" {
		t.Errorf("403 on b: Content-Type %q", got)
	}

	// Log out through b with the CSRF token from the shared XSRF-TOKEN
	// cookie: the login ends on both hosts.
	xsrf := cookieOn(b, "XSRF-TOKEN").Value
	res = want("DELETE", b+"/auth/session", 204, "X-CSRF-Token", xsrf)
	for _, v := range res.Header.Values("Set-Cookie") {
		if (strings.HasPrefix(v, "gh_session=") || strings.HasPrefix(v, "XSRF-TOKEN=")) && !strings.Contains(strings.ToLower(v), "domain=example.test") {
			t.Errorf("logout clears %q without the Domain it was set with", v)
		}
	}
	for _, site := range []string{a, b} {
		if ck := cookieOn(site, "gh_session"); ck != nil {
			t.Errorf("after logout the jar still sends gh_session to %s", site)
		}
		want("GET", site+"/app/x", 401)
	}
	var state struct{ Authenticated bool }
	if _, body := do("GET", a+"/auth/session/authenticated", ""); json.Unmarshal([]byte(body), &state) != nil || state.Authenticated {
		t.Errorf("a after logout: %s", body)
	}
}
