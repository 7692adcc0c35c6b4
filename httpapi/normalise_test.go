package httpapi_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/session"
)

// The gateway decides on exactly what the application receives: these
// tests send requests through the real reverse proxy to an upstream that
// records what reached it, and ask GET /auth/verify the same questions.

func gatewayOption(f func(h *httpapi.Config)) envOption {
	return func(h *httpapi.Config, _ *account.Config, _ *session.Config) { f(h) }
}

// wantNotForwarded fails when the upstream was hit since before.
func wantNotForwarded(t *testing.T, up *upstream, before int64, what string) {
	t.Helper()
	if n := up.hits.Load() - before; n != 0 {
		t.Errorf("%s reached the upstream (%d requests)", what, n)
	}
}

// TestProxyMethods: a method in other case ("patch", which Django and
// Werkzeug handle as PATCH) or one outside the standard set is refused
// with 405 before anything is decided or forwarded; configured extras
// pass.
func TestProxyMethods(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayFront(t, up.url(t))
	g.e.createUser("viewer", "viewer@example.com", pwOf("viewer"))
	cookie, csrfTok := g.sessionOf("viewer", pwOf("viewer"))
	sess := http.Header{"Cookie": {cookie}, "X-Csrf-Token": {csrfTok}, "Origin": {g.srv.URL}}

	before := up.hits.Load()
	for _, c := range []struct {
		method, path string
		h            http.Header
	}{
		{"patch", "/app/servers/7", sess}, // PATCH needs servers.write; "patch" fell to /app/**
		{"Delete", "/app/servers/7", sess},
		{"get", "/app/public/x", nil},
		{"PROPFIND", "/app/public/x", nil},
		{"BREW", "/app/public/x", nil},
	} {
		res, body := g.do(c.method, c.path, "", c.h)
		wantGatewayProblem(t, res, body, 405, gatehouse.CodeMethodNotAllowed)
		if allow := res.Header.Get("Allow"); !strings.Contains(allow, "PATCH") || strings.Contains(allow, "PROPFIND") {
			t.Errorf("%s %s: Allow %q", c.method, c.path, allow)
		}
	}
	wantNotForwarded(t, up, before, "a method not let through")
	// The upper-case spelling is decided by its rule.
	res, body := g.do("PATCH", "/app/servers/7", "", sess)
	wantGatewayProblem(t, res, body, 403, gatehouse.CodePermissionDenied)

	// A _method query parameter, which Symfony, Laravel and Express take
	// as the method of a POST, in the spellings PHP reads as _method.
	for _, q := range []string{"_method=DELETE", "a=1&_method=DELETE", "%5Fmethod=DELETE", "%5fmethod=PUT", ".method=DELETE", "+method=DELETE", "[method=DELETE"} {
		res, body := g.do("POST", "/app/public/x?"+q, "", nil)
		wantGatewayProblem(t, res, body, 400, gatehouse.CodeBadRequest)
	}
	wantNotForwarded(t, up, before, "a _method query parameter")
	for _, q := range []string{"method=x", "_methods=x", "x=_method", "%zz=1&b=2"} {
		g.echo("POST", "/app/public/x?"+q, "", nil)
	}
	g.echo("GET", "/app/public/x?_method=DELETE", "", nil) // a GET is never overridden

	// Configured extras pass, decided by the rules for any method.
	g = newGatewayFront(t, up.url(t), gatewayOption(func(h *httpapi.Config) { h.ExtraMethods = []string{"PROPFIND"} }))
	if _, got := g.echo("PROPFIND", "/app/public/x", "", nil); got.Method != "PROPFIND" {
		t.Errorf("PROPFIND reached the upstream as %q", got.Method)
	}
	res, body = g.do("propfind", "/app/public/x", "", nil)
	wantGatewayProblem(t, res, body, 405, gatehouse.CodeMethodNotAllowed)
	if allow := res.Header.Get("Allow"); !strings.HasSuffix(allow, ", PROPFIND") {
		t.Errorf("Allow %q", allow)
	}
}

