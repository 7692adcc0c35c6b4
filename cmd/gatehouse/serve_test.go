package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/metrics/metricstest"
)

const (
	adminName     = "admin"
	adminEmail    = "admin@example.com"
	adminPassword = "root pass phrase with spaces "
)

// TestServeEndToEnd starts the server in-process, creates the first
// administrator with the setup link, logs in, shuts down gracefully with a
// login in flight, and starts again on the same data directory.
func TestServeEndToEnd(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServe(t, nil, "--addr", "127.0.0.1:0", "--data", dataDir)
	token := srv.setupToken()
	c := newClient(t)

	for _, p := range []string{"/healthz", "/readyz"} {
		if r := doJSON(t, c, "GET", srv.base+p, nil, nil); r.status != http.StatusOK {
			t.Errorf("GET %s: %d %s", p, r.status, r.raw)
		}
	}

	// Opening the setup page (as a mail scanner or a browser would) does
	// not use the token up.
	resp, err := c.Get(srv.base + "/ui/setup?token=" + token)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(page, []byte(`name="token"`)) {
		t.Errorf("GET setup page: %d, want 200 and the form:\n%s", resp.StatusCode, page)
	}

	setup := func(tok, username, password string) map[string]any {
		return map[string]any{"token": tok, "username": username, "email": username + "@example.com", "password": password}
	}
	steps := []struct {
		name       string
		body       map[string]any
		wantStatus int
		wantCode   string
	}{
		{"wrong token", setup("not-the-token", adminName, adminPassword), http.StatusBadRequest, "invalid_token"},
		{"empty token", setup("", adminName, adminPassword), http.StatusBadRequest, "invalid_token"},
		{"short password keeps the token", setup(token, adminName, "short"), http.StatusUnprocessableEntity, "password_policy"},
		{"bad username keeps the token", setup(token, "has space", adminPassword), http.StatusUnprocessableEntity, "validation"},
		{"first administrator", setup(token, adminName, adminPassword), http.StatusCreated, ""},
		{"same token again", setup(token, "second", adminPassword), http.StatusBadRequest, "invalid_token"},
	}
	for _, st := range steps {
		t.Run("setup/"+st.name, func(t *testing.T) {
			r := doJSON(t, c, "POST", srv.base+"/setup", st.body, nil)
			if r.status != st.wantStatus || r.code() != st.wantCode {
				t.Fatalf("POST setup: %d %s, want %d %q", r.status, r.raw, st.wantStatus, st.wantCode)
			}
			if st.wantStatus != http.StatusCreated {
				return
			}
			user, _ := r.body["user"].(map[string]any)
			got := map[string]any{"username": user["username"], "email": user["email"], "state": user["state"],
				"groups": user["groups"], "permissions": user["permissions"]}
			want := map[string]any{"username": adminName, "email": adminEmail, "state": "active",
				"groups": []any{"administrators"}, "permissions": []any{"*"}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("created administrator (-want +got):\n%s", diff)
			}
		})
	}
	if t.Failed() {
		t.FailNow()
	}

	r := login(t, c, srv.base, adminName, adminPassword)
	if r.status != http.StatusOK || r.body["state"] != "authenticated" || field(r.body, "csrfToken") == "" ||
		field(r.body, "user", "username") != adminName || field(r.body, "session", "id") == "" {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	if r := login(t, newClient(t), srv.base, adminName, strings.TrimSpace(adminPassword)); r.status != http.StatusUnauthorized || r.code() != "invalid_credentials" {
		t.Errorf("login with the trimmed password: %d %s, want 401 invalid_credentials", r.status, r.raw)
	}
	r = doJSON(t, c, "GET", srv.base+"/session", nil, nil)
	if r.status != http.StatusOK || field(r.body, "user", "username") != adminName || field(r.body, "user", "email") != adminEmail {
		t.Fatalf("GET session: %d %s", r.status, r.raw)
	}
	if r := doJSON(t, newClient(t), "GET", srv.base+"/session", nil, nil); r.status != http.StatusUnauthorized || r.code() != "unauthenticated" {
		t.Errorf("GET session without cookie: %d %s, want 401 unauthenticated", r.status, r.raw)
	}

	// BASE/metrics counts the answers and the audit events (one login
	// succeeded, one failed), with no name or address in any label.
	resp, err = c.Get(srv.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scraped, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET metrics: %d %s", resp.StatusCode, scraped)
	}
	fams := metricstest.Parse(t, bytes.NewReader(scraped))
	metricstest.Check(t, fams, []metricstest.Series{
		{Name: "gatehouse_audit_events_total", Labels: map[string]string{"kind": "login.succeeded"}, Want: 1},
		{Name: "gatehouse_audit_events_total", Labels: map[string]string{"kind": "login.failed"}, Want: 1},
		{Name: "gatehouse_http_requests_total", Labels: map[string]string{"route": "/auth/session", "code": "200"}, Want: 1},
		{Name: "gatehouse_http_requests_total", Labels: map[string]string{"route": "/auth/setup", "code": "201"}, Want: 1},
	})
	for _, secret := range []string{adminName, adminEmail, "127.0.0.1"} {
		if bytes.Contains(scraped, []byte(secret)) {
			t.Errorf("the metrics name %q", secret)
		}
	}

	// Graceful shutdown: a login the server is already handling when the
	// context is cancelled completes with 200, and run returns 0.
	inflight := startInflightLogin(t, srv.base, adminName, adminPassword)
	select {
	case <-inflight.started:
	case err := <-inflight.failed:
		t.Fatalf("in-flight login: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("the server never started reading the in-flight login")
	}
	srv.cancel()
	srv.log.wait(t, regexp.MustCompile(`shutting down`), 10*time.Second)
	waitRefused(t, srv.addr)
	select {
	case <-srv.exited:
		t.Fatalf("serve returned (exit %d) while a request was in flight:\n%s", srv.code, srv.log)
	default:
	}
	inflight.release()
	select {
	case res := <-inflight.done:
		if res.status != http.StatusOK || field(res.body, "user", "username") != adminName {
			t.Errorf("in-flight login: %d %s, want 200", res.status, res.raw)
		}
	case err := <-inflight.failed:
		t.Errorf("in-flight login failed: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("in-flight login did not complete")
	}
	if code := srv.stop(); code != exitOK {
		t.Fatalf("serve exited %d, want 0:\n%s", code, srv.log)
	}
	if !strings.Contains(srv.log.String(), `msg=stopped`) {
		t.Errorf("no stopped line in the log:\n%s", srv.log)
	}

	// A second start on the same data directory prints no setup link, and
	// the administrator persists.
	srv2 := startServe(t, nil, "--addr", "127.0.0.1:0", "--data", dataDir)
	c2 := newClient(t)
	if r := login(t, c2, srv2.base, "ADMIN@example.com", adminPassword); r.status != http.StatusOK {
		t.Errorf("login after restart: %d %s", r.status, r.raw)
	}
	if r := doJSON(t, c2, "POST", srv2.base+"/setup", setup(token, "again", adminPassword), nil); r.status != http.StatusBadRequest || r.code() != "invalid_token" {
		t.Errorf("old setup token after restart: %d %s, want 400 invalid_token", r.status, r.raw)
	}
	if code := srv2.stop(); code != exitOK {
		t.Fatalf("second serve exited %d, want 0:\n%s", code, srv2.log)
	}
	if log := srv2.log.String(); setupLinkRe.MatchString(log) || strings.Contains(log, "setup?token=") {
		t.Errorf("second start printed a setup link although a user exists:\n%s", log)
	}
}

// TestServeStops checks serve's exit codes when it cannot run or is told to
// stop early.
func TestServeStops(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	tests := []struct {
		name     string
		cancel   bool // cancel the context before run starts
		addr     string
		wantCode int
		wantErr  string
	}{
		{name: "cancelled before start", cancel: true, addr: "127.0.0.1:0", wantCode: exitOK},
		{name: "address in use", addr: busy.Addr().String(), wantCode: exitFailure, wantErr: "listen on " + busy.Addr().String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			if tt.cancel {
				cancel()
			}
			var stderr bytes.Buffer
			code := run(ctx, []string{"serve", "--addr", tt.addr, "--data", t.TempDir()}, mapEnv(nil), mapEnviron(nil), strings.NewReader(""), io.Discard, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d:\n%s", code, tt.wantCode, &stderr)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.wantErr, &stderr)
			}
			if code == exitOK && strings.Contains(stderr.String(), "context canceled") {
				t.Errorf("a requested stop was reported as an error:\n%s", &stderr)
			}
		})
	}
}

// inflightLogin is a login whose body is held back until release, sent with
// Expect: 100-continue so the test knows when the server's handler has
// started reading it.
type inflightLogin struct {
	started chan struct{} // the server asked for the body: the handler runs
	done    chan response
	failed  chan error
	release func()
}

func startInflightLogin(t *testing.T, base, username, password string) *inflightLogin {
	t.Helper()
	body, err := json.Marshal(loginBody(username, password))
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	l := &inflightLogin{started: make(chan struct{}), done: make(chan response, 1), failed: make(chan error, 1)}
	var once sync.Once
	l.release = func() {
		go func() {
			pw.Write(body)
			pw.Close()
		}()
	}
	t.Cleanup(func() { pw.CloseWithError(io.ErrClosedPipe) })
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
		Got100Continue: func() { once.Do(func() { close(l.started) }) },
	})
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/session", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	tr := &http.Transport{ExpectContinueTimeout: time.Minute, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 40 * time.Second}
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			l.failed <- err
			return
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			l.failed <- err
			return
		}
		r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
		json.Unmarshal(raw, &r.body)
		l.done <- r
	}()
	return l
}

