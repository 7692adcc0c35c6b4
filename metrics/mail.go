package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// newMail makes the counters of mail delivery.
func (m *Metrics) newMail() {
	m.mailSent = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_mail_sent_total",
		Help: "Mail the mail server accepted from the outbox.",
	})
	m.mailFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_mail_failures_total",
		Help: "Failed attempts to deliver mail from the outbox, by whether the message was given up (permanent=\"true\": a permanent failure, or too old) or will be tried again (\"false\").",
	}, []string{"permanent"})
	m.mailGaveUp = m.mailFailures.WithLabelValues("true")
	m.mailRetried = m.mailFailures.WithLabelValues("false")
}

// MailDelivery counts an attempt to deliver a message from the outbox:
// sent, or failed and given up (permanent) or to be tried again; it fits
// mail.OutboxConfig.OnDelivery.
func (m *Metrics) MailDelivery(sent, permanent bool) {
	switch {
	case m == nil:
	case sent:
		m.mailSent.Inc()
	case permanent:
		m.mailGaveUp.Inc()
	default:
		m.mailRetried.Inc()
	}
}

// WatchOutbox adds gatehouse_mail_outbox_pending, the messages neither
// sent nor given up, read from pending (gatehouse.OutboxStore's
// PendingMail) when scraped, at most every 15 seconds of now's clock and
// waiting at most 2 seconds (see WatchSessions). now nil means time.Now.
// Call it once, before serving the metrics.
func (m *Metrics) WatchOutbox(now func() time.Time, pending func(ctx context.Context) (int, error)) {
	if m == nil {
		return
	}
	if now == nil {
		now = time.Now
	}
	m.registry.MustRegister(newCachedGauge("gatehouse_mail_outbox_pending",
		"Mail in the outbox neither sent nor given up (read from the store at most every 15 s).", now, pending))
}