// TestProxyOverrideHeaders: method-override and URL-rewrite headers, in
// any spelling, never reach the application.
func TestProxyOverrideHeaders(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayFront(t, up.url(t))
	h := http.Header{
		"X-Http-Method-Override": {"DELETE"},
		"X-Http-Method":          {"DELETE"},
		"X-Method-Override":      {"DELETE"},
		"X-Original-Url":         {"/app/admin/users"},
		"X-Rewrite-Url":          {"/app/admin/users"},
		"X-Original-Uri":         {"/app/admin/users"},
		"X-Original-Method":      {"DELETE"},
		"X-Forwarded-Method":     {"DELETE"},
		"X-Forwarded-Uri":        {"/app/admin/users"},
		"X_http_method_override": {"DELETE"},
		"X-Rewrite_url":          {"/app/admin/users"},
	}
	_, got := g.echo("GET", "/app/public/x", "", h)
	for k, v := range got.Header {
		lk := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
		if strings.Contains(lk, "method") || strings.Contains(lk, "url") || strings.Contains(lk, "uri") {
			t.Errorf("upstream got %s: %q", k, v)
		}
	}
	if got.Method != "GET" || got.Path != "/app/public/x" {
		t.Errorf("upstream got %s %s", got.Method, got.Path)
	}
}

// TestProxyPathParameters: Tomcat, Jetty and Spring drop ";…" from a
// segment, so /app/admin;x/panel would be /app/admin/panel to them while
// the route table sees another path: refused unless configured.
func TestProxyPathParameters(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayFront(t, up.url(t))
	g.e.createUser("viewer", "viewer@example.com", pwOf("viewer"))
	cookie, _ := g.sessionOf("viewer", pwOf("viewer"))
	sess := http.Header{"Cookie": {cookie}}
	res, body := g.do("GET", "/app/admin/panel", "", sess)
	wantGatewayProblem(t, res, body, 403, gatehouse.CodePermissionDenied)

	before := up.hits.Load()
	for _, p := range []string{"/app/admin;x/panel", "/app/admin;/panel", "/app/admin%3Bx/panel", "/app/public/x;jsessionid=1", "/app/public;a=b"} {
		res, body := g.do("GET", p, "", sess)
		wantGatewayProblem(t, res, body, 400, gatehouse.CodeBadRequest)
	}
	wantNotForwarded(t, up, before, "a path with ';'")
	// In the query, a ";" is nobody's path. (ReverseProxy drops a query
	// it cannot parse, as Go's servers do not read ";" as "&".)
	if _, got := g.echo("GET", "/app/public/x?a=1;b=2", "", nil); got.Path != "/app/public/x" {
		t.Errorf("path %q", got.Path)
	}

	// Configured: matrix parameters pass, decided on the path as it is.
	g = newGatewayFront(t, up.url(t), gatewayOption(func(h *httpapi.Config) { h.AllowPathParameters = true }))
	if _, got := g.echo("GET", "/app/public/x;v=1", "", nil); got.Path != "/app/public/x;v=1" {
		t.Errorf("upstream got %q", got.Path)
	}
}

