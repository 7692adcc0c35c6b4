package session

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse"
)

// scenarios run against every backend: the fake store and real SQLite.
var scenarios = []struct {
	name string
	cfg  Config
	run  func(t *testing.T, e env)
}{
	{"CreateStoresOnlyHash", Config{}, testCreateStoresOnlyHash},
	{"LoadFresh", Config{}, testLoadFresh},
	{"IdleTimeout", Config{}, testIdleTimeout},
	{"Sliding", Config{}, testSliding},
	{"AbsoluteTimeout", Config{}, testAbsoluteTimeout},
	{"Remember", Config{}, testRemember},
	{"RememberCustom", Config{RememberTimeout: 48 * time.Hour, RememberIdleTimeout: 2 * time.Hour}, testRemember},
	{"PeekNeverExtends", Config{}, testPeekNeverExtends},
	{"RevokeCached", Config{CacheTTL: time.Hour}, testRevokeCached},
	{"RevokeUserCached", Config{CacheTTL: time.Hour}, testRevokeUserCached},
	{"StoreRevocationDefault", Config{}, testStoreRevocation},
	{"StoreRevocationLongCache", Config{CacheTTL: 10 * time.Second}, testStoreRevocation},
	{"StoreRevocationTouchShorterThanCache", Config{CacheTTL: 10 * time.Second, TouchInterval: time.Second}, testStoreRevocation},
	{"StoreRevocationCacheDisabled", Config{CacheTTL: -1}, testStoreRevocation},
	{"StoreRevocationBeforeTouch", Config{}, testStoreRevocationBeforeTouch},
	{"StoreRevocationBeforeTouchLongCache", Config{CacheTTL: 30 * time.Second}, testStoreRevocationBeforeTouch},
	{"Sweep", Config{}, testSweep},
	{"MalformedToken", Config{}, testMalformedToken},
	{"RekeyCached", Config{CacheTTL: time.Hour}, testRekey},
	{"RekeyCacheDisabled", Config{CacheTTL: -1}, testRekey},
	{"RekeyEnded", Config{}, testRekeyEnded},
	{"RecentlyAuthenticated", Config{}, testRecentlyAuthenticated},
	{"RecentlyAuthenticatedCustom", Config{ReauthenticateAfter: time.Minute}, testRecentlyAuthenticated},
}

func TestManagerScenarios(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					sc.run(t, b.new(t, sc.cfg))
				})
			}
		})
	}
}

func testCreateStoresOnlyHash(t *testing.T, e env) {
	user := e.newUser(t)
	tok, s := e.create(t, user, CreateOptions{ClientAddr: "192.0.2.7", UserAgent: "test-agent"})
	if _, ok := ParseToken(tok); !ok {
		t.Fatalf("Create returned token %q that ParseToken refuses", tok)
	}
	if !bytes.Equal(s.TokenHash, HashToken(tok)) {
		t.Errorf("TokenHash = %x, want HashToken(token) = %x", s.TokenHash, HashToken(tok))
	}
	if bytes.Equal(s.TokenHash, []byte(tok)) || s.ID == tok {
		t.Errorf("the stored session holds the token itself")
	}
	if s.ID == "" || s.UserID != user {
		t.Errorf("ID = %q, UserID = %q; want an id and %q", s.ID, s.UserID, user)
	}

	stored, err := e.store.SessionByTokenHash(t.Context(), HashToken(tok))
	if err != nil {
		t.Fatalf("SessionByTokenHash(HashToken(token)): %v", err)
	}
	if diff := cmp.Diff(s, stored); diff != "" {
		t.Errorf("stored session differs from the one Create returned (-created +stored):\n%s", diff)
	}
	for _, f := range []string{stored.ID, stored.UserID, stored.ClientAddr, stored.UserAgent, string(stored.TokenHash)} {
		if strings.Contains(f, tok) {
			t.Errorf("stored field %q contains the token", f)
		}
	}
	if _, err := e.store.SessionByTokenHash(t.Context(), []byte(tok)); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("SessionByTokenHash(token itself) = %v, want ErrNotFound: the token must not be the key", err)
	}
	want := &gatehouse.Session{
		ID: s.ID, TokenHash: HashToken(tok), UserID: user,
		CreatedAt: epoch, LastSeenAt: epoch, ExpiresAt: epoch.Add(12 * time.Hour), IdleTimeout: 20 * time.Minute,
		ClientAddr: "192.0.2.7", UserAgent: "test-agent",
	}
	if diff := cmp.Diff(want, stored); diff != "" {
		t.Errorf("stored session mismatch (-want +got):\n%s", diff)
	}
}

