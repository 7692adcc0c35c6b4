package mail

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/tracing"
)

// OutboxConfig tunes an [Outbox]. A zero field takes its default.
type OutboxConfig struct {
	// Lease is how long a claimed message is reserved for this process
	// (default 2 minutes). A process that dies while sending leaves its
	// messages to others, or to itself after a restart, once it ends.
	Lease time.Duration
	// Batch is how many messages one claim takes (default 20).
	Batch int
	// Poll is how often Run looks for due messages when nothing nudges it
	// (default 5 seconds): retries come due, and other processes enqueue.
	Poll time.Duration
	// MinBackoff is the wait after the first failed attempt (default 30
	// seconds); it doubles with each further failure, up to MaxBackoff
	// (default 1 hour), plus up to 10 % jitter.
	MinBackoff, MaxBackoff time.Duration
	// GiveUpAfter is how long after it was enqueued a message is abandoned
	// once an attempt fails (default 72 hours).
	GiveUpAfter time.Duration
	// SendTimeout bounds one delivery attempt (default 30 seconds, and at
	// most half the Lease): the lease must outlast the attempt, or another
	// process could claim the message and send it too.
	SendTimeout time.Duration
	// OnDelivery, when set, is told of every delivery attempt: sent, or
	// failed and given up (permanent: a permanent failure, or a message
	// older than GiveUpAfter) or to be tried again
	// (metrics.Metrics.MailDelivery counts them). It must be quick.
	OnDelivery func(sent, permanent bool)
}

// maxReason bounds the failure reason stored with a message.
const maxReason = 1000

// withDefaults returns c with its zero fields set to the defaults.
func (c OutboxConfig) withDefaults() OutboxConfig {
	if c.Lease <= 0 {
		c.Lease = 2 * time.Minute
	}
	if c.Batch <= 0 {
		c.Batch = 20
	}
	if c.Poll <= 0 {
		c.Poll = 5 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 30 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Hour
	}
	c.MaxBackoff = max(c.MaxBackoff, c.MinBackoff)
	if c.GiveUpAfter <= 0 {
		c.GiveUpAfter = 72 * time.Hour
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = 30 * time.Second
	}
	c.SendTimeout = min(c.SendTimeout, c.Lease/2)
	return c
}

// Outbox queues mail in a [gatehouse.OutboxStore] and delivers it through a
// [Sender], retrying with exponential backoff. Enqueue only stores, so a
// request never waits for the mail server, and nothing is lost when the mail
// server is down or gatehouse restarts. Several processes may run an Outbox
// over the same store: leases keep them from sending a message twice.
//
// Delivery is at least once: if the store cannot record a delivery the mail
// server has accepted, the message is sent again once its lease ends.
//
// The Outbox never logs a subject, a body or a link, which may hold one-time
// tokens: only a message's id, kind, recipient, attempts and error.
type Outbox struct {
	store  gatehouse.OutboxStore
	sender Sender
	tpl    *Templates
	cfg    OutboxConfig
	now    func() time.Time
	log    *slog.Logger
	nudge  chan struct{}
}

// NewOutbox returns an Outbox that renders with tpl, stores in store and
// sends through sender. now is the clock (nil means time.Now); log receives
// a record per delivery and per failure (nil discards them).
func NewOutbox(store gatehouse.OutboxStore, sender Sender, tpl *Templates, cfg OutboxConfig, now func() time.Time, log *slog.Logger) *Outbox {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Outbox{
		store: store, sender: sender, tpl: tpl, cfg: cfg.withDefaults(), now: now, log: log,
		nudge: make(chan struct{}, 1),
	}
}

// Enqueue renders a message of kind for d, addressed to to, and stores it
// for delivery now; Run picks it up at once. A bad address, an unknown kind
// or a template error is returned here, to the caller, rather than found
// by the worker later.
func (o *Outbox) Enqueue(ctx context.Context, to, kind string, d Data) error {
	if _, err := parseAddress(to); err != nil {
		return fmt.Errorf("mail: enqueue %s mail: %w", kind, err)
	}
	subject, text, html, err := o.tpl.Render(kind, d)
	if err != nil {
		return err
	}
	now := o.now()
	m := &gatehouse.Mail{
		ID: gatehouse.NewID(), To: to, Subject: subject, Text: text, HTML: html, Kind: kind,
		CreatedAt: now, NextAttemptAt: now,
	}
	if err := o.store.EnqueueMail(ctx, m); err != nil {
		return fmt.Errorf("mail: enqueue %s mail: %w", kind, err)
	}
	o.log.DebugContext(ctx, "mail queued", "id", m.ID, "kind", kind, "to", to)
	select {
	case o.nudge <- struct{}{}:
	default: // a nudge is already pending
	}
	return nil
}

// Run delivers mail until ctx ends: it flushes the outbox, then waits for
// Enqueue to nudge it or for the poll interval, and again. Errors of the
// store are logged and retried at the next poll.
func (o *Outbox) Run(ctx context.Context) {
	for {
		if _, err := o.Flush(ctx); err != nil && ctx.Err() == nil {
			o.log.ErrorContext(ctx, "mail outbox: flush failed", "error", err)
		}
		t := time.NewTimer(o.cfg.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-o.nudge:
		case <-t.C:
		}
		t.Stop()
	}
}

