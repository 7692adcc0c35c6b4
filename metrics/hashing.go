package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// newHashing makes the metrics of the password hashing queue.
func (m *Metrics) newHashing() {
	m.hashWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "gatehouse_password_hash_queue_wait_seconds",
		Help:    "Time a password hash or verification waited for a hashing slot (0 when one was free), refusals included.",
		Buckets: []float64{0, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2, 5},
	})
	m.hashBusy = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_password_hash_busy_total",
		Help: "Password hashes or verifications refused because no hashing slot freed in time (the client got 503 busy).",
	})
}

// HashWait records a password hash's wait for a slot, and a refusal when
// busy; it fits password.Hasher.ObserveWait.
func (m *Metrics) HashWait(wait time.Duration, busy bool) {
	if m == nil {
		return
	}
	m.hashWait.Observe(wait.Seconds())
	if busy {
		m.hashBusy.Inc()
	}
}