// testRekey: a rekeyed session answers only to its new token and under a
// new public id, at once (even from a warm cache), keeps its user, expiry
// and flags, and carries the new authentication time; the old id names no
// session any more, and the old token cannot rekey it again.
func testRekey(t *testing.T, e env) {
	user := e.newUser(t)
	tok, created := e.create(t, user, CreateOptions{Remember: true, TwoFactor: true, AuthenticatedAt: epoch})
	e.clock.Advance(10 * time.Minute)
	other, _ := e.create(t, user, CreateOptions{AuthenticatedAt: epoch})
	old, err := e.m.Load(t.Context(), tok) // cached from here on
	wantLive(t, "Load", old, err)

	newTok, next, err := e.m.Rekey(t.Context(), old, e.clock.Now())
	if err != nil {
		t.Fatalf("Rekey: %v", err)
	}
	if newTok == tok || bytes.Equal(next.TokenHash, created.TokenHash) || !bytes.Equal(next.TokenHash, HashToken(newTok)) {
		t.Fatalf("Rekey kept the token")
	}
	s, err := e.m.Load(t.Context(), tok)
	wantEnded(t, "Load(old token)", s, err)
	got, err := e.m.Load(t.Context(), newTok)
	wantLive(t, "Load(new token)", got, err)
	if next.ID == created.ID || got.ID != next.ID {
		t.Errorf("rekeyed session id = %q (returned %q), want a new one, not %q", got.ID, next.ID, created.ID)
	}
	if got.UserID != user || !got.CreatedAt.Equal(created.CreatedAt) || !got.ExpiresAt.Equal(created.ExpiresAt) ||
		got.IdleTimeout != created.IdleTimeout || !got.Remember || !got.TwoFactor ||
		got.ClientAddr != created.ClientAddr || got.UserAgent != created.UserAgent {
		t.Errorf("rekeyed session = %+v, want the user, times and flags of %+v", got, created)
	}
	if list, err := e.store.UserSessions(t.Context(), user); err != nil {
		t.Fatalf("UserSessions: %v", err)
	} else {
		for _, l := range list {
			if l.ID == created.ID {
				t.Errorf("the old session id %q is still listed", created.ID)
			}
		}
	}
	if !got.AuthenticatedAt.Equal(e.clock.Now()) {
		t.Errorf("AuthenticatedAt = %v, want %v", got.AuthenticatedAt, e.clock.Now())
	}
	if _, _, err := e.m.Rekey(t.Context(), old, e.clock.Now()); gatehouse.ErrorCode(err) != gatehouse.CodeUnauthenticated {
		t.Errorf("Rekey from the old token again = %v, want CodeUnauthenticated", err)
	}
	if s, err := e.m.Load(t.Context(), other); err != nil || s == nil {
		t.Errorf("another session of the user ended: %v", err)
	}
}

// testRekeyEnded: a session that ended (here idle) between its load and
// its rekey (a re-authentication that waited for the user's lock, or for
// the password hash) stays ended: the rekey would give it a last-seen
// time of now and so a new idle period.
func testRekeyEnded(t *testing.T, e env) {
	user := e.newUser(t)
	tok, _ := e.create(t, user, CreateOptions{AuthenticatedAt: epoch})
	old, err := e.m.Load(t.Context(), tok)
	wantLive(t, "Load", old, err)
	e.clock.Advance(e.m.Config().IdleTimeout)
	newTok, _, err := e.m.Rekey(t.Context(), old, e.clock.Now())
	if gatehouse.ErrorCode(err) != gatehouse.CodeUnauthenticated {
		t.Errorf("Rekey of an idle-expired session = %v, want CodeUnauthenticated", err)
	}
	if newTok != "" {
		s, err := e.m.Load(t.Context(), newTok)
		if err == nil {
			t.Errorf("the idle-expired session lives on under a new token: %+v", s)
		}
	}
}

func testRecentlyAuthenticated(t *testing.T, e env) {
	window := e.m.Config().ReauthenticateAfter
	if window <= 0 {
		t.Fatalf("ReauthenticateAfter = %v, want a default", window)
	}
	user := e.newUser(t)
	_, never := e.create(t, user, CreateOptions{})
	if e.m.RecentlyAuthenticated(never) || !e.m.ReauthenticateAt(never).IsZero() {
		t.Errorf("a session that never proved a first factor counts as recently authenticated")
	}
	_, s := e.create(t, user, CreateOptions{AuthenticatedAt: e.clock.Now()})
	for _, tt := range []struct {
		after  time.Duration
		recent bool
	}{{0, true}, {window - time.Microsecond, true}, {window, false}, {2 * window, false}} {
		c := &fakeClock{t: e.clock.Now()}
		c.Advance(tt.after)
		m := NewManager(e.store, e.m.Config(), c.Now, nil)
		if got := m.RecentlyAuthenticated(s); got != tt.recent {
			t.Errorf("%v after authenticating: RecentlyAuthenticated = %v, want %v", tt.after, got, tt.recent)
		}
	}
}

func testLoadFresh(t *testing.T, e env) {
	user := e.newUser(t)
	tok, created := e.create(t, user, CreateOptions{TwoFactor: true})
	got, err := e.m.Load(t.Context(), tok)
	wantLive(t, "Load", got, err)
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("Load mismatch (-created +loaded):\n%s", diff)
	}
	got, err = e.m.Peek(t.Context(), tok)
	wantLive(t, "Peek", got, err)
	if got.ID != created.ID {
		t.Errorf("Peek ID = %q, want %q", got.ID, created.ID)
	}
	other := NewToken()
	s, err := e.m.Load(t.Context(), other)
	wantEnded(t, "Load(unknown token)", s, err)
}

