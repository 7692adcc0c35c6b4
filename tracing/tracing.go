// Package tracing starts gatehouse's OpenTelemetry spans — HTTP handling,
// store calls, password hashing and mail delivery — and, when switched on,
// exports them with OTLP over HTTP, configured by the standard OTEL_*
// environment variables.
//
// Tracing is off by default. Off, [Start] costs one atomic load: it
// allocates nothing and returns the context it was given, so the request
// path pays nothing measurable for it. Callers that would build attributes
// build them only when the span records:
//
//	ctx, span := tracing.Start(ctx, "store.SessionByID")
//	if span.IsRecording() {
//		span.SetAttributes(attribute.String("db.system.name", "sqlite"))
//	}
//	defer tracing.End(span, &err)
//
// A span never carries a secret: no password, token, cookie, code, mail
// body or query string, and no personal data beyond ids.
package tracing

import (
	"context"
	"errors"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/gatehouse/gatehouse"
)

// instrumentation is the name of gatehouse's tracer, as OpenTelemetry's
// instrumentation scope.
const instrumentation = "github.com/gatehouse/gatehouse"

// tracer is the tracer spans start from; nil while tracing is off.
var tracer atomic.Pointer[trace.Tracer]

// noopSpan is what Start returns while tracing is off.
var noopSpan trace.Span = noop.Span{}

// Propagator reads and writes the W3C trace context (traceparent,
// tracestate) of requests: HTTP handling takes a trusted proxy's, and
// the reverse proxy passes the current one to the upstream.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Use makes gatehouse start its spans from tp (nil switches tracing off)
// and returns the function that puts back what was used before. Programs
// that embed gatehouse and have their own tracer provider pass it here;
// `gatehouse serve` calls it through [Setup]. Tests use it with an
// in-memory exporter.
func Use(tp trace.TracerProvider) (restore func()) {
	var next *trace.Tracer
	if tp != nil {
		t := tp.Tracer(instrumentation)
		next = &t
	}
	prev := tracer.Swap(next)
	return func() { tracer.Store(prev) }
}

// Enabled reports whether spans are recorded.
func Enabled() bool { return tracer.Load() != nil }

// Start starts a span named name as a child of the span in ctx, and
// returns the context holding it. With tracing off it returns ctx itself
// and a span that records nothing.
func Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	t := tracer.Load()
	if t == nil {
		return ctx, noopSpan
	}
	return (*t).Start(ctx, name, opts...)
}

// End ends span, first noting *errp when that is an error. It takes a
// pointer so that it can be deferred before the error is known. The
// span's status becomes Error only for a failure of the operation itself
// (gatehouse's internal, store_unavailable and busy codes, and errors of
// no code); an answer such as not_found or invalid_credentials is the
// operation working, and only named in the attribute gatehouse.error.code.
func End(span trace.Span, errp *error) {
	if !span.IsRecording() {
		return
	}
	if errp != nil && *errp != nil {
		err := *errp
		code := gatehouse.ErrorCode(err)
		span.SetAttributes(attribute.String("gatehouse.error.code", string(code)))
		switch code {
		case gatehouse.CodeInternal, gatehouse.CodeStoreUnavailable, gatehouse.CodeBusy:
			if !errors.Is(err, context.Canceled) {
				span.SetStatus(codes.Error, err.Error())
			}
		}
	}
	span.End()
}
