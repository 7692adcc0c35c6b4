package metrics_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/metrics"
	"github.com/gatehouse/gatehouse/metrics/metricstest"
)

func TestMetrics(t *testing.T) {
	m := metrics.New()
	m.Request("/auth/session", "POST", 200, 3*time.Millisecond)
	m.Request("/auth/session", "POST", 200, time.Millisecond)
	m.Request("/auth/session", "POST", 401, time.Millisecond)
	m.Request("/auth/session", "BREW", 405, time.Millisecond)
	m.Decision(metrics.Allowed)
	m.Decision(metrics.Allowed)
	m.Decision(metrics.Forbidden)
	m.Decision("made up")
	m.Audit(gatehouse.AuditLoginFailed)

	fams := metricstest.Scrape(t, m.Handler(), "/metrics")
	metricstest.Check(t, fams, []metricstest.Series{
		// The route is the path pattern; the method has its own label.
		{Name: "gatehouse_http_requests_total", Labels: map[string]string{"route": "/auth/session", "method": "POST", "code": "200"}, Want: 2},
		{Name: "gatehouse_http_requests_total", Labels: map[string]string{"route": "/auth/session", "method": "POST", "code": "401"}, Want: 1},
		// A method outside the usual ones cannot make a series of its own.
		{Name: "gatehouse_http_requests_total", Labels: map[string]string{"method": "BREW"}, Want: -1},
		{Name: "gatehouse_http_requests_total", Labels: map[string]string{"method": "other", "code": "405"}, Want: 1},
		{Name: "gatehouse_http_request_duration_seconds", Labels: map[string]string{"route": "/auth/session"}, Want: 4},
		{Name: "gatehouse_forward_auth_decisions_total", Labels: map[string]string{"result": "allowed"}, Want: 2},
		{Name: "gatehouse_forward_auth_decisions_total", Labels: map[string]string{"result": "forbidden"}, Want: 1},
		{Name: "gatehouse_forward_auth_decisions_total", Labels: map[string]string{"result": "unauthenticated"}, Want: 0},
		{Name: "gatehouse_forward_auth_decisions_total", Labels: map[string]string{"result": "made up"}, Want: -1},
		{Name: "gatehouse_audit_events_total", Labels: map[string]string{"kind": "login.failed"}, Want: 1},
	})
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}

	// A nil set records nothing and does not panic.
	var none *metrics.Metrics
	none.Request("x", "GET", 200, 0)
	none.Decision(metrics.Allowed)
	none.Audit(gatehouse.AuditLogout)
}
