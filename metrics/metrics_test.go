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
	m.Request("POST /auth/session", "POST", 200, 3*time.Millisecond)
	m.Request("POST /auth/session", "POST", 200, time.Millisecond)
	m.Request("POST /auth/session", "POST", 401, time.Millisecond)
	m.Request("POST /auth/session", "BREW", 405, time.Millisecond)
	m.Decision(metrics.Allowed)
	m.Decision(metrics.Allowed)
	m.Decision(metrics.Forbidden)
	m.Decision("made up")
	m.Audit(gatehouse.AuditLoginFailed)

	fams := metricstest.Scrape(t, m.Handler(), "/metrics")
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"gatehouse_http_requests_total", map[string]string{"route": "POST /auth/session", "method": "POST", "code": "200"}, 2},
		{"gatehouse_http_requests_total", map[string]string{"route": "POST /auth/session", "method": "POST", "code": "401"}, 1},
		// A method outside the usual ones cannot make a series of its own.
		{"gatehouse_http_requests_total", map[string]string{"method": "BREW"}, -1},
		{"gatehouse_http_requests_total", map[string]string{"method": "other", "code": "405"}, 1},
		{"gatehouse_http_request_duration_seconds", map[string]string{"route": "POST /auth/session"}, 4},
		{"gatehouse_forward_auth_decisions_total", map[string]string{"result": "allowed"}, 2},
		{"gatehouse_forward_auth_decisions_total", map[string]string{"result": "forbidden"}, 1},
		{"gatehouse_forward_auth_decisions_total", map[string]string{"result": "unauthenticated"}, 0},
		{"gatehouse_forward_auth_decisions_total", map[string]string{"result": "made up"}, -1},
		{"gatehouse_audit_events_total", map[string]string{"kind": "login.failed"}, 1},
	} {
		if got := metricstest.Value(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
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
