package postgres_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres"
)

// newNotifier returns a Notifier on connString, closed when the test ends.
func newNotifier(t testing.TB, connString string) *postgres.Notifier {
	t.Helper()
	n, err := postgres.NewNotifier(connString, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewNotifier: %v", err)
	}
	t.Cleanup(n.Close)
	return n
}

// received is a subscription's deliveries, stamped with their arrival.
type received struct {
	inv gatehouse.Invalidation
	at  time.Time
}

// subscribe runs n.Subscribe until the test ends and returns what it
// delivers; the test waits for Subscribe to return.
func subscribe(t testing.TB, n gatehouse.Invalidator) <-chan received {
	t.Helper()
	ch := make(chan received, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- n.Subscribe(ctx, func(inv gatehouse.Invalidation) { ch <- received{inv, time.Now()} })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Subscribe returned %v, want context.Canceled", err)
		}
	})
	return ch
}

// next returns the next delivery, or fails t after 5 s.
func next(t testing.TB, ch <-chan received) received {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("nothing delivered within 5 s")
		return received{}
	}
}

// want fails t unless the next delivery is inv.
func want(t testing.TB, ch <-chan received, inv gatehouse.Invalidation) {
	t.Helper()
	if got := next(t, ch).inv; got != inv {
		t.Fatalf("delivered %+v, want %+v", got, inv)
	}
}

var (
	ready = gatehouse.Invalidation{Kind: gatehouse.SubscriptionReady}
	lost  = gatehouse.Invalidation{Kind: gatehouse.SubscriptionLost}
)

// TestNotifierDelivers: what one Notifier publishes, a subscription of
// another on the same database receives, in order; a message that is not
// an invalidation arrives as InvalidateAll; what cannot be published is
// refused before anything is sent.
func TestNotifierDelivers(t *testing.T) {
	db := freshDatabase(t)
	pub, sub := newNotifier(t, db), newNotifier(t, db)
	ch := subscribe(t, sub)
	want(t, ch, ready)
	sent := []gatehouse.Invalidation{
		{Kind: gatehouse.InvalidateSession, ID: gatehouse.NewID()},
		{Kind: gatehouse.InvalidateUserSessions, ID: gatehouse.NewID()},
		{Kind: gatehouse.InvalidateUser, ID: gatehouse.NewID()},
		{Kind: gatehouse.InvalidateGroups},
		{Kind: gatehouse.InvalidateToken, ID: gatehouse.NewID()},
		{Kind: gatehouse.InvalidateUserTokens, ID: gatehouse.NewID()},
		{Kind: gatehouse.InvalidateAll},
	}
	for _, inv := range sent {
		if err := pub.Publish(t.Context(), inv); err != nil {
			t.Fatalf("Publish(%+v): %v", inv, err)
		}
	}
	for _, inv := range sent {
		want(t, ch, inv)
	}

	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "SELECT pg_notify($1, 'session')", postgres.NotifyChannel); err != nil {
		t.Fatal(err)
	}
	want(t, ch, gatehouse.Invalidation{Kind: gatehouse.InvalidateAll})

	for _, inv := range []gatehouse.Invalidation{lost, ready, {Kind: gatehouse.InvalidateSession}, {Kind: gatehouse.InvalidateUser, ID: "a\x00b"}} {
		if err := pub.Publish(t.Context(), inv); err == nil {
			t.Errorf("Publish(%+v) succeeded", inv)
		}
	}
	// Nothing of the refused ones arrived: the next message is the marker.
	marker := gatehouse.Invalidation{Kind: gatehouse.InvalidateToken, ID: "marker"}
	if err := pub.Publish(t.Context(), marker); err != nil {
		t.Fatal(err)
	}
	want(t, ch, marker)
}

// TestNotifierStoreNotifier: the Notifier of a Store publishes through the
// store's pool to a subscription on another process's Notifier.
func TestNotifierStoreNotifier(t *testing.T) {
	db := freshDatabase(t)
	store, err := postgres.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ch := subscribe(t, newNotifier(t, db))
	want(t, ch, ready)
	inv := gatehouse.Invalidation{Kind: gatehouse.InvalidateUser, ID: "u1"}
	if err := store.Notifier(nil).Publish(t.Context(), inv); err != nil {
		t.Fatal(err)
	}
	want(t, ch, inv)
}

