package gatehouse

import (
	"context"
	"time"
)

// Throttle is the failure count of one throttling key, such as a submitted
// username or a client address.
type Throttle struct {
	Key string
	// Failures counts failures since WindowStart.
	Failures int
	// WindowStart is when the window of Failures began; under a Backoff
	// rule, the time of the latest failure.
	WindowStart time.Time
	// LockedUntil is when a lock (or, under a Backoff rule, a wait) on the
	// key ends; zero when never locked.
	LockedUntil time.Time
	// Pending counts the attempts reserved (Reserve) and not yet settled:
	// guesses being verified right now, somewhere.
	Pending int
	// PendingUntil is when the reservations of Pending lapse, if they have
	// not been settled by then (a process died while verifying); zero when
	// Pending is zero.
	PendingUntil time.Time
}

// Reservation is what ThrottleStore.ReserveAttempt decided.
type Reservation int

const (
	// Reserved: the attempt may go ahead; it is pending until settled.
	Reserved Reservation = iota + 1
	// RefusedLocked: the key is locked (or waits); the attempt is refused
	// until LockedUntil.
	RefusedLocked
	// RefusedBusy: the attempts already pending could use up what is left
	// of the key's budget, should they fail; the attempt may be tried
	// again once some settle.
	RefusedBusy
)

// Settlement is how a reserved attempt ended.
type Settlement int

const (
	// SettleFailed counts the attempt as a failure (AddFailure).
	SettleFailed Settlement = iota + 1
	// SettleSucceeded counts nothing: the attempt was not a wrong guess.
	SettleSucceeded
	// SettleReset forgets the key's failures, as a successful login does;
	// other pending attempts stay pending.
	SettleReset
)

// Reserve returns t after asking, at now, to make one attempt under rule,
// and what was decided. It is the domain rule of
// ThrottleStore.ReserveAttempt, which applies it atomically; together with
// Settle it makes "check, verify, count" one step however many processes
// verify at once:
//
//   - reservations that lapsed unsettled (PendingUntil has passed) count as
//     failures at now: fail closed, a guess is never lost by crashing;
//   - a locked key refuses (RefusedLocked);
//   - otherwise an attempt is reserved only while the attempts pending, if
//     all failed, could not take the key past the failure that starts its
//     lock: at most MaxFailures minus the failures counted in the window
//     (at least one, as a Backoff key past its budget lets one guess
//     through after each wait); more are RefusedBusy, to be tried again.
//     So no more guesses are verified than AddFailure after each one would
//     let through, and parallel guesses never pass the check together;
//   - a rule with MaxFailures zero or less never refuses.
//
// A reservation lasts until now+lease unless settled (Settle). The second
// result is never zero; t changes only when the third is true.
func (t Throttle) Reserve(now time.Time, rule ThrottleRule, lease time.Duration) (Throttle, Reservation, bool) {
	changed := false
	if t.Pending > 0 && !now.Before(t.PendingUntil) {
		lapsed := t.Pending
		t.Pending, t.PendingUntil = 0, time.Time{}
		for range lapsed {
			t, _ = t.AddFailure(now, rule)
		}
		changed = true
	}
	if t.Locked(now) {
		return t, RefusedLocked, changed
	}
	if rule.MaxFailures > 0 && t.Pending >= max(rule.MaxFailures-t.windowFailures(now, rule), 1) {
		return t, RefusedBusy, changed
	}
	t.Pending++
	t.PendingUntil = later(t.PendingUntil, now.Add(lease))
	return t, Reserved, true
}

// Settle returns t after a reserved attempt ended at now under rule, as
// outcome says. It is the domain rule of ThrottleStore.SettleAttempt.
// Settling more attempts than are pending (a reservation that lapsed and
// was counted) counts a failure all the same and leaves Pending at zero.
func (t Throttle) Settle(now time.Time, rule ThrottleRule, outcome Settlement) Throttle {
	if t.Pending > 0 {
		t.Pending--
	}
	if t.Pending == 0 {
		t.PendingUntil = time.Time{}
	}
	switch outcome {
	case SettleFailed:
		t, _ = t.AddFailure(now, rule)
	case SettleReset:
		t = Throttle{Key: t.Key, Pending: t.Pending, PendingUntil: t.PendingUntil}
	}
	return t
}

// windowFailures is how many failures of t still count at now under rule:
// none once its window has passed.
func (t Throttle) windowFailures(now time.Time, rule ThrottleRule) int {
	end := t.WindowStart
	if rule.Backoff {
		end = later(t.WindowStart, t.LockedUntil)
	}
	if !now.Before(end.Add(rule.Window)) {
		return 0
	}
	return t.Failures
}