// TestProxyIdentityAndAddressHeaders: other proxies' identity headers
// (and the configured extras) never reach the application; the address
// headers are gatehouse's; client-address headers pass only from a
// trusted proxy.
func TestProxyIdentityAndAddressHeaders(t *testing.T) {
	up := newUpstream(t)
	extra := gatewayOption(func(h *httpapi.Config) { h.StripHeaders = []string{"X-My-User", "X-Corp-*"} })
	g := newGatewayFront(t, up.url(t), extra)
	spoof := http.Header{
		"X-Forwarded-User":                   {"root"},
		"X-Forwarded-Email":                  {"root@example.com"},
		"X-Forwarded-Groups":                 {"admins"},
		"X-Forwarded-Preferred-Username":     {"root"},
		"X-Remote-User":                      {"root"},
		"X-Auth-Request-User":                {"root"},
		"X-Auth-Request-Email":               {"root@example.com"},
		"X-Webauth-User":                     {"root"},
		"X_forwarded_user":                   {"root"},
		"X-Ms-Client-Principal-Name":         {"root"},
		"X-Goog-Authenticated-User-Email":    {"root@example.com"},
		"Cf-Access-Authenticated-User-Email": {"root@example.com"},
		"X-Amzn-Oidc-Identity":               {"root"},
		"Tailscale-User-Login":               {"root"},
		"X-Ssl-Client-S-Dn":                  {"CN=root"},
		"X-Forwarded-Client-Cert":            {"Subject=\"CN=root\""},
		"X-My-User":                          {"root"},
		"X-Corp-Role":                        {"admin"},
		"True-Client-Ip":                     {"1.2.3.4"},
		"Cf-Connecting-Ip":                   {"1.2.3.4"},
		"X-Client-Ip":                        {"1.2.3.4"},
		"X-Cluster-Client-Ip":                {"1.2.3.4"},
		"Forwarded":                          {"for=1.2.3.4;proto=https;host=evil.example"},
		"X-Forwarded-For":                    {"1.2.3.4"},
		"X-Forwarded-Proto":                  {"https"},
		"X-Forwarded-Host":                   {"evil.example"},
		"X-Forwarded-Ssl":                    {"on"},
		"X-Real-Ip":                          {"1.2.3.4"},
		"X-Application-Header":               {"kept"},
	}
	_, got := g.echo("GET", "/app/public/x", "", spoof)
	for k := range spoof {
		switch k {
		case "Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip", "X-Application-Header":
			continue
		}
		for _, key := range []string{k, http.CanonicalHeaderKey(k)} {
			if v, ok := got.Header[key]; ok {
				t.Errorf("upstream got %s: %q", key, v)
				break
			}
		}
	}
	host := strings.TrimPrefix(g.srv.URL, "http://")
	want := map[string]string{
		"Forwarded":            `for=127.0.0.1;proto=http;host="` + host + `"`,
		"X-Forwarded-For":      "127.0.0.1",
		"X-Forwarded-Proto":    "http",
		"X-Forwarded-Host":     host,
		"X-Real-Ip":            "127.0.0.1",
		"X-Application-Header": "kept",
	}
	for k, v := range want {
		if vs := got.Header.Values(k); len(vs) != 1 || vs[0] != v {
			t.Errorf("upstream got %s %q, want %q", k, vs, v)
		}
	}

	// From a trusted proxy, its client-address headers pass, and the
	// address headers say what it told.
	trusted := gatewayOption(func(h *httpapi.Config) { h.TrustedProxies = []netipPrefix{mustPrefix("127.0.0.0/8")} })
	g = newGatewayFront(t, up.url(t), extra, trusted)
	_, got = g.echo("GET", "/app/public/x", "", spoof)
	for _, k := range []string{"True-Client-Ip", "Cf-Connecting-Ip", "X-Client-Ip", "X-Forwarded-Ssl"} {
		if got.Header.Get(k) != spoof.Get(k) {
			t.Errorf("trusted proxy: %s %q", k, got.Header.Get(k))
		}
	}
	for _, k := range []string{"X-Forwarded-User", "X-Auth-Request-User", "X-Webauth-User", "X-My-User", "X-Corp-Role"} {
		if v := got.Header.Values(k); len(v) > 0 {
			t.Errorf("trusted proxy: %s %q reached the upstream", k, v)
		}
	}
	want = map[string]string{
		"Forwarded":         `for=1.2.3.4;proto=https;host="evil.example"`,
		"X-Forwarded-Proto": "https",
		"X-Forwarded-Host":  "evil.example",
		"X-Real-Ip":         "1.2.3.4",
	}
	for k, v := range want {
		if vs := got.Header.Values(k); len(vs) != 1 || vs[0] != v {
			t.Errorf("trusted proxy: upstream got %s %q, want %q", k, vs, v)
		}
	}
	if xff := strings.Join(got.Header.Values("X-Forwarded-For"), ","); xff != "1.2.3.4, 127.0.0.1" {
		t.Errorf("trusted proxy: X-Forwarded-For %q", xff)
	}
}

