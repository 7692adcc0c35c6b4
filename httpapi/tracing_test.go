package httpapi_test

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/observedstore"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sqlite"
	"github.com/gatehouse/gatehouse/tracing"
)

// recordSpans switches tracing on for the test, into an in-memory
// exporter.
func recordSpans(t *testing.T) *tracetest.InMemoryExporter {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	t.Cleanup(tracing.Use(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))))
	return exp
}

// observedStores wraps an env's SQLite store as gatehouse serve does.
func observedStores(db *sqlite.Store) (account.Stores, gatehouse.SessionStore, []httpapi.ReadyCheck) {
	s := observedstore.Wrap(account.StoresOf(db), observedstore.AllIn("sqlite"), nil)
	return s, s.Sessions, []httpapi.ReadyCheck{{Name: "database", Check: db.Ping}}
}

func spanAttrs(s tracetest.SpanStub) map[attribute.Key]string {
	m := map[attribute.Key]string{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value.String()
	}
	return m
}

// serverSpans are the spans of kind server among spans.
func serverSpans(spans tracetest.SpanStubs) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range spans {
		if s.SpanKind == trace.SpanKindServer {
			out = append(out, s)
		}
	}
	return out
}

// onlyServerSpan is the one server span among spans.
func onlyServerSpan(t *testing.T, spans tracetest.SpanStubs) tracetest.SpanStub {
	t.Helper()
	srv := serverSpans(spans)
	if len(srv) != 1 {
		t.Fatalf("%d server spans, want 1: %v", len(srv), spanNames(spans))
	}
	return srv[0]
}

func spanNames(spans tracetest.SpanStubs) []string {
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
	}
	return names
}

// wantNoSecret fails when an attribute of a span, its name or its
// status holds one of secrets.
func wantNoSecret(t *testing.T, spans tracetest.SpanStubs, secrets ...string) {
	t.Helper()
	for _, s := range spans {
		texts := []string{s.Name, s.Status.Description}
		for _, kv := range s.Attributes {
			texts = append(texts, string(kv.Key)+"="+kv.Value.String())
		}
		for _, ev := range s.Events {
			texts = append(texts, ev.Name)
			for _, kv := range ev.Attributes {
				texts = append(texts, string(kv.Key)+"="+kv.Value.String())
			}
		}
		for _, text := range texts {
			for _, secret := range secrets {
				if secret != "" && strings.Contains(strings.ToLower(text), strings.ToLower(secret)) {
					t.Errorf("span %s carries %q: %q", s.Name, secret, text)
				}
			}
		}
	}
}

// TestTraceLogin: a login is one server span, and the store calls and the
// password verification of the login are its descendants in its trace;
// no span holds the password, the username, the email or the cookie.
func TestTraceLogin(t *testing.T) {
	e := newEnvOver(t, observedStores)
	exp := recordSpans(t)
	b := e.browser()
	w := b.login("admin", adminPassword)
	if w.Code != http.StatusOK {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	spans := exp.GetSpans()
	root := onlyServerSpan(t, spans)
	attrs := spanAttrs(root)
	if root.Name != "POST /auth/session" || root.Parent.IsValid() || root.Status.Code == codes.Error ||
		attrs["http.request.method"] != "POST" || attrs["http.route"] != "/auth/session" ||
		attrs["http.response.status_code"] != "200" || attrs["gatehouse.request_id"] != w.Header().Get(httpapi.HeaderRequestID) ||
		attrs["user.id"] != e.admin.ID {
		t.Errorf("login span %s (parent %v, status %v): %v", root.Name, root.Parent, root.Status, attrs)
	}
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID()] = s
	}
	under := func(s tracetest.SpanStub) bool {
		for s.Parent.IsValid() {
			if s.Parent.SpanID() == root.SpanContext.SpanID() {
				return true
			}
			s = byID[s.Parent.SpanID()]
		}
		return false
	}
	seen := map[string]int{}
	for _, s := range spans {
		if s.SpanContext.SpanID() == root.SpanContext.SpanID() {
			continue
		}
		if s.SpanContext.TraceID() != root.SpanContext.TraceID() || !under(s) {
			t.Errorf("span %s is not in the login's trace under its span", s.Name)
		}
		seen[strings.SplitN(s.Name, ".", 2)[0]]++
		seen[s.Name]++
	}
	if seen["store"] == 0 || seen["password.verify"] != 1 || seen["store.UserByLogin"] == 0 {
		t.Errorf("the login's spans are %v; want store calls (UserByLogin among them) and one password.verify", spanNames(spans))
	}
	wantNoSecret(t, spans, adminPassword, "admin@example.com", `"admin"`, "=admin", b.cookies["gh_session"].Value)
}

