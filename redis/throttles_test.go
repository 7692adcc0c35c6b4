package redis_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// trunc is t as a store keeps it: times truncated to the microsecond.
func trunc(t gatehouse.Throttle) gatehouse.Throttle {
	t.WindowStart = t.WindowStart.Truncate(time.Microsecond)
	t.LockedUntil = t.LockedUntil.Truncate(time.Microsecond)
	t.PendingUntil = t.PendingUntil.Truncate(time.Microsecond)
	return t
}

// sameThrottle reports whether a and b are the same state.
func sameThrottle(a, b gatehouse.Throttle) bool {
	return a.Key == b.Key && a.Failures == b.Failures && a.Pending == b.Pending &&
		a.WindowStart.Equal(b.WindowStart) && a.LockedUntil.Equal(b.LockedUntil) && a.PendingUntil.Equal(b.PendingUntil)
}

// TestThrottleRulesMatchGo checks the Lua port of the throttling rules
// against gatehouse.Throttle's own: random operations at random times,
// to the nanosecond, under random rules, applied to the store and to a
// state in Go (truncated as a store keeps it, as the SQL stores do),
// must agree on every state and decision.
func TestThrottleRulesMatchGo(t *testing.T) {
	s, _, _ := open(t)
	ctx := t.Context()
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 42))
		// Whole minutes give or take a few nanoseconds, so that times
		// often fall exactly on, or a nanosecond or a microsecond from,
		// the end of a window, lock or lease.
		offsets := []time.Duration{0, 0, 0, 1, 999, time.Microsecond, time.Microsecond + 1, -1, -time.Microsecond}
		dur := func(maxMinutes int) time.Duration {
			d := time.Duration(rng.IntN(maxMinutes+1))*time.Minute + offsets[rng.IntN(len(offsets))]
			return max(d, 0)
		}
		rule := gatehouse.ThrottleRule{
			MaxFailures: rng.IntN(5), // 0 never locks
			Window:      dur(20),
			Lockout:     dur(30),
			Backoff:     seed%2 == 1,
		}
		key := fmt.Sprint("seed ", seed)
		var model gatehouse.Throttle
		model.Key = key
		now := clock.Add(time.Duration(rng.IntN(3)) * 500) // on, or off, a microsecond
		for step := range 400 {
			// Mostly small steps, some at the same instant, some long.
			switch rng.IntN(5) {
			case 4:
				// Onto a boundary of the state, or a nanosecond before.
				targets := []time.Time{model.WindowStart.Add(rule.Window), model.LockedUntil,
					model.LockedUntil.Add(rule.Window), model.PendingUntil}
				if b := targets[rng.IntN(len(targets))].Add(-time.Duration(rng.IntN(2))); b.After(now) {
					now = b
				}
			case 0:
			case 1:
				now = now.Add(offsets[rng.IntN(len(offsets))])
			case 2:
				now = now.Add(dur(3))
			default:
				now = now.Add(dur(40))
			}
			var got gatehouse.Throttle
			var err error
			what := ""
			switch op := rng.IntN(10); {
			case op < 3:
				what = "AddFailure"
				got, err = s.AddFailure(ctx, key, now, rule)
				model, _ = model.AddFailure(now, rule)
				model = trunc(model)
			case op < 6:
				lease := dur(5)
				what = fmt.Sprintf("ReserveAttempt(lease %v)", lease)
				var r gatehouse.Reservation
				got, r, err = s.ReserveAttempt(ctx, key, now, rule, lease)
				var want gatehouse.Reservation
				model, want, _ = model.Reserve(now, rule, lease)
				model = trunc(model)
				if err == nil && r != want {
					t.Fatalf("seed %d step %d: %s at %v = %v, want %v", seed, step, what, now, r, want)
				}
			case op < 9:
				outcome := gatehouse.Settlement(1 + rng.IntN(3))
				what = fmt.Sprintf("SettleAttempt(%d)", outcome)
				got, err = s.SettleAttempt(ctx, key, now, rule, outcome)
				model = trunc(model.Settle(now, rule, outcome))
			default:
				what = "ResetThrottle"
				err = s.ResetThrottle(ctx, key)
				model = gatehouse.Throttle{Key: key, Pending: model.Pending, PendingUntil: model.PendingUntil}
				got = model
			}
			if err != nil {
				t.Fatalf("seed %d step %d: %s: %v", seed, step, what, err)
			}
			stored, err := s.Throttle(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if !sameThrottle(got, model) || !sameThrottle(stored, model) {
				t.Fatalf("seed %d step %d: %s at %v under %+v:\nreturned %+v\nstored   %+v\nwant     %+v", seed, step, what, now, rule, got, stored, model)
			}
		}
	}
}
