package account

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

const (
	// attemptLease is how long a reserved attempt may stay unsettled before
	// the store counts it as a failure (its process died while verifying):
	// far longer than any verification, queueing for the hasher included.
	attemptLease = 2 * time.Minute
	// busyPoll, busyPollMax and busyWait bound how an attempt waits while
	// the attempts pending on its keys could use up their budget
	// (RefusedBusy): it asks again after busyPoll, doubling up to
	// busyPollMax (so that a crowd of parallel guesses waiting on one name
	// costs the store a few reads a second each, not fifty), for about
	// busyWait in all, and is then refused like a locked one, with a short
	// Retry-After.
	busyPoll    = 20 * time.Millisecond
	busyPollMax = 320 * time.Millisecond
	busyWait    = 5 * time.Second
)

// attempt is a guess let through the throttles of its keys: reserved on
// its count key (the name, account or known device) in the store, in the
// same atomic step that checks the key's lock, before it is verified, so
// that parallel guesses from any number of processes can never all pass
// the check before a failure is counted. The caller settles it:
// failAttempt when it was a wrong guess, resetAttempt when it proved the
// account (a login), and in any case, deferred, endAttempt, which settles
// what is left as no failure at all.
//
// The address's key is checked and, on a failure, counted (AddFailure,
// atomic itself) as before: it is a coarse limit across names, of 50 by
// default, which parallel attempts may pass by as many as are verified at
// once (the hasher runs 2×GOMAXPROCS per process); reserving on it too
// would cost every login two more write transactions.
type attempt struct {
	keys loginKeys
	// countHeld says the count key's reservation is still to settle.
	countHeld bool
}

// reserveAttempt checks keys.addr and reserves an attempt on keys.count
// under keys.rule. A locked key refuses it with CodeTooManyAttempts and
// the longest wait of the two keys; while the attempts pending on the
// count key could use up its budget, it waits for them.
func (s *Service) reserveAttempt(ctx context.Context, keys loginKeys) (*attempt, error) {
	delay := busyPoll
	for waited := time.Duration(0); waited < busyWait; waited += delay {
		a, busy, err := s.tryReserve(ctx, keys)
		if err != nil || !busy {
			return a, err
		}
		if waited > 0 {
			delay = min(2*delay, busyPollMax)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	return nil, tooManyAttempts(time.Second)
}

// tryReserve asks the store once; busy reports RefusedBusy (and then
// nothing is held).
func (s *Service) tryReserve(ctx context.Context, keys loginKeys) (a *attempt, busy bool, err error) {
	now := s.now()
	var until time.Time
	if keys.addr != "" {
		at, err := s.stores.Throttles.Throttle(ctx, keys.addr)
		if err != nil {
			return nil, false, fmt.Errorf("read throttle: %w", err)
		}
		if at.Locked(now) {
			until = at.LockedUntil
		}
	}
	if !until.IsZero() {
		// Refused without touching the count key, which a refusal would
		// not change anyway; its own lock may be longer.
		t, err := s.stores.Throttles.Throttle(ctx, keys.count)
		if err != nil {
			return nil, false, fmt.Errorf("read throttle: %w", err)
		}
		if t.Locked(now) {
			until = later(until, t.LockedUntil)
		}
		return nil, false, tooManyAttempts(until.Sub(now))
	}
	t, r, err := s.stores.Throttles.ReserveAttempt(ctx, keys.count, now, keys.rule, attemptLease)
	if err != nil {
		return nil, false, fmt.Errorf("reserve attempt: %w", err)
	}
	switch r {
	case gatehouse.Reserved:
		return &attempt{keys: keys, countHeld: true}, false, nil
	case gatehouse.RefusedBusy:
		return nil, true, nil
	case gatehouse.RefusedLocked:
		return nil, false, tooManyAttempts(t.LockedUntil.Sub(now))
	default:
		// A fault of gatehouse's, not of the store's reach: CodeInternal.
		return nil, false, &gatehouse.Error{Code: gatehouse.CodeInternal, Message: "An internal error occurred.",
			Err: fmt.Errorf("reserve attempt: unknown decision %d", r)}
	}
}

// endAttempt settles what a still holds as no failure: the attempt
// neither failed nor reset its key (a Basic success, an error before a
// verdict). It is meant to be deferred. The settling outlives a cancelled
// request; if it fails all the same, the reservation lapses into a
// failure (attemptLease): fail closed.
func (s *Service) endAttempt(ctx context.Context, a *attempt) {
	if !a.countHeld {
		return
	}
	a.countHeld = false
	if _, err := s.stores.Throttles.SettleAttempt(context.WithoutCancel(ctx), a.keys.count, s.now(), a.keys.rule, gatehouse.SettleSucceeded); err != nil {
		s.log.WarnContext(ctx, "settle login attempt failed", "err", err)
	}
}

// resetAttempt settles a's count key as a success that forgets its
// failures, as a login does (never the address's).
func (s *Service) resetAttempt(ctx context.Context, a *attempt) error {
	if !a.countHeld {
		return nil
	}
	a.countHeld = false
	if _, err := s.stores.Throttles.SettleAttempt(context.WithoutCancel(ctx), a.keys.count, s.now(), a.keys.rule, gatehouse.SettleReset); err != nil {
		return fmt.Errorf("reset throttle: %w", err)
	}
	return nil
}

// failAttempt settles a as a failure on its count key and counts one on
// its address's key. The first time a name or
// account starts to wait (and whenever a known device locks) is a
// lockout: audited, and the user, when the key is theirs, is told by mail.
// While a key of u waits, u's cached Basic credentials are void.
func (s *Service) failAttempt(ctx context.Context, a *attempt, u *gatehouse.User) error {
	ctx = context.WithoutCancel(ctx)
	now := s.now().UTC()
	keys := a.keys
	addr := keys.client
	if a.countHeld {
		a.countHeld = false
		t, err := s.stores.Throttles.SettleAttempt(ctx, keys.count, now, keys.rule, gatehouse.SettleFailed)
		if err != nil {
			return fmt.Errorf("count failure: %w", err)
		}
		if t.Locked(now) && u != nil {
			// Cached Basic credentials are answered before any throttle is
			// read: while the user's key waits, every guess would be tried
			// against them unthrottled. A wait voids them in this process,
			// and in the others, which drop them with the user.
			s.basic.forgetWhere(func(e basicEntry) bool { return e.userID == u.ID })
			s.publish(gatehouse.Invalidation{Kind: gatehouse.InvalidateUser, ID: u.ID})
		}
		if t.Locked(now) && (!keys.rule.Backoff || t.Failures == keys.rule.MaxFailures) {
			s.log.WarnContext(ctx, "login locked", "known_device", keys.known, "until", t.LockedUntil)
			target := ""
			if u != nil {
				target = u.ID
				if !keys.known {
					d := s.mailData(u)
					d.Until, d.ClientAddr = t.LockedUntil, addr
					s.notify(ctx, u.Email, "account_locked", d)
				}
			}
			detail := map[string]string{"until": t.LockedUntil.Format(time.RFC3339)}
			if keys.known {
				detail["scope"] = "known_device"
			}
			s.record(ctx, Actor{Client: Client{Addr: addr}}, gatehouse.AuditLockout, target, detail)
		}
	}
	if keys.addr == "" {
		return nil
	}
	t, err := s.stores.Throttles.AddFailure(ctx, keys.addr, now, s.cfg.AddrThrottle)
	if err != nil {
		return fmt.Errorf("count failure: %w", err)
	}
	if t.Locked(now) {
		s.log.WarnContext(ctx, "login locked for client address", "client", addr, "until", t.LockedUntil)
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
