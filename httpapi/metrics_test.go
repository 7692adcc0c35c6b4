package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/metrics"
	"github.com/gatehouse/gatehouse/metrics/metricstest"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/session"
)

// TestMetricsEndpoint: BASE/metrics counts gatehouse's answers by route
// pattern, its forward-auth decisions, and (wired through
// account.Config.OnAudit) the audit events.
func TestMetricsEndpoint(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, withGateway(gatewayTable(t), nil), func(h *httpapi.Config, a *account.Config, _ *session.Config) {
		h.Metrics = m
		a.OnAudit = m.Audit
	})
	b := e.browser()
	if w := b.login("admin", adminPassword); w.Code != 200 {
		t.Fatalf("login: %d", w.Code)
	}
	wantProblem(t, e.browser().login("admin", "not the password"), 401, gatehouse.CodeInvalidCredentials)
	anon := e.browser()
	for range 3 {
		wantAllowed(t, b.verify(nginxAuth("GET", "/app/x")...), "admin", "administrators")
	}
	wantProblem(t, anon.verify(nginxAuth("GET", "/app/x")...), 401, gatehouse.CodeUnauthenticated)
	wantProblem(t, b.verify(nginxAuth("GET", "/elsewhere")...), 403, gatehouse.CodePermissionDenied)
	wantProblem(t, b.verify(nginxAuth("GET", "/app/../x")...), 400, gatehouse.CodeBadRequest)
	if w := anon.verify(with(traefikAuth("GET", "/app/x"), header("Accept", "text/html"))...); w.Code != 302 {
		t.Fatalf("browser verify: %d", w.Code)
	}
	if w := anon.verify(with(nginxAuth("GET", "/app/x"), header("Accept", "text/html"))...); w.Code != 401 {
		t.Fatalf("browser verify for nginx: %d", w.Code)
	}

	fams := metricstest.Scrape(t, e.api, "/auth/metrics")
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"gatehouse_http_requests_total", map[string]string{"route": "POST /auth/session", "method": "POST", "code": "200"}, 1},
		{"gatehouse_http_requests_total", map[string]string{"route": "POST /auth/session", "method": "POST", "code": "401"}, 1},
		// verify's answers are counted as decisions only.
		{"gatehouse_http_requests_total", map[string]string{"route": "GET /auth/verify"}, -1},
		{"gatehouse_forward_auth_decisions_total", map[string]string{"result": "allowed"}, 3},
		{"gatehouse_forward_auth_decisions_total", map[string]string{"result": "unauthenticated"}, 1},
		{"gatehouse_forward_auth_decisions_total", map[string]string{"result": "forbidden"}, 1},
		{"gatehouse_forward_auth_decisions_total", map[string]string{"result": "bad_request"}, 1},
		{"gatehouse_forward_auth_decisions_total", map[string]string{"result": "login"}, 2},
		{"gatehouse_audit_events_total", map[string]string{"kind": string(gatehouse.AuditLoginSucceeded)}, 1},
		{"gatehouse_audit_events_total", map[string]string{"kind": string(gatehouse.AuditLoginFailed)}, 1},
		{"gatehouse_audit_events_total", map[string]string{"kind": string(gatehouse.AuditPermissionDenied)}, 1},
	} {
		if got := metricstest.Value(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// TestMetricsRouteGate: a route-table rule that matches BASE/metrics must
// allow the scrape, so the metrics can be kept to a monitoring network.
func TestMetricsRouteGate(t *testing.T) {
	table, err := policy.Compile([]policy.Rule{
		{Path: "/auth/metrics", Access: policy.Public, Networks: []string{"198.51.100.0/24"}},
		{Path: "/auth/metrics", Access: policy.Deny},
		{Path: "/**", Access: policy.Public},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(h *httpapi.Config, _ *account.Config, _ *session.Config) { h.Routes = table })
	b := e.browser()
	b.addr = "198.51.100.7:5000"
	if w := b.do("GET", "/auth/metrics", ""); w.Code != 200 {
		t.Errorf("from the monitoring network: %d, want 200", w.Code)
	}
	b.addr = "203.0.113.9:5000"
	wantProblem(t, b.do("GET", "/auth/metrics", ""), 403, gatehouse.CodePermissionDenied)
	// Without a rule for it, the metrics are open, like healthz.
	open := newEnv(t)
	if w := open.browser().do("GET", "/auth/metrics", "", func(r *http.Request) { r.RemoteAddr = "203.0.113.9:5000" }); w.Code != 200 {
		t.Errorf("without a table: %d, want 200", w.Code)
	}
}

// TestMetricsProxy: in reverse-proxy mode the decisions are counted, and
// what was forwarded is counted under the route "upstream".
func TestMetricsProxy(t *testing.T) {
	m := metrics.New()
	up := newUpstream(t)
	g := newGatewayFront(t, up.url(t), func(h *httpapi.Config, _ *account.Config, _ *session.Config) { h.Metrics = m })
	g.e.createUser("viewer", "viewer@example.com", pwOf("viewer"))
	cookie, _ := g.sessionOf("viewer", pwOf("viewer"))

	g.echo("GET", "/app/page", "", http.Header{"Cookie": {cookie}})
	res, body := g.do("GET", "/app/page", "", nil)
	wantGatewayProblem(t, res, body, 401, gatehouse.CodeUnauthenticated)
	res, body = g.do("GET", "/app/public%2F..%2Fadmin", "", nil)
	wantGatewayProblem(t, res, body, 400, gatehouse.CodeBadRequest)
	if res, _ = g.do("GET", "/app/page", "", http.Header{"Accept": {"text/html"}}); res.StatusCode != 302 {
		t.Fatalf("browser: %d", res.StatusCode)
	}

	fams := metricstest.Scrape(t, g.e.api, "/auth/metrics")
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"gatehouse_forward_auth_decisions_total", map[string]string{"result": "allowed"}, 1},
		{"gatehouse_forward_auth_decisions_total", map[string]string{"result": "unauthenticated"}, 1},
		{"gatehouse_forward_auth_decisions_total", map[string]string{"result": "bad_request"}, 1},
		{"gatehouse_forward_auth_decisions_total", map[string]string{"result": "login"}, 1},
		{"gatehouse_http_requests_total", map[string]string{"route": "upstream", "method": "GET", "code": "200"}, 1},
		{"gatehouse_http_requests_total", map[string]string{"route": "upstream", "method": "GET", "code": "401"}, 1},
	} {
		if got := metricstest.Value(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
