package password

import (
	"context"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gatehouse/gatehouse/tracing"
)

// TestTraced: hashing and verifying are spans with the queue wait, and
// a dummy verification (an unknown user) is the same span as a real one
// that fails: a trace does not tell whether the user exists.
func TestTraced(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	t.Cleanup(tracing.Use(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))))
	h := newCheapHasher()
	ctx := context.Background()
	const pw = "correct horse battery staple"
	encoded, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(ctx, "wrong", encoded); ok || err != nil {
		t.Fatalf("Verify of a wrong password: %v %v", ok, err)
	}
	if err := h.VerifyDummy(ctx, "wrong"); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	keys := func(s tracetest.SpanStub) []attribute.Key {
		var k []attribute.Key
		for _, kv := range s.Attributes {
			k = append(k, kv.Key)
			if kv.Value.String() == pw || kv.Value.String() == encoded {
				t.Errorf("span %s holds the password or its hash", s.Name)
			}
		}
		return k
	}
	hash, real, dummy := spans[0], spans[1], spans[2]
	if hash.Name != "password.hash" || !slices.Equal(keys(hash), []attribute.Key{"gatehouse.hash.queue_wait_ms"}) {
		t.Errorf("hash span %s %v", hash.Name, hash.Attributes)
	}
	if real.Name != "password.verify" || !slices.Equal(keys(real), []attribute.Key{"gatehouse.hash.queue_wait_ms"}) {
		t.Errorf("verify span %s %v", real.Name, real.Attributes)
	}
	if dummy.Name != real.Name || dummy.Status != real.Status || !slices.Equal(keys(dummy), keys(real)) || len(dummy.Events) != len(real.Events) {
		t.Errorf("the dummy verification %s %v %v differs from a real one %s %v %v",
			dummy.Name, dummy.Status, dummy.Attributes, real.Name, real.Status, real.Attributes)
	}
}

// TestTracedBusy: a verification that found no slot is traced with its
// wait, and its status says busy.
func TestTracedBusy(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	t.Cleanup(tracing.Use(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))))
	h := NewHasher(cheapParams, 1, 1e6) // 1 ms
	encoded, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	exp.Reset()
	h.sem <- struct{}{} // the only slot is taken
	_, _, err = h.Verify(context.Background(), "pw", encoded)
	<-h.sem
	if err != ErrBusy {
		t.Fatalf("Verify: %v, want ErrBusy", err)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	attrs := map[attribute.Key]attribute.Value{}
	for _, kv := range spans[0].Attributes {
		attrs[kv.Key] = kv.Value
	}
	if attrs["gatehouse.error.code"].AsString() != "busy" || attrs["gatehouse.hash.queue_wait_ms"].AsFloat64() < 1 {
		t.Errorf("busy verification span: %v", spans[0].Attributes)
	}
}