// waitRefused waits until addr no longer accepts connections.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts connections while shutting down", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeJSONLog: with log.format json every line serve writes is one
// JSON object (what log collectors parse), and log.level drops the levels
// below it; a bad format or level is a configuration error naming the key.
func TestServeJSONLog(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "gatehouse.yaml", "log:\n  format: json\n  level: warn\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfg, "--data", dir, "--addr", "127.0.0.1:0"}, mapEnv(nil), mapEnviron(nil), strings.NewReader(""), io.Discard, pw)
		pw.Close()
	}()
	var lines []map[string]any
	dec := json.NewDecoder(pr)
	for len(lines) < 2 {
		var line map[string]any
		if err := dec.Decode(&line); err != nil {
			t.Fatalf("log line %d is not JSON: %v", len(lines)+1, err)
		}
		lines = append(lines, line)
	}
	cancel()
	go io.Copy(io.Discard, pr)
	if code := <-done; code != 0 {
		t.Errorf("serve exited %d", code)
	}
	for _, l := range lines {
		// The start warnings (mail and SMS to the log) pass warn; the
		// info lines (listening, the setup link) do not.
		if l["level"] != "WARN" || l["msg"] == "" {
			t.Errorf("line %v: want a WARN line with a msg", l)
		}
	}

	for _, tc := range []struct{ yaml, want string }{
		{"log:\n  format: xml\n", `gatehouse.yaml:2: log.format: must be text or json, not "xml"`},
		{"log:\n  level: loud\n", `gatehouse.yaml:2: log.level: must be debug, info, warn or error, not "loud"`},
	} {
		f := writeFile(t, t.TempDir(), "gatehouse.yaml", tc.yaml)
		code, _, stderr := runCmd(t, nil, "", "config", "check", "--config", f)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.yaml, code, stderr, exitUsage, tc.want)
		}
	}
	if code, _, stderr := runCmd(t, map[string]string{"GATEHOUSE_LOG_LEVEL": "chatty"}, "", "config", "check"); code != exitUsage || !strings.Contains(stderr, "GATEHOUSE_LOG_LEVEL: log.level: must be") {
		t.Errorf("GATEHOUSE_LOG_LEVEL=chatty: exit %d, %q", code, stderr)
	}
}
