package main

// End-to-end tests of the forward-auth endpoint behind the real proxies of
// examples/gateway (nginx auth_request, Caddy forward_auth) and of
// gatehouse's own reverse-proxy mode, walking duplistatus's flow: log in
// through the proxy, fetch the CSRF token, change a server, read the
// dashboard, log out.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// seenRequest is what the upstream application received.
type seenRequest struct {
	Method     string
	Path       string
	RemoteUser []string // every Remote-User value
	RemoteRaw  []string // "Name: value" of every Remote_* header (the spelling CGI-style servers read as Remote-*)
	Cookie     string
	Rewrites   []string // "Name: value" of every method-override and URL-rewrite header
	Identities []string // "Name: value" of every other proxy's identity header
}

// rewriteHeaders are the headers that tell an application another method
// or URL than the request's own.
var rewriteHeaders = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override", "X-Original-Url", "X-Original-Uri", "X-Original-Method", "X-Rewrite-Url"}

// identityHeaders are other proxies' names for the user, which the shipped
// proxy configurations clear.
var identityHeaders = []string{"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", "X-Remote-User", "X-Webauth-User", "X-Auth-Request-User", "X-Auth-Request-Email"}

// foldHeader is a header name as a CGI-style server reads it: "_" is "-"
// (both become HTTP_X_FORWARDED_USER), in canonical form.
func foldHeader(name string) string {
	return http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))
}

// recordingUpstream is the application behind the proxy: it records every
// request and answers JSON.
type recordingUpstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

func newRecordingUpstream(t *testing.T) *recordingUpstream {
	t.Helper()
	u := &recordingUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seenRequest{
			Method: r.Method, Path: r.URL.Path,
			RemoteUser: r.Header.Values("Remote-User"),
			Cookie:     r.Header.Get("Cookie"),
		}
		for k, vs := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "remote_") {
				for _, v := range vs {
					s.RemoteRaw = append(s.RemoteRaw, k+": "+v)
				}
			}
		}
		for _, k := range rewriteHeaders {
			for _, v := range r.Header.Values(k) {
				s.Rewrites = append(s.Rewrites, k+": "+v)
			}
		}
		// By folded name, so that the X_Forwarded_User spelling, which
		// CGI-style servers read as X-Forwarded-User, is caught too.
		for k, vs := range r.Header {
			if slices.Contains(identityHeaders, foldHeader(k)) {
				for _, v := range vs {
					s.Identities = append(s.Identities, k+": "+v)
				}
			}
		}
		u.mu.Lock()
		u.seen = append(u.seen, s)
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"app": "duplistatus", "method": s.Method, "path": s.Path,
			"user": strings.Join(s.RemoteUser, ","), "cookie": s.Cookie,
		})
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// port is the upstream's port.
func (u *recordingUpstream) port() string {
	_, p, _ := net.SplitHostPort(u.srv.Listener.Addr().String())
	return p
}

// mark returns a position in the record for since.
func (u *recordingUpstream) mark() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

// since returns the requests recorded after mark whose method and path are
// the ones given.
func (u *recordingUpstream) since(mark int, method, path string) []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []seenRequest
	for _, s := range u.seen[mark:] {
		if s.Method == method && s.Path == path {
			out = append(out, s)
		}
	}
	return out
}

// duplistatusRoutes is the route table of the walk (a shortened
// examples/policies/duplistatus.yaml).
const duplistatusRoutes = `routes:
  - path: /api/health
    access: public
  - path: /api/upload
    access: public
  - path: /api/servers/{id}
    methods: [PATCH, DELETE]
    access: authenticated
  - path: /api/dashboard
    methods: [GET]
    access: authenticated
  - path: /api/**
    access: authenticated
  - path: /**
    access: public
`

