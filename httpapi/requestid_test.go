package httpapi_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/session"
)

// madeID is the shape of a request id gatehouse makes itself.
var madeID = regexp.MustCompile(`^[0-9a-f]{16}$`)

// requestID returns the one X-Request-Id of w, failing when there is not
// exactly one.
func requestID(t *testing.T, h http.Header) string {
	t.Helper()
	if v := h.Values("X-Request-Id"); len(v) != 1 {
		t.Fatalf("X-Request-Id = %q, want exactly one", v)
	}
	return h.Get("X-Request-Id")
}

// TestRequestID: every answer carries X-Request-Id, made anew for each
// request unless a trusted proxy sent a sane one; a client that is not a
// trusted proxy cannot choose it, nor can a proxy send a malformed one.
func TestRequestID(t *testing.T) {
	e := newEnv(t, withGateway(gatewayTable(t), nil))
	anon := e.browser()

	first := requestID(t, anon.do("GET", "/auth/session", "").Header())
	second := requestID(t, anon.do("GET", "/auth/session", "").Header())
	if !madeID.MatchString(first) || !madeID.MatchString(second) || first == second {
		t.Errorf("ids %q, %q: want two different ones of 16 hex digits", first, second)
	}

	// A client's own id is not believed.
	got := requestID(t, anon.do("GET", "/auth/session", "", header("X-Request-Id", "chosen-by-client")).Header())
	if !madeID.MatchString(got) {
		t.Errorf("untrusted client's id: answer's id %q, want a new one", got)
	}

	proxy := e.browser()
	proxy.addr = proxyAddr
	for _, id := range []string{"a", "req-1.2_3:4", "550e8400-e29b-41d4-a716-446655440000", strings.Repeat("x", 128)} {
		if got := requestID(t, proxy.do("GET", "/auth/session", "", header("X-Request-Id", id)).Header()); got != id {
			t.Errorf("trusted proxy's id %q: answer's id %q", id, got)
		}
	}
	for _, id := range []string{"", "has space", "semi;colon", "quote\"", "é", "line\nbreak", strings.Repeat("x", 129)} {
		if got := requestID(t, proxy.do("GET", "/auth/session", "", header("X-Request-Id", id)).Header()); !madeID.MatchString(got) {
			t.Errorf("trusted proxy's malformed id %q: answer's id %q, want a new one", id, got)
		}
	}
	// Two ids are ambiguous: a new one.
	w := proxy.do("GET", "/auth/session", "", func(r *http.Request) { r.Header["X-Request-Id"] = []string{"one", "two"} })
	if got := requestID(t, w.Header()); !madeID.MatchString(got) {
		t.Errorf("two ids: answer's id %q, want a new one", got)
	}

	// A problem names the id of its answer (wantProblem checks it).
	p := wantProblem(t, proxy.do("GET", "/auth/tokens", "", header("X-Request-Id", "trace-7")), 401, gatehouse.CodeUnauthenticated)
	if p.RequestID != "trace-7" {
		t.Errorf("problem requestId = %q, want trace-7", p.RequestID)
	}

	// GET /auth/verify: its allowing answer, its refusals, its 302.
	viewer, _, _ := e.userBrowser("viewer")
	if got := requestID(t, viewer.verify(with(nginxAuth("GET", "/app/x"), header("X-Request-Id", "nginx-abc"))...).Header()); got != "nginx-abc" {
		t.Errorf("verify (allowed): id %q, want nginx-abc", got)
	}
	p = wantProblem(t, anon.verify(nginxAuth("GET", "/app/x")...), 401, gatehouse.CodeUnauthenticated)
	if !madeID.MatchString(p.RequestID) {
		t.Errorf("verify (401): requestId %q", p.RequestID)
	}
	// From a peer that is not a trusted proxy: refused, with a new id.
	w = anon.do("GET", "/auth/verify", "", with(nginxAuth("GET", "/app/x"), header("X-Request-Id", "forged"))...)
	if p := wantProblem(t, w, 403, gatehouse.CodePermissionDenied); !madeID.MatchString(p.RequestID) {
		t.Errorf("verify from an untrusted peer: requestId %q, want a new one", p.RequestID)
	}
	w = anon.verify(with(traefikAuth("GET", "/app/x"), header("Accept", "text/html"))...)
	if w.Code != http.StatusFound || !madeID.MatchString(requestID(t, w.Header())) {
		t.Errorf("verify (302): %d, id %q", w.Code, w.Header().Get("X-Request-Id"))
	}
}