// Locked reports whether the key is locked at now.
func (t Throttle) Locked(now time.Time) bool {
	return now.Before(t.LockedUntil)
}

// AddFailure returns t after one more failure at now under rule. It is the
// domain rule every ThrottleStore applies atomically:
//
//   - a failure after the window has passed starts a new window;
//   - reaching rule.MaxFailures locks the key until now+rule.Lockout, and a
//     fresh window starts when the lock ends;
//   - a failure while the key is locked is not counted, since it would land
//     in the window after the lock and could lock the key again at once,
//     making the lock outlive its lockout;
//   - a rule with MaxFailures zero or less never locks.
//
// A Backoff rule makes the key wait instead, as ThrottleRule.Backoff says.
//
// The second result reports whether t changed.
func (t Throttle) AddFailure(now time.Time, rule ThrottleRule) (Throttle, bool) {
	if t.Locked(now) {
		return t, false
	}
	if rule.Backoff {
		// Forgotten after a quiet Window: no failure and no wait in it.
		// Sliding rather than fixed, so that pausing between bursts buys
		// nothing a steady pace would not.
		if !now.Before(later(t.WindowStart, t.LockedUntil).Add(rule.Window)) {
			t.Failures = 0
		}
		t.WindowStart = now
		t.Failures++
		if rule.MaxFailures > 0 && t.Failures >= rule.MaxFailures {
			t.LockedUntil = now.Add(rule.Delay(t.Failures - rule.MaxFailures))
		}
		return t, true
	}
	if !now.Before(t.WindowStart.Add(rule.Window)) {
		t.WindowStart, t.Failures = now, 0
	}
	t.Failures++
	if rule.MaxFailures > 0 && t.Failures >= rule.MaxFailures {
		t.LockedUntil = now.Add(rule.Lockout)
		t.WindowStart, t.Failures = t.LockedUntil, 0
	}
	return t, true
}

// ThrottleRule says how many failures within Window lock a key, and for how long.
type ThrottleRule struct {
	MaxFailures int
	Window      time.Duration
	Lockout     time.Duration
	// Backoff replaces the lock by growing waits: from the MaxFailures-th
	// failure on, each failure makes the key wait Delay(n) before the next
	// attempt counts — a quarter of Lockout, then half, then Lockout for
	// every further one — and the failures are forgotten only once Window
	// passes with no failure and no wait. With MaxFailures 5, Window and
	// Lockout 15 minutes, no sequence of attempts gets more than 20 failures
	// counted in any hour (TestBackoffBound checks every one).
	Backoff bool
}

// Delay is the wait a Backoff rule imposes after the failure that is n
// failures past MaxFailures−1 (n = 0 for the MaxFailures-th): Lockout/4,
// Lockout/2, then Lockout.
func (r ThrottleRule) Delay(n int) time.Duration {
	if n >= 2 {
		return r.Lockout
	}
	return r.Lockout >> (2 - n)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// ThrottleStore keeps login failure counters. Its methods are atomic, so that
// concurrent failures from many processes are all counted.
type ThrottleStore interface {
	// Throttle returns the state of key; a key never seen is a zero Throttle
	// with that Key.
	Throttle(ctx context.Context, key string) (Throttle, error)
	// AddFailure counts one failure for key at now under rule, as
	// Throttle.AddFailure describes, atomically, and returns the new state.
	AddFailure(ctx context.Context, key string, now time.Time, rule ThrottleRule) (Throttle, error)
	// ResetThrottle forgets the failures and lock of key. Attempts pending
	// on it (ReserveAttempt) stay pending: they are guesses still being
	// verified, which the key's budget must go on counting.
	ResetThrottle(ctx context.Context, key string) error
	// ReserveAttempt asks to make one attempt on key at now under rule,
	// reserved for lease, as Throttle.Reserve describes, atomically, and
	// returns the new state and the decision. A reserved attempt must be
	// settled with SettleAttempt (or it lapses into a failure).
	ReserveAttempt(ctx context.Context, key string, now time.Time, rule ThrottleRule, lease time.Duration) (Throttle, Reservation, error)
	// SettleAttempt ends one reserved attempt on key at now under rule, as
	// Throttle.Settle describes, atomically, and returns the new state.
	SettleAttempt(ctx context.Context, key string, now time.Time, rule ThrottleRule, outcome Settlement) (Throttle, error)
	// DeleteStaleThrottles forgets every key with no pending attempt whose
	// window has ended at now and whose lock ended a window ago or more, given the longest window
	// in use (so that a Backoff key's failures outlive its wait by a
	// window, as the rule wants).
	DeleteStaleThrottles(ctx context.Context, now time.Time, window time.Duration) (int, error)
}
