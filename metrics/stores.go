package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
)

type storeKey struct{ store, op string }

type storeSeries struct {
	duration prometheus.Observer
	errors   prometheus.Counter
}

// newStores makes the store latency histogram and error counter.
func (m *Metrics) newStores() {
	m.storeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gatehouse_store_duration_seconds",
		Help:    "Time a store call took, by store (database, sessions) and operation (the store method).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"store", "op"})
	m.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_store_errors_total",
		Help: "Store calls that failed in the store itself (an internal error, the store unreachable), by store and operation; not found and conflict are answers, not failures.",
	}, []string{"store", "op"})
}

// StoreCall records a call of a store's method op that took took and
// ended with err: its time, and a failure when the store itself failed
// (gatehouse.ErrorCode internal or store_unavailable). store names the
// store ("database", "sessions") and op the method of a store interface
// ("SessionByTokenHash"): both from the code, a small fixed set, never
// from a request. A decorator of the stores calls it around every call.
func (m *Metrics) StoreCall(store, op string, took time.Duration, err error) {
	if m == nil {
		return
	}
	k := storeKey{store, op}
	s, ok := m.stores.Load(k)
	if !ok {
		s, _ = m.stores.LoadOrStore(k, &storeSeries{
			duration: m.storeDuration.WithLabelValues(store, op),
			errors:   m.storeErrors.WithLabelValues(store, op),
		})
	}
	ss := s.(*storeSeries)
	ss.duration.Observe(took.Seconds())
	if err != nil {
		switch gatehouse.ErrorCode(err) {
		case gatehouse.CodeInternal, gatehouse.CodeStoreUnavailable:
			ss.errors.Inc()
		}
	}
}
