package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Setup switches tracing on for a process such as `gatehouse serve`:
// spans are batched and sent with OTLP over HTTP (protobuf) to the
// collector that the standard variables name, and shutdown sends what is
// left and switches tracing off again.
//
// The OpenTelemetry SDK reads its settings from the environment, as every
// OpenTelemetry program does: OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (default http://localhost:4318),
// OTEL_EXPORTER_OTLP_HEADERS (a collector's credentials),
// OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_EXPORTER_OTLP_CERTIFICATE,
// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (default: follow the
// parent's decision, else sample every trace), OTEL_SERVICE_NAME (default
// "gatehouse") and OTEL_RESOURCE_ATTRIBUTES. version names the service's
// version.
//
// Setup does not contact the collector: a collector that is down costs
// the spans it misses (dropped when the batch queue is full), never a
// request. What the SDK has to say (an export that failed) goes to log,
// as warnings.
func Setup(ctx context.Context, version string, log *slog.Logger) (shutdown func(context.Context) error, err error) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing: the OpenTelemetry SDK failed", "err", err)
	}))
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	// The defaults first: the environment's OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES override them.
	res, err := resource.Merge(
		resource.NewSchemaless(
			attribute.String("service.name", "gatehouse"),
			attribute.String("service.version", version)),
		resource.Environment())
	if err != nil {
		return nil, fmt.Errorf("tracing: OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	restore := Use(tp)
	return func(ctx context.Context) error {
		restore()
		return tp.Shutdown(ctx)
	}, nil
}

// Endpoint is where Setup's exporter sends spans, as the OTEL_* variables
// say (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else
// OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces, else the default), for
// the log: a URL without credentials (those go in
// OTEL_EXPORTER_OTLP_HEADERS, which is never shown).
func Endpoint() string {
	e := "http://localhost:4318/v1/traces"
	switch {
	case os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "":
		e = os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	case os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "":
		e = strings.TrimSuffix(os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), "/") + "/v1/traces"
	}
	if u, err := url.Parse(e); err == nil {
		return u.Redacted() // a password in the URL is not for the log
	}
	return "(not a URL)"
}