func testIdleTimeout(t *testing.T, e env) {
	idle := e.m.Config().IdleTimeout
	tests := []struct {
		name  string
		after time.Duration
		live  bool
	}{
		{"at once", 0, true},
		{"half idle", idle / 2, true},
		{"1µs before idle", idle - time.Microsecond, true},
		{"at idle", idle, false},
		{"1s past idle", idle + time.Second, false},
		{"a day later", 24 * time.Hour, false},
	}
	user := e.newUser(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, _ := e.create(t, user, CreateOptions{})
			e.clock.Advance(tt.after)
			s, err := e.m.Load(t.Context(), tok)
			if tt.live {
				wantLive(t, "Load", s, err)
			} else {
				wantEnded(t, "Load", s, err)
				// Once ended, it stays ended.
				s, err = e.m.Peek(t.Context(), tok)
				wantEnded(t, "Peek after end", s, err)
			}
		})
	}
}

func testSliding(t *testing.T, e env) {
	idle := e.m.Config().IdleTimeout
	user := e.newUser(t)
	tok, _ := e.create(t, user, CreateOptions{})

	// Used just before the idle deadline: the deadline moves.
	e.clock.Advance(idle - time.Minute)
	s, err := e.m.Load(t.Context(), tok)
	wantLive(t, "Load before idle deadline", s, err)
	if want := epoch.Add(idle - time.Minute + idle); !s.IdleExpiresAt().Equal(want) {
		t.Errorf("IdleExpiresAt after use = %v, want %v", s.IdleExpiresAt(), want)
	}
	stored, err := e.store.SessionByTokenHash(t.Context(), HashToken(tok))
	if err != nil {
		t.Fatal(err)
	}
	if want := epoch.Add(idle - time.Minute); !stored.LastSeenAt.Equal(want) {
		t.Errorf("stored LastSeenAt = %v, want %v (the use)", stored.LastSeenAt, want)
	}

	// Past the original deadline, it lives on.
	e.clock.Advance(idle - time.Second)
	s, err = e.m.Peek(t.Context(), tok)
	wantLive(t, "Peek past the original idle deadline", s, err)
	s, err = e.m.Load(t.Context(), tok)
	wantLive(t, "Load past the original idle deadline", s, err)

	// Used steadily, it outlives many idle timeouts.
	for range 12 {
		e.clock.Advance(idle / 2)
		s, err = e.m.Load(t.Context(), tok)
		wantLive(t, "steady Load", s, err)
	}

	// Then left alone, it ends one idle timeout after its last use.
	last := e.clock.Now()
	e.clock.Advance(idle - time.Microsecond)
	s, err = e.m.Peek(t.Context(), tok)
	wantLive(t, "Peek just before the new deadline", s, err)
	e.clock.Advance(time.Microsecond)
	s, err = e.m.Load(t.Context(), tok)
	wantEnded(t, fmt.Sprintf("Load %v after last use at %v", idle, last), s, err)
}

func testAbsoluteTimeout(t *testing.T, e env) {
	cfg := e.m.Config()
	user := e.newUser(t)
	tok, s := e.create(t, user, CreateOptions{})
	if want := epoch.Add(cfg.AbsoluteTimeout); !s.ExpiresAt.Equal(want) {
		t.Fatalf("ExpiresAt = %v, want %v", s.ExpiresAt, want)
	}
	step := cfg.IdleTimeout / 2
	for e.clock.Now().Add(step).Before(s.ExpiresAt) {
		e.clock.Advance(step)
		got, err := e.m.Load(t.Context(), tok)
		wantLive(t, fmt.Sprintf("Load at %v", e.clock.Now().Sub(epoch)), got, err)
		if !got.ExpiresAt.Equal(s.ExpiresAt) {
			t.Fatalf("Load moved ExpiresAt to %v; it is never extended", got.ExpiresAt)
		}
	}
	e.clock.Advance(s.ExpiresAt.Sub(e.clock.Now()) - time.Microsecond)
	got, err := e.m.Load(t.Context(), tok)
	wantLive(t, "Load 1µs before the absolute timeout", got, err)
	e.clock.Advance(time.Microsecond)
	got, err = e.m.Load(t.Context(), tok)
	wantEnded(t, "Load at the absolute timeout, used constantly", got, err)
}

func testRemember(t *testing.T, e env) {
	cfg := e.m.Config()
	user := e.newUser(t)

	plainTok, _ := e.create(t, user, CreateOptions{})
	idleTok, idleS := e.create(t, user, CreateOptions{Remember: true})
	wantRemember(t, cfg, idleS)

	// Past the normal idle timeout only the plain session has ended.
	e.clock.Advance(cfg.IdleTimeout)
	s, err := e.m.Peek(t.Context(), plainTok)
	wantEnded(t, "plain session after IdleTimeout", s, err)
	s, err = e.m.Peek(t.Context(), idleTok)
	wantLive(t, "remember session after IdleTimeout", s, err)

	// The remember session left alone ends after RememberIdleTimeout.
	e.clock.Advance(cfg.RememberIdleTimeout - cfg.IdleTimeout - time.Microsecond)
	s, err = e.m.Peek(t.Context(), idleTok)
	wantLive(t, "remember session 1µs before RememberIdleTimeout", s, err)
	e.clock.Advance(time.Microsecond)
	s, err = e.m.Peek(t.Context(), idleTok)
	wantEnded(t, "remember session at RememberIdleTimeout", s, err)

	// The other one, used steadily, ends at RememberTimeout.
	absTok2, absS2 := e.create(t, user, CreateOptions{Remember: true})
	wantRemember(t, cfg, absS2)
	step := cfg.RememberIdleTimeout / 2
	for e.clock.Now().Add(step).Before(absS2.ExpiresAt) {
		e.clock.Advance(step)
		s, err = e.m.Load(t.Context(), absTok2)
		wantLive(t, fmt.Sprintf("used remember session at +%v", e.clock.Now().Sub(absS2.CreatedAt)), s, err)
	}
	e.clock.Advance(absS2.ExpiresAt.Sub(e.clock.Now()))
	s, err = e.m.Load(t.Context(), absTok2)
	wantEnded(t, "used remember session at RememberTimeout", s, err)
}