// startGatehouseForProxy starts gatehouse with base_path /api, the proxy
// on loopback trusted, the duplistatus routes, extra configuration lines,
// and user ada. It returns the server.
func startGatehouseForProxy(t *testing.T, extra string) *served {
	t.Helper()
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	createUser(t, dataDir, "ada", adminPassword)
	cfg := writeFile(t, dir, "gatehouse.yaml", "base_path: /api\n"+
		"trusted_proxies: [127.0.0.1]\n"+
		"redirect_domains: [example.com]\n"+
		extra+duplistatusRoutes)
	return startServe(t, nil, "--config", cfg, "--addr", "127.0.0.1:0", "--data", dataDir)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

// startProxyProcess starts a proxy, stops it in cleanup (SIGTERM, then
// SIGKILL), and waits until addr accepts connections.
func startProxyProcess(t *testing.T, addr string, cmd *exec.Cmd) {
	t.Helper()
	var out bytes.Buffer
	var outMu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) {
		outMu.Lock()
		defer outMu.Unlock()
		return out.Write(p)
	})
	output := func() string { outMu.Lock(); defer outMu.Unlock(); return out.String() }
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", cmd.Path, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-exited:
			return
		default:
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				t.Errorf("%s (pid %d) did not exit after SIGKILL", cmd.Path, cmd.Process.Pid)
			}
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), output())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("%s exited before listening: %v\n%s", cmd.Path, err, output())
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not accept connections on %s within 15s: %v\n%s", cmd.Path, addr, err, output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// debianPackage names the Debian package of each program the end-to-end
// tests start, for their skip message.
var debianPackage = map[string]string{"nginx": "nginx-light", "caddy": "caddy"}

// needBinary skips the test under -short or without the program.
func needBinary(t *testing.T, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("starts %s: skipped with -short", name)
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (apt-get install %s): %v", name, debianPackage[name], err)
	}
	return p
}

// startNginx runs nginx with the server blocks servers inside an http
// block of its own (temporary paths, one worker, loopback only) and waits
// until it accepts connections on addr.
func startNginx(t *testing.T, bin, addr, servers string) {
	t.Helper()
	dir := t.TempDir()
	user := ""
	if os.Geteuid() == 0 {
		// Workers would otherwise run as nobody, who cannot use the
		// temporary directory.
		user = "user root;"
	}
	conf := writeFile(t, dir, "nginx.conf", fmt.Sprintf(`%[1]s
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
worker_processes 1;
events { worker_connections 64; }
http {
    access_log %[2]s/access.log;
    client_body_temp_path %[2]s/client_body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;

%[3]s
}
`, user, dir, servers))
	if out, err := exec.Command(bin, "-t", "-p", dir, "-c", conf).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	startProxyProcess(t, addr, exec.Command(bin, "-p", dir, "-c", conf))
}

// TestNginxForwardAuth runs examples/gateway/nginx.conf in front of the
// application, moved to duplistatus's own layout: gatehouse under
// base_path /api, serving only /api/session…, /api/csrf and /api/ui/…
// itself, everything else under /api going to the application through
// forward auth.
func TestNginxForwardAuth(t *testing.T) {
	bin := needBinary(t, "nginx")
	up := newRecordingUpstream(t)
	gh := startGatehouseForProxy(t, "")
	addr := "127.0.0.1:" + freePort(t)
	startNginx(t, bin, addr, exampleFile(t, "nginx.conf",
		"listen 80;", "listen "+addr+";",
		"location ^~ /auth/verify {", "location ^~ /api/verify {",
		"location /auth/ {", "location ~ ^/api/(session|csrf|ui/) {",
		"127.0.0.1:8080/auth/verify", gh.addr+"/api/verify",
		"127.0.0.1:8080", gh.addr,
		"127.0.0.1:3000", "127.0.0.1:"+up.port()))
	walkDuplistatus(t, frontDoor{url: "http://" + addr, base: "/api", up: up, body401: true, body403: true})
}

