package observedstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/observedstore"
	"github.com/gatehouse/gatehouse/sqlite"
	"github.com/gatehouse/gatehouse/storetest"
	"github.com/gatehouse/gatehouse/tracing"
)

// record switches tracing on for the test, into an in-memory exporter.
func record(t testing.TB) *tracetest.InMemoryExporter {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(tracing.Use(tp))
	return exp
}

func openSQLite(t testing.TB) *sqlite.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// store is wrapped account.Stores seen as one gatehouse.Store again, for
// storetest.
type store struct {
	gatehouse.UserStore
	gatehouse.SessionStore
	gatehouse.ThrottleStore
	gatehouse.TokenStore
	gatehouse.AuditStore
	gatehouse.ActionTokenStore
	gatehouse.OutboxStore
	gatehouse.TwoFactorStore
	gatehouse.PendingLoginStore
	gatehouse.DeviceStore
	gatehouse.IdentityStore
	gatehouse.LoginRecorder
	ping func(context.Context) error
}

func (s store) Ping(ctx context.Context) error { return s.ping(ctx) }

func storeOf(s account.Stores, ping func(context.Context) error) store {
	return store{s.Users, s.Sessions, s.Throttles, s.Tokens, s.Audit, s.ActionTokens, s.Outbox,
		s.TwoFactor, s.PendingLogins, s.Devices, s.Identities, s.Logins, ping}
}

// call is one call the callback was told of.
type call struct {
	backend, op string
	err         error
}

// TestStoreContract runs the store contract through the wrappers, traced
// and observed: they change nothing of what the store answers, and each
// call is one span and one callback.
func TestStoreContract(t *testing.T) {
	exp := record(t)
	var mu sync.Mutex
	var calls []call
	observe := func(backend, op string, took time.Duration, err error) {
		if took < 0 {
			t.Errorf("%s took %v", op, took)
		}
		mu.Lock()
		calls = append(calls, call{backend, op, err})
		mu.Unlock()
	}
	storetest.Run(t, func(t *testing.T) gatehouse.Store {
		db := openSQLite(t)
		return storeOf(observedstore.Wrap(account.StoresOf(db), observedstore.AllIn("sqlite"), observe), db.Ping)
	})
	spans := exp.GetSpans()
	mu.Lock()
	defer mu.Unlock()
	if len(calls) < 100 {
		t.Fatalf("%d observed calls; the contract makes hundreds", len(calls))
	}
	// The contract's calls are part of no traced operation: observed,
	// but no span of their own (see TestUntracedCallerGetsNoSpan).
	if len(spans) != 0 {
		t.Errorf("%d spans of calls outside any span, want none", len(spans))
	}
	ops := map[string]bool{}
	for _, c := range calls {
		if c.backend != "sqlite" {
			t.Fatalf("%s observed in backend %q", c.op, c.backend)
		}
		ops[c.op] = true
	}
	for _, want := range []string{"CreateUser", "SessionByTokenHash", "RecordLoginSession", "ClaimMail", "AppendAudit"} {
		if !ops[want] {
			t.Errorf("no call of %s observed", want)
		}
	}
}

// TestUntracedCallerGetsNoSpan: a store call outside any span (the
// outbox's poll, the sweeper) is observed but not traced, so that
// background work does not fill the trace backend; the same call inside a
// span is.
func TestUntracedCallerGetsNoSpan(t *testing.T) {
	exp := record(t)
	fake := &fakeSessions{}
	observed := 0
	w := observedstore.Wrap(account.Stores{Sessions: fake}, observedstore.AllIn("sqlite"),
		func(string, string, time.Duration, error) { observed++ })
	w.Sessions.SessionByID(context.Background(), "s1")
	ctx, parent := tracing.Start(context.Background(), "request")
	w.Sessions.SessionByID(ctx, "s1")
	parent.End()
	var names []string
	for _, s := range exp.GetSpans() {
		names = append(names, s.Name)
	}
	if observed != 2 || len(names) != 2 || names[0] != "store.SessionByID" || names[1] != "request" {
		t.Errorf("observed %d calls, spans %v; want 2 observed and one store span, inside the request's", observed, names)
	}
}

// attrMap indexes attributes by key.
func attrMap(kvs []attribute.KeyValue) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestSpanNestsAndNamesErrors(t *testing.T) {
	exp := record(t)
	broken := errors.New("disk I/O error")
	fake := &fakeSessions{}
	var seen []call
	w := observedstore.Wrap(account.Stores{Sessions: fake}, observedstore.Backends{Sessions: "postgres"},
		func(backend, op string, _ time.Duration, err error) { seen = append(seen, call{backend, op, err}) })
	ctx, parent := tracing.Start(context.Background(), "parent")
	fake.err = gatehouse.ErrNotFound
	if _, err := w.Sessions.SessionByID(ctx, "s1"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("SessionByID: %v, want the store's ErrNotFound", err)
	}
	fake.err = broken
	if err := w.Sessions.DeleteSession(ctx, "s1"); err != broken {
		t.Fatalf("DeleteSession: %v, want the store's error itself", err)
	}
	parent.End()
	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	for i, s := range spans[:2] {
		if s.Parent.SpanID() != parent.SpanContext().SpanID() || s.SpanContext.TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("span %s is not the child of the caller's", s.Name)
		}
		if fake.spans[i] != s.SpanContext.SpanID() {
			t.Errorf("the store did not get the context of span %s", s.Name)
		}
		if got := attrMap(s.Attributes)["db.system.name"].AsString(); got != "postgresql" {
			t.Errorf("%s: db.system.name %q, want postgresql", s.Name, got)
		}
	}
	if s := spans[0]; s.Name != "store.SessionByID" || s.Status.Code == codes.Error || attrMap(s.Attributes)["gatehouse.error.code"].AsString() != "not_found" {
		t.Errorf("not found: span %s, status %v, attributes %v", s.Name, s.Status, s.Attributes)
	}
	if s := spans[1]; s.Name != "store.DeleteSession" || s.Status.Code != codes.Error {
		t.Errorf("failure: span %s, status %v", s.Name, s.Status)
	}
	want := []call{{"postgres", "SessionByID", gatehouse.ErrNotFound}, {"postgres", "DeleteSession", broken}}
	if len(seen) != 2 || seen[0] != want[0] || seen[1] != want[1] {
		t.Errorf("observed %v, want %v", seen, want)
	}
}

