// Package session manages browser sessions: it issues session secrets,
// stores only their hashes, enforces idle and absolute timeouts, throttles
// the writes that sliding expiry needs, caches validated sessions briefly,
// and reads and writes the session cookie.
package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
)

// Config holds the session settings. Zero values take the defaults of
// DefaultConfig.
type Config struct {
	// IdleTimeout ends a session that is not used for that long.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session that long after login, used or not.
	AbsoluteTimeout time.Duration
	// RememberTimeout replaces AbsoluteTimeout for "remember me" sessions.
	RememberTimeout time.Duration
	// RememberIdleTimeout replaces IdleTimeout for "remember me" sessions,
	// which would be of little use if they ended after 20 idle minutes.
	RememberIdleTimeout time.Duration
	// CookieName is the session cookie's name, without the prefix that
	// HTTPS adds: __Host-, or __Secure- with a CookieDomain.
	CookieName string
	// CookieDomain, when set (example.com), is the Domain of the session
	// cookie, so that one login is valid on the domain and every subdomain
	// of it; over HTTPS the cookie is then named with the __Secure- prefix
	// (a __Host- cookie cannot have a Domain). "" (the default) makes a
	// host-only __Host- cookie. A leading dot is dropped, letters are
	// lower-cased; Validate checks the rest.
	CookieDomain string
	// SameSite is the session cookie's SameSite attribute (Lax or Strict).
	SameSite http.SameSite
	// TouchInterval is how stale a session's last-seen time may get before
	// a request writes it again. Sliding expiry without it would cost one
	// database write per request; with it the idle timeout is enforced to
	// within TouchInterval. Zero means IdleTimeout/20, at most one minute.
	TouchInterval time.Duration
	// CacheTTL is how long a validated session is trusted from memory
	// before the store is asked again. Revocations made through this
	// Manager take effect at once; those made by another process within
	// CacheTTL, or as soon as they arrive with an Invalidator (see
	// Manager.UseInvalidator). Zero means one second; negative disables
	// the cache.
	CacheTTL time.Duration
	// CacheSize bounds the number of cached sessions.
	CacheSize int
	// ReauthenticateAfter is how long after the user last proved a first
	// factor a session may still make sensitive changes (enrolling or
	// removing a second factor, new recovery codes, creating an API token,
	// …) without proving it again (ASVS 7.5.1).
	ReauthenticateAfter time.Duration
}

// DefaultConfig is the contract's default: 20 minutes idle, 12 hours
// absolute, 30 days when remembered (7 days idle).
var DefaultConfig = Config{
	IdleTimeout:         20 * time.Minute,
	AbsoluteTimeout:     12 * time.Hour,
	RememberTimeout:     720 * time.Hour,
	RememberIdleTimeout: 168 * time.Hour,
	CookieName:          "gh_session",
	SameSite:            http.SameSiteLaxMode,
	CacheTTL:            time.Second,
	CacheSize:           100_000,
	ReauthenticateAfter: 10 * time.Minute,
}

func (c Config) withDefaults() Config {
	d := DefaultConfig
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.AbsoluteTimeout <= 0 {
		c.AbsoluteTimeout = d.AbsoluteTimeout
	}
	if c.RememberTimeout <= 0 {
		c.RememberTimeout = d.RememberTimeout
	}
	if c.RememberIdleTimeout <= 0 {
		c.RememberIdleTimeout = max(d.RememberIdleTimeout, c.IdleTimeout)
	}
	if c.CookieName == "" {
		c.CookieName = d.CookieName
	}
	c.CookieDomain = strings.ToLower(strings.TrimPrefix(c.CookieDomain, "."))
	if c.SameSite == 0 || c.SameSite == http.SameSiteDefaultMode {
		c.SameSite = d.SameSite
	}
	if c.TouchInterval <= 0 {
		c.TouchInterval = min(c.IdleTimeout/20, time.Minute)
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = d.CacheTTL
	}
	if c.CacheSize <= 0 {
		c.CacheSize = d.CacheSize
	}
	if c.ReauthenticateAfter <= 0 {
		c.ReauthenticateAfter = d.ReauthenticateAfter
	}
	return c
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.IdleTimeout > c.AbsoluteTimeout {
		return fmt.Errorf("idle_timeout (%s) is longer than absolute_timeout (%s)", c.IdleTimeout, c.AbsoluteTimeout)
	}
	if c.SameSite != http.SameSiteLaxMode && c.SameSite != http.SameSiteStrictMode {
		return errors.New("same_site must be lax or strict")
	}
	if err := CheckCookieDomain(c.CookieDomain); err != nil {
		return err
	}
	return nil
}

