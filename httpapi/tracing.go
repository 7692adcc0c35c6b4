package httpapi

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/gatehouse/gatehouse/tracing"
)

// Each request gatehouse answers is a server span (when tracing is on: see
// package tracing), named "METHOD route" — the route as in the metrics,
// without the method: the mux pattern, "upstream" for what the reverse
// proxy takes, "other" for what is answered before routing — with the
// method, route, status, request id and, once known, the user's id. It
// never carries the path's query, a header's value or anything else the
// client wrote.

// serverSpan starts the spans of requests.
var serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

// Trace-context headers, by their canonical names.
const (
	headerTraceparent = "Traceparent"
	headerTracestate  = "Tracestate"
)

// startSpan starts the span of r, and returns the context for its
// handlers: r's own context, untouched, when tracing is off. The span
// continues the trace of the traceparent header only when a trusted proxy
// sent it (as X-Request-Id: a client cannot join its requests to a trace
// of its choosing); otherwise it is a child of what r's context holds (an
// embedding program's span), or the start of a new trace.
func (p proxies) startSpan(r *http.Request) (context.Context, trace.Span) {
	ctx := r.Context()
	if !tracing.Enabled() {
		return ctx, noop.Span{}
	}
	if _, sent := r.Header[headerTraceparent]; sent && p.trusts(remoteAddr(r)) {
		ctx = tracing.Propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	return tracing.Start(ctx, spanMethod(r.Method), serverSpan...)
}

// endSpan names span after the method and route of its request, notes the
// answer's status, the request id and the user of in, and ends it. Only a
// 5xx is an Error.
func endSpan(span trace.Span, method, route string, status int, in *inbound) {
	if !span.IsRecording() {
		return
	}
	method = spanMethod(method)
	span.SetName(method + " " + route)
	span.SetAttributes(
		attribute.String("http.request.method", method),
		attribute.String("http.route", route),
		attribute.Int("http.response.status_code", status),
		attribute.String("gatehouse.request_id", in.id),
	)
	if in.user != "" {
		span.SetAttributes(attribute.String("user.id", in.user))
	}
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

// routeOf is the route of a mux pattern ("GET /auth/login" is
// "/auth/login"), as the metrics, the log and the spans name it: the
// method is said on its own. (A substring: nothing is allocated.)
func routeOf(pattern string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		return pattern[i+1:]
	}
	return pattern
}

// spanMethod is method as spans name it: one of HTTP's, or _OTHER (as
// OpenTelemetry's conventions ask), so that a client cannot write into
// span names.
func spanMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "_OTHER"
}

// traceUpstream sets the trace context of out, the request to the
// upstream, from in's: with tracing on, the current span's (the
// application's spans continue gatehouse's), whatever the client sent;
// with it off, a trusted proxy's as it sent it, and none of a client's.
func traceUpstream(in, out *http.Request, trusted bool) {
	if tracing.Enabled() {
		delete(out.Header, headerTraceparent)
		delete(out.Header, headerTracestate)
		tracing.Propagator.Inject(in.Context(), propagation.HeaderCarrier(out.Header))
		return
	}
	if !trusted {
		delete(out.Header, headerTraceparent)
		delete(out.Header, headerTracestate)
	}
}
