package storetest

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// rule locks a key for 15 minutes after 3 failures within 10 minutes.
var rule = gatehouse.ThrottleRule{MaxFailures: 3, Window: 10 * time.Minute, Lockout: 15 * time.Minute}

// addFailure counts a failure of key at now under r, fails t on error, and
// checks that the returned state is what Throttle returns afterwards.
func addFailure(t *testing.T, s gatehouse.ThrottleStore, key string, now time.Time, r gatehouse.ThrottleRule) gatehouse.Throttle {
	t.Helper()
	got, err := s.AddFailure(t.Context(), key, now, r)
	if err != nil {
		t.Fatalf("AddFailure(%q, %v): %v", key, now, err)
	}
	wantUTC(t, "WindowStart", got.WindowStart)
	wantUTC(t, "LockedUntil", got.LockedUntil)
	wantThrottle(t, s, got)
	return got
}

// wantThrottle fails t unless Throttle(want.Key) returns want.
func wantThrottle(t *testing.T, s gatehouse.ThrottleStore, want gatehouse.Throttle) {
	t.Helper()
	got, err := s.Throttle(t.Context(), want.Key)
	if err != nil {
		t.Fatalf("Throttle(%q): %v", want.Key, err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("Throttle(%q) mismatch (-want +got):\n%s", want.Key, d)
	}
}

// wantState fails t unless got equals want, after the call described by what.
func wantState(t *testing.T, what string, want, got gatehouse.Throttle) {
	t.Helper()
	if d := diff(want, got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// lock makes key reach rule.MaxFailures at now and returns the locked state.
func lock(t *testing.T, s gatehouse.ThrottleStore, key string, now time.Time) gatehouse.Throttle {
	t.Helper()
	var got gatehouse.Throttle
	for range rule.MaxFailures {
		got = addFailure(t, s, key, now, rule)
	}
	until := now.Add(rule.Lockout)
	wantState(t, "locking AddFailure", gatehouse.Throttle{Key: key, WindowStart: until, LockedUntil: until}, got)
	return got
}

// RunThrottles checks a gatehouse.ThrottleStore. newStore must return a new,
// empty store on every call. Besides the interface's doc comments, it holds
// stores to this rule: a failure counted while a key is locked changes
// nothing, because the fresh window starts only when the lock ends.
func RunThrottles(t *testing.T, newStore func(t *testing.T) gatehouse.ThrottleStore) {
	t.Run("UnknownKey", func(t *testing.T) {
		s := newStore(t)
		addFailure(t, s, "other", base, rule)
		got, err := s.Throttle(t.Context(), "user:alice")
		check(t, err)
		if want := (gatehouse.Throttle{Key: "user:alice"}); got != want {
			t.Errorf("Throttle(unknown) = %+v, want %+v", got, want)
		}
	})

	t.Run("AddFailureCounts", func(t *testing.T) {
		s := newStore(t)
		const key = "user:alice"
		got := addFailure(t, s, key, base, rule)
		wantState(t, "first AddFailure", gatehouse.Throttle{Key: key, Failures: 1, WindowStart: base}, got)
		got = addFailure(t, s, key, base.Add(time.Minute), rule)
		wantState(t, "second AddFailure", gatehouse.Throttle{Key: key, Failures: 2, WindowStart: base}, got)
		if got.Locked(base.Add(time.Minute)) {
			t.Error("locked below MaxFailures")
		}

		// Keys are counted apart.
		got = addFailure(t, s, "addr:192.0.2.1", base.Add(time.Minute), rule)
		wantState(t, "other key", gatehouse.Throttle{Key: "addr:192.0.2.1", Failures: 1, WindowStart: base.Add(time.Minute)}, got)
		wantThrottle(t, s, gatehouse.Throttle{Key: key, Failures: 2, WindowStart: base})
	})

	t.Run("NewWindowAfterWindow", func(t *testing.T) {
		s := newStore(t)
		const key = "user:alice"
		addFailure(t, s, key, base, rule)
		// The last microsecond of the window still counts in it.
		last := base.Add(rule.Window - time.Microsecond)
		got := addFailure(t, s, key, last, rule)
		wantState(t, "AddFailure at the end of the window", gatehouse.Throttle{Key: key, Failures: 2, WindowStart: base}, got)
		// The window has passed at WindowStart+Window.
		next := base.Add(rule.Window)
		got = addFailure(t, s, key, next, rule)
		wantState(t, "AddFailure after the window", gatehouse.Throttle{Key: key, Failures: 1, WindowStart: next}, got)
		later := next.Add(time.Hour)
		got = addFailure(t, s, key, later, rule)
		wantState(t, "AddFailure long after", gatehouse.Throttle{Key: key, Failures: 1, WindowStart: later}, got)
	})

	t.Run("LockAtMaxFailures", func(t *testing.T) {
		s := newStore(t)
		const key = "user:alice"
		addFailure(t, s, key, base, rule)
		addFailure(t, s, key, base.Add(time.Minute), rule)
		at := base.Add(2 * time.Minute)
		got := addFailure(t, s, key, at, rule)
		until := at.Add(rule.Lockout)
		wantState(t, "locking AddFailure", gatehouse.Throttle{Key: key, WindowStart: until, LockedUntil: until}, got)
		if !got.Locked(at) || !got.Locked(until.Add(-time.Microsecond)) {
			t.Errorf("Locked = false during the lockout")
		}
		if got.Locked(until.Add(time.Microsecond)) {
			t.Errorf("Locked = true after the lockout")
		}

		one := gatehouse.ThrottleRule{MaxFailures: 1, Window: time.Minute, Lockout: time.Hour}
		got = addFailure(t, s, "strict", base, one)
		until = base.Add(time.Hour)
		wantState(t, "AddFailure with MaxFailures 1", gatehouse.Throttle{Key: "strict", WindowStart: until, LockedUntil: until}, got)
	})

	t.Run("FailureDuringLockChangesNothing", func(t *testing.T) {
		// The fresh window starts when the lock ends, so a failure before
		// cannot count in it, and a lock never outlives its lockout.
		s := newStore(t)
		const key = "user:alice"
		locked := lock(t, s, key, base)
		for _, at := range []time.Duration{0, time.Minute, rule.Lockout - time.Microsecond} {
			got := addFailure(t, s, key, base.Add(at), rule)
			wantState(t, "AddFailure while locked", locked, got)
		}
	})

	t.Run("FailuresAfterLockCountFromOne", func(t *testing.T) {
		s := newStore(t)
		const key = "user:alice"
		locked := lock(t, s, key, base)
		end := locked.LockedUntil

		got := addFailure(t, s, key, end, rule)
		wantState(t, "first AddFailure when the lock ends",
			gatehouse.Throttle{Key: key, Failures: 1, WindowStart: end, LockedUntil: end}, got)
		if got.Locked(end) {
			t.Error("still locked after the lockout")
		}
		got = addFailure(t, s, key, end.Add(time.Minute), rule)
		wantState(t, "second AddFailure after the lock",
			gatehouse.Throttle{Key: key, Failures: 2, WindowStart: end, LockedUntil: end}, got)

		// MaxFailures within the fresh window lock the key again.
		again := end.Add(2 * time.Minute)
		got = addFailure(t, s, key, again, rule)
		until := again.Add(rule.Lockout)
		wantState(t, "locking again", gatehouse.Throttle{Key: key, WindowStart: until, LockedUntil: until}, got)

		// Past the lock and its fresh window, a failure starts a new window.
		later := until.Add(rule.Window + time.Hour)
		got = addFailure(t, s, key, later, rule)
		wantState(t, "AddFailure long after the lock",
			gatehouse.Throttle{Key: key, Failures: 1, WindowStart: later, LockedUntil: until}, got)
	})

	t.Run("ResetThrottle", func(t *testing.T) {
		s := newStore(t)
		addFailure(t, s, "user:alice", base, rule)
		lock(t, s, "user:bob", base)
		addFailure(t, s, "user:carol", base, rule)
		check(t, s.ResetThrottle(t.Context(), "user:alice"))
		check(t, s.ResetThrottle(t.Context(), "user:bob"))
		wantThrottle(t, s, gatehouse.Throttle{Key: "user:alice"})
		wantThrottle(t, s, gatehouse.Throttle{Key: "user:bob"})
		wantThrottle(t, s, gatehouse.Throttle{Key: "user:carol", Failures: 1, WindowStart: base})
		if err := s.ResetThrottle(t.Context(), "never-seen"); err != nil {
			t.Errorf("ResetThrottle(unknown) = %v, want nil", err)
		}
		got := addFailure(t, s, "user:bob", base.Add(time.Minute), rule)
		wantState(t, "AddFailure after reset", gatehouse.Throttle{Key: "user:bob", Failures: 1, WindowStart: base.Add(time.Minute)}, got)
	})

	t.Run("DeleteStaleThrottles", func(t *testing.T) {
		s := newStore(t)
		// Boundaries are exact at microseconds, so the times here are too.
		now := micro.Add(time.Hour)
		at := func(d time.Duration) time.Time { return micro.Add(d) }
		addFailure(t, s, "window ended", at(0), rule)
		addFailure(t, s, "window ends now", at(50*time.Minute), rule)
		lock(t, s, "lock and its window ended", at(0)) // locked until 15m, window until 25m
		kept := map[string]gatehouse.Throttle{
			"window open":             addFailure(t, s, "window open", at(50*time.Minute+time.Microsecond), rule),
			"locked":                  lock(t, s, "locked", at(50*time.Minute)),                  // until 65m
			"lock ended, window open": lock(t, s, "lock ended, window open", at(40*time.Minute)), // until 55m, window until 65m
		}

		n, err := s.DeleteStaleThrottles(t.Context(), now, rule.Window)
		check(t, err)
		if n != 3 {
			t.Errorf("DeleteStaleThrottles = %d, want 3", n)
		}
		for _, key := range []string{"window ended", "window ends now", "lock and its window ended"} {
			wantThrottle(t, s, gatehouse.Throttle{Key: key})
		}
		for _, th := range kept {
			wantThrottle(t, s, th)
		}

		// A longer window keeps more.
		addFailure(t, s, "recent", now.Add(-20*time.Minute), rule)
		n, err = s.DeleteStaleThrottles(t.Context(), now, time.Hour)
		check(t, err)
		if n != 0 {
			t.Errorf("DeleteStaleThrottles(window 1h) = %d, want 0", n)
		}
		n, err = s.DeleteStaleThrottles(t.Context(), now.Add(2*time.Hour), time.Hour)
		check(t, err)
		if n != 4 {
			t.Errorf("DeleteStaleThrottles(2h later) = %d, want 4", n)
		}
	})

	t.Run("Backoff", func(t *testing.T) {
		s := newStore(t)
		const key = "name:alice"
		r := gatehouse.ThrottleRule{MaxFailures: 3, Window: 10 * time.Minute, Lockout: 16 * time.Minute, Backoff: true}
		now := micro
		addFailure(t, s, key, now, r)
		got := addFailure(t, s, key, now.Add(time.Minute), r)
		wantState(t, "second failure", gatehouse.Throttle{Key: key, Failures: 2, WindowStart: now.Add(time.Minute)}, got)
		// The third waits 4 minutes, the fourth 8, then 16 each.
		now = now.Add(2 * time.Minute)
		for i, wait := range []time.Duration{4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 16 * time.Minute} {
			got = addFailure(t, s, key, now, r)
			wantState(t, "failure past the budget", gatehouse.Throttle{Key: key, Failures: 3 + i, WindowStart: now, LockedUntil: now.Add(wait)}, got)
			// Failures while it waits are not counted.
			wantState(t, "failure while waiting", got, addFailure(t, s, key, now.Add(wait-time.Microsecond), r))
			now = now.Add(wait)
		}
		// Quiet for less than a window after the wait: still remembered.
		got = addFailure(t, s, key, now.Add(r.Window-time.Microsecond), r)
		if got.Failures != 7 {
			t.Errorf("Failures after a short pause = %d, want 7", got.Failures)
		}
		// A window without failure after the wait forgets them.
		now = got.LockedUntil.Add(r.Window)
		got = addFailure(t, s, key, now, r)
		wantState(t, "failure after a quiet window", gatehouse.Throttle{Key: key, Failures: 1, WindowStart: now, LockedUntil: got.LockedUntil}, got)
	})

	t.Run("DeleteStaleThrottlesKeepsBackoff", func(t *testing.T) {
		s := newStore(t)
		r := gatehouse.ThrottleRule{MaxFailures: 1, Window: 10 * time.Minute, Lockout: 20 * time.Minute, Backoff: true}
		waited := addFailure(t, s, "waited", micro, r) // waits until 5m, remembered until 15m
		n, err := s.DeleteStaleThrottles(t.Context(), micro.Add(15*time.Minute-time.Microsecond), r.Window)
		check(t, err)
		if n != 0 {
			t.Errorf("DeleteStaleThrottles within a window after the wait = %d, want 0", n)
		}
		wantThrottle(t, s, waited)
		n, err = s.DeleteStaleThrottles(t.Context(), micro.Add(15*time.Minute), r.Window)
		check(t, err)
		if n != 1 {
			t.Errorf("DeleteStaleThrottles a window after the wait = %d, want 1", n)
		}
	})

	t.Run("ConcurrentAddFailure", func(t *testing.T) {
		s := newStore(t)
		const n = 50
		many := gatehouse.ThrottleRule{MaxFailures: 1000, Window: time.Hour, Lockout: time.Hour}
		counts := make([]int, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				th, err := s.AddFailure(context.WithoutCancel(t.Context()), "user:alice", base, many)
				counts[i], errs[i] = th.Failures, err
			})
		}
		wg.Wait()
		for _, err := range errs {
			check(t, err)
		}
		got, err := s.Throttle(t.Context(), "user:alice")
		check(t, err)
		if got.Failures != n {
			t.Errorf("Failures after %d concurrent AddFailure = %d, want %d", n, got.Failures, n)
		}
		// Each call saw its own count: the read and the write were atomic.
		slices.Sort(counts)
		for i, c := range counts {
			if c != i+1 {
				t.Errorf("the counts returned by concurrent AddFailure are %v, want 1 to %d once each", counts, n)
				break
			}
		}
	})

	t.Run("ReserveAndSettle", func(t *testing.T) {
		s := newStore(t)
		const key = "login:name:alice"
		const lease = 2 * time.Minute
		now := micro
		got := reserve(t, s, key, now, rule, lease, gatehouse.Reserved)
		wantState(t, "first ReserveAttempt", gatehouse.Throttle{Key: key, Pending: 1, PendingUntil: now.Add(lease)}, got)
		// A success counts nothing and ends the reservation.
		got = settle(t, s, key, now, rule, gatehouse.SettleSucceeded)
		wantState(t, "SettleSucceeded", gatehouse.Throttle{Key: key}, got)
		// A failure counts as AddFailure does.
		reserve(t, s, key, now, rule, lease, gatehouse.Reserved)
		got = settle(t, s, key, now, rule, gatehouse.SettleFailed)
		wantState(t, "SettleFailed", gatehouse.Throttle{Key: key, Failures: 1, WindowStart: now}, got)
		// A reset forgets the failures but not the attempts still pending.
		reserve(t, s, key, now, rule, lease, gatehouse.Reserved)
		reserve(t, s, key, now.Add(time.Second), rule, lease, gatehouse.Reserved)
		got = settle(t, s, key, now.Add(time.Second), rule, gatehouse.SettleReset)
		wantState(t, "SettleReset", gatehouse.Throttle{Key: key, Pending: 1, PendingUntil: now.Add(time.Second + lease)}, got)
		// So does ResetThrottle (an administrator's unlock, say).
		addFailure(t, s, key, now, rule)
		check(t, s.ResetThrottle(t.Context(), key))
		wantThrottle(t, s, gatehouse.Throttle{Key: key, Pending: 1, PendingUntil: now.Add(time.Second + lease)})
		got = settle(t, s, key, now.Add(time.Second), rule, gatehouse.SettleSucceeded)
		wantState(t, "last settle", gatehouse.Throttle{Key: key}, got)

		// A locked key refuses, and the refusal changes nothing.
		locked := lock(t, s, "locked", now)
		got = reserve(t, s, "locked", now.Add(time.Minute), rule, lease, gatehouse.RefusedLocked)
		wantState(t, "ReserveAttempt while locked", locked, got)
	})

	t.Run("ReserveWaitsForPendingAttempts", func(t *testing.T) {
		// With one failure counted, two more may be pending: should both
		// fail, the second locks the key; a third must wait.
		s := newStore(t)
		const key = "login:name:alice"
		const lease = time.Minute
		addFailure(t, s, key, micro, rule)
		reserve(t, s, key, micro, rule, lease, gatehouse.Reserved)
		reserve(t, s, key, micro, rule, lease, gatehouse.Reserved)
		got := reserve(t, s, key, micro, rule, lease, gatehouse.RefusedBusy)
		wantState(t, "busy ReserveAttempt", gatehouse.Throttle{Key: key, Failures: 1, WindowStart: micro, Pending: 2, PendingUntil: micro.Add(lease)}, got)
		// One succeeds: the third may go.
		settle(t, s, key, micro, rule, gatehouse.SettleSucceeded)
		reserve(t, s, key, micro, rule, lease, gatehouse.Reserved)
		// Both fail: locked, nothing pending.
		settle(t, s, key, micro, rule, gatehouse.SettleFailed)
		got = settle(t, s, key, micro, rule, gatehouse.SettleFailed)
		until := micro.Add(rule.Lockout)
		wantState(t, "locking SettleAttempt", gatehouse.Throttle{Key: key, WindowStart: until, LockedUntil: until}, got)
	})

	t.Run("LapsedReservationsCountAsFailures", func(t *testing.T) {
		// A process that dies while verifying never settles: its
		// reservations lapse into failures, never into free guesses.
		s := newStore(t)
		const key = "login:name:alice"
		const lease = time.Minute
		for range rule.MaxFailures {
			reserve(t, s, key, micro, rule, lease, gatehouse.Reserved)
		}
		reserve(t, s, key, micro.Add(lease-time.Microsecond), rule, lease, gatehouse.RefusedBusy)
		got := reserve(t, s, key, micro.Add(lease), rule, lease, gatehouse.RefusedLocked)
		until := micro.Add(lease + rule.Lockout)
		wantState(t, "ReserveAttempt after the lease", gatehouse.Throttle{Key: key, WindowStart: until, LockedUntil: until}, got)
		// Pending rows are not stale until their lease and a window passed.
		reserve(t, s, "pending", micro, rule, lease, gatehouse.Reserved)
		n, err := s.DeleteStaleThrottles(t.Context(), micro.Add(lease+rule.Window-time.Microsecond), rule.Window)
		check(t, err)
		if n != 0 {
			t.Errorf("DeleteStaleThrottles with an attempt pending = %d, want 0", n)
		}
	})

	// The property the login throttle rests on, and what many processes
	// sharing one store depend on: however many attempts race, at most
	// MaxFailures are let through before the lock (or the first wait of a
	// Backoff rule), each verified and failed in parallel with the others.
	for _, r := range []gatehouse.ThrottleRule{rule, {MaxFailures: 3, Window: 10 * time.Minute, Lockout: 16 * time.Minute, Backoff: true}} {
		t.Run(fmt.Sprintf("ConcurrentReservations/Backoff=%v", r.Backoff), func(t *testing.T) {
			s := newStore(t)
			const key = "login:name:alice"
			const workers = 20
			ctx := context.WithoutCancel(t.Context())
			var (
				mu      sync.Mutex
				through int
				errs    []error
				wg      sync.WaitGroup
			)
			for range workers {
				wg.Go(func() {
					for {
						_, res, err := s.ReserveAttempt(ctx, key, base, r, time.Minute)
						if err != nil {
							mu.Lock()
							errs = append(errs, err)
							mu.Unlock()
							return
						}
						switch res {
						case gatehouse.RefusedLocked:
							return
						case gatehouse.RefusedBusy:
							runtime.Gosched()
							continue
						}
						mu.Lock()
						through++
						mu.Unlock()
						// A wrong guess.
						if _, err := s.SettleAttempt(ctx, key, base, r, gatehouse.SettleFailed); err != nil {
							mu.Lock()
							errs = append(errs, err)
							mu.Unlock()
							return
						}
					}
				})
			}
			wg.Wait()
			for _, err := range errs {
				check(t, err)
			}
			if through != r.MaxFailures {
				t.Errorf("%d racing workers got %d guesses through before the lock, want MaxFailures = %d", workers, through, r.MaxFailures)
			}
			got, err := s.Throttle(t.Context(), key)
			check(t, err)
			if !got.Locked(base) || got.Pending != 0 {
				t.Errorf("after the race: %+v, want locked with nothing pending", got)
			}
		})
	}

}

// reserve reserves an attempt on key, fails t unless the decision is want
// or on error, and checks that the returned state is what Throttle returns.
func reserve(t *testing.T, s gatehouse.ThrottleStore, key string, now time.Time, r gatehouse.ThrottleRule, lease time.Duration, want gatehouse.Reservation) gatehouse.Throttle {
	t.Helper()
	got, res, err := s.ReserveAttempt(t.Context(), key, now, r, lease)
	if err != nil {
		t.Fatalf("ReserveAttempt(%q, %v): %v", key, now, err)
	}
	if res != want {
		t.Errorf("ReserveAttempt(%q, %v) = %v, want %v (state %+v)", key, now, res, want, got)
	}
	wantUTC(t, "PendingUntil", got.PendingUntil)
	wantThrottle(t, s, got)
	return got
}

// settle settles an attempt on key, fails t on error, and checks that the
// returned state is what Throttle returns.
func settle(t *testing.T, s gatehouse.ThrottleStore, key string, now time.Time, r gatehouse.ThrottleRule, outcome gatehouse.Settlement) gatehouse.Throttle {
	t.Helper()
	got, err := s.SettleAttempt(t.Context(), key, now, r, outcome)
	if err != nil {
		t.Fatalf("SettleAttempt(%q, %v): %v", key, now, err)
	}
	wantThrottle(t, s, got)
	return got
}