// Manager issues, validates and ends sessions.
type Manager struct {
	store gatehouse.SessionStore
	cfg   Config
	// secureName is the cookie's name over HTTPS: with the __Host- prefix,
	// or __Secure- with a CookieDomain.
	secureName string
	now        func() time.Time
	log        *slog.Logger

	mu    sync.Mutex
	cache map[string]cached // by string(token hash)
	// revocations counts forgetWhere calls. A lookup notes it before reading
	// the store and caches what it read only if it has not changed since, so
	// that a read made before a revocation is never cached after it.
	revocations uint64
	// inv, when set, tells other processes about revocations and tells
	// this one about theirs (see UseInvalidator).
	inv gatehouse.Invalidator
	// deaf is set while inv's subscription is not receiving: the cache is
	// neither read nor filled then, since a revocation may be missed.
	deaf bool
	// stats counts the lookups the cache answered and those it did not,
	// under mu, which every lookup takes anyway: counting costs nothing
	// more on the request path.
	stats CacheStats
	// flights are the store reads under way, by string(token hash).
	flights map[string]*flight
	// joined, when set (by tests), is called when a lookup waits for a
	// read under way.
	joined func()
}

// CacheStats counts session lookups (Load and Peek of a well-formed
// token) since the Manager was made. With several processes sharing a
// store, they say how much of the request load reaches it.
type CacheStats struct {
	// Hits were answered from memory.
	Hits uint64
	// Waits missed the cache while another lookup of the same session
	// was reading the store, and took its answer.
	Waits uint64
	// Misses read the store: one read each. (A lookup whose wait ended
	// in the other's failure reads for itself, and counts here, not in
	// Waits.)
	Misses uint64
}

// CacheStats returns the lookup counts so far.
func (m *Manager) CacheStats() CacheStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// cached is a validated session and when it was read from the store. The
// session it points to is never modified once cached: a touch replaces it.
type cached struct {
	s       *gatehouse.Session
	fetched time.Time
}

// NewManager returns a Manager over store. now is the clock (time.Now in
// production, a fake in tests); log receives store errors of background work.
func NewManager(store gatehouse.SessionStore, cfg Config, now func() time.Time, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{store: store, cfg: cfg.withDefaults(), now: now, log: log, cache: make(map[string]cached), flights: make(map[string]*flight)}
	m.secureName = hostPrefix + m.cfg.CookieName
	if m.cfg.CookieDomain != "" {
		m.secureName = securePrefix + m.cfg.CookieName
	}
	return m
}

// Config returns the effective settings, defaults filled in.
func (m *Manager) Config() Config { return m.cfg }

// CreateOptions describe a new session.
type CreateOptions struct {
	Remember  bool
	TwoFactor bool
	// Scope makes a partial session (see gatehouse.Session.Scope).
	Scope string
	// AuthenticatedAt is when the user proved a first factor for this
	// session (see gatehouse.Session.AuthenticatedAt); zero when they did
	// not, which makes every sensitive change ask for re-authentication.
	AuthenticatedAt time.Time
	ClientAddr      string
	UserAgent       string
	// Provider and IDToken record an external login (see
	// gatehouse.Session.Provider).
	Provider string
	IDToken  string
}

// Create starts a session for userID and returns the secret token for the
// cookie with the stored session. The token is never stored.
func (m *Manager) Create(ctx context.Context, userID string, o CreateOptions) (string, *gatehouse.Session, error) {
	token, s := m.Prepare(userID, o)
	if err := m.store.CreateSession(ctx, s); err != nil {
		return "", nil, fmt.Errorf("create session: %w", err)
	}
	return token, s, nil
}

