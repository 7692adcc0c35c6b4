// Package observedstore wraps gatehouse's stores so that every store call
// is traced (a client span "store.<Method>" when tracing is on and the
// call is part of a traced operation, see package tracing) and, optionally, reported to a callback with its duration and
// error, for metrics.
//
// The wrappers are generated from the store interfaces of package
// gatehouse (zz_generated.go; go generate ./observedstore after changing
// an interface). Off — tracing off and no callback — a wrapped call costs
// one more method call and an atomic load, and allocates nothing.
package observedstore

//go:generate go run ./internal/storegen -root .. -o zz_generated.go

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/tracing"
)

// Backends names the backend each area of account.Stores lives in, such as
// "sqlite", "postgres" or "redis": the store label of the callback, and
// (as OpenTelemetry's db.system.name, "postgresql" for "postgres") of the
// spans.
type Backends struct {
	Users, Sessions, Throttles, Tokens, Audit, ActionTokens, Outbox string
	TwoFactor, PendingLogins, Devices, Identities, Logins           string
}

// AllIn returns Backends that are all backend: a program with one database.
func AllIn(backend string) Backends {
	return Backends{
		Users: backend, Sessions: backend, Throttles: backend, Tokens: backend,
		Audit: backend, ActionTokens: backend, Outbox: backend, TwoFactor: backend,
		PendingLogins: backend, Devices: backend, Identities: backend, Logins: backend,
	}
}

// Observe is told of every store call once it has returned: the backend
// (from Backends), the method's name (op, such as "SessionByTokenHash"),
// how long it took and its error (nil when it succeeded; an answer such as
// gatehouse.ErrNotFound is an error too).
type Observe func(backend, op string, took time.Duration, err error)

// Wrap returns stores whose every method is observed: traced, and told to
// observe when it is not nil. A nil field (Logins, when the stores cannot
// record a login in one write) stays nil, so that what the account
// service finds optional is still found, or not, through the wrapper.
func Wrap(stores account.Stores, names Backends, observe Observe) account.Stores {
	o := func(backend string) *observer {
		return &observer{backend: backend, system: dbSystem(backend), observe: observe}
	}
	var w account.Stores
	if stores.Users != nil {
		w.Users = users{stores.Users, o(names.Users)}
	}
	if stores.Sessions != nil {
		w.Sessions = sessions{stores.Sessions, o(names.Sessions)}
	}
	if stores.Throttles != nil {
		w.Throttles = throttles{stores.Throttles, o(names.Throttles)}
	}
	if stores.Tokens != nil {
		w.Tokens = tokens{stores.Tokens, o(names.Tokens)}
	}
	if stores.Audit != nil {
		w.Audit = audit{stores.Audit, o(names.Audit)}
	}
	if stores.ActionTokens != nil {
		w.ActionTokens = actionTokens{stores.ActionTokens, o(names.ActionTokens)}
	}
	if stores.Outbox != nil {
		w.Outbox = outbox{stores.Outbox, o(names.Outbox)}
	}
	if stores.TwoFactor != nil {
		w.TwoFactor = twoFactor{stores.TwoFactor, o(names.TwoFactor)}
	}
	if stores.PendingLogins != nil {
		w.PendingLogins = pendingLogins{stores.PendingLogins, o(names.PendingLogins)}
	}
	if stores.Devices != nil {
		w.Devices = devices{stores.Devices, o(names.Devices)}
	}
	if stores.Identities != nil {
		w.Identities = identities{stores.Identities, o(names.Identities)}
	}
	if stores.Logins != nil {
		w.Logins = logins{stores.Logins, o(names.Logins)}
	}
	return w
}

// dbSystem is OpenTelemetry's db.system.name of a backend.
func dbSystem(backend string) string {
	if backend == "postgres" {
		return "postgresql"
	}
	return backend
}

// clientSpan starts the spans of store calls: a call to another system.
// (A package-level slice, so that passing it allocates nothing.)
var clientSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

// observer is what the wrappers of one area share: its backend and the
// callback.
type observer struct {
	backend, system string
	observe         Observe
}

// noSpan is the span of a call that is not traced.
var noSpan = trace.SpanFromContext(context.Background())

// start starts the span of a call to op (named name, "store."+op) and,
// with a callback, its clock. A call is traced only as part of a traced
// operation (a request, a mail delivery): the background work's polls
// and sweeps, every few seconds, would otherwise fill the trace backend
// with traces of one store call each. Their durations are observed all
// the same.
func (o *observer) start(ctx context.Context, name, op string) (context.Context, trace.Span, time.Time) {
	span := noSpan
	if tracing.Enabled() && trace.SpanContextFromContext(ctx).IsValid() {
		ctx, span = tracing.Start(ctx, name, clientSpan...)
		if span.IsRecording() {
			span.SetAttributes(attribute.String("db.system.name", o.system), attribute.String("gatehouse.store.op", op))
		}
	}
	var start time.Time
	if o.observe != nil {
		start = time.Now()
	}
	return ctx, span, start
}

// end ends the span of a call to op and tells the callback.
func (o *observer) end(span trace.Span, start time.Time, op string, err error) {
	tracing.End(span, &err)
	if o.observe != nil {
		o.observe(o.backend, op, time.Since(start), err)
	}
}
