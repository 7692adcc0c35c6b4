package session

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// scriptedInvalidator is an in-memory gatehouse.Invalidator whose
// subscription the test takes down and brings back at will.
type scriptedInvalidator struct {
	mu        sync.Mutex
	deliver   func(gatehouse.Invalidation)
	published []gatehouse.Invalidation
	ready     chan struct{}
}

func newScriptedInvalidator() *scriptedInvalidator {
	return &scriptedInvalidator{ready: make(chan struct{})}
}

func (s *scriptedInvalidator) Publish(_ context.Context, inv gatehouse.Invalidation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.published = append(s.published, inv)
	return nil
}

func (s *scriptedInvalidator) Subscribe(ctx context.Context, deliver func(gatehouse.Invalidation)) error {
	s.mu.Lock()
	s.deliver = deliver
	s.mu.Unlock()
	close(s.ready)
	<-ctx.Done()
	return ctx.Err()
}

// send delivers inv as a message from another process would arrive.
func (s *scriptedInvalidator) send(t testing.TB, inv gatehouse.Invalidation) {
	t.Helper()
	select {
	case <-s.ready:
	case <-time.After(5 * time.Second):
		t.Fatal("Subscribe was not called")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliver(inv)
}

func (s *scriptedInvalidator) sent() []gatehouse.Invalidation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]gatehouse.Invalidation(nil), s.published...)
}

// TestManagerInvalidations: with an hour-long cache, a session removed
// behind the manager's back stays trusted, until an invalidation names
// it; a lost subscription empties the cache and stops caching until the
// subscription is back; revocations are published.
func TestManagerInvalidations(t *testing.T) {
	e := newFakeEnv(t, Config{CacheTTL: time.Hour})
	store := e.store.(*fakeStore)
	inv := newScriptedInvalidator()
	e.m.UseInvalidator(t.Context(), inv)
	if e.m.Listening() {
		t.Fatal("Listening before the subscription is ready")
	}
	inv.send(t, gatehouse.Invalidation{Kind: gatehouse.SubscriptionReady})
	if !e.m.Listening() {
		t.Fatal("not Listening after SubscriptionReady")
	}
	ctx := t.Context()
	user := e.newUser(t)

	// Cached for an hour: removing it from the store changes nothing here.
	tok1, s1 := e.create(t, user, CreateOptions{})
	got, err := e.m.Peek(ctx, tok1)
	wantLive(t, "first read", got, err)
	store.removeDirectly(s1.ID)
	got, err = e.m.Peek(ctx, tok1)
	wantLive(t, "cached after a removal nobody announced", got, err)
	inv.send(t, gatehouse.Invalidation{Kind: gatehouse.InvalidateSession, ID: s1.ID})
	got, err = e.m.Peek(ctx, tok1)
	wantEnded(t, "after InvalidateSession", got, err)

	tok2, s2 := e.create(t, user, CreateOptions{})
	e.m.Peek(ctx, tok2)
	store.removeDirectly(s2.ID)
	inv.send(t, gatehouse.Invalidation{Kind: gatehouse.InvalidateUserSessions, ID: user})
	got, err = e.m.Peek(ctx, tok2)
	wantEnded(t, "after InvalidateUserSessions", got, err)

	// A lost subscription flushes: the session removed meanwhile ends.
	tok3, s3 := e.create(t, user, CreateOptions{})
	e.m.Peek(ctx, tok3)
	store.removeDirectly(s3.ID)
	inv.send(t, gatehouse.Invalidation{Kind: gatehouse.SubscriptionLost})
	if e.m.Listening() {
		t.Error("Listening after SubscriptionLost")
	}
	got, err = e.m.Peek(ctx, tok3)
	wantEnded(t, "after SubscriptionLost", got, err)
	// While deaf, every read goes to the store.
	tok4, _ := e.create(t, user, CreateOptions{})
	before := store.counts().Gets
	for range 3 {
		got, err = e.m.Peek(ctx, tok4)
		wantLive(t, "while deaf", got, err)
	}
	if n := store.counts().Gets - before; n != 3 {
		t.Errorf("while deaf, 3 reads cost %d store reads, want 3", n)
	}
	// Back: cached again.
	inv.send(t, gatehouse.Invalidation{Kind: gatehouse.SubscriptionReady})
	e.m.Peek(ctx, tok4)
	before = store.counts().Gets
	e.m.Peek(ctx, tok4)
	if n := store.counts().Gets - before; n != 0 {
		t.Errorf("after SubscriptionReady, a second read cost %d store reads, want 0", n)
	}

	// Revocations made here are published, and applied here at once.
	tok5, s5 := e.create(t, user, CreateOptions{})
	if err := e.m.Revoke(ctx, s5.ID); err != nil {
		t.Fatal(err)
	}
	got, err = e.m.Peek(ctx, tok5)
	wantEnded(t, "after Revoke", got, err)
	if _, err := e.m.RevokeUser(ctx, user, ""); err != nil {
		t.Fatal(err)
	}
	want := []gatehouse.Invalidation{
		{Kind: gatehouse.InvalidateSession, ID: s5.ID},
		{Kind: gatehouse.InvalidateUserSessions, ID: user},
	}
	if got := inv.sent(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("published %v, want %v", got, want)
	}
}

// TestManagerStaysDeafAfterSubscribeEnds: when the subscription ends for
// good, the manager does not go back to trusting its cache.
func TestManagerStaysDeafAfterSubscribeEnds(t *testing.T) {
	e := newFakeEnv(t, Config{CacheTTL: time.Hour})
	inv := newScriptedInvalidator()
	ctx, cancel := context.WithCancel(t.Context())
	e.m.UseInvalidator(ctx, inv)
	inv.send(t, gatehouse.Invalidation{Kind: gatehouse.SubscriptionReady})
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for e.m.Listening() {
		if time.Now().After(deadline) {
			t.Fatal("still Listening 5 s after the subscription ended")
		}
		time.Sleep(time.Millisecond)
	}
}
