// Package storetest is the conformance suite of gatehouse's stores. Every
// store (SQLite now, PostgreSQL and Redis-backed ones later) runs it
// unchanged from its own tests, so that they all keep the one contract
// written in the doc comments of the per-area interfaces of package
// gatehouse.
//
// The suite is split by area, so that a store runs exactly the suites for
// what it holds: RunUsers, RunGroups, RunSessions, RunThrottles, RunTokens,
// RunAudit, RunActionTokens, RunOutbox, RunTwoFactor, RunPendingLogins,
// RunDevices, RunIdentities and RunLoginRecorder. A suite whose records
// belong to records of another area (sessions to users, say) takes those
// stores too, in a struct such as SessionStores, so that a session store
// can be tested with its users in another store:
//
//	storetest.RunSessions(t, func(t *testing.T) storetest.SessionStores {
//		users := openFreshDatabase(t)
//		return storetest.SessionStores{
//			SessionStore: openFreshSessionStore(t),
//			UserStore:    users,
//		}
//	})
//
// Run runs every suite on one store that holds everything:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) gatehouse.Store {
//			s := openFreshStore(t)
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatehouse/gatehouse"
)

// Run runs every suite against the stores newStore returns, each holding
// everything (a gatehouse.Store); RunLoginRecorder is skipped for a store
// that is no gatehouse.LoginRecorder.
//
// newStore must return a new, empty, migrated store on every call: each
// subtest calls it once and assumes it sees nothing of the others. Closing
// the store (with t.Cleanup) is newStore's job. The suites do not call
// t.Parallel, so newStore need not be safe for concurrent use.
//
// Besides the interfaces' doc comments and the rules each suite's doc
// comment states, the suites hold stores to these rules:
//
//   - Times come back in UTC, truncated (not rounded) to the microsecond,
//     which is what PostgreSQL keeps. The suite's times have nanoseconds, and
//     it compares times truncated to the microsecond with time.Time.Equal.
//   - A durable record that belongs to a user (a token, action token,
//     second-factor setting or device) cannot be created for a user that
//     does not exist (ErrNotFound), and DeleteUser removes them with the
//     user. Sessions and pending logins are short-lived and may live in
//     another store: the suites ask neither of them (see RunSessions).
func Run(t *testing.T, newStore func(t *testing.T) gatehouse.Store) {
	t.Run("Ping", func(t *testing.T) {
		s := newStore(t)
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
	t.Run("Users", func(t *testing.T) {
		RunUsers(t, func(t *testing.T) gatehouse.UserStore { return newStore(t) })
	})
	t.Run("Groups", func(t *testing.T) {
		RunGroups(t, func(t *testing.T) gatehouse.UserStore { return newStore(t) })
	})
	t.Run("Sessions", func(t *testing.T) {
		RunSessions(t, func(t *testing.T) SessionStores {
			s := newStore(t)
			return SessionStores{SessionStore: s, UserStore: s}
		})
	})
	t.Run("Throttles", func(t *testing.T) {
		RunThrottles(t, func(t *testing.T) gatehouse.ThrottleStore { return newStore(t) })
	})
	t.Run("Tokens", func(t *testing.T) {
		RunTokens(t, func(t *testing.T) TokenStores {
			s := newStore(t)
			return TokenStores{TokenStore: s, UserStore: s, SessionStore: s}
		})
	})
	t.Run("Audit", func(t *testing.T) {
		RunAudit(t, func(t *testing.T) AuditStores {
			s := newStore(t)
			return AuditStores{AuditStore: s, UserStore: s, TokenStore: s, SessionStore: s}
		})
	})
	t.Run("ActionTokens", func(t *testing.T) {
		RunActionTokens(t, func(t *testing.T) ActionTokenStores {
			s := newStore(t)
			return ActionTokenStores{ActionTokenStore: s, UserStore: s, TokenStore: s, SessionStore: s}
		})
	})
	t.Run("Outbox", func(t *testing.T) {
		RunOutbox(t, func(t *testing.T) gatehouse.OutboxStore { return newStore(t) })
	})
	t.Run("TwoFactor", func(t *testing.T) {
		RunTwoFactor(t, func(t *testing.T) TwoFactorStores {
			s := newStore(t)
			return TwoFactorStores{TwoFactorStore: s, UserStore: s}
		})
	})
	t.Run("PendingLogins", func(t *testing.T) {
		RunPendingLogins(t, func(t *testing.T) PendingLoginStores {
			s := newStore(t)
			return PendingLoginStores{PendingLoginStore: s, UserStore: s, SessionStore: s}
		})
	})
	t.Run("Devices", func(t *testing.T) {
		RunDevices(t, func(t *testing.T) DeviceStores {
			s := newStore(t)
			return DeviceStores{DeviceStore: s, UserStore: s, SessionStore: s, PendingLoginStore: s}
		})
	})
	t.Run("Identities", func(t *testing.T) {
		RunIdentities(t, func(t *testing.T) IdentityStores {
			s := newStore(t)
			return IdentityStores{IdentityStore: s, UserStore: s}
		})
	})
	t.Run("LoginRecorder", func(t *testing.T) {
		if _, ok := newStore(t).(gatehouse.LoginRecorder); !ok {
			t.Skip("the store has no RecordLoginSession")
		}
		RunLoginRecorder(t, func(t *testing.T) LoginStores {
			s := newStore(t)
			return LoginStores{LoginRecorder: s.(gatehouse.LoginRecorder), UserStore: s, SessionStore: s, AuditStore: s}
		})
	})
}

// base is the time the suite's data revolves around. It has nanoseconds, so
// that every comparison proves truncation to the microsecond is harmless.
var base = time.Date(2025, time.March, 14, 15, 9, 26, 535_897_932, time.UTC)

// micro is base truncated to the microsecond, for tests whose boundaries
// must be exact: a store cannot tell base from micro.
var micro = base.Truncate(time.Microsecond)

// equalTime reports whether a and b are the same instant at microsecond
// precision, which is what every store keeps.
func equalTime(a, b time.Time) bool {
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

// cmpOpts compares times with equalTime and treats nil and empty slices as
// equal, since stores cannot all tell them apart.
var cmpOpts = cmp.Options{
	cmp.Comparer(equalTime),
	cmpopts.EquateEmpty(),
}

// diff returns a human-readable difference between want and got, or "".
func diff(want, got any) string {
	return cmp.Diff(want, got, cmpOpts)
}

// wantCode fails t unless err is a *gatehouse.Error with code. It also
// checks that the client-safe message does not leak SQL.
func wantCode(t *testing.T, err error, code gatehouse.Code) {
	t.Helper()
	var e *gatehouse.Error
	if !errors.As(err, &e) {
		t.Errorf("err = %v, want a *gatehouse.Error with code %q", err, code)
		return
	}
	if e.Code != code {
		t.Errorf("err = %v, want code %q", err, code)
	}
	msg := strings.ToLower(e.Message)
	if msg == "" || strings.Contains(msg, "constraint") || strings.Contains(msg, "sql") {
		t.Errorf("err.Message = %q, want a message for people, without SQL", e.Message)
	}
}

// wantNotFound fails t unless err is gatehouse.ErrNotFound.
func wantNotFound(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("err = %v, want gatehouse.ErrNotFound", err)
	}
}

// check fails t now if err is not nil.
func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantUTC fails t if a time a store returned is not zero and not in UTC.
func wantUTC(t *testing.T, what string, tm time.Time) {
	t.Helper()
	if !tm.IsZero() && tm.Location() != time.UTC {
		t.Errorf("%s is in %v, want UTC", what, tm.Location())
	}
}