func wantRemember(t *testing.T, cfg Config, s *gatehouse.Session) {
	t.Helper()
	if !s.Remember || s.IdleTimeout != cfg.RememberIdleTimeout || !s.ExpiresAt.Equal(s.CreatedAt.Add(cfg.RememberTimeout)) {
		t.Fatalf("remember session: Remember %v, IdleTimeout %v, ExpiresAt %v; want true, %v, %v",
			s.Remember, s.IdleTimeout, s.ExpiresAt, cfg.RememberIdleTimeout, s.CreatedAt.Add(cfg.RememberTimeout))
	}
}

func testPeekNeverExtends(t *testing.T, e env) {
	idle := e.m.Config().IdleTimeout
	user := e.newUser(t)
	tok, _ := e.create(t, user, CreateOptions{})
	for e.clock.Now().Add(time.Minute).Before(epoch.Add(idle)) {
		e.clock.Advance(time.Minute)
		for range 5 {
			s, err := e.m.Peek(t.Context(), tok)
			wantLive(t, "Peek", s, err)
			if !s.LastSeenAt.Equal(epoch) {
				t.Fatalf("Peek moved LastSeenAt to %v", s.LastSeenAt)
			}
		}
	}
	stored, err := e.store.SessionByTokenHash(t.Context(), HashToken(tok))
	if err != nil {
		t.Fatal(err)
	}
	if !stored.LastSeenAt.Equal(epoch) {
		t.Errorf("stored LastSeenAt = %v after Peeks only, want %v", stored.LastSeenAt, epoch)
	}
	e.clock.Advance(epoch.Add(idle).Sub(e.clock.Now()))
	s, err := e.m.Peek(t.Context(), tok)
	wantEnded(t, "Peek at the original idle deadline", s, err)
	s, err = e.m.Load(t.Context(), tok)
	wantEnded(t, "Load at the original idle deadline", s, err)
}

func testRevokeCached(t *testing.T, e env) {
	user := e.newUser(t)
	tok, s := e.create(t, user, CreateOptions{})
	otherTok, _ := e.create(t, user, CreateOptions{})
	for range 3 {
		got, err := e.m.Load(t.Context(), tok)
		wantLive(t, "Load", got, err)
		got, err = e.m.Load(t.Context(), otherTok)
		wantLive(t, "Load other", got, err)
	}
	if err := e.m.Revoke(t.Context(), s.ID); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	got, err := e.m.Load(t.Context(), tok)
	wantEnded(t, "Load right after Revoke", got, err)
	got, err = e.m.Peek(t.Context(), tok)
	wantEnded(t, "Peek right after Revoke", got, err)
	got, err = e.m.Load(t.Context(), otherTok)
	wantLive(t, "Load of another session after Revoke", got, err)
	if _, err := e.store.SessionByTokenHash(t.Context(), s.TokenHash); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("store still has the revoked session: %v", err)
	}
	if err := e.m.Revoke(t.Context(), s.ID); err != nil {
		t.Errorf("Revoke of a revoked session: %v, want nil", err)
	}
}

func testRevokeUserCached(t *testing.T, e env) {
	alice, bob := e.newUser(t), e.newUser(t)
	var toks []string
	var ids []string
	for range 3 {
		tok, s := e.create(t, alice, CreateOptions{})
		toks, ids = append(toks, tok), append(ids, s.ID)
	}
	bobTok, _ := e.create(t, bob, CreateOptions{})
	for _, tok := range append(toks, bobTok) {
		for range 2 {
			s, err := e.m.Load(t.Context(), tok)
			wantLive(t, "Load", s, err)
		}
	}

	n, err := e.m.RevokeUser(t.Context(), alice, ids[1])
	if err != nil || n != 2 {
		t.Fatalf("RevokeUser(alice, except %s) = %d, %v; want 2, nil", ids[1], n, err)
	}
	for i, tok := range toks {
		s, err := e.m.Load(t.Context(), tok)
		if i == 1 {
			wantLive(t, "the excepted session", s, err)
		} else {
			wantEnded(t, fmt.Sprintf("alice's session %d", i), s, err)
		}
	}
	s, err := e.m.Load(t.Context(), bobTok)
	wantLive(t, "bob's session", s, err)

	n, err = e.m.RevokeUser(t.Context(), alice, "")
	if err != nil || n != 1 {
		t.Fatalf("RevokeUser(alice, \"\") = %d, %v; want 1, nil", n, err)
	}
	s, err = e.m.Load(t.Context(), toks[1])
	wantEnded(t, "the formerly excepted session", s, err)
	s, err = e.m.Load(t.Context(), bobTok)
	wantLive(t, "bob's session", s, err)
}

