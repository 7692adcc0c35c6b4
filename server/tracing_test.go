package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/tracing"
)

// TestTracesEndToEnd runs gatehouse as Open wires it, in gateway mode in
// front of a real upstream, with tracing into an in-memory exporter: a
// login is a server span with its store calls and its password
// verification under it, in one trace; a trusted proxy's traceparent is
// continued and a client's is not; the upstream gets the traceparent of
// gatehouse's span; the store calls are timed in the metrics too; and no
// attribute of any span holds the password, the session cookie, the
// email or the username.
func TestTracesEndToEnd(t *testing.T) {
	gotTraceparent := make(chan string, 1)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotTraceparent <- r.Header.Get("Traceparent")
		w.Write([]byte("upstream"))
	}))
	t.Cleanup(upstream.Close)
	upURL, _ := url.Parse(upstream.URL)
	table, err := policy.Compile([]policy.Rule{{Path: "/app/**", Access: policy.Authenticated}})
	if err != nil {
		t.Fatal(err)
	}
	gh := open(t, server.Config{
		DataDir:        filepath.Join(t.TempDir(), "data"),
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Routes:         table,
		Gateway:        server.Gateway{Upstream: upURL},
	})
	const username, email = "tracy", "tracy.lane@example.com"
	user, err := gh.Accounts().CreateUser(t.Context(), account.NewUser{Username: username, Email: email, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	t.Cleanup(tracing.Use(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))))

	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	const traceparent = "00-" + clientTrace + "-00f067aa0ba902b7-01"
	request := func(method, path, body, from string, cookie *http.Cookie) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.RemoteAddr = from
		r.Header.Set("Traceparent", traceparent)
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		if cookie != nil {
			r.AddCookie(cookie)
		}
		w := httptest.NewRecorder()
		gh.ServeHTTP(w, r)
		return w
	}
	serverSpan := func() (tracetest.SpanStub, tracetest.SpanStubs) {
		t.Helper()
		spans := exp.GetSpans()
		exp.Reset()
		var found []tracetest.SpanStub
		for _, s := range spans {
			if s.SpanKind == trace.SpanKindServer {
				found = append(found, s)
			}
		}
		if len(found) != 1 {
			t.Fatalf("%d server spans among %d", len(found), len(spans))
		}
		return found[0], spans
	}
	var all tracetest.SpanStubs

	// A login from a client: a new trace, whatever traceparent it sent.
	body, _ := json.Marshal(map[string]string{"username": username, "password": testPassword})
	w := request("POST", "/auth/session", string(body), "192.0.2.10:40000", nil)
	if w.Code != http.StatusOK {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	var cookie *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == "gh_session" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("the login set no session cookie")
	}
	login, spans := serverSpan()
	all = append(all, spans...)
	if login.Name != "POST /auth/session" || login.Parent.IsValid() || login.SpanContext.TraceID().String() == clientTrace {
		t.Errorf("login span %s, parent %v, trace %s: want a new trace", login.Name, login.Parent, login.SpanContext.TraceID())
	}
	kinds := map[string]int{}
	for _, s := range spans {
		// (The background work, the outbox and the sweeper, has traces
		// of its own.)
		if s.SpanContext.SpanID() == login.SpanContext.SpanID() || s.SpanContext.TraceID() != login.SpanContext.TraceID() {
			continue
		}
		if !s.Parent.IsValid() {
			t.Errorf("span %s is a second root in the login's trace", s.Name)
		}
		kinds[strings.SplitN(s.Name, ".", 2)[0]]++
		kinds[s.Name]++
	}
	if kinds["store"] == 0 || kinds["password.verify"] != 1 {
		t.Errorf("the login's trace has %v; want store calls and one password verification", kinds)
	}
	for _, kv := range login.Attributes {
		if kv.Key == "user.id" && kv.Value.AsString() != user.ID {
			t.Errorf("user.id = %q, want %q", kv.Value.AsString(), user.ID)
		}
	}

	// From a trusted proxy, the trace goes on.
	if w := request("GET", "/auth/session", "", "10.0.0.2:5000", cookie); w.Code != http.StatusOK {
		t.Fatalf("GET /auth/session: %d %s", w.Code, w.Body)
	}
	fromProxy, spans := serverSpan()
	all = append(all, spans...)
	if fromProxy.SpanContext.TraceID().String() != clientTrace || !fromProxy.Parent.IsRemote() {
		t.Errorf("a trusted proxy's request is in trace %s, want its %s", fromProxy.SpanContext.TraceID(), clientTrace)
	}

	// Through the reverse proxy, the upstream continues gatehouse's span.
	if w := request("GET", "/app/page?token=query-secret", "", "192.0.2.10:40000", cookie); w.Code != http.StatusOK {
		t.Fatalf("proxied GET: %d %s", w.Code, w.Body)
	}
	proxied, spans := serverSpan()
	all = append(all, spans...)
	want := "00-" + proxied.SpanContext.TraceID().String() + "-" + proxied.SpanContext.SpanID().String() + "-01"
	if got := <-gotTraceparent; got != want || proxied.Name != "GET upstream" {
		t.Errorf("the upstream got traceparent %q, want %q of span %s", got, want, proxied.Name)
	}

	// The same wrappers time the store calls for the metrics.
	if w := request("GET", "/auth/metrics", "", "127.0.0.1:40000", nil); w.Code != http.StatusOK ||
		!strings.Contains(w.Body.String(), `gatehouse_store_duration_seconds_count{op="UserByLogin",store="database"}`) {
		t.Errorf("GET /auth/metrics: %d, without the login's store call timed:\n%.2000s", w.Code, w.Body)
	}

	for _, s := range all {
		texts := []string{s.Name, s.Status.Description}
		for _, kv := range s.Attributes {
			texts = append(texts, kv.Value.String())
		}
		for _, text := range texts {
			for _, secret := range []string{testPassword, cookie.Value, email, username, "query-secret"} {
				if strings.Contains(text, secret) {
					t.Errorf("span %s carries %q", s.Name, secret)
				}
			}
		}
	}
}
