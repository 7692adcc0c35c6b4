package oidclogin

import (
	"context"
	"errors"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testop"
)

// blackHole listens on loopback, accepts connections and never answers
// on them (a provider behind a black-holing network); it counts the
// connections.
func blackHole(t *testing.T) (issuer string, conns *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = new(atomic.Int32)
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String() + "/oidc", conns
}

// testTimeout is the request timeout of the tests below: short, so that
// waiting for it is cheap, and long beside what answering from memory
// takes.
const testTimeout = time.Second

// concurrently runs calls at once and returns how long they all took.
func concurrently(calls ...func()) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	for _, call := range calls {
		wg.Go(call)
	}
	wg.Wait()
	return time.Since(start)
}

// TestBlackHoleWithoutDocument: callers without a document wait for one
// shared read, not one after another, and after it failed get
// ErrUnavailable at once.
func TestBlackHoleWithoutDocument(t *testing.T) {
	issuer, conns := blackHole(t)
	p, err := New(Config{ID: "corp", Issuer: issuer, ClientID: "c", RedirectURL: redirectURL})
	if err != nil {
		t.Fatal(err)
	}
	p.requestTimeout = testTimeout
	advance := fakeClock(p)

	errs := make([]error, 4)
	signOut := func(i int) func() {
		return func() {
			if _, ok := p.SignOutURL(context.Background(), "tok"); ok {
				errs[i] = errors.New("sign-out URL without a document")
			} else {
				errs[i] = ErrUnavailable
			}
		}
	}
	took := concurrently(signOut(0), signOut(1),
		func() { _, _, errs[2] = p.Start(context.Background()) },
		func() {
			_, errs[3] = p.Finish(context.Background(), url.Values{"state": {"s"}, "code": {"c"}}, Flow{State: "s", Nonce: "n", Verifier: "v"})
		})
	for _, err := range errs {
		wantUnavailable(t, err)
	}
	if took >= 2*testTimeout {
		t.Errorf("4 concurrent calls took %v with a request timeout of %v: they queued", took, testTimeout)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections to the provider, want 1 shared read", n)
	}

	// Within the retry delay: unavailable at once, the provider not asked.
	start := time.Now()
	_, _, err = p.Start(context.Background())
	wantUnavailable(t, err)
	if took := time.Since(start); took >= testTimeout/2 {
		t.Errorf("Start within the retry delay took %v", took)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections within the retry delay, want 1", n)
	}

	// After it, a caller waits as long as its own context allows.
	advance(minRetryDelay)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout/10)
	defer cancel()
	start = time.Now()
	_, _, err = p.Start(ctx)
	wantUnavailable(t, err)
	if took := time.Since(start); took >= testTimeout/2 {
		t.Errorf("Start with a %v context took %v", testTimeout/10, took)
	}
	awaitRead(p)
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections after the retry delay, want 2", n)
	}
}

// TestBlackHoleWithStaleDocument: a document past its TTL keeps serving,
// at once, while the provider does not answer, and the provider's
// return is noticed.
func TestBlackHoleWithStaleDocument(t *testing.T) {
	op := testop.Start(t)
	p := newProvider(t, op, func(c *Config) { c.DiscoveryTTL = time.Minute })
	p.requestTimeout = testTimeout
	advance := fakeClock(p)
	idToken := mustLogin(t, p, op).IDToken

	op.BlackHole()
	advance(2 * time.Minute)
	signOut := func() {
		if _, ok := p.SignOutURL(context.Background(), idToken); !ok {
			t.Error("no sign-out URL from the stale document")
		}
	}
	start := func() {
		if _, _, err := p.Start(context.Background()); err != nil {
			t.Errorf("Start with a stale document: %v", err)
		}
	}
	if took := concurrently(signOut, signOut, signOut, start); took >= testTimeout/2 {
		t.Errorf("4 concurrent calls with a stale document took %v", took)
	}
	awaitRead(p) // fails at the request timeout
	p.mu.Lock()
	failed := !p.retryAt.IsZero()
	p.mu.Unlock()
	if !failed {
		t.Fatal("the read of a black-holed provider did not fail")
	}
	signOut()

	// The provider back (with a change): read again after the retry
	// delay.
	op.EndSessionEndpoint(false)
	op.Up()
	advance(minRetryDelay)
	signOut() // still the stale document, read again meanwhile
	awaitRead(p)
	if _, ok := p.SignOutURL(context.Background(), idToken); ok {
		t.Error("the document read after recovery was not used")
	}
	mustLogin(t, p, op)
}

// TestDownAndUp: a provider refusing connections, without and with a
// document at hand.
func TestDownAndUp(t *testing.T) {
	op := testop.Start(t)
	p := newProvider(t, op, func(c *Config) { c.DiscoveryTTL = time.Minute })
	advance := fakeClock(p)

	op.Down()
	_, _, err := p.Start(context.Background())
	wantUnavailable(t, err)
	op.Up()
	_, _, err = p.Start(context.Background())
	wantUnavailable(t, err) // within the retry delay
	advance(minRetryDelay)
	mustLogin(t, p, op)

	op.Down()
	advance(2 * time.Minute)
	if _, ok := p.SignOutURL(context.Background(), "tok"); !ok {
		t.Error("no sign-out URL from the stale document with the provider down")
	}
	awaitRead(p)
	if _, _, err := p.Start(context.Background()); err != nil {
		t.Errorf("Start with a stale document and the provider down: %v", err)
	}
	op.Up()
	advance(minRetryDelay)
	p.SignOutURL(context.Background(), "tok")
	awaitRead(p)
	mustLogin(t, p, op)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.retryAt.IsZero() || p.retryDelay != 0 {
		t.Errorf("retry delay %v kept after a successful read", p.retryDelay)
	}
}

// TestRetryDelayGrows: each failure in a row doubles the delay, up to
// maxRetryDelay.
func TestRetryDelayGrows(t *testing.T) {
	op := testop.Start(t)
	p := newProvider(t, op)
	advance := fakeClock(p)
	for _, want := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 30 * time.Second, 30 * time.Second} {
		op.FailNext(testop.DiscoveryPath, 503)
		_, _, err := p.Start(context.Background())
		wantUnavailable(t, err)
		p.mu.Lock()
		got := p.retryDelay
		p.mu.Unlock()
		if got != want {
			t.Fatalf("retry delay %v, want %v", got, want)
		}
		advance(want - time.Second)
		_, _, err = p.Start(context.Background())
		wantUnavailable(t, err)
		advance(time.Second)
	}
	if n := op.Requests(testop.DiscoveryPath); n != 5 {
		t.Errorf("discovery read %d times, want 5 (none within a delay)", n)
	}
	if _, _, err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}
