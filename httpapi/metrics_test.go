package httpapi_test

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/metrics/metricstest"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/session"
)

// TestMetricsEndpoint: BASE/metrics counts gatehouse's answers by route
// pattern, its forward-auth decisions, and (wired through
// account.Config.OnAudit, as newEnv does) the audit events.
func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t, withGateway(gatewayTable(t), nil))
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
	wantProblem(t, b.verify(nginxAuth("GET", "/app/../x")...), 403, gatehouse.CodeBadRequest)
	if w := anon.verify(with(traefikAuth("GET", "/app/x"), header("Accept", "text/html"))...); w.Code != 302 {
		t.Fatalf("browser verify: %d", w.Code)
	}
	if w := anon.verify(with(nginxAuth("GET", "/app/x"), header("Accept", "text/html"))...); w.Code != 401 {
		t.Fatalf("browser verify for nginx: %d", w.Code)
	}

	fams := metricstest.Scrape(t, e.api, "/auth/metrics")
	metricstest.Check(t, fams, []metricstest.Series{
		{Name: "gatehouse_http_requests_total", Labels: map[string]string{"route": "/auth/session", "method": "POST", "code": "200"}, Want: 1},
		{Name: "gatehouse_http_requests_total", Labels: map[string]string{"route": "/auth/session", "method": "POST", "code": "401"}, Want: 1},
		// verify's answers are counted as decisions only.
		{Name: "gatehouse_http_requests_total", Labels: map[string]string{"route": "/auth/verify"}, Want: -1},
		{Name: "gatehouse_forward_auth_decisions_total", Labels: map[string]string{"result": "allowed"}, Want: 3},
		{Name: "gatehouse_forward_auth_decisions_total", Labels: map[string]string{"result": "unauthenticated"}, Want: 1},
		{Name: "gatehouse_forward_auth_decisions_total", Labels: map[string]string{"result": "forbidden"}, Want: 1},
		{Name: "gatehouse_forward_auth_decisions_total", Labels: map[string]string{"result": "bad_request"}, Want: 1},
		{Name: "gatehouse_forward_auth_decisions_total", Labels: map[string]string{"result": "login"}, Want: 2},
		{Name: "gatehouse_audit_events_total", Labels: map[string]string{"kind": string(gatehouse.AuditLoginSucceeded)}, Want: 1},
		{Name: "gatehouse_audit_events_total", Labels: map[string]string{"kind": string(gatehouse.AuditLoginFailed)}, Want: 1},
		{Name: "gatehouse_audit_events_total", Labels: map[string]string{"kind": string(gatehouse.AuditPermissionDenied)}, Want: 1},
	})
}

// TestMetricsAccess: BASE/metrics is served to loopback only unless
// metrics networks are configured, and a route-table rule that matches it
// must allow the scrape too.
func TestMetricsAccess(t *testing.T) {
	from := func(addr string) reqOpt { return func(r *http.Request) { r.RemoteAddr = addr } }

	// The default: a scraper on the same host, and nobody else.
	e := newEnv(t)
	if w := e.browser().do("GET", "/auth/metrics", "", from("127.0.0.1:9100")); w.Code != 200 {
		t.Errorf("from loopback: %d, want 200", w.Code)
	}
	if w := e.browser().do("GET", "/auth/metrics", "", from("[::1]:9100")); w.Code != 200 {
		t.Errorf("from ::1: %d, want 200", w.Code)
	}
	wantProblem(t, e.browser().do("GET", "/auth/metrics", "", from("203.0.113.9:5000")), 403, gatehouse.CodePermissionDenied)
	// Through a trusted proxy, the client behind it is judged, not the proxy.
	viaProxy := newEnv(t, withGateway(nil, nil))
	wantProblem(t, viaProxy.browser().do("GET", "/auth/metrics", "", from(proxyAddr), header("X-Forwarded-For", "203.0.113.9")), 403, gatehouse.CodePermissionDenied)

	// Configured networks, narrowed further by the route table.
	table, err := policy.Compile([]policy.Rule{
		{Path: "/auth/metrics", Access: policy.Public, Networks: []string{"198.51.100.0/25"}},
		{Path: "/auth/metrics", Access: policy.Deny},
		{Path: "/**", Access: policy.Public},
	})
	if err != nil {
		t.Fatal(err)
	}
	mon := newEnv(t, func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
		h.Routes = table
		h.MetricsNetworks = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	})
	if w := mon.browser().do("GET", "/auth/metrics", "", from("198.51.100.7:5000")); w.Code != 200 {
		t.Errorf("from the monitoring network: %d, want 200", w.Code)
	}
	for _, addr := range []string{"198.51.100.200:5000", "203.0.113.9:5000", "127.0.0.1:9100"} {
		wantProblem(t, mon.browser().do("GET", "/auth/metrics", "", from(addr)), 403, gatehouse.CodePermissionDenied)
	}
}

// TestMetricsProxy: in reverse-proxy mode the decisions are counted, and
// what was forwarded is counted under the route "upstream".
func TestMetricsProxy(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayFront(t, up.url(t))
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
	metricstest.Check(t, fams, []metricstest.Series{
		{Name: "gatehouse_forward_auth_decisions_total", Labels: map[string]string{"result": "allowed"}, Want: 1},
		{Name: "gatehouse_forward_auth_decisions_total", Labels: map[string]string{"result": "unauthenticated"}, Want: 1},
		{Name: "gatehouse_forward_auth_decisions_total", Labels: map[string]string{"result": "bad_request"}, Want: 1},
		{Name: "gatehouse_forward_auth_decisions_total", Labels: map[string]string{"result": "login"}, Want: 1},
		{Name: "gatehouse_http_requests_total", Labels: map[string]string{"route": "upstream", "method": "GET", "code": "200"}, Want: 1},
		{Name: "gatehouse_http_requests_total", Labels: map[string]string{"route": "upstream", "method": "GET", "code": "401"}, Want: 1},
	})
}
