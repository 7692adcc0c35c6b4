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
	// AddFailure counts one failure for key at now under rule and returns the
	// new state. A failure after the window has passed starts a new window
	// with one failure. When the failures reach rule.MaxFailures the key is
	// locked until now+rule.Lockout and a fresh window starts when the lock
	// ends, so a lock never outlives its lockout.
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
	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
}
