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
	// ResetThrottle forgets key.
	ResetThrottle(ctx context.Context, key string) error
	// DeleteStaleThrottles forgets every key whose window has ended at now
	// and whose lock ended a window ago or more, given the longest window
	// in use (so that a Backoff key's failures outlive its wait by a
	// window, as the rule wants).
	DeleteStaleThrottles(ctx context.Context, now time.Time, window time.Duration) (int, error)
}