// testStoreRevocation deletes a session behind the manager's back, as
// another process would, while the session is in steady use: the manager
// must refuse it CacheTTL after the deletion at the latest. It tries several
// phases of the deletion relative to the cache refreshes and the touches.
func testStoreRevocation(t *testing.T, e env) {
	cfg := e.m.Config()
	ttl := max(cfg.CacheTTL, 0)
	step := cfg.TouchInterval / 4
	if ttl > 0 {
		step = ttl / 8
	}
	warm := 4 * int(max(cfg.TouchInterval, ttl)/step)
	user := e.newUser(t)
	for phase := range 10 {
		t.Run(fmt.Sprintf("phase %d", phase), func(t *testing.T) {
			tok, s := e.create(t, user, CreateOptions{})
			// Steady use for a while, so that the cache and the touches
			// are warm, ending phase steps before a touch.
			for range warm - phase {
				e.clock.Advance(step)
				got, err := e.m.Load(t.Context(), tok)
				wantLive(t, "Load before the deletion", got, err)
			}

			if err := e.store.DeleteSession(t.Context(), s.ID); err != nil {
				t.Fatal(err)
			}
			deleted := e.clock.Now()
			ended := false
			for e.clock.Now().Sub(deleted) <= ttl+cfg.TouchInterval+4*step {
				got, err := e.m.Load(t.Context(), tok)
				switch {
				case err == nil && ended:
					t.Fatalf("Load at +%v accepted the session again after refusing it", e.clock.Now().Sub(deleted))
				case err == nil && e.clock.Now().Sub(deleted) >= ttl:
					t.Fatalf("Load at +%v (CacheTTL %v) still accepts a session deleted in the store", e.clock.Now().Sub(deleted), cfg.CacheTTL)
				case err != nil:
					wantEnded(t, "Load after the deletion", got, err)
					ended = true
				}
				e.clock.Advance(step)
			}
			if !ended {
				t.Fatal("the deleted session was never refused")
			}
		})
	}
}

// testStoreRevocationBeforeTouch deletes a session in the store between
// the manager's read of it and a Load that touches it from the cache: the
// touch (of a now missing session, which is not an error) must not make
// the cached copy trusted for another CacheTTL.
func testStoreRevocationBeforeTouch(t *testing.T, e env) {
	cfg := e.m.Config()
	ttl := cfg.CacheTTL
	tok, s := e.create(t, e.newUser(t), CreateOptions{})

	e.clock.Advance(cfg.TouchInterval - ttl/2)
	got, err := e.m.Load(t.Context(), tok) // reads the store, no touch yet
	wantLive(t, "Load", got, err)
	if err := e.store.DeleteSession(t.Context(), s.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(ttl / 2)
	_, _ = e.m.Load(t.Context(), tok) // from the cache, touches; may still succeed
	e.clock.Advance(ttl / 2)
	got, err = e.m.Load(t.Context(), tok)
	wantEnded(t, "Load CacheTTL after the deletion", got, err)
}

func testSweep(t *testing.T, e env) {
	cfg := e.m.Config()
	user := e.newUser(t)
	idleTok, _ := e.create(t, user, CreateOptions{})
	usedTok, usedS := e.create(t, user, CreateOptions{})
	_, rememberS := e.create(t, user, CreateOptions{Remember: true})

	n, err := e.m.Sweep(t.Context())
	if err != nil || n != 0 {
		t.Fatalf("Sweep of live sessions = %d, %v; want 0, nil", n, err)
	}
	s, err := e.m.Load(t.Context(), idleTok) // cache it
	wantLive(t, "Load", s, err)

	e.clock.Advance(cfg.IdleTimeout - time.Minute)
	s, err = e.m.Load(t.Context(), usedTok)
	wantLive(t, "Load", s, err)
	e.clock.Advance(time.Minute)

	n, err = e.m.Sweep(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("Sweep at the idle deadline = %d, %v; want 1 (the unused session), nil", n, err)
	}
	wantStoredIDs(t, e, user, usedS.ID, rememberS.ID)
	s, err = e.m.Load(t.Context(), idleTok)
	wantEnded(t, "Load of a swept session", s, err)

	e.clock.Advance(cfg.IdleTimeout)
	n, err = e.m.Sweep(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("second Sweep = %d, %v; want 1, nil", n, err)
	}
	wantStoredIDs(t, e, user, rememberS.ID)

	e.clock.Advance(cfg.RememberTimeout)
	n, err = e.m.Sweep(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("third Sweep = %d, %v; want 1, nil", n, err)
	}
	wantStoredIDs(t, e, user)
}

func wantStoredIDs(t *testing.T, e env, user string, want ...string) {
	t.Helper()
	got, err := e.store.UserSessions(t.Context(), user)
	if err != nil {
		t.Fatal(err)
	}
	gotIDs := make(map[string]bool)
	for _, s := range got {
		gotIDs[s.ID] = true
	}
	wantIDs := make(map[string]bool)
	for _, id := range want {
		wantIDs[id] = true
	}
	if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
		t.Errorf("stored sessions (-want +got):\n%s", diff)
	}
}

// malformedTokens are cookie values that must never reach a store.
var malformedTokens = []struct{ name, tok string }{
	{"empty", ""},
	{"short", "abc"},
	{"42 chars", strings.Repeat("A", 42)},
	{"44 chars", strings.Repeat("A", 44)},
	{"43 equals", strings.Repeat("=", 43)},
	{"plus and slash", strings.Repeat("+/", 21) + "A"},
	{"space", strings.Repeat("A", 42) + " "},
	{"NUL", strings.Repeat("A", 42) + "\x00"},
	{"non-ASCII", strings.Repeat("A", 41) + "é"},
	{"non-canonical", strings.Repeat("A", 42) + "B"},
	{"SQL", "' OR 1=1 --" + strings.Repeat("A", 32)},
	{"huge", strings.Repeat("A", 1<<20)},
}