// TestCaddyForwardAuth runs Caddy with the forward_auth configuration of
// examples/gateway/Caddyfile in front of the application.
func TestCaddyForwardAuth(t *testing.T) {
	bin := needBinary(t, "caddy")
	up := newRecordingUpstream(t)
	gh := startGatehouseForProxy(t, "")
	dir := t.TempDir()
	port := freePort(t)
	conf := writeFile(t, dir, "Caddyfile", fmt.Sprintf(`{
	admin off
	auto_https off
	default_bind 127.0.0.1
}

http://127.0.0.1:%[1]s {
	@gatehouse path /api/session /api/session/* /api/csrf /api/ui/*
	handle @gatehouse {
		reverse_proxy %[2]s
	}
	handle {
		# copy_headers sets only the headers gatehouse answered: one the
		# client sent must be removed first, in a route since Caddy
		# orders request_header after forward_auth.
		route {
			request_header -Remote-User
			request_header -Remote-Email
			request_header -Remote-Name
			request_header -Remote-Groups
			request_header -Remote_User
			request_header -Remote_Email
			request_header -Remote_Name
			request_header -Remote_Groups
			request_header -X-Forwarded-User
			request_header -X-Forwarded-Email
			request_header -X-Forwarded-Groups
			request_header -X-Forwarded-Preferred-Username
			request_header -X-Remote-User
			request_header -X-Webauth-User
			request_header -X-Auth-Request-User
			request_header -X-Auth-Request-Email
			request_header -X-Auth-Request-Groups
			request_header -X_Forwarded_User
			request_header -X_Forwarded_Email
			request_header -X_Forwarded_Groups
			request_header -X_Forwarded_Preferred_Username
			request_header -X_Remote_User
			request_header -X_Webauth_User
			request_header -X_Auth_Request_User
			request_header -X_Auth_Request_Email
			request_header -X_Auth_Request_Groups
			forward_auth %[2]s {
				uri /api/verify
				copy_headers Remote-User Remote-Email Remote-Name Remote-Groups
			}
			# Caddy before 2.6.3 sets a header gatehouse did not answer
			# (anonymous, on a public route) to the unreplaced placeholder.
			@ph_user header_regexp Remote-User ^\{http\.
			request_header @ph_user -Remote-User
			@ph_email header_regexp Remote-Email ^\{http\.
			request_header @ph_email -Remote-Email
			@ph_name header_regexp Remote-Name ^\{http\.
			request_header @ph_name -Remote-Name
			@ph_groups header_regexp Remote-Groups ^\{http\.
			request_header @ph_groups -Remote-Groups
			reverse_proxy 127.0.0.1:%[3]s
		}
	}
}
`, port, gh.addr, up.port()))
	// The copy clears what the shipped file clears.
	// (Not the "#cors" lines: the CORS set-up is TestCaddyCORS's.)
	cleared := regexp.MustCompile(`(?m)^\s*request_header -\S+`)
	shipped := cleared.FindAllString(exampleFile(t, "Caddyfile"), -1)
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if copied := cleared.FindAllString(string(b), -1); !slices.Equal(copied, shipped) {
		t.Fatalf("the test's Caddyfile clears %q, examples/gateway/Caddyfile %q", copied, shipped)
	}
	addr := "127.0.0.1:" + port
	startProxyProcess(t, addr, caddyCommand(bin, dir, conf))
	walkDuplistatus(t, frontDoor{url: "http://" + addr, base: "/api", up: up, body401: true, body403: true})
}

// caddyCommand runs Caddy with the Caddyfile conf, its home and state in
// dir.
func caddyCommand(bin, dir, conf string) *exec.Cmd {
	cmd := exec.Command(bin, "run", "--config", conf, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(),
		"HOME="+dir,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_CACHE_HOME="+filepath.Join(dir, "cache"),
	)
	return cmd
}