// TestTraceUnknownUserLooksTheSame: the dummy verification of a login for
// a user who does not exist is the same span as a real verification.
func TestTraceUnknownUserLooksTheSame(t *testing.T) {
	e := newEnvOver(t, observedStores)
	exp := recordSpans(t)
	verifySpan := func(username string) tracetest.SpanStub {
		t.Helper()
		exp.Reset()
		if w := e.browser().login(username, "wrong password 1"); w.Code != http.StatusUnauthorized {
			t.Fatalf("login %s: %d %s", username, w.Code, w.Body)
		}
		for _, s := range exp.GetSpans() {
			if s.Name == "password.verify" {
				return s
			}
		}
		t.Fatalf("login %s: no password.verify span in %v", username, spanNames(exp.GetSpans()))
		return tracetest.SpanStub{}
	}
	real, dummy := verifySpan("admin"), verifySpan("nobody")
	keys := func(s tracetest.SpanStub) []attribute.Key {
		var k []attribute.Key
		for _, kv := range s.Attributes {
			k = append(k, kv.Key)
		}
		return k
	}
	if real.Name != dummy.Name || real.Status != dummy.Status || len(real.Events) != len(dummy.Events) ||
		strings.Join(attrKeyStrings(keys(real)), " ") != strings.Join(attrKeyStrings(keys(dummy)), " ") {
		t.Errorf("a real user's verification %s %v %v differs from an unknown one's %s %v %v",
			real.Name, real.Status, keys(real), dummy.Name, dummy.Status, keys(dummy))
	}
}

func attrKeyStrings(keys []attribute.Key) []string {
	var s []string
	for _, k := range keys {
		s = append(s, string(k))
	}
	return s
}

// withTrustedLoopback also trusts loopback as a proxy: the client of a
// real listener in the tests.
func withTrustedLoopback(h *httpapi.Config, _ *account.Config, _ *session.Config) {
	h.TrustedProxies = append(h.TrustedProxies, netip.MustParsePrefix("127.0.0.0/8"))
}

const (
	clientTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientParent = "00f067aa0ba902b7"
	traceparent  = "00-" + clientTrace + "-" + clientParent + "-01"
)

// TestTraceparentFromTrustedProxyOnly: a trusted proxy's traceparent is
// continued; a client's starts no trace of its choosing.
func TestTraceparentFromTrustedProxyOnly(t *testing.T) {
	e := newEnv(t, withGateway(gatewayTable(t), nil))
	exp := recordSpans(t)
	for _, c := range []struct {
		name, addr string
		continued  bool
	}{
		{"trusted proxy", proxyAddr, true},
		{"client", "192.0.2.10:40000", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			exp.Reset()
			b := e.browser()
			b.addr = c.addr
			b.do("GET", "/auth/healthz", "", header("Traceparent", traceparent))
			s := onlyServerSpan(t, exp.GetSpans())
			continued := s.SpanContext.TraceID().String() == clientTrace && s.Parent.SpanID().String() == clientParent && s.Parent.IsRemote()
			if continued != c.continued || (!continued && s.Parent.IsValid()) {
				t.Errorf("span %s in trace %s under %v; continued %v, want %v", s.Name, s.SpanContext.TraceID(), s.Parent, continued, c.continued)
			}
			if s.Name != "GET /auth/healthz" {
				t.Errorf("span named %q", s.Name)
			}
		})
	}
}