func testMalformedToken(t *testing.T, e env) {
	e.create(t, e.newUser(t), CreateOptions{})
	for _, tt := range malformedTokens {
		t.Run(tt.name, func(t *testing.T) {
			s, err := e.m.Load(t.Context(), tt.tok)
			wantEnded(t, "Load", s, err)
			s, err = e.m.Peek(t.Context(), tt.tok)
			wantEnded(t, "Peek", s, err)
		})
	}
	if f, ok := e.store.(*fakeStore); ok {
		if c := f.counts(); c.Gets != 0 || c.Touches != 0 {
			t.Errorf("malformed tokens reached the store: %+v", c)
		}
	}
}

// The tests below use the fake store to assert the store traffic.

func TestLoadTouchInterval(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		interval time.Duration
	}{
		{"default", Config{}, time.Minute},
		{"short idle", Config{IdleTimeout: 2 * time.Minute}, 6 * time.Second},
		{"explicit", Config{TouchInterval: 10 * time.Second}, 10 * time.Second},
		{"explicit with cache off", Config{TouchInterval: 10 * time.Second, CacheTTL: -1}, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFakeEnv(t, tt.cfg)
			store := e.store.(*fakeStore)
			if got := e.m.Config().TouchInterval; got != tt.interval {
				t.Fatalf("TouchInterval = %v, want %v", got, tt.interval)
			}
			tok, s := e.create(t, "u", CreateOptions{})
			step := tt.interval / 100

			for round := 1; round <= 3; round++ {
				start := e.clock.Now()
				// 100 Loads within the interval since the last touch.
				for range 99 {
					got, err := e.m.Load(t.Context(), tok)
					wantLive(t, "Load", got, err)
					e.clock.Advance(step)
				}
				got, err := e.m.Load(t.Context(), tok)
				wantLive(t, "Load", got, err)
				if c := store.counts(); c.Touches != round-1 {
					t.Fatalf("round %d: %d touches after 100 Loads within TouchInterval, want %d", round, c.Touches, round-1)
				}
				// Once the interval has passed, the next Load touches.
				e.clock.Advance(start.Add(tt.interval).Sub(e.clock.Now()))
				got, err = e.m.Load(t.Context(), tok)
				wantLive(t, "Load after TouchInterval", got, err)
				if c := store.counts(); c.Touches != round {
					t.Fatalf("round %d: %d touches after the interval, want %d", round, c.Touches, round)
				}
				if now := e.clock.Now(); !got.LastSeenAt.Equal(now) || !store.stored(s.ID).LastSeenAt.Equal(now) {
					t.Fatalf("after the touch LastSeenAt = %v (stored %v), want %v", got.LastSeenAt, store.stored(s.ID).LastSeenAt, now)
				}
			}
		})
	}
}

func TestLoadCache(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ttl  time.Duration
	}{
		{"default", Config{}, time.Second},
		{"explicit", Config{CacheTTL: 5 * time.Second}, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFakeEnv(t, tt.cfg)
			store := e.store.(*fakeStore)
			tok, _ := e.create(t, "u", CreateOptions{})
			if c := store.counts(); c.Gets != 0 {
				t.Fatalf("Create read the store: %+v", c)
			}
			for round := 1; round <= 3; round++ {
				start := e.clock.Now()
				for i := range 100 {
					var s *gatehouse.Session
					var err error
					if i%2 == 0 {
						s, err = e.m.Load(t.Context(), tok)
					} else {
						s, err = e.m.Peek(t.Context(), tok)
					}
					wantLive(t, "Load/Peek", s, err)
					e.clock.Advance(tt.ttl / 200)
				}
				if c := store.counts(); c.Gets != round {
					t.Fatalf("round %d: %d store reads for 100 lookups within CacheTTL, want %d", round, c.Gets, round)
				}
				e.clock.Advance(start.Add(tt.ttl).Sub(e.clock.Now()))
			}
		})
	}
}

func TestLoadCacheDisabled(t *testing.T) {
	e := newFakeEnv(t, Config{CacheTTL: -1})
	store := e.store.(*fakeStore)
	tok, s := e.create(t, "u", CreateOptions{})
	for range 100 {
		got, err := e.m.Load(t.Context(), tok)
		wantLive(t, "Load", got, err)
	}
	if c := store.counts(); c.Gets != 100 {
		t.Errorf("%d store reads for 100 Loads without cache, want 100", c.Gets)
	}
	if n := cacheLen(e.m); n != 0 {
		t.Errorf("disabled cache holds %d entries", n)
	}
	store.removeDirectly(s.ID)
	got, err := e.m.Load(t.Context(), tok)
	wantEnded(t, "Load right after deletion in the store", got, err)
}

func cacheLen(m *Manager) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.cache)
}