// TestNginxCaddyGatehouseProxy is the same walk through gatehouse's own
// reverse-proxy mode (upstream set, no other proxy): the CSRF token, the
// spoofed Remote-User and the logout that TestServeGateway does not cover.
func TestNginxCaddyGatehouseProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end walk: skipped with -short")
	}
	up := newRecordingUpstream(t)
	gh := startGatehouseForProxy(t, "upstream: "+up.srv.URL+"\n")
	walkDuplistatus(t, frontDoor{url: "http://" + gh.addr, base: "/api", up: up, body401: true, body403: true, rd: dashboardPage})
}

// frontDoor is a proxy in front of gatehouse and the application.
type frontDoor struct {
	url  string // the proxy, as a client calls it
	dial string // the address to connect to, when url names a host ("" for url's own)
	base string // gatehouse's base path behind it
	up   *recordingUpstream
	// body401 and body403 tell whether a 401 and a 403 reach the client
	// as gatehouse's problem+json (nginx's auth_request passes on only the
	// status, and the example answers a 401 with a body like gatehouse's).
	body401, body403 bool
	// verifyHidden tells whether the front refuses a client's own request
	// for gatehouse's verify endpoint (404).
	verifyHidden bool
	// rd is the rd the login page must be given for dashboardPage: the
	// original URL when the front's host is one of redirect_domains, the
	// path behind gatehouse's own proxy, else none.
	rd string
}

// dashboardPage is the page a browser opens before logging in: its query
// must reach the login page's rd intact.
const dashboardPage = "/api/dashboard?tab=servers&range=7d"