// rawUpstream is an application on a bare TCP listener that switches to
// any protocol it is asked for (answering 101 with the Upgrade given, or
// with the one in answer), and records the requests it read and every
// byte that came through a tunnel.
type rawUpstream struct {
	ln     net.Listener
	answer string // the protocol of its 101; "" echoes the request's
	mu     sync.Mutex
	reqs   []string // "METHOD /path Upgrade"
	tunnel strings.Builder
}

func newRawUpstream(t *testing.T, answer string) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln, answer: answer}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go u.serve(conn)
		}
	}()
	return u
}

func (u *rawUpstream) serve(conn net.Conn) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	for {
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, r.Method+" "+r.URL.Path+" "+r.Header.Get("Upgrade"))
		u.mu.Unlock()
		if up := r.Header.Get("Upgrade"); up != "" {
			if u.answer != "" {
				up = u.answer
			}
			fmt.Fprintf(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", up)
			buf := make([]byte, 256)
			for {
				n, err := br.Read(buf)
				if n > 0 {
					u.mu.Lock()
					u.tunnel.Write(buf[:n])
					u.mu.Unlock()
					conn.Write(buf[:n]) // echo
				}
				if err != nil {
					return
				}
			}
		}
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Upstream: yes\r\n\r\nok")
	}
}

func (u *rawUpstream) seen() ([]string, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.reqs...), u.tunnel.String()
}

func (u *rawUpstream) url() *url.URL { return &url.URL{Scheme: "http", Host: u.ln.Addr().String()} }

