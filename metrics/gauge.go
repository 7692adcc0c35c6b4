package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The gauges read from a store at scrape time are read at most every
// gaugeCacheFor, each read bounded by gaugeTimeout: however often, and
// from however many scrapers, the metrics are scraped, the database sees
// one count every 15 seconds.
const (
	gaugeCacheFor = 15 * time.Second
	gaugeTimeout  = 2 * time.Second
)

// cachedGauge is a gauge whose value a function reads when the metrics are
// scraped, cached for gaugeCacheFor. A read that fails or times out leaves
// the gauge out of the scrapes until the next read (its absence, in
// Prometheus, is a gap): never a value that is wrong.
type cachedGauge struct {
	desc  *prometheus.Desc
	read  func(ctx context.Context) (int, error)
	clock func() time.Time

	mu     sync.Mutex // held while reading, so that scrapes read once
	readAt time.Time  // zero: never read
	value  int
	ok     bool
}

// newCachedGauge returns the gauge name that read reads, cached by clock.
func newCachedGauge(name, help string, clock func() time.Time, read func(ctx context.Context) (int, error)) *cachedGauge {
	return &cachedGauge{desc: prometheus.NewDesc(name, help, nil, nil), read: read, clock: clock}
}

// Describe is for prometheus.Collector.
func (g *cachedGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

// Collect is for prometheus.Collector: the value read last, or read now
// when that was gaugeCacheFor ago.
func (g *cachedGauge) Collect(ch chan<- prometheus.Metric) {
	if v, ok := g.current(); ok {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(v))
	}
}

func (g *cachedGauge) current() (int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock()
	if g.readAt.IsZero() || now.Sub(g.readAt) >= gaugeCacheFor || now.Before(g.readAt) {
		ctx, cancel := context.WithTimeout(context.Background(), gaugeTimeout)
		v, err := g.read(ctx)
		cancel()
		g.value, g.ok, g.readAt = v, err == nil, now
	}
	return g.value, g.ok
}
