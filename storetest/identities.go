package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// newIdentity returns an identity of userID at provider with subject,
// with every other field set.
func newIdentity(userID, provider, subject string) *gatehouse.Identity {
	return &gatehouse.Identity{
		Provider:      provider,
		Subject:       subject,
		UserID:        userID,
		Email:         subject + "@example.com",
		EmailVerified: true,
		LinkedAt:      base,
		LastUsedAt:    base.Add(time.Hour),
	}
}

// createIdentity stores id or fails t.
func createIdentity(t *testing.T, s gatehouse.IdentityStore, id *gatehouse.Identity) *gatehouse.Identity {
	t.Helper()
	if err := s.CreateIdentity(t.Context(), id); err != nil {
		t.Fatalf("CreateIdentity: %v", err)
	}
	return id
}

// wantIdentity fails t unless IdentityBySubject returns want.
func wantIdentity(t *testing.T, s gatehouse.IdentityStore, want *gatehouse.Identity) {
	t.Helper()
	got, err := s.IdentityBySubject(t.Context(), want.Provider, want.Subject)
	if err != nil {
		t.Fatalf("IdentityBySubject(%q, %q): %v", want.Provider, want.Subject, err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("IdentityBySubject mismatch (-want +got):\n%s", d)
	}
	wantUTC(t, "LinkedAt", got.LinkedAt)
	wantUTC(t, "LastUsedAt", got.LastUsedAt)
}

// wantNoIdentity fails t unless IdentityBySubject finds no id.
func wantNoIdentity(t *testing.T, s gatehouse.IdentityStore, id *gatehouse.Identity) {
	t.Helper()
	_, err := s.IdentityBySubject(t.Context(), id.Provider, id.Subject)
	wantNotFound(t, err)
}

// wantUserIdentities fails t unless UserIdentities(userID) is want, in
// that order.
func wantUserIdentities(t *testing.T, s gatehouse.IdentityStore, userID string, want ...*gatehouse.Identity) {
	t.Helper()
	got, err := s.UserIdentities(t.Context(), userID)
	check(t, err)
	if got == nil {
		t.Errorf("UserIdentities(%q) = nil, want an empty list", userID)
	}
	if want == nil {
		want = []*gatehouse.Identity{}
	}
	if d := diff(want, got); d != "" {
		t.Errorf("UserIdentities(%q) mismatch (-want +got):\n%s", userID, d)
	}
}

// IdentityStores are the stores RunIdentities checks: the external logins
// and the users they belong to, which may live in another store.
type IdentityStores struct {
	gatehouse.IdentityStore
	// UserStore holds the identities' users; the suite creates and
	// deletes users with it.
	gatehouse.UserStore
}

// RunIdentities checks a gatehouse.IdentityStore. newStores must return
// new, empty, migrated stores on every call. Besides the interface's doc
// comments, it holds stores to these rules:
//
//   - Times are kept to the microsecond and returned in UTC; Email may be
//     "" and EmailVerified false.
//   - Provider and subject are compared exactly: case matters, and a
//     subject of one provider is not another's.
//   - DeleteUser removes the user's identities; a new user with the old
//     id inherits none of them, and their subjects are free again.
func RunIdentities(t *testing.T, newStores func(t *testing.T) IdentityStores) {
	// setup returns stores with the users alice and bob.
	setup := func(t *testing.T) (IdentityStores, *gatehouse.User, *gatehouse.User) {
		s := newStores(t)
		return s, createUser(t, s, newUser("alice")), createUser(t, s, newUser("bob"))
	}

	t.Run("CreateAndIdentityBySubject", func(t *testing.T) {
		s, alice, bob := setup(t)
		g := createIdentity(t, s, newIdentity(alice.ID, "google", "1234567890"))
		wantIdentity(t, s, g)

		// No email, unverified, in another zone: returned as it is, in UTC.
		zone := time.FixedZone("UTC-3", -3*3600)
		bare := newIdentity(alice.ID, "github", "42")
		bare.Email, bare.EmailVerified = "", false
		bare.LinkedAt, bare.LastUsedAt = base.In(zone), base.In(zone)
		createIdentity(t, s, bare)
		wantIdentity(t, s, bare)

		// The same subject at another provider is another account.
		other := createIdentity(t, s, newIdentity(bob.ID, "GOOGLE", "1234567890"))
		wantIdentity(t, s, other)
		wantIdentity(t, s, g)
	})

	t.Run("IdentityBySubjectMissing", func(t *testing.T) {
		s, alice, _ := setup(t)
		g := createIdentity(t, s, newIdentity(alice.ID, "google", "Sub"))
		for _, ps := range [][2]string{{"google", "sub"}, {"Google", "Sub"}, {"github", "Sub"},
			{"google", "Sub "}, {"google", ""}, {"", "Sub"}, {"", ""}, {"google", alice.ID}} {
			_, err := s.IdentityBySubject(t.Context(), ps[0], ps[1])
			wantNotFound(t, err)
		}
		wantIdentity(t, s, g)
	})

	t.Run("CreateIdentityMissingUser", func(t *testing.T) {
		s, alice, _ := setup(t)
		id := newIdentity(gatehouse.NewID(), "google", "orphan")
		wantNotFound(t, s.CreateIdentity(t.Context(), id))
		wantNoIdentity(t, s, id)

		check(t, s.DeleteUser(t.Context(), alice.ID))
		id = newIdentity(alice.ID, "google", "late")
		wantNotFound(t, s.CreateIdentity(t.Context(), id))
		wantNoIdentity(t, s, id)
	})

	t.Run("CreateIdentityConflicts", func(t *testing.T) {
		s, alice, bob := setup(t)
		g := createIdentity(t, s, newIdentity(alice.ID, "google", "sub"))

		// The subject is alice's: bob cannot link it too.
		taken := newIdentity(bob.ID, "google", "sub")
		wantCode(t, s.CreateIdentity(t.Context(), taken), gatehouse.CodeConflict)
		// Alice has a google login already.
		second := newIdentity(alice.ID, "google", "another")
		wantCode(t, s.CreateIdentity(t.Context(), second), gatehouse.CodeConflict)
		wantNoIdentity(t, s, second)
		wantIdentity(t, s, g)
		wantUserIdentities(t, s, bob.ID)
		wantUserIdentities(t, s, alice.ID, g)
	})

	t.Run("UserIdentities", func(t *testing.T) {
		s, alice, bob := setup(t)
		wantUserIdentities(t, s, alice.ID)
		wantUserIdentities(t, s, gatehouse.NewID())
		wantUserIdentities(t, s, "")

		// Created out of order; listed by provider, byte order.
		m := createIdentity(t, s, newIdentity(alice.ID, "microsoft", "m"))
		g := createIdentity(t, s, newIdentity(alice.ID, "google", "g"))
		a := createIdentity(t, s, newIdentity(alice.ID, "Zitadel", "z"))
		b := createIdentity(t, s, newIdentity(bob.ID, "github", "b"))
		wantUserIdentities(t, s, alice.ID, a, g, m)
		wantUserIdentities(t, s, bob.ID, b)
	})

	t.Run("DeleteIdentity", func(t *testing.T) {
		s, alice, bob := setup(t)
		g := createIdentity(t, s, newIdentity(alice.ID, "google", "a"))
		h := createIdentity(t, s, newIdentity(alice.ID, "github", "a"))
		b := createIdentity(t, s, newIdentity(bob.ID, "google", "b"))

		// Only the user's own identity of the provider.
		wantNotFound(t, s.DeleteIdentity(t.Context(), bob.ID, "github"))
		wantNotFound(t, s.DeleteIdentity(t.Context(), gatehouse.NewID(), "google"))
		wantNotFound(t, s.DeleteIdentity(t.Context(), alice.ID, "Google"))
		wantNotFound(t, s.DeleteIdentity(t.Context(), "", ""))

		check(t, s.DeleteIdentity(t.Context(), alice.ID, "google"))
		wantNoIdentity(t, s, g)
		wantIdentity(t, s, h)
		wantIdentity(t, s, b)
		wantUser(t, s, alice)
		wantUserIdentities(t, s, alice.ID, h)
		wantNotFound(t, s.DeleteIdentity(t.Context(), alice.ID, "google"))

		// The subject is free again, for another user too.
		moved := newIdentity(bob.ID, "github", "x")
		createIdentity(t, s, moved)
		again := newIdentity(alice.ID, "google", "a")
		again.LinkedAt = base.Add(24 * time.Hour)
		createIdentity(t, s, again)
		wantIdentity(t, s, again)
	})

	t.Run("TouchIdentity", func(t *testing.T) {
		s, alice, bob := setup(t)
		g := createIdentity(t, s, newIdentity(alice.ID, "google", "sub"))
		h := createIdentity(t, s, newIdentity(alice.ID, "github", "sub"))
		b := createIdentity(t, s, newIdentity(bob.ID, "google", "bob"))

		at := base.Add(48 * time.Hour).In(time.FixedZone("UTC+9", 9*3600))
		check(t, s.TouchIdentity(t.Context(), "google", "sub", at))
		touched := *g
		touched.LastUsedAt = at
		wantIdentity(t, s, &touched)
		// Nothing else of it or of the others changed.
		wantIdentity(t, s, h)
		wantIdentity(t, s, b)

		wantNotFound(t, s.TouchIdentity(t.Context(), "google", "SUB", at))
		wantNotFound(t, s.TouchIdentity(t.Context(), "gitlab", "sub", at))
		wantNotFound(t, s.TouchIdentity(t.Context(), "", "", at))
		wantIdentity(t, s, &touched)
	})

	t.Run("DeleteUserDeletesIdentities", func(t *testing.T) {
		s, alice, bob := setup(t)
		g := createIdentity(t, s, newIdentity(alice.ID, "google", "alice"))
		h := createIdentity(t, s, newIdentity(alice.ID, "github", "alice"))
		b := createIdentity(t, s, newIdentity(bob.ID, "google", "bob"))

		check(t, s.DeleteUser(t.Context(), alice.ID))
		wantNoIdentity(t, s, g)
		wantNoIdentity(t, s, h)
		wantIdentity(t, s, b)
		wantUserIdentities(t, s, alice.ID)

		// A new user with the old id inherits nothing; the subjects are
		// free again.
		again := newUser("alice")
		again.ID = alice.ID
		createUser(t, s, again)
		wantUserIdentities(t, s, alice.ID)
		wantNoIdentity(t, s, g)
		createIdentity(t, s, g)
		wantIdentity(t, s, g)
		wantIdentity(t, s, b)
	})
}