// Prepare returns a new session of userID and its token, as Create does,
// without storing it: for a caller that stores it together with other
// records in one write (gatehouse.LoginRecorder).
func (m *Manager) Prepare(userID string, o CreateOptions) (string, *gatehouse.Session) {
	now := m.now().UTC()
	token := NewToken()
	s := &gatehouse.Session{
		ID:          gatehouse.NewID(),
		TokenHash:   HashToken(token),
		UserID:      userID,
		CreatedAt:   now,
		LastSeenAt:  now,
		ExpiresAt:   now.Add(m.cfg.AbsoluteTimeout),
		IdleTimeout: m.cfg.IdleTimeout,
		Remember:    o.Remember,
		TwoFactor:   o.TwoFactor,
		Scope:       o.Scope,
		ClientAddr:  o.ClientAddr,
		UserAgent:   truncate(o.UserAgent, 512),
		Provider:    o.Provider,
		IDToken:     o.IDToken,
	}
	if !o.AuthenticatedAt.IsZero() {
		s.AuthenticatedAt = o.AuthenticatedAt.UTC()
	}
	if o.Remember {
		s.ExpiresAt = now.Add(m.cfg.RememberTimeout)
		s.IdleTimeout = m.cfg.RememberIdleTimeout
	}
	return token, s
}

// ReauthenticateAt returns when s stops counting as recently
// authenticated: ReauthenticateAfter after its user last proved a first
// factor in it. Zero for a session that never did.
func (m *Manager) ReauthenticateAt(s *gatehouse.Session) time.Time {
	if s == nil || s.AuthenticatedAt.IsZero() {
		return time.Time{}
	}
	return s.AuthenticatedAt.Add(m.cfg.ReauthenticateAfter)
}

// RecentlyAuthenticated reports whether the user of s proved a first
// factor in it within ReauthenticateAfter, as sensitive changes need.
func (m *Manager) RecentlyAuthenticated(s *gatehouse.Session) bool {
	at := m.ReauthenticateAt(s)
	return !at.IsZero() && m.now().Before(at)
}

// Rekey replaces the live session old by the same session under a new
// public id and a new secret token, records that its user proved a first
// factor at authenticatedAt, and returns the new token with the new
// session. The old id and token stop existing at once, here and in the
// store, so that a copy of them taken before the session gained privileges
// is worth nothing after (no session fixation, ASVS 7.2.4). The user, the
// expiry and the rest stay; the remembered devices created with the
// session are the caller's to move (gatehouse.DeviceStore.MoveDevices). A session that has ended or was rekeyed
// meanwhile is CodeUnauthenticated, and so is one that has ended since old
// was loaded (the caller may have waited for a lock or a password hash):
// the rekey gives the session a last-seen time of now, which would revive
// a session gone idle.
func (m *Manager) Rekey(ctx context.Context, old *gatehouse.Session, authenticatedAt time.Time) (string, *gatehouse.Session, error) {
	if old.Expired(m.now()) {
		return "", nil, errNoSession
	}
	token := NewToken()
	next := *old
	next.ID = gatehouse.NewID()
	next.TokenHash = HashToken(token)
	next.LastSeenAt = m.now().UTC()
	next.AuthenticatedAt = authenticatedAt.UTC()
	err := m.store.RekeySession(ctx, old.ID, old.TokenHash, &next)
	// Forget the old session whatever happened: it is gone or about to be.
	// After the store write, so that no lookup caches it from a read made
	// before (see remember).
	m.forgetWhere(func(s *gatehouse.Session) bool { return s.ID == old.ID })
	m.publish(ctx, gatehouse.Invalidation{Kind: gatehouse.InvalidateSession, ID: old.ID})
	if errors.Is(err, gatehouse.ErrNotFound) {
		return "", nil, errNoSession
	}
	if err != nil {
		return "", nil, fmt.Errorf("rekey session: %w", err)
	}
	return token, &next, nil
}

// errNoSession is what Load and Peek return for a token that does not name
// a live session: missing, expired or revoked look the same to the client.
var errNoSession = &gatehouse.Error{Code: gatehouse.CodeUnauthenticated, Message: "No valid session."}

