package tracing

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gatehouse/gatehouse"
)

// record switches tracing on for the test, into an in-memory exporter.
func record(t *testing.T) *tracetest.InMemoryExporter {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	restore := Use(tp)
	t.Cleanup(restore)
	return exp
}

func TestOffAllocatesNothing(t *testing.T) {
	if Enabled() {
		t.Fatal("tracing is on before anything switched it on")
	}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		c, span := Start(ctx, "store.SessionByID")
		if c != ctx {
			t.Fatal("Start returned another context with tracing off")
		}
		var err error
		End(span, &err)
	})
	if allocs != 0 {
		t.Errorf("Start+End with tracing off: %v allocations, want 0", allocs)
	}
}

func TestSpansNestAndNameFailures(t *testing.T) {
	exp := record(t)
	ctx, parent := Start(context.Background(), "parent")
	for _, c := range []struct {
		name string
		err  error
	}{
		{"ok", nil},
		{"not found", gatehouse.ErrNotFound},
		{"broken", errors.New("disk I/O error")},
		{"store down", &gatehouse.Error{Code: gatehouse.CodeStoreUnavailable, Message: "down"}},
		{"canceled", context.Canceled},
	} {
		_, span := Start(ctx, c.name)
		err := c.err
		End(span, &err)
	}
	End(parent, nil)

	spans := exp.GetSpans()
	if len(spans) != 6 {
		t.Fatalf("%d spans, want 6", len(spans))
	}
	want := map[string]codes.Code{
		"ok": codes.Unset, "not found": codes.Unset, "broken": codes.Error,
		"store down": codes.Error, "canceled": codes.Unset, "parent": codes.Unset,
	}
	parentID := spans[len(spans)-1].SpanContext.SpanID()
	for _, s := range spans {
		if s.Status.Code != want[s.Name] {
			t.Errorf("span %q: status %v, want %v", s.Name, s.Status.Code, want[s.Name])
		}
		if s.Name != "parent" && s.Parent.SpanID() != parentID {
			t.Errorf("span %q is not a child of parent", s.Name)
		}
	}
}

// TestSetupExportsOTLP switches tracing on as `gatehouse serve` does,
// with the collector named by OTEL_EXPORTER_OTLP_ENDPOINT and the service
// by OTEL_SERVICE_NAME, and checks that a collector receives the span.
func TestSetupExportsOTLP(t *testing.T) {
	var (
		mu   sync.Mutex
		got  []*collectortrace.ExportTraceServiceRequest
		auth []string
	)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("collector got %s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			t.Errorf("collector: %v", err)
		}
		mu.Lock()
		got = append(got, &req)
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Write(b)
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20collector-key")
	t.Setenv("OTEL_SERVICE_NAME", "gatehouse-eu")

	shutdown, err := Setup(context.Background(), "v1.2.3", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	_, span := Start(context.Background(), "http.request")
	End(span, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if Enabled() {
		t.Error("tracing still on after shutdown")
	}

	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("collector got %d exports, want 1", len(got))
	}
	if auth[0] != "Bearer collector-key" {
		t.Errorf("OTEL_EXPORTER_OTLP_HEADERS not sent: Authorization %q", auth[0])
	}
	rs := got[0].GetResourceSpans()
	if len(rs) != 1 || len(rs[0].GetScopeSpans()) != 1 || len(rs[0].GetScopeSpans()[0].GetSpans()) != 1 {
		t.Fatalf("export holds %v", got[0])
	}
	if name := rs[0].GetScopeSpans()[0].GetSpans()[0].GetName(); name != "http.request" {
		t.Errorf("span %q, want http.request", name)
	}
	attrs := map[string]string{}
	for _, kv := range rs[0].GetResource().GetAttributes() {
		attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	if attrs["service.name"] != "gatehouse-eu" || attrs["service.version"] != "v1.2.3" {
		t.Errorf("resource %v: want service.name gatehouse-eu (OTEL_SERVICE_NAME) and version v1.2.3", attrs)
	}
}

// TestSetupLogsExportFailures: a collector that cannot be reached is
// said in gatehouse's own log (a JSON line with a JSON log), not by the
// SDK on standard error, and the endpoint is named without a password.
func TestSetupLogsExportFailures(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", closed.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "200") // ms
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20")     // ms
	var mu sync.Mutex
	var buf strings.Builder
	log := slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil))
	shutdown, err := Setup(context.Background(), "v1", log)
	if err != nil {
		t.Fatal(err)
	}
	_, span := Start(context.Background(), "lost")
	End(span, nil)
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		got := buf.String()
		mu.Unlock()
		if strings.Contains(got, `"level":"WARN","msg":"tracing: the OpenTelemetry SDK failed"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no warning of the failed export in the log:\n%s", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	shutdown(ctx) // fails to send the rest, as it should

	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "https://user:secret@collector.example.com:4318/")
	if e := Endpoint(); e != "https://user:xxxxx@collector.example.com:4318/v1/traces" {
		t.Errorf("Endpoint() = %q", e)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