// TestProxyUpgrades: only WebSocket upgrades are proxied, and only where
// the route allows; an h2c upgrade (whose tunnel would carry later
// requests to the application unchecked) is refused, and so is a 101 for
// another protocol than the one asked.
func TestProxyUpgrades(t *testing.T) {
	up := newRawUpstream(t, "")
	g := newGatewayFront(t, up.url())
	addr := strings.TrimPrefix(g.srv.URL, "http://")

	// h2c (or anything but websocket) on a public path, anonymous.
	for _, upgrade := range []string{"h2c", "H2C", "websocket, h2c", "foo", "TLS/1.2"} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, "GET /app/public/x HTTP/1.1\r\nHost: app.example.com\r\nConnection: Upgrade, HTTP2-Settings\r\n"+
			"Upgrade: "+upgrade+"\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
		br := bufio.NewReader(conn)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", upgrade, err)
		}
		io.Copy(io.Discard, res.Body)
		if res.StatusCode != 400 {
			t.Errorf("Upgrade %s: %d, want 400", upgrade, res.StatusCode)
		}
		// What follows on the connection is a request gatehouse decides,
		// not bytes of a tunnel.
		io.WriteString(conn, "GET /app/admin/secret HTTP/1.1\r\nHost: app.example.com\r\n\r\n")
		if res, err := http.ReadResponse(br, nil); err == nil {
			if res.StatusCode != 401 {
				t.Errorf("after Upgrade %s: the next request got %d, want gatehouse's 401", upgrade, res.StatusCode)
			}
			res.Body.Close()
		}
		conn.Close()
	}
	// A WebSocket upgrade needs a GET.
	if status := rawStatus(t, addr, "POST /app/public/x HTTP/1.1\r\nHost: app.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n"); status != 400 {
		t.Errorf("POST upgrade: %d, want 400", status)
	}
	if reqs, tunnel := up.seen(); len(reqs) != 0 || tunnel != "" {
		t.Errorf("upstream got %q, tunnel %q", reqs, tunnel)
	}

	// WebSocket: refused where the route refuses, proxied where it allows,
	// and the data flows.
	ws := "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if status := rawStatus(t, addr, "GET /app/admin/ws HTTP/1.1\r\nHost: app.example.com\r\n"+ws+"\r\n"); status != 401 {
		t.Errorf("WebSocket on a refused route: %d, want 401", status)
	}
	if status := rawStatus(t, addr, "GET /nowhere HTTP/1.1\r\nHost: app.example.com\r\n"+ws+"\r\n"); status != 403 {
		t.Errorf("WebSocket on a denied route: %d, want 403", status)
	}
	if reqs, _ := up.seen(); len(reqs) != 0 {
		t.Errorf("upstream got %q", reqs)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET /app/public/ws HTTP/1.1\r\nHost: app.example.com\r\n"+ws+"\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 101 || !strings.EqualFold(res.Header.Get("Upgrade"), "websocket") {
		t.Fatalf("WebSocket: %d %v", res.StatusCode, res.Header)
	}
	io.WriteString(conn, "hello")
	buf := make([]byte, 5)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("WebSocket data: %q %v", buf, err)
	}

	// An upstream that switches to another protocol than the one asked
	// gets no tunnel.
	other := newRawUpstream(t, "h2c")
	g = newGatewayFront(t, other.url())
	addr = strings.TrimPrefix(g.srv.URL, "http://")
	conn2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	conn2.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn2, "GET /app/public/ws HTTP/1.1\r\nHost: app.example.com\r\n"+ws+"\r\n")
	br = bufio.NewReader(conn2)
	res, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	if res.StatusCode != 502 {
		t.Errorf("101 for h2c to a WebSocket request: %d, want 502", res.StatusCode)
	}
	io.WriteString(conn2, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	time.Sleep(50 * time.Millisecond) // not a timing assertion: only lets stray bytes arrive
	if _, tunnel := other.seen(); tunnel != "" {
		t.Errorf("bytes reached the upstream through a tunnel: %q", tunnel)
	}
}

