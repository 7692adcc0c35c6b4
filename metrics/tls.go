package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// certificateExpiry is gatehouse_tls_certificate_expiry_timestamp_seconds:
// a series per certificate known.
type certificateExpiry struct {
	desc     *prometheus.Desc
	notAfter func() map[string]time.Time
}

func (c *certificateExpiry) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *certificateExpiry) Collect(ch chan<- prometheus.Metric) {
	for name, t := range c.notAfter() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(t.Unix()), name)
	}
}

// WatchCertificates adds gatehouse_tls_certificate_expiry_timestamp_seconds,
// the end of validity (Unix seconds) of each certificate HTTPS presents,
// labelled name (the certificate's first name, from the configuration:
// the certificate files' or one of tls.acme.domains), for an alert well
// before it passes: certificate files that a renewal stopped replacing,
// or ACME that stopped renewing. notAfter returns the certificates as
// last presented, by name; none (ACME before its first certificate), no
// series. Call it once, before serving the metrics, when gatehouse
// terminates TLS itself.
func (m *Metrics) WatchCertificates(notAfter func() map[string]time.Time) {
	if m == nil {
		return
	}
	m.registry.MustRegister(&certificateExpiry{
		desc: prometheus.NewDesc("gatehouse_tls_certificate_expiry_timestamp_seconds",
			"When each certificate HTTPS presents stops being valid, in Unix seconds, by its first name (absent until gatehouse has one).", []string{"name"}, nil),
		notAfter: notAfter,
	})
}