// walkDuplistatus is duplistatus's flow through the front door f.
func walkDuplistatus(t *testing.T, f frontDoor) {
	t.Helper()
	front, up := f.url, f.up
	c := newClient(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if f.dial != "" {
		c.Transport = &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, f.dial)
		}}
	}
	spoof := map[string]string{"Remote-User": "admin"}

	// Public endpoints reach the application without credentials, and a
	// Remote-User from the client does not.
	for _, p := range []string{"/api/health", "/api/upload"} {
		method := "GET"
		if p == "/api/upload" {
			method = "POST"
		}
		m := up.mark()
		var body any
		if method == "POST" {
			body = map[string]any{"backup": "x"}
		}
		r := doJSON(t, c, method, front+p, body, spoof)
		if r.status != 200 || field(r.body, "app") != "duplistatus" {
			t.Fatalf("%s %s without credentials: %d %s", method, p, r.status, r.raw)
		}
		seen := up.since(m, method, p)
		if len(seen) != 1 {
			t.Fatalf("%s %s: the application saw it %d times", method, p, len(seen))
		}
		if len(seen[0].RemoteUser) != 0 || len(seen[0].RemoteRaw) != 0 {
			t.Errorf("%s %s anonymous with a spoofed Remote-User: the application saw Remote-User %q, Remote_* %q",
				method, p, seen[0].RemoteUser, seen[0].RemoteRaw)
		}
	}
	// The Remote_* spelling, which CGI-style servers read as Remote-*
	// (both become HTTP_REMOTE_USER and so on).
	{
		m := up.mark()
		r := doJSON(t, c, "GET", front+"/api/health", nil, map[string]string{
			"Remote_User": "admin", "Remote_Email": "admin@example.com", "Remote_Name": "Admin", "Remote_Groups": "administrators",
		})
		if r.status != 200 {
			t.Fatalf("GET /api/health with Remote_*: %d %s", r.status, r.raw)
		}
		for _, s := range up.since(m, "GET", "/api/health") {
			if len(s.RemoteUser) != 0 || len(s.RemoteRaw) != 0 {
				t.Errorf("GET /api/health with spoofed Remote_* headers: the application saw Remote-User %q, Remote_* %q", s.RemoteUser, s.RemoteRaw)
			}
		}
	}

	// What the application could read another way than gatehouse decided
	// never reaches it, and is refused with a 4xx, never a 5xx (nginx's
	// auth_request turns any answer of /verify but 2xx, 401 and 403 into
	// a 500).
	for _, p := range []string{"/api/health;x", "/api/x/%2e%2e/health", "/api/health/..;/x", "/api/health%3Bx"} {
		m := up.mark()
		r := doJSON(t, c, "GET", front+p, nil, nil)
		if r.status < 400 || r.status >= 500 {
			t.Errorf("GET %s: %d %s, want a refusal (4xx)", p, r.status, r.raw)
		}
		if n := up.mark() - m; n != 0 {
			t.Errorf("GET %s reached the application", p)
		}
	}
	for _, h := range []map[string]string{
		{"X-HTTP-Method-Override": "DELETE"},
		{"X-HTTP-Method": "DELETE"},
		{"X-Method-Override": "DELETE"},
		{"X-Rewrite-URL": "/api/servers/1"},
		{"X-Original-URL": "http://admin.example.com/api/servers/1"},
		{"X-Original-URI": "/api/servers/1", "X-Original-Method": "DELETE"},
	} {
		// Refused by forward auth (which cannot remove them), removed by
		// a proxy that can: either way the application never sees one.
		m := up.mark()
		r := doJSON(t, c, "GET", front+"/api/health", nil, h)
		if r.status != 200 && r.status != 403 {
			t.Errorf("GET /api/health with %v: %d %s, want 200 or 403", h, r.status, r.raw)
		}
		if r.status == 403 && f.body403 && r.code() != "bad_request" {
			t.Errorf("GET /api/health with %v: 403 %q, want bad_request", h, r.code())
		}
		for _, s := range up.since(m, "GET", "/api/health") {
			if len(s.Rewrites) != 0 {
				t.Errorf("GET /api/health with %v: the application saw %q", h, s.Rewrites)
			}
		}
	}

	// Other proxies' identity headers from the client never reach the
	// application.
	// Spelt with "_" too, which CGI-style servers read the same way.
	for _, underscore := range []bool{false, true} {
		idSpoof := map[string]string{}
		for _, k := range identityHeaders {
			if underscore {
				k = strings.ReplaceAll(k, "-", "_")
			}
			idSpoof[k] = "admin"
		}
		mark := up.mark()
		if r := doJSON(t, c, "GET", front+"/api/health", nil, idSpoof); r.status != 200 {
			t.Errorf("GET /api/health with identity headers: %d %s", r.status, r.raw)
		}
		for _, s := range up.since(mark, "GET", "/api/health") {
			if len(s.Identities) != 0 {
				t.Errorf("GET /api/health: the application saw the client's %q", s.Identities)
			}
		}
	}

	// The dashboard needs a session: 401, and the application never sees it.
	dashboardRefused := func(when string) {
		t.Helper()
		m := up.mark()
		r := doJSON(t, c, "GET", front+"/api/dashboard", nil, spoof)
		if r.status != 401 {
			t.Fatalf("GET /api/dashboard %s: %d %s, want 401", when, r.status, r.raw)
		}
		if f.body401 && (r.code() != "unauthenticated" || r.header.Get("Content-Type") != "application/problem+json") {
			t.Errorf("GET /api/dashboard %s: code %q, want unauthenticated (%s)", when, r.code(), r.raw)
		}
		if f.body401 && len(r.header.Values("WWW-Authenticate")) != 1 {
			t.Errorf("GET /api/dashboard %s: WWW-Authenticate %q, want one challenge", when, r.header.Values("WWW-Authenticate"))
		}
		if n := len(up.since(m, "GET", "/api/dashboard")); n != 0 {
			t.Fatalf("GET /api/dashboard %s reached the application %d times", when, n)
		}
	}
	dashboardRefused("without a session")

	if f.verifyHidden {
		r := doJSON(t, c, "GET", front+f.base+"/verify", nil, map[string]string{
			"X-Original-Method": "GET", "X-Original-URI": "/api/dashboard", "X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/api/dashboard",
		})
		if r.status != 404 {
			t.Errorf("GET %s/verify from a client: %d %s, want 404", f.base, r.status, r.raw)
		}
	}

	// A browser is sent to the login page.
	{
		req, _ := http.NewRequest("GET", front+dashboardPage, nil)
		req.Header.Set("Accept", "text/html")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		// nginx makes the Location absolute (absolute_redirect).
		loc := strings.TrimPrefix(res.Header.Get("Location"), front)
		if res.StatusCode != 302 || !strings.HasPrefix(loc, f.base+"/ui/login") {
			t.Fatalf("browser GET /api/dashboard: %d Location %q, want 302 to %s/ui/login", res.StatusCode, loc, f.base)
		}
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatalf("browser GET /api/dashboard: Location %q: %v", loc, err)
		}
		if rd := u.Query().Get("rd"); rd != f.rd {
			t.Errorf("browser GET /api/dashboard: Location %q has rd %q, want %q", loc, rd, f.rd)
		}
	}

	// Log in through the front, then the CSRF token.
	if r := login(t, c, front+f.base, "ada", adminPassword); r.status != 200 {
		t.Fatalf("POST /api/session: %d %s", r.status, r.raw)
	}
	if r := doJSON(t, c, "GET", front+f.base+"/session", nil, nil); r.status != 200 {
		t.Fatalf("GET /api/session after login: %d %s", r.status, r.raw)
	}
	r := doJSON(t, c, "GET", front+f.base+"/csrf", nil, nil)
	token := field(r.body, "csrfToken")
	if r.status != 200 || token == "" {
		t.Fatalf("GET /api/csrf: %d %s", r.status, r.raw)
	}
	withToken := map[string]string{"X-CSRF-Token": token}

	// PATCH without the token: 403 csrf_failed, never forwarded.
	m := up.mark()
	r = doJSON(t, c, "PATCH", front+"/api/servers/7", map[string]any{"name": "nas"}, nil)
	if r.status != 403 {
		t.Fatalf("PATCH /api/servers/7 without the token: %d %s, want 403", r.status, r.raw)
	}
	if f.body403 && r.code() != "csrf_failed" {
		t.Errorf("PATCH /api/servers/7 without the token: code %q, want csrf_failed (%s)", r.code(), r.raw)
	}
	if n := len(up.since(m, "PATCH", "/api/servers/7")); n != 0 {
		t.Fatalf("PATCH /api/servers/7 without the token reached the application %d times", n)
	}

	// With the token (and a spoofed Remote-User): forwarded as ada.
	m = up.mark()
	r = doJSON(t, c, "PATCH", front+"/api/servers/7", map[string]any{"name": "nas"},
		map[string]string{"X-CSRF-Token": token, "Remote-User": "admin"})
	if r.status != 200 || field(r.body, "path") != "/api/servers/7" {
		t.Fatalf("PATCH /api/servers/7 with the token: %d %s", r.status, r.raw)
	}
	seen := up.since(m, "PATCH", "/api/servers/7")
	if len(seen) != 1 || len(seen[0].RemoteUser) != 1 || seen[0].RemoteUser[0] != "ada" {
		t.Fatalf("PATCH /api/servers/7 with the token: the application saw %+v, want Remote-User ada once", seen)
	}

	// The dashboard with the session, the spoofed header replaced.
	m = up.mark()
	r = doJSON(t, c, "GET", front+"/api/dashboard", nil, spoof)
	if r.status != 200 {
		t.Fatalf("GET /api/dashboard with a session: %d %s", r.status, r.raw)
	}
	if seen := up.since(m, "GET", "/api/dashboard"); len(seen) != 1 || strings.Join(seen[0].RemoteUser, ",") != "ada" {
		t.Fatalf("GET /api/dashboard with a session: the application saw %+v, want Remote-User ada", seen)
	}

	// Log out (with the token), and the dashboard is refused again.
	if r := doJSON(t, c, "DELETE", front+f.base+"/session", nil, withToken); r.status/100 != 2 {
		t.Fatalf("DELETE /api/session: %d %s", r.status, r.raw)
	}
	dashboardRefused("after logout")
}
