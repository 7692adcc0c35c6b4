package account

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse"
)

// publishTimeout bounds how long a change waits to tell the other
// processes: the change itself is done by then.
const publishTimeout = 2 * time.Second

// UseInvalidator makes s tell other processes, through inv, about every
// user, group and token change it makes, and drop what it cached about
// the changes they make, until ctx ends. Call it once, before s serves
// requests. Sessions are the session.Manager's: give it the Invalidator
// too (session.Manager.UseInvalidator).
//
// It fails closed: from this call until inv's subscription receives, and
// whenever it stops receiving (a lost connection), s caches no users,
// groups or tokens and reads them from the store on every request; when
// the subscription receives again, s starts from empty caches, since
// messages may have been missed meanwhile. After ctx ends, or if the
// subscription fails for good, s stays uncached.
func (s *Service) UseInvalidator(ctx context.Context, inv gatehouse.Invalidator) {
	s.invMu.Lock()
	s.inv = inv
	s.invMu.Unlock()
	s.apply(gatehouse.Invalidation{Kind: gatehouse.SubscriptionLost})
	go func() {
		err := inv.Subscribe(ctx, s.apply)
		s.apply(gatehouse.Invalidation{Kind: gatehouse.SubscriptionLost})
		if err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "account cache invalidations: subscription ended; users, groups and tokens are no longer cached", "err", err)
		}
	}()
}

// Listening reports whether s receives other processes' changes and so
// may cache users, groups and tokens: false without an Invalidator, and
// while its subscription is down.
func (s *Service) Listening() bool {
	s.invMu.Lock()
	defer s.invMu.Unlock()
	return s.inv != nil && s.listening
}

// apply drops what inv names from the caches; it publishes nothing.
// Cached Basic credentials are checked against the user on every use, but
// go with the user all the same: a throttling wait voids them too (see
// failAttempt).
func (s *Service) apply(inv gatehouse.Invalidation) {
	switch inv.Kind {
	case gatehouse.InvalidateUser:
		s.users.forget(inv.ID)
		s.basic.forgetWhere(func(e basicEntry) bool { return e.userID == inv.ID })
	case gatehouse.InvalidateGroups:
		s.groups.forget(allGroups)
	case gatehouse.InvalidateToken:
		s.tokens.forgetWhere(func(t *gatehouse.Token) bool { return t.ID == inv.ID })
	case gatehouse.InvalidateUserTokens:
		s.tokens.forgetWhere(func(t *gatehouse.Token) bool { return t.UserID == inv.ID })
	case gatehouse.InvalidateAll:
		s.users.flush()
		s.tokens.flush()
		s.groups.flush()
		s.basic.flush()
	case gatehouse.SubscriptionLost, gatehouse.SubscriptionReady:
		deaf := inv.Kind == gatehouse.SubscriptionLost
		s.invMu.Lock()
		s.listening = !deaf
		s.invMu.Unlock()
		s.users.setDeaf(deaf)
		s.tokens.setDeaf(deaf)
		s.groups.setDeaf(deaf)
		// Basic credentials are checked against the user, read from the
		// store while deaf: they need no flush, and keep scripts from
		// paying a password hash per request during an outage.
	}
}

// publish tells the other processes about inv, when s has an Invalidator.
// The change is done whatever happens here, so a failure is logged, not
// returned: the other processes then trust their caches for up to
// UserCacheTTL. An id the Invalidator cannot carry is published as
// InvalidateAll, which drops too much rather than too little.
func (s *Service) publish(inv gatehouse.Invalidation) {
	s.invMu.Lock()
	i := s.inv
	s.invMu.Unlock()
	if i == nil {
		return
	}
	if _, err := inv.MarshalText(); err != nil {
		inv = gatehouse.Invalidation{Kind: gatehouse.InvalidateAll}
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if err := i.Publish(ctx, inv); err != nil {
		s.log.ErrorContext(ctx, "publishing a cache invalidation to other processes failed; they may use what they cached until it expires", "kind", inv.Kind, "id", inv.ID, "err", err)
	}
}
