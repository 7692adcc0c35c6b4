package redis_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/redis"
)

// notifyServer returns GATEHOUSE_TEST_REDIS parsed, or skips t.
func notifyServer(t testing.TB) *goredis.Options {
	t.Helper()
	u := os.Getenv("GATEHOUSE_TEST_REDIS")
	if u == "" {
		t.Skip("GATEHOUSE_TEST_REDIS is not set: set it to a Redis URL, such as redis://127.0.0.1:6379/0, to run the Redis tests")
	}
	opt, err := goredis.ParseURL(u)
	if err != nil {
		t.Fatalf("GATEHOUSE_TEST_REDIS: %v", err)
	}
	return opt
}

// notifyClient returns a client of the test Redis whose connections are
// named name (so the test can find its own among the shared server's
// clients), closed when the test ends.
func notifyClient(t testing.TB, name string) *goredis.Client {
	t.Helper()
	opt := notifyServer(t)
	opt.ClientName = name
	c := goredis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// uniqueName returns a name no other test uses.
func uniqueName(prefix string) string {
	return prefix + strings.ToLower(rand.Text())
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
// another with the same prefix receives, in order, and one with another
// prefix does not; a message that is not an invalidation arrives as
// InvalidateAll; what cannot be published is refused.
func TestNotifierDelivers(t *testing.T) {
	prefix := uniqueName("ghtest:")
	pubClient := notifyClient(t, uniqueName("ghtest-pub-"))
	pub := redis.NewNotifier(pubClient, prefix, nil)
	ch := subscribe(t, redis.NewNotifier(notifyClient(t, uniqueName("ghtest-sub-")), prefix, nil))
	other := subscribe(t, redis.NewNotifier(notifyClient(t, uniqueName("ghtest-other-")), prefix+"other", nil))
	want(t, ch, ready)
	want(t, other, ready)
	if got := pub.Channel(); got != prefix+":invalidate" {
		t.Errorf("Channel() = %q", got)
	}
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
	if err := pubClient.Publish(t.Context(), pub.Channel(), "token").Err(); err != nil {
		t.Fatal(err)
	}
	want(t, ch, gatehouse.Invalidation{Kind: gatehouse.InvalidateAll})
	for _, inv := range []gatehouse.Invalidation{lost, ready, {Kind: gatehouse.InvalidateSession}, {Kind: gatehouse.InvalidateUser, ID: "a\nb"}} {
		if err := pub.Publish(t.Context(), inv); err == nil {
			t.Errorf("Publish(%+v) succeeded", inv)
		}
	}
	marker := gatehouse.Invalidation{Kind: gatehouse.InvalidateToken, ID: "marker"}
	if err := pub.Publish(t.Context(), marker); err != nil {
		t.Fatal(err)
	}
	want(t, ch, marker)
	select {
	case r := <-other:
		t.Errorf("a subscription under another prefix got %+v", r.inv)
	default:
	}
}

// killPubSubClients ends the pub/sub connections named name (only this
// test's: the Redis is shared) from an admin connection, and returns how
// many.
func killPubSubClients(t testing.TB, name string) int {
	t.Helper()
	admin := goredis.NewClient(notifyServer(t))
	defer admin.Close()
	list, err := admin.ClientList(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	sc := bufio.NewScanner(strings.NewReader(list))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if !slices.Contains(fields, "name="+name) || !slices.ContainsFunc(fields, func(f string) bool { return strings.HasPrefix(f, "sub=") && f != "sub=0" }) {
			continue
		}
		for _, f := range fields {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				if err := admin.Do(t.Context(), "CLIENT", "KILL", "ID", id).Err(); err != nil {
					t.Fatalf("CLIENT KILL ID %s: %v", id, err)
				}
				n++
			}
		}
	}
	return n
}

// TestNotifierResubscribes: when Redis ends the subscription's connection
// (CLIENT KILL), the subscription reports it lost, subscribes again and
// reports it ready, and receives what is published after.
func TestNotifierResubscribes(t *testing.T) {
	prefix := uniqueName("ghtest:")
	name := uniqueName("ghtest-sub-")
	n := redis.NewNotifier(notifyClient(t, name), prefix, slog.New(slog.DiscardHandler))
	ch := subscribe(t, n)
	want(t, ch, ready)
	if got := killPubSubClients(t, name); got != 1 {
		t.Fatalf("killed %d subscribed clients, want 1", got)
	}
	want(t, ch, lost)
	want(t, ch, ready)
	inv := gatehouse.Invalidation{Kind: gatehouse.InvalidateSession, ID: "after"}
	if err := n.Publish(t.Context(), inv); err != nil {
		t.Fatal(err)
	}
	want(t, ch, inv)
}

// TestNotifierUnreachable: with no Redis to talk to, Publish fails and the
// subscription never reports ready.
func TestNotifierUnreachable(t *testing.T) {
	notifyServer(t) // the Redis tests run together or not at all
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", DialTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	n := redis.NewNotifier(c, "ghtest:", nil)
	if err := n.Publish(t.Context(), gatehouse.Invalidation{Kind: gatehouse.InvalidateAll}); err == nil {
		t.Error("Publish to nowhere succeeded")
	}
	ch := subscribe(t, n)
	select {
	case r := <-ch:
		t.Errorf("delivered %+v with no Redis", r.inv)
	case <-time.After(300 * time.Millisecond):
	}
}

// BenchmarkNotifierPropagation measures how long an invalidation takes
// from Publish on one Notifier to delivery on another's subscription: the
// time another process may still trust what was revoked.
func BenchmarkNotifierPropagation(b *testing.B) {
	prefix := uniqueName("ghtest:")
	pub := redis.NewNotifier(notifyClient(b, uniqueName("ghtest-pub-")), prefix, nil)
	ch := subscribe(b, redis.NewNotifier(notifyClient(b, uniqueName("ghtest-sub-")), prefix, nil))
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
	slices.Sort(lat)
	pct := func(p int) float64 { return float64(lat[(len(lat)-1)*p/100].Microseconds()) }
	b.ReportMetric(pct(50), "p50-µs")
	b.ReportMetric(pct(99), "p99-µs")
}
