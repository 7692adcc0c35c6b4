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
	Failures    int
	WindowStart time.Time
	// LockedUntil is when a lock on the key ends; zero when never locked.
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
// The second result reports whether t changed.
func (t Throttle) AddFailure(now time.Time, rule ThrottleRule) (Throttle, bool) {
	if t.Locked(now) {
		return t, false
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
	// DeleteStaleThrottles forgets every key whose window and lock have both
	// ended at now, given the longest window in use.
	DeleteStaleThrottles(ctx context.Context, now time.Time, window time.Duration) (int, error)
}

// Store is everything a single database provides.
type Store interface {
	UserStore
	SessionStore
	ThrottleStore
	TokenStore
	AuditStore
	ActionTokenStore
	OutboxStore
	TwoFactorStore
	DeviceStore
	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
}
