// Package storetest is the conformance suite of gatehouse.Store. Every store
// (SQLite now, PostgreSQL and Redis-backed ones later) runs it unchanged from
// its own tests, so that they all keep the one contract written in the doc
// comments of gatehouse.UserStore, gatehouse.SessionStore,
// gatehouse.ThrottleStore, gatehouse.TokenStore, gatehouse.AuditStore,
// gatehouse.ActionTokenStore and gatehouse.OutboxStore:
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

// Run runs the conformance suite against the stores newStore returns.
//
// newStore must return a new, empty, migrated store on every call: each
// subtest calls it once and assumes it sees nothing of the others. Closing
// the store (with t.Cleanup) is newStore's job. Run does not call t.Parallel,
// so newStore need not be safe for concurrent use.
//
// Besides the interfaces' doc comments, Run holds stores to these rules:
//
//   - Times come back in UTC, truncated (not rounded) to the microsecond,
//     which is what PostgreSQL keeps. The suite's times have nanoseconds, and
//     it compares times truncated to the microsecond with time.Time.Equal.
//   - CreateUser and UpdateUser reject a user without username or email, or
//     with an invalid state, with CodeValidation, and a group that does not
//     exist with CodeValidation too, storing nothing.
//   - A failure counted while a key is locked changes nothing, because the
//     fresh window starts only when the lock ends.
//   - The group "administrators" with permission "*" exists in a new store.
//   - CreateGroup and PutGroup reject a group without a name with
//     CodeValidation. Group, DeleteGroup and GroupMembers return ErrNotFound
//     for a group that does not exist, and GroupMembers sorts the ids as
//     strings (byte-wise); a group without members has none, and no error.
//   - DeleteUser removes the user's tokens too, and CreateToken for a user
//     that does not exist is ErrNotFound, like CreateSession.
//   - A token without permissions comes back with nil Permissions, and an
//     event without detail with nil Detail, whether they were stored nil or
//     empty, so that "empty" has one form.
//   - Sessions and Tokens, like Audit, take a limit of zero for no limit.
//   - The audit log keeps its events after the users they name are deleted
//     and takes events naming users that do not exist. Audit's Since and
//     Until compare with the microsecond time of the event as stored, so a
//     bound with nanoseconds selects exactly the events whose returned Time
//     is within it.
//   - DeleteUser removes the user's action tokens too, and
//     CreateActionToken for a user that does not exist is ErrNotFound; a
//     duplicate id or hash is CodeConflict, and a purpose other than
//     PurposeReset and PurposeInvite CodeValidation. ActionTokenByHash
//     returns used and expired tokens: whether a token is void is the
//     caller's decision.
//   - EnqueueMail stores the message as given, Attempts and LastError
//     included; a duplicate id is CodeConflict. A zero NextAttemptAt means
//     never due: such a message is never claimed and not pending.
//   - A message is due at now when its NextAttemptAt, as stored (truncated
//     to the microsecond), is not after now; a lease ends likewise at
//     now+lease as stored, when the message is due again. ClaimMail returns
//     the messages with Attempts and NextAttemptAt as they are after the
//     claim, and claims nothing for n of zero or less.
//   - MarkMailFailed with a zero next gives up on the message: it is never
//     claimed again and not pending. On a message sent already it changes
//     nothing and is no error (the sender's lease ended and another sender
//     sent it). PendingMail counts the messages neither sent nor given up
//     on, whether due, leased or due later. MarkMailSent and MarkMailFailed
//     return ErrNotFound for a message that does not exist.
func Run(t *testing.T, newStore func(t *testing.T) gatehouse.Store) {
	t.Run("Ping", func(t *testing.T) {
		s := newStore(t)
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
	t.Run("Users", func(t *testing.T) { testUsers(t, newStore) })
	t.Run("Groups", func(t *testing.T) { testGroups(t, newStore) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, newStore) })
	t.Run("Throttles", func(t *testing.T) { testThrottles(t, newStore) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, newStore) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, newStore) })
	t.Run("ActionTokens", func(t *testing.T) { testActionTokens(t, newStore) })
	t.Run("Outbox", func(t *testing.T) { testOutbox(t, newStore) })
	t.Run("TwoFactor", func(t *testing.T) { testTwoFactor(t, newStore) })
	t.Run("Devices", func(t *testing.T) { testDevices(t, newStore) })
	t.Run("LoginRecorder", func(t *testing.T) { testLoginRecorder(t, newStore) })
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
