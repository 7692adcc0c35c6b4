package session

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// blockFirstGet makes the store's first read of a session wait until the
// returned release is called, and reports on the returned channel when
// that read has begun.
func blockFirstGet(store *fakeStore) (started <-chan struct{}, release func()) {
	start, unblock := make(chan struct{}), make(chan struct{})
	var once sync.Once
	store.afterGet = func(*gatehouse.Session) {
		first := false
		once.Do(func() { first = true })
		if first {
			close(start)
			<-unblock
		}
	}
	return start, func() { close(unblock) }
}

// TestConcurrentMissesReadOnce: lookups that miss the cache for a session
// while its store read is under way wait for that read: ten concurrent
// Loads after the entry expired make one store read, and all get the
// session.
func TestConcurrentMissesReadOnce(t *testing.T) {
	testConcurrentMisses(t, Config{}, 1)
}

// TestConcurrentMissesCacheOff: with the cache off every lookup asks the
// store itself, concurrent or not.
func TestConcurrentMissesCacheOff(t *testing.T) {
	testConcurrentMisses(t, Config{CacheTTL: -1}, 10)
}

func testConcurrentMisses(t *testing.T, cfg Config, wantReads int) {
	e := newFakeEnv(t, cfg)
	store := e.store.(*fakeStore)
	tok, created := e.create(t, e.newUser(t), CreateOptions{})
	started, release := blockFirstGet(store)
	var joined atomic.Int32
	allJoined := make(chan struct{})
	e.m.joined = func() {
		if joined.Add(1) == 9 {
			close(allJoined)
		}
	}

	var wg sync.WaitGroup
	errs := make(chan error, 10)
	load := func() {
		s, err := e.m.Load(t.Context(), tok)
		if err == nil && s.ID != created.ID {
			err = errors.New("Load returned another session")
		}
		errs <- err
	}
	wg.Go(load)
	<-started
	var followers sync.WaitGroup
	for range 9 {
		followers.Go(load)
	}
	followersDone := make(chan struct{})
	go func() { followers.Wait(); close(followersDone) }()
	// Without the waiting, the followers read for themselves and finish
	// while the first read is held: the count below then fails the test.
	select {
	case <-allJoined:
	case <-followersDone:
	}
	release()
	wg.Wait()
	followers.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Load: %v", err)
		}
	}
	if got := store.counts().Gets; got != wantReads {
		t.Errorf("store reads = %d, want %d for ten concurrent lookups", got, wantReads)
	}
	if got, want := e.m.CacheStats(), (CacheStats{Misses: uint64(wantReads), Waits: uint64(10 - wantReads)}); got != want {
		t.Errorf("CacheStats = %+v, want %+v", got, want)
	}
}

// TestRevokedDuringReadNotShared: a lookup that misses the cache after a
// revocation never waits for a store read that started before it, since
// that read may return the revoked session: it reads for itself, and
// finds nothing.
func TestRevokedDuringReadNotShared(t *testing.T) {
	e := newFakeEnv(t, Config{})
	store := e.store.(*fakeStore)
	tok, created := e.create(t, e.newUser(t), CreateOptions{})
	started, release := blockFirstGet(store)
	e.m.joined = func() { t.Error("a lookup after the revocation waited for the read made before it") }

	done := make(chan struct{})
	go func() {
		defer close(done)
		e.m.Load(t.Context(), tok) // read before the revocation: either answer is right
	}()
	<-started
	if err := e.m.Revoke(t.Context(), created.ID); err != nil {
		t.Fatal(err)
	}
	if s, err := e.m.Load(t.Context(), tok); !errors.Is(err, errNoSession) {
		t.Errorf("Load after Revoke = %v, %v; want no session", s, err)
	}
	release()
	<-done
	if s, err := e.m.Load(t.Context(), tok); !errors.Is(err, errNoSession) {
		t.Errorf("Load after the early read finished = %v, %v; want no session", s, err)
	}
}

// TestFailedReadNotShared: when the read a lookup waited for fails for its
// own reasons (here its request's context ends), the lookup reads for
// itself rather than failing too.
func TestFailedReadNotShared(t *testing.T) {
	e := newFakeEnv(t, Config{})
	store := e.store.(*fakeStore)
	tok, created := e.create(t, e.newUser(t), CreateOptions{})
	started, release := blockFirstGet(store)
	joined := make(chan struct{})
	e.m.joined = func() { close(joined) }

	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() {
		_, err := e.m.Load(ctx, tok)
		first <- err
	}()
	<-started
	second := make(chan error, 1)
	go func() {
		s, err := e.m.Load(t.Context(), tok)
		if err == nil && s.ID != created.ID {
			err = errors.New("Load returned another session")
		}
		second <- err
	}()
	select {
	case <-joined:
	case err := <-second:
		t.Fatalf("the second lookup did not wait for the first read: %v", err)
	}
	cancel()
	release()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("the lookup whose context ended: %v, want context.Canceled", err)
	}
	if err := <-second; err != nil {
		t.Errorf("the lookup that waited for it: %v, want the session", err)
	}
	if got := store.counts().Gets; got != 2 {
		t.Errorf("store reads = %d, want 2 (the failed one, the retry)", got)
	}
	if got := e.m.CacheStats(); got != (CacheStats{Misses: 2}) {
		t.Errorf("CacheStats = %+v, want 2 misses (the reads) and no wait (the waiter did not take the failed answer)", got)
	}
}