// TestVerifyNormalisation: GET /auth/verify refuses what the proxy would
// forward differently from what is decided, with a 403 and the code of
// the refusal (nginx turns any other status into a 500).
func TestVerifyNormalisation(t *testing.T) {
	e := newEnv(t, withGateway(gatewayTable(t), nil))
	b, _ := e.loggedIn()
	anon := e.browser()
	for name, opts := range map[string][]reqOpt{
		"lower-case method":        traefikAuth("patch", "/app/public/x"),
		"mixed-case method":        nginxAuth("Get", "/app/public/x"),
		"unknown method":           traefikAuth("BREW", "/app/public/x"),
		"path parameter":           traefikAuth("GET", "/app/admin;x/panel"),
		"encoded path parameter":   nginxAuth("GET", "/app/public%3Bx/y"),
		"h2c upgrade":              with(traefikAuth("GET", "/app/public/x"), header("Upgrade", "h2c")),
		"upgrade of a POST":        with(traefikAuth("POST", "/app/public/x"), header("Upgrade", "websocket")),
		"X-HTTP-Method-Override":   with(nginxAuth("GET", "/app/public/x"), header("X-HTTP-Method-Override", "DELETE")),
		"X-HTTP-Method":            with(traefikAuth("GET", "/app/public/x"), header("X-HTTP-Method", "DELETE")),
		"X-Method-Override":        with(traefikAuth("GET", "/app/public/x"), header("X-Method-Override", "DELETE")),
		"X-Rewrite-URL":            with(traefikAuth("GET", "/app/public/x"), header("X-Rewrite-URL", "/app/admin/x")),
		"X_HTTP_METHOD_OVERRIDE":   with(traefikAuth("POST", "/app/public/x"), func(r *http.Request) { r.Header["X_HTTP_METHOD_OVERRIDE"] = []string{"DELETE"} }),
		"X_Rewrite_Url":            with(nginxAuth("PUT", "/app/public/x"), func(r *http.Request) { r.Header["X_Rewrite_Url"] = []string{"/app/admin/x"} }),
		"X-Http-Method on a GET":   with(nginxAuth("GET", "/app/public/x"), func(r *http.Request) { r.Header["X-Http-Method"] = []string{"DELETE"} }),
		"X-Original-URL disagrees": with(traefikAuth("GET", "/app/public/x"), header("X-Original-URL", "http://app.example.com/app/admin/x")),
		"_method query":            traefikAuth("POST", "/app/public/x?_method=DELETE"),
		"encoded _method query":    nginxAuth("PUT", "/app/public/x?a=b&%5Fmethod=DELETE"),
	} {
		for who, br := range map[string]*browser{"anonymous": anon, "admin": b} {
			w := br.verify(opts...)
			want := gatehouse.CodeBadRequest
			switch name {
			case "lower-case method", "mixed-case method", "unknown method":
				want = gatehouse.CodeMethodNotAllowed
			}
			wantProblem(t, w, 403, want)
			if got := w.Header().Get(httpapi.HeaderProblem); got != string(want) {
				t.Errorf("%s (%s): %s %q", name, who, httpapi.HeaderProblem, got)
			}
		}
	}
	// X-Original-URL is nginx's own, and passes when it agrees.
	wantAllowed(t, anon.verify(nginxAuth("GET", "/app/public/x")...), "", "")
	wantAllowed(t, b.verify(with(nginxAuth("GET", "/app/x"), header("Upgrade", "websocket"), header("Origin", "http://app.example.com"))...), "admin", "administrators")

	e = newEnv(t, withGateway(gatewayTable(t), nil), gatewayOption(func(h *httpapi.Config) {
		h.ExtraMethods = []string{"PROPFIND"}
		h.AllowPathParameters = true
	}))
	anon = e.browser()
	wantAllowed(t, anon.verify(traefikAuth("PROPFIND", "/app/public/x")...), "", "")
	wantAllowed(t, anon.verify(traefikAuth("GET", "/app/public/x;v=1")...), "", "")
	wantProblem(t, anon.verify(traefikAuth("propfind", "/app/public/x")...), 403, gatehouse.CodeMethodNotAllowed)

	// Rules may name the extra methods.
	dav, err := policy.CompileMethods([]policy.Rule{
		{Path: "/dav/**", Methods: []string{"PROPFIND"}, Access: policy.Deny},
		{Path: "/dav/**", Access: policy.Public},
	}, []string{"PROPFIND", "LOCK"})
	if err != nil {
		t.Fatal(err)
	}
	e = newEnv(t, withGateway(dav, nil), gatewayOption(func(h *httpapi.Config) { h.ExtraMethods = []string{"PROPFIND", "LOCK"} }))
	anon = e.browser()
	wantProblem(t, anon.verify(traefikAuth("PROPFIND", "/dav/x")...), 403, gatehouse.CodePermissionDenied)
	wantAllowed(t, anon.verify(traefikAuth("LOCK", "/dav/x")...), "", "")
	wantAllowed(t, anon.verify(traefikAuth("GET", "/dav/x")...), "", "")
	wantProblem(t, anon.verify(traefikAuth("MKCOL", "/dav/x")...), 403, gatehouse.CodeMethodNotAllowed)
}

