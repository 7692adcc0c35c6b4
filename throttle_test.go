package gatehouse

import (
	"testing"
	"time"
)

// TestBackoffBound checks the bound ThrottleRule.Backoff promises for the
// login defaults — at most 20 failures counted in any hour — against every
// sequence of attempts on a 15-second grid (every time the rule uses is a
// multiple of 15 seconds, so finer timing gains an attacker nothing). It
// searches all of them: the attempts of the hour after an hour of any
// preparation, each attempt either made or not.
func TestBackoffBound(t *testing.T) {
	rule := ThrottleRule{MaxFailures: 5, Window: 15 * time.Minute, Lockout: 15 * time.Minute, Backoff: true}
	const (
		step  = 15 * time.Second
		hour  = int(time.Hour / step)
		bound = 20
	)
	// Longer ago than this is the same as never, for the rule.
	far := int((rule.Window+rule.Lockout)/step) + 1
	origin := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clamp := func(n int) int { return max(-far, min(far, n)) }
	type state struct{ at, failures, start, until int } // times relative to at, in steps
	at := func(s state, rel int) time.Time {
		if rel <= -far {
			return time.Time{}
		}
		return origin.Add(time.Duration(s.at+rel) * step)
	}
	rel := func(s state, tm time.Time) int {
		if tm.IsZero() {
			return -far
		}
		return clamp(int(tm.Sub(origin)/step) - s.at)
	}
	memo := map[state]int{}
	var best func(s state) int
	best = func(s state) int {
		if s.at >= 2*hour {
			return 0
		}
		if v, ok := memo[s]; ok {
			return v
		}
		// Wait a step…
		v := best(state{s.at + 1, s.failures, clamp(s.start - 1), clamp(s.until - 1)})
		// …or guess now, when the guess is counted.
		th := Throttle{Failures: s.failures, WindowStart: at(s, s.start), LockedUntil: at(s, s.until)}
		if next, ok := th.AddFailure(at(s, 0), rule); ok {
			n := best(state{s.at, next.Failures, rel(s, next.WindowStart), rel(s, next.LockedUntil)})
			if s.at >= hour {
				n++ // in the hour that counts
			}
			v = max(v, n)
		}
		memo[s] = v
		return v
	}
	got := best(state{0, 0, -far, -far})
	if got > bound {
		t.Errorf("the best sequence of guesses gets %d failures counted in an hour, want at most %d", got, bound)
	}
	t.Logf("at most %d guesses in an hour (bound %d)", got, bound)
}

func TestThrottleRuleDelay(t *testing.T) {
	r := ThrottleRule{Lockout: 16 * time.Minute}
	for n, want := range []time.Duration{4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 16 * time.Minute, 16 * time.Minute} {
		if got := r.Delay(n); got != want {
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
	}
	if got := r.Delay(1000); got != r.Lockout {
		t.Errorf("Delay(1000) = %v, want %v", got, r.Lockout)
	}
}

// TestReserveThenFailIsAddFailure: one attempt at a time, reserving and
// failing is exactly AddFailure: the same attempts are let through and the
// same state follows, so the bounds of the rules (TestBackoffBound) hold
// for the reserved path the logins take. Checked on every schedule of
// attempts over 16 steps of a quarter of the window, for both rules.
func TestReserveThenFailIsAddFailure(t *testing.T) {
	origin := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, rule := range []ThrottleRule{
		{MaxFailures: 3, Window: 8 * time.Minute, Lockout: 8 * time.Minute},
		{MaxFailures: 3, Window: 8 * time.Minute, Lockout: 8 * time.Minute, Backoff: true},
	} {
		step := rule.Window / 4
		for schedule := range 1 << 16 {
			var viaAdd, viaReserve Throttle
			for i := range 16 {
				if schedule&(1<<i) == 0 {
					continue
				}
				now := origin.Add(time.Duration(i) * step)
				next, counted := viaAdd.AddFailure(now, rule)
				r, decision, _ := viaReserve.Reserve(now, rule, time.Minute)
				if (decision == Reserved) != counted {
					t.Fatalf("Backoff=%v schedule %016b step %d: Reserve = %v, AddFailure counted = %v (state %+v)", rule.Backoff, schedule, i, decision, counted, viaAdd)
				}
				if decision == Reserved {
					r = r.Settle(now, rule, SettleFailed)
				}
				viaAdd, viaReserve = next, r
				if viaReserve.Pending != 0 || viaAdd.Failures != viaReserve.Failures || !viaAdd.WindowStart.Equal(viaReserve.WindowStart) || !viaAdd.LockedUntil.Equal(viaReserve.LockedUntil) {
					t.Fatalf("Backoff=%v schedule %016b step %d: reserved %+v, AddFailure %+v", rule.Backoff, schedule, i, viaReserve, viaAdd)
				}
			}
		}
	}
}