func TestCacheBounded(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"all fresh", Config{CacheSize: 10, CacheTTL: time.Hour}},
		{"some stale", Config{CacheSize: 10, CacheTTL: time.Second}},
		{"size 1", Config{CacheSize: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFakeEnv(t, tt.cfg)
			size := e.m.Config().CacheSize
			var toks []string
			for range 5 * size {
				tok, _ := e.create(t, "u", CreateOptions{})
				toks = append(toks, tok)
			}
			for round := range 3 {
				for i, tok := range toks {
					s, err := e.m.Load(t.Context(), tok)
					wantLive(t, fmt.Sprintf("round %d Load %d", round, i), s, err)
					if n := cacheLen(e.m); n > size {
						t.Fatalf("cache holds %d entries, CacheSize is %d", n, size)
					}
					e.clock.Advance(100 * time.Millisecond)
				}
			}
		})
	}
}

func TestPeekNeverTouches(t *testing.T) {
	e := newFakeEnv(t, Config{CacheTTL: -1})
	store := e.store.(*fakeStore)
	tok, _ := e.create(t, "u", CreateOptions{})
	for range 19 * 6 {
		e.clock.Advance(10 * time.Second)
		s, err := e.m.Peek(t.Context(), tok)
		wantLive(t, "Peek", s, err)
	}
	if c := store.counts(); c.Touches != 0 {
		t.Errorf("Peek touched the store %d times", c.Touches)
	}
}

// TestRevokeDuringLoad interleaves a revocation with a Load in flight, at
// the two points where Load works outside the manager's lock: between the
// store read and caching the result, and around the touch. The in-flight
// Load may still succeed; every later one must not.
func TestRevokeDuringLoad(t *testing.T) {
	revokers := []struct {
		name   string
		revoke func(e env, s *gatehouse.Session) error
	}{
		{"Revoke", func(e env, s *gatehouse.Session) error { return e.m.Revoke(t.Context(), s.ID) }},
		{"RevokeUser", func(e env, s *gatehouse.Session) error {
			_, err := e.m.RevokeUser(t.Context(), s.UserID, "")
			return err
		}},
	}
	points := []struct {
		name string
		hook func(store *fakeStore, fn func())
		// warm loads the session into the cache first and moves past
		// TouchInterval, so that the next Load touches from the cache.
		warm bool
	}{
		{"after store read", func(store *fakeStore, fn func()) {
			store.afterGet = func(*gatehouse.Session) { fn() }
		}, false},
		{"before touch, cached", func(store *fakeStore, fn func()) {
			store.beforeTouch = func(string) { fn() }
		}, true},
		{"before touch, uncached", func(store *fakeStore, fn func()) {
			store.beforeTouch = func(string) { fn() }
		}, false},
	}
	for _, r := range revokers {
		for _, p := range points {
			t.Run(r.name+"/"+p.name, func(t *testing.T) {
				e := newFakeEnv(t, Config{CacheTTL: time.Hour, TouchInterval: time.Second})
				store := e.store.(*fakeStore)
				tok, s := e.create(t, "u", CreateOptions{})
				if p.warm {
					got, err := e.m.Load(t.Context(), tok)
					wantLive(t, "warming Load", got, err)
				}
				e.clock.Advance(2 * time.Second) // so that Load touches
				var once sync.Once
				p.hook(store, func() {
					once.Do(func() {
						if err := r.revoke(e, s); err != nil {
							t.Errorf("revoke: %v", err)
						}
					})
				})
				_, _ = e.m.Load(t.Context(), tok) // in flight: either answer is fine
				store.mu.Lock()
				store.afterGet, store.beforeTouch = nil, nil
				store.mu.Unlock()

				got, err := e.m.Load(t.Context(), tok)
				wantEnded(t, "Load after the revocation returned", got, err)
				got, err = e.m.Peek(t.Context(), tok)
				wantEnded(t, "Peek after the revocation returned", got, err)
			})
		}
	}
}

func TestLoadStoreError(t *testing.T) {
	e := newFakeEnv(t, Config{CacheTTL: -1})
	store := e.store.(*fakeStore)
	tok, _ := e.create(t, "u", CreateOptions{})
	boom := errors.New("disk on fire")
	store.getErr = boom
	for _, f := range []func() (*gatehouse.Session, error){
		func() (*gatehouse.Session, error) { return e.m.Load(t.Context(), tok) },
		func() (*gatehouse.Session, error) { return e.m.Peek(t.Context(), tok) },
	} {
		s, err := f()
		if s != nil || !errors.Is(err, boom) {
			t.Errorf("lookup with a failing store = %v, %v; want nil and the store's error", s, err)
		}
		if code := gatehouse.ErrorCode(err); code != gatehouse.CodeInternal {
			t.Errorf("ErrorCode = %q, want %q", code, gatehouse.CodeInternal)
		}
	}
}

