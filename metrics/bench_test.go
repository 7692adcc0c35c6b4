package metrics_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/metrics"
)

// BenchmarkRequest is what counting one answer costs on the request path.
func BenchmarkRequest(b *testing.B) {
	m := metrics.New()
	b.ReportAllocs()
	for b.Loop() {
		m.Request("/auth/verify", "GET", 200, 3*time.Millisecond)
	}
}

// BenchmarkDecision is what counting one forward-auth decision costs.
func BenchmarkDecision(b *testing.B) {
	m := metrics.New()
	b.ReportAllocs()
	for b.Loop() {
		m.Decision(metrics.Allowed)
	}
}
