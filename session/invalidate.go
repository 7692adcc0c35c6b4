package session

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse"
)

// publishTimeout bounds how long a revocation waits to tell the other
// processes: the revocation itself is done by then.
const publishTimeout = 2 * time.Second

// UseInvalidator makes m tell other processes, through inv, about every
// session it revokes, and drop what it cached about sessions they revoke,
// until ctx ends. Call it once, before m serves requests.
//
// It fails closed: from this call until inv's subscription receives, and
// whenever it stops receiving (a lost connection), m does not cache at all
// and asks the store on every request; when the subscription receives
// again, m starts from an empty cache, since messages may have been missed
// meanwhile. After ctx ends, or if the subscription fails for good, m
// stays uncached.
func (m *Manager) UseInvalidator(ctx context.Context, inv gatehouse.Invalidator) {
	m.mu.Lock()
	m.inv = inv
	m.deaf = true
	m.flushLocked()
	m.mu.Unlock()
	go func() {
		err := inv.Subscribe(ctx, m.apply)
		m.apply(gatehouse.Invalidation{Kind: gatehouse.SubscriptionLost})
		if err != nil && ctx.Err() == nil {
			m.log.Error("session cache invalidations: subscription ended; sessions are no longer cached", "err", err)
		}
	}()
}

// Listening reports whether m receives other processes' revocations and
// so may cache sessions: false without an Invalidator, and while its
// subscription is down.
func (m *Manager) Listening() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.inv != nil && !m.deaf
}

// apply drops what inv names from the cache; it publishes nothing.
func (m *Manager) apply(inv gatehouse.Invalidation) {
	switch inv.Kind {
	case gatehouse.InvalidateSession:
		m.forgetWhere(func(s *gatehouse.Session) bool { return s.ID == inv.ID })
	case gatehouse.InvalidateUserSessions:
		m.forgetWhere(func(s *gatehouse.Session) bool { return s.UserID == inv.ID })
	case gatehouse.InvalidateAll, gatehouse.SubscriptionLost, gatehouse.SubscriptionReady:
		m.mu.Lock()
		defer m.mu.Unlock()
		m.flushLocked()
		switch inv.Kind {
		case gatehouse.SubscriptionLost:
			m.deaf = true
		case gatehouse.SubscriptionReady:
			m.deaf = false
		}
	}
}

// flushLocked empties the cache, and keeps reads in flight from filling
// it again with what they read before. m.mu is held.
func (m *Manager) flushLocked() {
	m.revocations++
	clear(m.cache)
}

// publish tells the other processes about inv, when m has an Invalidator.
// The revocation is done whatever happens here, so a failure is logged,
// not returned: the other processes then trust their caches for up to
// CacheTTL. An id the Invalidator cannot carry is published as
// InvalidateAll, which drops too much rather than too little.
func (m *Manager) publish(ctx context.Context, inv gatehouse.Invalidation) {
	m.mu.Lock()
	i := m.inv
	m.mu.Unlock()
	if i == nil {
		return
	}
	if _, err := inv.MarshalText(); err != nil {
		inv = gatehouse.Invalidation{Kind: gatehouse.InvalidateAll}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := i.Publish(ctx, inv); err != nil {
		m.log.Error("publishing a session revocation to other processes failed; they may accept the session until their cache entry expires", "session_or_user", inv.ID, "err", err)
	}
}