// terminateListeners ends the server processes of db's connections named
// appName (our own listeners: no other test uses db) and returns how many.
func terminateListeners(t testing.TB, db, appName string) int {
	t.Helper()
	admin, err := pgx.Connect(t.Context(), serverURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	cfg, err := pgx.ParseConfig(db)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	err = admin.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND application_name = $2 AND pid <> pg_backend_pid()`, cfg.Database, appName).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNotifierReconnects: when the server ends the listening connection,
// the subscription reports it lost, listens again and reports it ready,
// and receives what is published after.
func TestNotifierReconnects(t *testing.T) {
	db := freshDatabase(t)
	n := newNotifier(t, db)
	ch := subscribe(t, n)
	want(t, ch, ready)
	if got := terminateListeners(t, db, "gatehouse invalidations"); got != 1 {
		t.Fatalf("terminated %d listening connections, want 1", got)
	}
	want(t, ch, lost)
	want(t, ch, ready)
	inv := gatehouse.Invalidation{Kind: gatehouse.InvalidateSession, ID: "after"}
	if err := n.Publish(t.Context(), inv); err != nil {
		t.Fatal(err)
	}
	want(t, ch, inv)
}

// TestNotifierKeepsRetrying: while the database refuses connections the
// subscription stays lost (and keeps trying); once it accepts them again,
// the subscription is ready.
func TestNotifierKeepsRetrying(t *testing.T) {
	db := freshDatabase(t)
	cfg, err := pgx.ParseConfig(db)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(t.Context(), serverURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	allow := func(on bool) {
		t.Helper()
		if _, err := admin.Exec(t.Context(), "ALTER DATABASE "+pgx.Identifier{cfg.Database}.Sanitize()+" ALLOW_CONNECTIONS "+map[bool]string{true: "true", false: "false"}[on]); err != nil {
			t.Fatal(err)
		}
	}
	defer allow(true) // so the cleanup can drop it
	ch := subscribe(t, newNotifier(t, db))
	want(t, ch, ready)
	allow(false)
	terminateListeners(t, db, "gatehouse invalidations")
	want(t, ch, lost)
	select {
	case r := <-ch:
		t.Fatalf("delivered %+v while the database refuses connections", r.inv)
	case <-time.After(500 * time.Millisecond):
	}
	allow(true)
	want(t, ch, ready)
}

// TestNotifierHidesPassword: errors never repeat the connection string's
// password.
func TestNotifierHidesPassword(t *testing.T) {
	for _, cs := range []string{
		"postgres://gh:s3cr3t-pw@127.0.0.1:5432/x?sslmode=disable&pool_max_conns=many",
		"postgres://gh:s3cr3t-pw@[::1:5432/x",
	} {
		_, err := postgres.NewNotifier(cs, nil)
		if err == nil {
			t.Errorf("NewNotifier accepted a bad URL")
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t-pw") {
			t.Errorf("NewNotifier error repeats the password: %v", err)
		}
	}
	// Nothing listens on port 1: publishing fails, and says so without
	// the password.
	logs := &lockedBuffer{}
	n, err := postgres.NewNotifier("postgres://gh:s3cr3t-pw@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	err = n.Publish(t.Context(), gatehouse.Invalidation{Kind: gatehouse.InvalidateAll})
	if err == nil || strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Errorf("Publish to nowhere: %v", err)
	}
	// The subscription logs its failures to connect, without the password.
	subscribe(t, n)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "cannot listen") {
		if time.Now().After(deadline) {
			t.Fatalf("no failure logged within 5 s; logs: %s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Contains(logs.String(), "s3cr3t-pw") {
		t.Errorf("the logs repeat the password: %s", logs.String())
	}
}

// lockedBuffer is a bytes.Buffer that a logger may write from another
// goroutine while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// BenchmarkNotifierPropagation measures how long an invalidation takes
// from Publish on one Notifier to delivery on another's subscription: the
// time another process may still trust what was revoked.
func BenchmarkNotifierPropagation(b *testing.B) {
	db := freshDatabase(b)
	pub, sub := newNotifier(b, db), newNotifier(b, db)
	ch := subscribe(b, sub)
	want(b, ch, ready)
	inv := gatehouse.Invalidation{Kind: gatehouse.InvalidateSession, ID: gatehouse.NewID()}
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		if err := pub.Publish(b.Context(), inv); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, next(b, ch).at.Sub(start))
	}
	reportLatency(b, lat)
}

// reportLatency reports the 50th and 99th percentiles of lat in µs.
func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p int) float64 { return float64(lat[(len(lat)-1)*p/100].Microseconds()) }
	b.ReportMetric(pct(50), "p50-µs")
	b.ReportMetric(pct(99), "p99-µs")
}
