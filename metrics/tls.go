package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// certificateExpiry is gatehouse_tls_certificate_expiry_timestamp_seconds:
// nothing until a certificate is known.
type certificateExpiry struct {
	desc     *prometheus.Desc
	notAfter func() time.Time
}

func (c *certificateExpiry) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *certificateExpiry) Collect(ch chan<- prometheus.Metric) {
	if t := c.notAfter(); !t.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(t.Unix()))
	}
}

// WatchCertificate adds gatehouse_tls_certificate_expiry_timestamp_seconds,
// the end of validity (Unix seconds) of the certificate that notAfter
// says HTTPS presents, for an alert well before it passes: certificate
// files that a renewal stopped replacing, or ACME that stopped renewing.
// The metric is absent while notAfter returns the zero time (ACME before
// its first certificate). Call it once, before serving the metrics, when
// gatehouse terminates TLS itself.
func (m *Metrics) WatchCertificate(notAfter func() time.Time) {
	if m == nil {
		return
	}
	m.registry.MustRegister(&certificateExpiry{
		desc: prometheus.NewDesc("gatehouse_tls_certificate_expiry_timestamp_seconds",
			"When the certificate HTTPS presents stops being valid, in Unix seconds (absent until gatehouse has one).", nil, nil),
		notAfter: notAfter,
	})
}