// Flush makes one pass over the outbox: it claims the messages due and
// tries to send each, until none is due, and returns how many were sent.
//
// A message that fails is tried again after a backoff, except that it is
// given up (marked failed with no next attempt, and logged as an error) when
// the failure is permanent or the message is older than GiveUpAfter. The
// error is that of the store or of ctx; failed deliveries are not errors of
// Flush.
func (o *Outbox) Flush(ctx context.Context) (sent int, err error) {
	seen := make(map[string]bool)
	for {
		if err := ctx.Err(); err != nil {
			return sent, err
		}
		claimedAt := o.now()
		batch, err := o.store.ClaimMail(ctx, claimedAt, o.cfg.Lease, o.cfg.Batch)
		if err != nil {
			return sent, fmt.Errorf("mail: claim mail: %w", err)
		}
		fresh := 0
		for _, m := range batch {
			if seen[m.ID] {
				// Only a store that hands out a message again within
				// its lease, or one given up, does this; a pass ends
				// rather than loop.
				o.log.ErrorContext(ctx, "mail outbox: the store handed out a message twice in one pass", "id", m.ID, "kind", m.Kind)
				continue
			}
			seen[m.ID] = true
			fresh++
			if o.now().Add(o.cfg.SendTimeout).After(claimedAt.Add(o.cfg.Lease)) {
				// Too little of the lease is left for an attempt: the
				// rest of the batch waits for its lease to end rather
				// than risk being sent by another process as well.
				return sent, nil
			}
			ok, err := o.deliver(ctx, m)
			if ok {
				sent++
			}
			if err != nil {
				return sent, err
			}
		}
		if fresh == 0 || len(batch) < o.cfg.Batch {
			return sent, nil
		}
	}
}

// deliver makes one attempt at m and records the outcome. ok is whether the
// mail server accepted it; err is an error of the store or of ctx.
//
// Each attempt is the span mail.send, with the message's kind, the attempt
// and its outcome (see traceDelivery): never its address, subject or body.
func (o *Outbox) deliver(ctx context.Context, m *gatehouse.Mail) (ok bool, err error) {
	// ClaimMail counts the attempt when it hands the message out, so that
	// an attempt cut short by a crash counts too.
	attempt := m.Attempts
	ctx, span := tracing.Start(ctx, "mail.send")
	outcome := "sent"
	defer func() { traceDelivery(span, m.Kind, attempt, outcome, err) }()
	sctx, cancel := context.WithTimeout(ctx, o.cfg.SendTimeout)
	sendErr := o.sender.Send(sctx, m)
	cancel()
	if sendErr == nil {
		o.delivered(true, false)
		if err := o.store.MarkMailSent(ctx, m.ID, o.now()); err != nil {
			outcome = "sent_unrecorded"
			o.log.ErrorContext(ctx, "mail sent but not recorded as sent: it will be sent again",
				"id", m.ID, "kind", m.Kind, "to", m.To, "error", err)
			return true, fmt.Errorf("mail: mark mail %s sent: %w", m.ID, err)
		}
		o.log.InfoContext(ctx, "mail sent", "id", m.ID, "kind", m.Kind, "to", m.To, "attempts", attempt)
		return true, nil
	}
	if ctx.Err() != nil {
		// Shutting down: the attempt was cut short, not refused. The
		// lease runs out and the message is tried again.
		outcome = "interrupted"
		return false, ctx.Err()
	}

	now := o.now()
	var next time.Time // zero: never again
	attrs := []any{"id", m.ID, "kind", m.Kind, "to", m.To, "attempts", attempt, "error", sendErr}
	switch {
	case IsPermanent(sendErr):
		outcome = "given_up"
		o.log.ErrorContext(ctx, "mail given up: the failure is permanent", attrs...)
	case now.Sub(m.CreatedAt) >= o.cfg.GiveUpAfter:
		outcome = "given_up"
		o.log.ErrorContext(ctx, "mail given up: still not delivered after "+o.cfg.GiveUpAfter.String(), attrs...)
	default:
		outcome = "retry"
		next = now.Add(o.backoff(attempt))
		o.log.WarnContext(ctx, "mail not sent: will try again", append(attrs, "next", next)...)
	}
	o.delivered(false, next.IsZero())
	reason := sendErr.Error()
	if len(reason) > maxReason {
		reason = strings.ToValidUTF8(reason[:maxReason], "")
	}
	if err := o.store.MarkMailFailed(ctx, m.ID, reason, next); err != nil {
		return false, fmt.Errorf("mail: mark mail %s failed: %w", m.ID, err)
	}
	return false, nil
}

// traceDelivery ends the span of a delivery attempt of a message of kind:
// outcome is sent, sent_unrecorded (the store failed to record it),
// interrupted (shutting down), retry or given_up; an attempt that did not
// deliver is an Error. The error's text is left out: a mail server's
// refusal may quote the address.
func traceDelivery(span trace.Span, kind string, attempt int, outcome string, err error) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(
		attribute.String("gatehouse.mail.kind", kind),
		attribute.Int("gatehouse.mail.attempt", attempt),
		attribute.String("gatehouse.mail.outcome", outcome),
	)
	switch {
	case outcome == "retry" || outcome == "given_up":
		span.SetStatus(codes.Error, "mail not delivered")
	case err != nil && outcome != "interrupted":
		span.SetStatus(codes.Error, "mail delivery "+outcome)
	}
	span.End()
}

// delivered tells OutboxConfig.OnDelivery of an attempt.
func (o *Outbox) delivered(sent, permanent bool) {
	if o.cfg.OnDelivery != nil {
		o.cfg.OnDelivery(sent, permanent)
	}
}

// backoff is the wait after the attempt-th failed attempt: MinBackoff
// doubled attempt-1 times, at most MaxBackoff, plus up to 10 % jitter so
// that messages that failed together do not all retry together.
func (o *Outbox) backoff(attempt int) time.Duration {
	d := o.cfg.MinBackoff
	for i := 1; i < attempt && d < o.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.cfg.MaxBackoff)
	return d + rand.N(d/10+1)
}