// Load returns the live session of token and slides its idle timeout. A
// token with no live session is a CodeUnauthenticated error.
func (m *Manager) Load(ctx context.Context, token string) (*gatehouse.Session, error) {
	s, err := m.lookup(ctx, token)
	if err != nil {
		return nil, err
	}
	now := m.now()
	if now.Sub(s.LastSeenAt) < m.cfg.TouchInterval {
		return s, nil
	}
	if err := m.store.TouchSession(ctx, s.ID, now.UTC()); err != nil {
		return nil, fmt.Errorf("touch session: %w", err)
	}
	touched := *s
	touched.LastSeenAt = now.UTC()
	m.refresh(touched.TokenHash, &touched)
	return &touched, nil
}

// Peek returns the live session of token without extending it, for the
// endpoints that report on a session without counting as its use.
func (m *Manager) Peek(ctx context.Context, token string) (*gatehouse.Session, error) {
	return m.lookup(ctx, token)
}

func (m *Manager) lookup(ctx context.Context, token string) (*gatehouse.Session, error) {
	if _, ok := ParseToken(token); !ok {
		return nil, errNoSession
	}
	// The hash stays in an array on the stack: the cache is keyed by it
	// without an allocation, and only a cache miss copies it for the store.
	sum := tokenSum(token)
	now := m.now()
	if s, ok := m.fromCache(sum[:], now); ok {
		return s, nil
	}
	return m.read(ctx, sum[:], now)
}

// flight is a store read of one session under way, which lookups missing
// the cache for the same token hash meanwhile wait for.
type flight struct {
	// gen is m.revocations when the read started.
	gen  uint64
	done chan struct{} // closed when s and err are set
	s    *gatehouse.Session
	err  error
}