// TestVerifyAnswersOnlyWhatNginxTakes: a refusal that is neither a 401
// nor a 403 elsewhere — too many attempts, a store that cannot be reached
// — is a 403 at GET /auth/verify, keeping its code and Retry-After; the
// reverse proxy answers the store's failure with 503.
func TestVerifyAnswersOnlyWhatNginxTakes(t *testing.T) {
	e := newEnv(t, withGateway(gatewayTable(t), nil), gatewayOption(func(h *httpapi.Config) {
		h.BasicAuth = httpapi.BasicAuth{Enabled: true, AllowInsecure: true}
	}))
	anon := e.browser()
	wrong := header("Authorization", "Basic "+basicValue("admin", "not the password"))
	locked := false
	for range 50 {
		r := anon.verify(with(nginxAuth("GET", "/app/x"), wrong)...)
		if r.Code == 401 {
			continue
		}
		wantProblem(t, r, 403, gatehouse.CodeTooManyAttempts)
		if r.Header().Get("Retry-After") == "" || r.Header().Get(httpapi.HeaderProblem) != string(gatehouse.CodeTooManyAttempts) {
			t.Errorf("locked: headers %v", r.Header())
		}
		locked = true
		break
	}
	if !locked {
		t.Fatal("Basic never locked")
	}

	// Forward auth asks with GET: any other method of /verify itself is a
	// 403 too, never a 405.
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"} {
		r := anon.do(m, "/auth/verify", "", nginxAuth("GET", "/app/public/x")...)
		wantProblem(t, r, 403, gatehouse.CodeMethodNotAllowed)
		if r.Header().Get(httpapi.HeaderProblem) != string(gatehouse.CodeMethodNotAllowed) {
			t.Errorf("%s /auth/verify: headers %v", m, r.Header())
		}
	}

	// A store that cannot be reached.
	up := newUpstream(t)
	g := newGatewayFront(t, up.url(t))
	unknown := "gh_session=" + strings.Repeat("A", 43)
	g.e.store.Close()
	b := g.e.browser()
	r := b.verify(with(nginxAuth("GET", "/app/x"), header("Cookie", unknown))...)
	wantProblem(t, r, 403, "store_unavailable")
	if r.Header().Get("Retry-After") == "" || r.Header().Get(httpapi.HeaderProblem) != "store_unavailable" {
		t.Errorf("store down: headers %v", r.Header())
	}
	res, body := g.do("GET", "/app/x", "", http.Header{"Cookie": {unknown}})
	wantGatewayProblem(t, res, body, 503, "store_unavailable")
	if res.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

// TestGatewaySettings: bad extra methods and strip headers are refused.
func TestGatewaySettings(t *testing.T) {
	for _, m := range []string{"", "propfind", "GET", "PATCH", "BAD METHOD", "X;Y", strings.Repeat("A", 33)} {
		if err := httpapi.CheckExtraMethod(m); err == nil {
			t.Errorf("CheckExtraMethod(%q) accepted", m)
		}
		if _, err := httpapi.New(httpapi.Config{ExtraMethods: []string{m}}, httpapi.Deps{}); err == nil {
			t.Errorf("New accepted extra method %q", m)
		}
	}
	for _, m := range []string{"PROPFIND", "MKCOL", "VERSION-CONTROL", "M_SEARCH"} {
		if err := httpapi.CheckExtraMethod(m); err != nil {
			t.Errorf("CheckExtraMethod(%q): %v", m, err)
		}
	}
	for _, h := range []string{"", "*", "X My", "X:Y", "Host", "content-length", "Transfer-Encoding", "Connection", "Upgrade", "X-*-Y*", strings.Repeat("X", 65)} {
		if err := httpapi.CheckStripHeader(h); err == nil {
			t.Errorf("CheckStripHeader(%q) accepted", h)
		}
		if _, err := httpapi.New(httpapi.Config{StripHeaders: []string{h}}, httpapi.Deps{}); err == nil {
			t.Errorf("New accepted strip header %q", h)
		}
	}
	for _, h := range []string{"X-My-User", "X-Corp-*", "x_legacy_user"} {
		if err := httpapi.CheckStripHeader(h); err != nil {
			t.Errorf("CheckStripHeader(%q): %v", h, err)
		}
	}
}
