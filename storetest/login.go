package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// LoginStores are the stores RunLoginRecorder checks: a
// gatehouse.LoginRecorder and the stores it writes to, which are one
// database (a login is recorded in one write).
type LoginStores struct {
	gatehouse.LoginRecorder
	gatehouse.UserStore
	gatehouse.SessionStore
	gatehouse.AuditStore
}

// RunLoginRecorder checks a gatehouse.LoginRecorder: the last-login time,
// the session and the event are stored together, or none of them.
// newStores must return new, empty, migrated stores on every call.
func RunLoginRecorder(t *testing.T, newStores func(t *testing.T) LoginStores) {
	setup := func(t *testing.T) (LoginStores, gatehouse.LoginRecorder, *gatehouse.User) {
		s := newStores(t)
		return s, s.LoginRecorder, createUser(t, s, newUser("alice"))
	}
	lastLogin := func(t *testing.T, s gatehouse.UserStore, id string) time.Time {
		t.Helper()
		u, err := s.UserByID(t.Context(), id)
		check(t, err)
		return u.LastLoginAt
	}
	auditCount := func(t *testing.T, s gatehouse.AuditStore) int {
		t.Helper()
		_, n, err := s.Audit(t.Context(), gatehouse.AuditFilter{Limit: 1})
		check(t, err)
		return n
	}

	t.Run("AllTogether", func(t *testing.T) {
		s, lr, alice := setup(t)
		ses := newSession(alice.ID, "secret")
		ses.Scope = ""
		ses.Provider, ses.IDToken = "", "" // a password login
		e := newEvent(gatehouse.AuditLoginSucceeded, alice.ID, ses.ID, base)
		check(t, lr.RecordLoginSession(t.Context(), ses, e))
		wantSession(t, s, ses)
		wantAudit(t, s, gatehouse.AuditFilter{Limit: 10}, 1, e)
		if got := lastLogin(t, s, alice.ID); !equalTime(got, ses.CreatedAt) {
			t.Errorf("LastLoginAt = %v, want the session's creation %v", got, ses.CreatedAt)
		}

		// Without an event: the login and the session only.
		// The session of an external login keeps its provider and ID
		// token, a long one too.
		later := newSession(alice.ID, "later")
		later.CreatedAt = base.Add(time.Hour)
		later.IDToken = idToken("later", 6*1024)
		check(t, lr.RecordLoginSession(t.Context(), later, nil))
		wantSession(t, s, later)
		if n := auditCount(t, s); n != 1 {
			t.Errorf("%d audit events, want 1", n)
		}
		if got := lastLogin(t, s, alice.ID); !equalTime(got, later.CreatedAt) {
			t.Errorf("LastLoginAt = %v, want %v", got, later.CreatedAt)
		}
	})

	t.Run("NoneOnFailure", func(t *testing.T) {
		s, lr, alice := setup(t)
		first := newSession(alice.ID, "first")
		check(t, lr.RecordLoginSession(t.Context(), first, newEvent(gatehouse.AuditLoginSucceeded, alice.ID, first.ID, base)))
		before := lastLogin(t, s, alice.ID)

		// A session id already taken: a conflict, and neither the later
		// last-login time nor the event is kept.
		dup := newSession(alice.ID, "other secret")
		dup.ID = first.ID
		dup.CreatedAt = base.Add(time.Hour)
		err := lr.RecordLoginSession(t.Context(), dup, newEvent(gatehouse.AuditLoginSucceeded, alice.ID, dup.ID, base.Add(time.Hour)))
		if gatehouse.ErrorCode(err) != gatehouse.CodeConflict {
			t.Fatalf("session id taken: %v, want CodeConflict", err)
		}
		if got := lastLogin(t, s, alice.ID); !equalTime(got, before) {
			t.Errorf("LastLoginAt = %v after a failed login record, want %v", got, before)
		}
		if n := auditCount(t, s); n != 1 {
			t.Errorf("%d audit events after a failed login record, want 1", n)
		}

		// An event id already taken: the session is not kept either.
		e := newEvent(gatehouse.AuditLoginSucceeded, alice.ID, "", base)
		appendAudit(t, s, e)
		next := newSession(alice.ID, "next")
		err = lr.RecordLoginSession(t.Context(), next, &gatehouse.AuditEvent{ID: e.ID, Time: base, Kind: gatehouse.AuditLoginSucceeded})
		if gatehouse.ErrorCode(err) != gatehouse.CodeConflict {
			t.Fatalf("event id taken: %v, want CodeConflict", err)
		}
		if _, err := s.SessionByTokenHash(t.Context(), next.TokenHash); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("the session of a failed login record was kept: %v", err)
		}

		// A user that does not exist.
		ghost := newSession(gatehouse.NewID(), "ghost")
		if err := lr.RecordLoginSession(t.Context(), ghost, nil); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("unknown user: %v, want ErrNotFound", err)
		}
	})
}