// read asks the store for the session of hash. Lookups that miss the cache
// for the same hash while a read is under way wait for that read instead
// of making their own: when the cache entry of a session in use by many
// concurrent requests expires, they make one round trip, not one each.
func (m *Manager) read(ctx context.Context, sum []byte, now time.Time) (*gatehouse.Session, error) {
	m.mu.Lock()
	gen := m.revocations
	f, wait := m.flights[string(sum)]
	// Only a read started since the last revocation may answer: one made
	// before it could return the revoked session. While deaf (revocations
	// of other processes may be missed), and with the cache off (each
	// request asks the store), every lookup reads for itself.
	share := !m.deaf && m.cfg.CacheTTL >= 0
	wait = wait && f.gen == gen && share
	var lead *flight
	if !wait && share {
		lead = &flight{gen: gen, done: make(chan struct{}), err: errors.New("session lookup aborted")}
		m.flights[string(sum)] = lead
	}
	if wait {
		m.stats.Waits++
	} else {
		m.stats.Misses++
	}
	m.mu.Unlock()
	if wait {
		if m.joined != nil {
			m.joined()
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if f.err == nil || errors.Is(f.err, errNoSession) {
			return f.s, f.err
		}
		// The read failed for its own reasons (its request's context
		// ended, the store failed): this lookup tries for itself.
		m.mu.Lock()
		m.stats.Waits-- // it did not take the other's answer after all
		m.stats.Misses++
		m.mu.Unlock()
	}
	if lead != nil {
		defer func() {
			m.mu.Lock()
			if m.flights[string(sum)] == lead {
				delete(m.flights, string(sum))
			}
			m.mu.Unlock()
			close(lead.done)
		}()
	}
	s, err := m.readStore(ctx, bytes.Clone(sum), now, gen)
	if lead != nil {
		lead.s, lead.err = s, err
	}
	return s, err
}

// readStore reads the session of hash from the store, forgets it when it
// is gone or has ended, and caches it otherwise, unless a revocation has
// happened since gen.
func (m *Manager) readStore(ctx context.Context, hash []byte, now time.Time, gen uint64) (*gatehouse.Session, error) {
	s, err := m.store.SessionByTokenHash(ctx, hash)
	if errors.Is(err, gatehouse.ErrNotFound) {
		m.forget(hash)
		return nil, errNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	if s.Expired(now) {
		// Delete it now rather than at the next sweep: an ended session
		// must stay ended whatever happens to the clock.
		m.forget(hash)
		if err := m.store.DeleteSession(ctx, s.ID); err != nil {
			m.log.Warn("deleting an expired session", "err", err)
		}
		return nil, errNoSession
	}
	m.remember(hash, s, gen)
	return s, nil
}

// fromCache returns a cached session that is fresh and, by its cached
// last-seen time, still live, and counts the hit. A cached session that
// looks expired is not trusted either way: another process may have
// touched it since, so the store decides.
func (m *Manager) fromCache(hash []byte, now time.Time) (*gatehouse.Session, bool) {
	if m.cfg.CacheTTL < 0 {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cache[string(hash)]
	if !ok || m.deaf || now.Sub(c.fetched) >= m.cfg.CacheTTL || now.Before(c.fetched) || c.s.Expired(now) {
		return nil, false
	}
	m.stats.Hits++
	return c.s, true
}

// remember caches s, read from the store when m.revocations was gen,
// unless a revocation has happened since.
func (m *Manager) remember(hash []byte, s *gatehouse.Session, gen uint64) {
	if m.cfg.CacheTTL < 0 {
		return
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.revocations != gen || m.deaf {
		return
	}
	if len(m.cache) >= m.cfg.CacheSize {
		// Drop stale entries first; if all are fresh, drop arbitrary ones
		// (map order) until there is room. Either way the cache stays
		// bounded and a dropped entry only costs one store read.
		for k, c := range m.cache {
			if now.Sub(c.fetched) >= m.cfg.CacheTTL || len(m.cache) >= m.cfg.CacheSize {
				delete(m.cache, k)
			}
		}
	}
	m.cache[string(hash)] = cached{s: s, fetched: now}
}

// refresh replaces the cached session of hash with its touched copy s. It
// keeps the time the entry was read from the store, because touching proves
// nothing (touching a deleted session is not an error): otherwise each touch
// would trust the entry for another CacheTTL, and with TouchInterval <
// CacheTTL a session deleted by another process would live on for as long
// as it is used. An entry that is gone (revoked meanwhile) stays gone.
func (m *Manager) refresh(hash []byte, s *gatehouse.Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.cache[string(hash)]; ok {
		m.cache[string(hash)] = cached{s: s, fetched: c.fetched}
	}
}

func (m *Manager) forget(hash []byte) {
	m.mu.Lock()
	delete(m.cache, string(hash))
	m.mu.Unlock()
}

func (m *Manager) forgetWhere(match func(*gatehouse.Session) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.revocations++
	for k, c := range m.cache {
		if match(c.s) {
			delete(m.cache, k)
		}
	}
}

// Revoke ends the session with public id id.
func (m *Manager) Revoke(ctx context.Context, id string) error {
	// Forget after the delete, so that no lookup can cache the session from
	// a store read made before it (see remember).
	err := m.store.DeleteSession(ctx, id)
	m.forgetWhere(func(s *gatehouse.Session) bool { return s.ID == id })
	m.publish(ctx, gatehouse.Invalidation{Kind: gatehouse.InvalidateSession, ID: id})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// RevokeUser ends every session of a user except the one with id except
// (which may be "") and returns how many it ended.
func (m *Manager) RevokeUser(ctx context.Context, userID, except string) (int, error) {
	n, err := m.store.DeleteUserSessions(ctx, userID, except)
	m.forgetWhere(func(s *gatehouse.Session) bool { return s.UserID == userID && s.ID != except })
	// Other processes forget the kept session too: one store read each.
	m.publish(ctx, gatehouse.Invalidation{Kind: gatehouse.InvalidateUserSessions, ID: userID})
	if err != nil {
		return 0, fmt.Errorf("delete user sessions: %w", err)
	}
	return n, nil
}

// Sweep deletes the sessions that have ended and returns how many.
func (m *Manager) Sweep(ctx context.Context) (int, error) {
	now := m.now()
	m.forgetWhere(func(s *gatehouse.Session) bool { return s.Expired(now) })
	return m.store.DeleteExpiredSessions(ctx, now.UTC())
}

// SecondsLeft returns the seconds until s ends at now, rounded up so that
// it is zero only for a session that has ended.
func SecondsLeft(s *gatehouse.Session, now time.Time) int64 {
	if s == nil {
		return 0
	}
	d := s.EndsAt().Sub(now)
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary so the stored text stays valid UTF-8.
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}