func TestCreateOptions(t *testing.T) {
	longUA := strings.Repeat("a", 511) + "é" + strings.Repeat("b", 100)
	tests := []struct {
		name   string
		opts   CreateOptions
		wantUA string
	}{
		{"plain", CreateOptions{ClientAddr: "192.0.2.1", UserAgent: "curl/8"}, "curl/8"},
		{"two factor", CreateOptions{TwoFactor: true}, ""},
		{"long UA cut on a rune boundary", CreateOptions{UserAgent: longUA}, strings.Repeat("a", 511)},
		{"UA of exactly 512 bytes", CreateOptions{UserAgent: strings.Repeat("x", 512)}, strings.Repeat("x", 512)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFakeEnv(t, Config{})
			store := e.store.(*fakeStore)
			_, s := e.create(t, "u", tt.opts)
			stored := store.stored(s.ID)
			if stored.UserAgent != tt.wantUA || !utf8.ValidString(stored.UserAgent) {
				t.Errorf("UserAgent = %q, want %q", stored.UserAgent, tt.wantUA)
			}
			if stored.TwoFactor != tt.opts.TwoFactor || stored.ClientAddr != tt.opts.ClientAddr {
				t.Errorf("stored %+v, want TwoFactor %v ClientAddr %q", stored, tt.opts.TwoFactor, tt.opts.ClientAddr)
			}
		})
	}
	e := newFakeEnv(t, Config{})
	_, a := e.create(t, "u", CreateOptions{})
	_, b := e.create(t, "u", CreateOptions{})
	if a.ID == b.ID || bytes.Equal(a.TokenHash, b.TokenHash) {
		t.Errorf("two sessions share an id or token hash")
	}
}

// TestManagerConcurrent exercises the manager from many goroutines for
// the race detector; its only assertions are about the end state.
func TestManagerConcurrent(t *testing.T) {
	e := newFakeEnv(t, Config{CacheSize: 8, TouchInterval: time.Millisecond})
	var toks []string
	var ids []string
	for range 16 {
		tok, s := e.create(t, "u", CreateOptions{})
		toks, ids = append(toks, tok), append(ids, s.ID)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				tok := toks[(g+i)%len(toks)]
				if i%3 == 0 {
					_, _ = e.m.Peek(t.Context(), tok)
				} else {
					_, _ = e.m.Load(t.Context(), tok)
				}
				if i%50 == 0 {
					e.clock.Advance(time.Millisecond)
				}
			}
		})
	}
	wg.Go(func() {
		for _, id := range ids[:8] {
			if err := e.m.Revoke(t.Context(), id); err != nil {
				t.Errorf("Revoke: %v", err)
			}
		}
		if _, err := e.m.Sweep(t.Context()); err != nil {
			t.Errorf("Sweep: %v", err)
		}
	})
	wg.Wait()
	for i, tok := range toks {
		s, err := e.m.Load(t.Context(), tok)
		if i < 8 {
			wantEnded(t, "revoked session", s, err)
		} else {
			wantLive(t, "untouched session", s, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"zero", Config{}, ""},
		{"default", DefaultConfig, ""},
		{"strict", Config{SameSite: http.SameSiteStrictMode}, ""},
		{"lax", Config{SameSite: http.SameSiteLaxMode}, ""},
		{"default mode means lax", Config{SameSite: http.SameSiteDefaultMode}, ""},
		{"idle equals absolute", Config{IdleTimeout: time.Hour, AbsoluteTimeout: time.Hour}, ""},
		{"idle longer than absolute", Config{IdleTimeout: 2 * time.Hour, AbsoluteTimeout: time.Hour}, "idle_timeout"},
		{"idle longer than default absolute", Config{IdleTimeout: 13 * time.Hour}, "idle_timeout"},
		{"absolute shorter than default idle", Config{AbsoluteTimeout: 10 * time.Minute}, "idle_timeout"},
		{"same_site none", Config{SameSite: http.SameSiteNoneMode}, "same_site"},
		{"same_site unknown", Config{SameSite: http.SameSite(42)}, "same_site"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v, want an error about %s", err, tt.wantErr)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	got := NewManager(newFakeStore(), Config{}, newFakeClock().Now, nil).Config()
	want := DefaultConfig
	want.TouchInterval = time.Minute
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Config() of a zero Config (-want +got):\n%s", diff)
	}
}

func TestSecondsLeft(t *testing.T) {
	s := &gatehouse.Session{LastSeenAt: epoch, IdleTimeout: 20 * time.Minute, ExpiresAt: epoch.Add(12 * time.Hour)}
	end := epoch.Add(20 * time.Minute)
	absolute := &gatehouse.Session{LastSeenAt: epoch, IdleTimeout: time.Hour, ExpiresAt: epoch.Add(90 * time.Second)}
	tests := []struct {
		name string
		s    *gatehouse.Session
		now  time.Time
		want int64
	}{
		{"nil session", nil, epoch, 0},
		{"fresh", s, epoch, 1200},
		{"1ns used", s, epoch.Add(time.Nanosecond), 1200},
		{"1s+1ns left", s, end.Add(-time.Second - time.Nanosecond), 2},
		{"exactly 1s left", s, end.Add(-time.Second), 1},
		{"999ms left", s, end.Add(-999 * time.Millisecond), 1},
		{"1ns left", s, end.Add(-time.Nanosecond), 1},
		{"at the end", s, end, 0},
		{"past the end", s, end.Add(time.Hour), 0},
		{"absolute comes first", absolute, epoch.Add(30 * time.Second), 60},
		{"absolute 1ns left", absolute, epoch.Add(90*time.Second - time.Nanosecond), 1},
		{"absolute ended", absolute, epoch.Add(90 * time.Second), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SecondsLeft(tt.s, tt.now)
			if got != tt.want {
				t.Errorf("SecondsLeft = %d, want %d", got, tt.want)
			}
			if tt.s != nil && (got == 0) != tt.s.Expired(tt.now) {
				t.Errorf("SecondsLeft = %d but Expired = %v: zero must mean ended", got, tt.s.Expired(tt.now))
			}
		})
	}
}