// TestRequestIDUpstream: the reverse proxy sends the request's id on to
// the application, answers with it alone (not the application's own too),
// and a client cannot pass its own to the application.
func TestRequestIDUpstream(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayFront(t, up.url(t))
	res, echo := g.echo("GET", "/app/public/x", "", http.Header{"X-Request-Id": {"from-client"}})
	id := requestID(t, res.Header)
	if !madeID.MatchString(id) {
		t.Fatalf("answer's id %q, want a new one", id)
	}
	if got := echo.Header.Values("X-Request-Id"); len(got) != 1 || got[0] != id {
		t.Errorf("upstream got X-Request-Id %q, want [%s]", got, id)
	}
	// A trusted proxy in front (here the loopback peer) keeps its id, to
	// the application too.
	g = newGatewayFront(t, up.url(t), func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
		h.TrustedProxies = append(h.TrustedProxies, mustPrefix("127.0.0.0/8"), mustPrefix("::1/128"))
	})
	res, echo = g.echo("GET", "/app/public/x", "", http.Header{"X-Request-Id": {"edge-42"}, "X-Forwarded-For": {"203.0.113.5"}})
	if got := requestID(t, res.Header); got != "edge-42" || echo.Header.Get("X-Request-Id") != "edge-42" {
		t.Errorf("trusted proxy's id: answer %q, upstream %q; want edge-42", got, echo.Header.Get("X-Request-Id"))
	}
}

// syncBuffer is a log destination the handler goroutine and the test
// share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// logLines parses a JSON log, one object a line.
func logLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// TestRequestLog: with LogRequests, each answered request has one line
// at info with its method, route pattern, status, duration, request id,
// client and user id; error lines carry the request id too; and nothing
// secret (password, cookie, CSRF token, API token, query) is written.
func TestRequestLog(t *testing.T) {
	var buf syncBuffer
	e := newEnvDeps(t, nil, func(d *httpapi.Deps) {
		d.Log = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}, withGateway(gatewayTable(t), nil), func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
		h.LogRequests = true
	})
	b, csrf := e.loggedIn()
	var tok struct{ Secret string }
	w := b.do("POST", "/auth/tokens", `{"name":"ci"}`, header("X-CSRF-Token", csrf))
	if w.Code != http.StatusCreated {
		t.Fatalf("create token: %d %s", w.Code, w.Body)
	}
	decode(t, w, &tok)
	bearer := e.browser()
	meID := requestID(t, bearer.do("GET", "/auth/tokens?secretquery=s3cr3t", "", header("Authorization", "Bearer "+tok.Secret)).Header())
	refusedID := requestID(t, b.do("POST", "/auth/tokens", `{"name":"x"}`, header("Origin", "https://evil.example"), header("Sec-Fetch-Site", "cross-site")).Header())
	verifyID := requestID(t, b.verify(with(nginxAuth("GET", "/app/x?token=qs"), header("X-Request-Id", "vfy-1"))...).Header())

	log := buf.String()
	var requests []map[string]any
	for _, l := range logLines(t, log) {
		if l["msg"] == "request" {
			requests = append(requests, l)
		}
	}
	// login, token, GET /auth/me, the refusal, verify.
	if len(requests) != 5 {
		t.Fatalf("%d request lines, want 5:\n%s", len(requests), log)
	}
	want := []struct {
		method, route string
		status        float64
		id            string
		user          string
	}{
		{"POST", "/auth/session", 200, "", e.admin.ID},
		{"POST", "/auth/tokens", 201, "", e.admin.ID},
		{"GET", "/auth/tokens", 200, meID, e.admin.ID},
		{"POST", "other", 403, refusedID, ""},
		{"GET", "/auth/verify", 200, verifyID, e.admin.ID},
	}
	for i, l := range requests {
		w := want[i]
		if l["level"] != "INFO" || l["method"] != w.method || l["route"] != w.route || l["status"] != w.status ||
			(w.id != "" && l["request_id"] != w.id) || l["user_id"] != w.user {
			t.Errorf("line %d = %v, want %+v", i, l, w)
		}
		if d, ok := l["duration"].(float64); !ok || d < 0 {
			t.Errorf("line %d: duration %v", i, l["duration"])
		}
		if id, _ := l["request_id"].(string); id == "" {
			t.Errorf("line %d: no request_id", i)
		}
		if l["client"] != "192.0.2.10" && !(i == 4 && l["client"] == "203.0.113.5") {
			t.Errorf("line %d: client %v", i, l["client"])
		}
	}
	if verifyID != "vfy-1" {
		t.Errorf("verify id %q", verifyID)
	}
	// The refusal's own line names the request.
	if !strings.Contains(log, `"msg":"cross-origin request refused"`) || !regexp.MustCompile(`"msg":"cross-origin request refused"[^\n]*"request_id":"`+refusedID+`"`).MatchString(log) {
		t.Errorf("no cross-origin line with request_id %s:\n%s", refusedID, log)
	}
	secrets := []string{adminPassword, csrf, tok.Secret, "s3cr3t", "secretquery", "token=qs"}
	for _, c := range b.cookies {
		secrets = append(secrets, c.Value)
	}
	for _, secret := range secrets {
		if secret != "" && strings.Contains(log, secret) {
			t.Errorf("the log holds a secret %q:\n%s", secret, log)
		}
	}
}