// TestTraceVerify: GET /auth/verify is a server span in the proxy's
// trace, with the user it found, and its store calls under it.
func TestTraceVerify(t *testing.T) {
	e := newEnvOver(t, observedStores, withGateway(gatewayTable(t), nil), func(_ *httpapi.Config, _ *account.Config, s *session.Config) {
		s.CacheTTL = -1 // the session is read from the store each time
	})
	b, _ := e.loggedIn()
	exp := recordSpans(t)
	w := b.verify(with(nginxAuth("GET", "/app/dashboard?secret=query-value"), header("Traceparent", traceparent))...)
	if w.Code != http.StatusOK {
		t.Fatalf("verify: %d %s", w.Code, w.Body)
	}
	spans := exp.GetSpans()
	s := onlyServerSpan(t, spans)
	attrs := spanAttrs(s)
	if s.Name != "GET /auth/verify" || s.SpanContext.TraceID().String() != clientTrace || attrs["user.id"] != e.admin.ID ||
		attrs["http.response.status_code"] != "200" || attrs["gatehouse.request_id"] != w.Header().Get(httpapi.HeaderRequestID) {
		t.Errorf("verify span %s in trace %s: %v", s.Name, s.SpanContext.TraceID(), attrs)
	}
	stores := 0
	for _, c := range spans {
		if strings.HasPrefix(c.Name, "store.") {
			stores++
			if c.Parent.SpanID() != s.SpanContext.SpanID() {
				t.Errorf("%s is not under the verify span", c.Name)
			}
		}
	}
	if stores == 0 {
		t.Errorf("no store span under verify: %v", spanNames(spans))
	}
	wantNoSecret(t, spans, "query-value", "/app/dashboard", b.cookies["gh_session"].Value)
}

// TestTraceUpstream: the upstream gets the traceparent of gatehouse's
// span (not the client's); with tracing off, a trusted proxy's passes on
// and a client's does not.
func TestTraceUpstream(t *testing.T) {
	up := newUpstream(t)
	for _, c := range []struct {
		name    string
		trusted bool
		traced  bool
	}{
		{"traced, client", false, true},
		{"traced, trusted proxy", true, true},
		{"off, client", false, false},
		{"off, trusted proxy", true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var opts []envOption
			if c.trusted {
				opts = append(opts, withTrustedLoopback)
			}
			g := newGatewayFront(t, up.url(t), opts...)
			cookie, _ := g.sessionOf("admin", adminPassword)
			var exp *tracetest.InMemoryExporter
			if c.traced {
				exp = recordSpans(t)
			}
			_, echo := g.echo("GET", "/app/page", "", http.Header{"Cookie": {cookie}, "Traceparent": {traceparent}, "Tracestate": {"vendor=client"}})
			got := echo.Header.Get("Traceparent")
			switch {
			case c.traced:
				s := onlyServerSpan(t, exp.GetSpans())
				want := "00-" + s.SpanContext.TraceID().String() + "-" + s.SpanContext.SpanID().String() + "-01"
				if got != want || s.Name != "GET upstream" {
					t.Errorf("the upstream got traceparent %q, want %q of gatehouse's span %s", got, want, s.Name)
				}
				if (s.SpanContext.TraceID().String() == clientTrace) != c.trusted {
					t.Errorf("span in trace %s; a trusted proxy's trace is %s", s.SpanContext.TraceID(), clientTrace)
				}
				if ts := echo.Header.Get("Tracestate"); !c.trusted && ts != "" {
					t.Errorf("the upstream got the client's tracestate %q", ts)
				}
			case c.trusted:
				if got != traceparent {
					t.Errorf("the upstream got traceparent %q, want the trusted proxy's", got)
				}
			default:
				if got != "" || echo.Header.Get("Tracestate") != "" {
					t.Errorf("the upstream got a client's trace context %q", got)
				}
			}
		})
	}
}

// TestTraceServerError: a 5xx is an Error span, as is a failing store call.
func TestTraceServerError(t *testing.T) {
	e := newEnvOver(t, observedStores)
	e.store.Close() // every store call fails
	exp := recordSpans(t)
	w := e.browser().login("admin", adminPassword)
	if w.Code < 500 {
		t.Fatalf("login over a closed store: %d, want a 5xx", w.Code)
	}
	s := onlyServerSpan(t, exp.GetSpans())
	if s.Status.Code != codes.Error || spanAttrs(s)["http.response.status_code"] != strconv.Itoa(w.Code) {
		t.Errorf("span %s: status %v, attributes %v", s.Name, s.Status, spanAttrs(s))
	}
}