// TestNilStaysNil: a store that cannot record a login in one write is
// still found out through the wrapper.
func TestNilStaysNil(t *testing.T) {
	w := observedstore.Wrap(account.Stores{Sessions: &fakeSessions{}}, observedstore.AllIn("redis"), nil)
	if w.Logins != nil || w.Users != nil {
		t.Errorf("Wrap made %v of nil stores", w)
	}
	db := openSQLite(t)
	if observedstore.Wrap(account.StoresOf(db), observedstore.AllIn("sqlite"), nil).Logins == nil {
		t.Error("Wrap lost the store's LoginRecorder")
	}
}

// TestOffAllocatesNothing: tracing off and no callback, a wrapped call
// allocates no more than the store's own.
func TestOffAllocatesNothing(t *testing.T) {
	fake := &fakeSessions{}
	w := observedstore.Wrap(account.Stores{Sessions: fake}, observedstore.AllIn("sqlite"), nil)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		if err := w.Sessions.TouchSession(ctx, "s1", time.Time{}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("wrapped TouchSession: %v allocations, want 0", allocs)
	}
}

// fakeSessions answers err and remembers the span each call ran in.
type fakeSessions struct {
	gatehouse.SessionStore
	err   error
	spans []trace.SpanID
}

func (f *fakeSessions) note(ctx context.Context) {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		f.spans = append(f.spans, sc.SpanID())
	}
}

func (f *fakeSessions) SessionByID(ctx context.Context, id string) (*gatehouse.Session, error) {
	f.note(ctx)
	return nil, f.err
}

func (f *fakeSessions) DeleteSession(ctx context.Context, id string) error {
	f.note(ctx)
	return f.err
}

func (f *fakeSessions) TouchSession(ctx context.Context, id string, at time.Time) error {
	return nil
}

// BenchmarkSessionByTokenHash is a session lookup in SQLite, the store
// call of every authenticated request, bare and wrapped (tracing off and
// no callback; then with a callback; then traced).
func BenchmarkSessionByTokenHash(b *testing.B) {
	db := openSQLite(b)
	ctx := context.Background()
	u := &gatehouse.User{ID: gatehouse.NewID(), Username: "bench", Email: "bench@example.com", State: gatehouse.StateActive, CreatedAt: time.Now()}
	if err := db.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	hash := make([]byte, 32)
	hash[0] = 1
	now := time.Now()
	s := &gatehouse.Session{ID: gatehouse.NewID(), UserID: u.ID, TokenHash: hash, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), AuthenticatedAt: now}
	if err := db.CreateSession(ctx, s); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, st gatehouse.SessionStore) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := st.SessionByTokenHash(ctx, hash); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, db) })
	b.Run("wrapped-off", func(b *testing.B) {
		run(b, observedstore.Wrap(account.StoresOf(db), observedstore.AllIn("sqlite"), nil).Sessions)
	})
	b.Run("wrapped-observed", func(b *testing.B) {
		observe := func(string, string, time.Duration, error) {}
		run(b, observedstore.Wrap(account.StoresOf(db), observedstore.AllIn("sqlite"), observe).Sessions)
	})
	b.Run("wrapped-traced", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		b.Cleanup(func() { tp.Shutdown(context.Background()) })
		b.Cleanup(tracing.Use(tp))
		run(b, observedstore.Wrap(account.StoresOf(db), observedstore.AllIn("sqlite"), nil).Sessions)
	})
}

// BenchmarkCall is the wrapper alone, over a store that does nothing.
func BenchmarkCall(b *testing.B) {
	fake := &fakeSessions{}
	ctx := context.Background()
	b.Run("bare", func(b *testing.B) {
		var st gatehouse.SessionStore = fake
		b.ReportAllocs()
		for b.Loop() {
			_ = st.TouchSession(ctx, "s1", time.Time{})
		}
	})
	b.Run("wrapped-off", func(b *testing.B) {
		st := observedstore.Wrap(account.Stores{Sessions: fake}, observedstore.AllIn("sqlite"), nil).Sessions
		b.ReportAllocs()
		for b.Loop() {
			_ = st.TouchSession(ctx, "s1", time.Time{})
		}
	})
}
