package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// newUser returns an active user with every field set; username is also
// the local part of its email.
func newUser(username string) *gatehouse.User {
	return &gatehouse.User{
		ID:             gatehouse.NewID(),
		Username:       username,
		Email:          username + "@example.com",
		Name:           "User " + username,
		State:          gatehouse.StateActive,
		PasswordHash:   "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		SecurityStamp:  "stamp-" + username,
		EmailConfirmed: true,
		CreatedAt:      base,
		UpdatedAt:      base.Add(time.Minute),
		LastLoginAt:    base.Add(2 * time.Minute),
	}
}

// createUser stores u or fails t.
func createUser(t *testing.T, s gatehouse.UserStore, u *gatehouse.User) *gatehouse.User {
	t.Helper()
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", u.Username, err)
	}
	return u
}

// putGroups creates groups with a permission each, or fails t.
func putGroups(t *testing.T, s gatehouse.UserStore, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := s.PutGroup(t.Context(), &gatehouse.Group{Name: n, Permissions: []string{n + ":read"}}); err != nil {
			t.Fatalf("PutGroup(%q): %v", n, err)
		}
	}
}

// wantUser fails t unless the stored user id equals want.
func wantUser(t *testing.T, s gatehouse.UserStore, want *gatehouse.User) {
	t.Helper()
	got, err := s.UserByID(t.Context(), want.ID)
	if err != nil {
		t.Fatalf("UserByID(%q): %v", want.Username, err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("UserByID(%q) mismatch (-want +got):\n%s", want.Username, d)
	}
}

// wantCount fails t unless the store holds n users.
func wantCount(t *testing.T, s gatehouse.UserStore, n int) {
	t.Helper()
	got, err := s.CountUsers(t.Context())
	if err != nil {
		t.Fatalf("CountUsers: %v", err)
	}
	if got != n {
		t.Errorf("CountUsers = %d, want %d", got, n)
	}
}

// RunUsers checks a gatehouse.UserStore's users (RunGroups its groups).
// newStore must return a new, empty, migrated store on every call. Besides
// the interface's doc comments, it holds stores to these rules:
//
//   - Times come back in UTC, truncated (not rounded) to the microsecond
//     (see Run).
//   - CreateUser and UpdateUser reject a user without username or email, or
//     with an invalid state, with CodeValidation, and a group that does not
//     exist with CodeValidation too, storing nothing.
//   - The group "administrators" with permission "*" exists in a new store.
func RunUsers(t *testing.T, newStore func(t *testing.T) gatehouse.UserStore) {
	t.Run("CreateAndUserByID", func(t *testing.T) {
		s := newStore(t)
		u := newUser("alice")
		u.Groups = []string{gatehouse.GroupAdministrators}
		createUser(t, s, u)
		wantUser(t, s, u)

		got, err := s.UserByID(t.Context(), u.ID)
		check(t, err)
		wantUTC(t, "CreatedAt", got.CreatedAt)
		wantUTC(t, "UpdatedAt", got.UpdatedAt)
		wantUTC(t, "LastLoginAt", got.LastLoginAt)
	})

	t.Run("NeverLoggedIn", func(t *testing.T) {
		s := newStore(t)
		u := newUser("alice")
		u.LastLoginAt = time.Time{}
		u.PasswordHash = "" // an invited user has none
		u.State = gatehouse.StateInvited
		u.EmailConfirmed = false
		createUser(t, s, u)
		wantUser(t, s, u)
		got, err := s.UserByID(t.Context(), u.ID)
		check(t, err)
		if !got.LastLoginAt.IsZero() {
			t.Errorf("LastLoginAt = %v, want the zero time", got.LastLoginAt)
		}
	})

	t.Run("TimesInOtherZones", func(t *testing.T) {
		s := newStore(t)
		u := newUser("alice")
		zone := time.FixedZone("UTC+5:30", 5*3600+30*60)
		u.CreatedAt, u.UpdatedAt, u.LastLoginAt = base.In(zone), base.In(zone), base.In(zone)
		createUser(t, s, u)
		got, err := s.UserByID(t.Context(), u.ID)
		check(t, err)
		if !equalTime(got.CreatedAt, base) {
			t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, base)
		}
		wantUTC(t, "CreatedAt", got.CreatedAt)
		wantUTC(t, "LastLoginAt", got.LastLoginAt)
	})

	t.Run("UserByIDMissing", func(t *testing.T) {
		s := newStore(t)
		createUser(t, s, newUser("alice"))
		_, err := s.UserByID(t.Context(), gatehouse.NewID())
		wantNotFound(t, err)
		_, err = s.UserByID(t.Context(), "")
		wantNotFound(t, err)
	})

	t.Run("GroupsSorted", func(t *testing.T) {
		s := newStore(t)
		putGroups(t, s, "viewers", "editors")
		u := newUser("alice")
		u.Groups = []string{"viewers", gatehouse.GroupAdministrators, "editors"}
		createUser(t, s, u)
		got, err := s.UserByID(t.Context(), u.ID)
		check(t, err)
		want := []string{gatehouse.GroupAdministrators, "editors", "viewers"}
		if d := diff(want, got.Groups); d != "" {
			t.Errorf("Groups mismatch (-want +got):\n%s", d)
		}
	})

	t.Run("UserByLogin", func(t *testing.T) {
		s := newStore(t)
		alice := createUser(t, s, newUser("alice"))
		elodie := newUser("Élodie")
		elodie.Email = "Élodie.Ørsted@Example.org"
		createUser(t, s, elodie)

		for _, tc := range []struct {
			login string
			want  *gatehouse.User
		}{
			{"alice", alice},
			{"ALICE", alice},
			{"Alice", alice},
			{"alice@example.com", alice},
			{"ALICE@EXAMPLE.COM", alice},
			{"Alice@Example.Com", alice},
			{"Élodie", elodie},
			{"élodie", elodie},
			{"ÉLODIE", elodie},
			{"élodie.ørsted@example.org", elodie},
			{"ÉLODIE.ØRSTED@EXAMPLE.ORG", elodie},
			{"alic", nil},
			{"alice@example", nil},
			{"lice", nil},
			{"User alice", nil}, // names are not logins
			{"", nil},
		} {
			got, err := s.UserByLogin(t.Context(), tc.login)
			if tc.want == nil {
				if err == nil {
					t.Errorf("UserByLogin(%q) = %q, want ErrNotFound", tc.login, got.Username)
				}
				wantNotFound(t, err)
				continue
			}
			if err != nil {
				t.Errorf("UserByLogin(%q): %v", tc.login, err)
				continue
			}
			if d := diff(tc.want, got); d != "" {
				t.Errorf("UserByLogin(%q) mismatch (-want +got):\n%s", tc.login, d)
			}
		}
	})

	// conflicting returns users that clash with alice and elodie as created
	// by conflictFixture.
	conflicting := []struct {
		name            string
		username, email string
	}{
		{"same username", "alice", "other@example.com"},
		{"username in other case", "ALICE", "other@example.com"},
		{"same email", "other", "alice@example.com"},
		{"email in other case", "other", "Alice@EXAMPLE.com"},
		{"username is another's email", "Alice@Example.com", "other@example.com"},
		{"email is another's username", "other", "ALICE"},
		{"non-ASCII username in other case", "ÉLODIE", "other@example.com"},
		{"non-ASCII email in other case", "other", "élodie@EXAMPLE.ORG"},
	}
	conflictFixture := func(t *testing.T, s gatehouse.UserStore) {
		createUser(t, s, newUser("alice"))
		elodie := newUser("Élodie")
		elodie.Email = "Élodie@example.org"
		createUser(t, s, elodie)
	}

	t.Run("CreateConflicts", func(t *testing.T) {
		s := newStore(t)
		conflictFixture(t, s)
		for _, tc := range conflicting {
			u := newUser("other")
			u.Username, u.Email = tc.username, tc.email
			err := s.CreateUser(t.Context(), u)
			if err == nil {
				t.Errorf("%s: CreateUser(%q, %q) succeeded, want CodeConflict", tc.name, tc.username, tc.email)
				continue
			}
			wantCode(t, err, gatehouse.CodeConflict)
			if _, err := s.UserByID(t.Context(), u.ID); err == nil {
				t.Errorf("%s: the conflicting user was stored", tc.name)
			}
		}
		wantCount(t, s, 2)
	})

	t.Run("UpdateConflicts", func(t *testing.T) {
		s := newStore(t)
		conflictFixture(t, s)
		bob := createUser(t, s, newUser("bob"))
		for _, tc := range conflicting {
			u := *bob
			u.Username, u.Email = tc.username, tc.email
			err := s.UpdateUser(t.Context(), &u)
			if err == nil {
				t.Errorf("%s: UpdateUser(%q, %q) succeeded, want CodeConflict", tc.name, tc.username, tc.email)
				check(t, s.UpdateUser(t.Context(), bob)) // undo
				continue
			}
			wantCode(t, err, gatehouse.CodeConflict)
			wantUser(t, s, bob)
		}
	})

	t.Run("OwnUsernameMayEqualOwnEmail", func(t *testing.T) {
		s := newStore(t)
		u := newUser("carol")
		u.Username = "carol@example.com"
		createUser(t, s, u)
		// Updating a user without changing its username or email, or only
		// their case, does not conflict with itself.
		u.Name = "Carol"
		check(t, s.UpdateUser(t.Context(), u))
		u.Username, u.Email = "Carol@Example.com", "CAROL@example.com"
		check(t, s.UpdateUser(t.Context(), u))
		wantUser(t, s, u)
	})

	t.Run("CreateUnknownGroup", func(t *testing.T) {
		s := newStore(t)
		u := newUser("alice")
		u.Groups = []string{gatehouse.GroupAdministrators, "no-such-group"}
		err := s.CreateUser(t.Context(), u)
		wantCode(t, err, gatehouse.CodeValidation)
		_, err = s.UserByID(t.Context(), u.ID)
		wantNotFound(t, err)
		_, err = s.UserByLogin(t.Context(), "alice")
		wantNotFound(t, err)
		wantCount(t, s, 0)
		// Nothing of the failed user remains to conflict with.
		u.Groups = []string{gatehouse.GroupAdministrators}
		createUser(t, s, u)
		wantUser(t, s, u)
	})

	t.Run("CreateInvalid", func(t *testing.T) {
		s := newStore(t)
		for name, edit := range map[string]func(u *gatehouse.User){
			"no username":   func(u *gatehouse.User) { u.Username = "" },
			"no email":      func(u *gatehouse.User) { u.Email = "" },
			"unknown state": func(u *gatehouse.User) { u.State = "sleeping" },
			"no state":      func(u *gatehouse.User) { u.State = "" },
		} {
			u := newUser("alice")
			edit(u)
			err := s.CreateUser(t.Context(), u)
			if err == nil {
				t.Errorf("%s: CreateUser succeeded, want CodeValidation", name)
				check(t, s.DeleteUser(t.Context(), u.ID))
				continue
			}
			wantCode(t, err, gatehouse.CodeValidation)
		}
		wantCount(t, s, 0)
	})

	t.Run("UpdateUser", func(t *testing.T) {
		s := newStore(t)
		putGroups(t, s, "editors", "viewers")
		u := newUser("alice")
		u.Groups = []string{gatehouse.GroupAdministrators, "editors"}
		createUser(t, s, u)
		other := newUser("bob")
		other.Groups = []string{"editors"}
		createUser(t, s, other)

		updated := &gatehouse.User{
			ID:            u.ID,
			Username:      "alice2",
			Email:         "alice2@example.org",
			Name:          "Alice Liddell",
			State:         gatehouse.StateDisabled,
			PasswordHash:  "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA",
			SecurityStamp: "stamp-2",
			Groups:        []string{"viewers"},
			CreatedAt:     base.Add(-time.Hour),
			UpdatedAt:     base.Add(time.Hour),
			LastLoginAt:   base.Add(30 * time.Minute),
			Version:       u.Version,
		}
		check(t, s.UpdateUser(t.Context(), updated))
		wantUser(t, s, updated)
		wantUser(t, s, other)

		// The old username and email are free, the new ones taken.
		_, err := s.UserByLogin(t.Context(), "alice")
		wantNotFound(t, err)
		_, err = s.UserByLogin(t.Context(), "alice@example.com")
		wantNotFound(t, err)
		got, err := s.UserByLogin(t.Context(), "ALICE2@example.org")
		check(t, err)
		if got.ID != u.ID {
			t.Errorf("UserByLogin(new email) = %q, want %q", got.ID, u.ID)
		}
		createUser(t, s, newUser("alice"))

		// Groups are replaced, down to none.
		updated.Groups = nil
		updated.LastLoginAt = time.Time{}
		updated.EmailConfirmed = true
		check(t, s.UpdateUser(t.Context(), updated))
		wantUser(t, s, updated)
	})

	t.Run("EmailConfirmed", func(t *testing.T) {
		s := newStore(t)
		u := newUser("alice")
		u.State, u.EmailConfirmed = gatehouse.StateInvited, false
		createUser(t, s, u)
		confirmed := createUser(t, s, newUser("bob"))
		// wantConfirmed checks every way of reading a user.
		wantConfirmed := func(what string, u *gatehouse.User, want bool) {
			t.Helper()
			got, err := s.UserByID(t.Context(), u.ID)
			check(t, err)
			byLogin, err := s.UserByLogin(t.Context(), u.Email)
			check(t, err)
			listed, _, err := s.ListUsers(t.Context(), gatehouse.UserFilter{Search: u.Username})
			check(t, err)
			if len(listed) != 1 {
				t.Fatalf("ListUsers(%q) = %d users, want 1", u.Username, len(listed))
			}
			for _, got := range []*gatehouse.User{got, byLogin, listed[0]} {
				if got.EmailConfirmed != want {
					t.Errorf("%s: EmailConfirmed = %v, want %v", what, got.EmailConfirmed, want)
				}
			}
		}
		wantConfirmed("created unconfirmed", u, false)
		wantConfirmed("created confirmed", confirmed, true)

		// Accepting the invitation confirms the email.
		u.State, u.EmailConfirmed = gatehouse.StateActive, true
		check(t, s.UpdateUser(t.Context(), u))
		wantConfirmed("updated to confirmed", u, true)
		wantUser(t, s, u)
		// Neither a rehash nor a login touches it.
		check(t, s.SetPasswordHash(t.Context(), u.ID, u.PasswordHash, "$argon2id$v=19$m=47104,t=1,p=1$eA$eA"))
		check(t, s.RecordLogin(t.Context(), u.ID, base.Add(time.Hour)))
		wantConfirmed("after SetPasswordHash and RecordLogin", u, true)
		// A changed email is unconfirmed again.
		u.Email, u.EmailConfirmed = "alice@example.org", false
		check(t, s.UpdateUser(t.Context(), u))
		wantConfirmed("updated to unconfirmed", u, false)
		wantConfirmed("another user", confirmed, true)
	})

	t.Run("UpdateMissing", func(t *testing.T) {
		s := newStore(t)
		createUser(t, s, newUser("alice"))
		err := s.UpdateUser(t.Context(), newUser("bob"))
		wantNotFound(t, err)
		wantCount(t, s, 1)
	})

	t.Run("UpdateUnknownGroup", func(t *testing.T) {
		s := newStore(t)
		u := newUser("alice")
		u.Groups = []string{gatehouse.GroupAdministrators}
		createUser(t, s, u)
		changed := *u
		changed.Name = "Changed"
		changed.Groups = []string{"no-such-group"}
		wantCode(t, s.UpdateUser(t.Context(), &changed), gatehouse.CodeValidation)
		wantUser(t, s, u)
	})

	t.Run("UpdateInvalid", func(t *testing.T) {
		s := newStore(t)
		u := createUser(t, s, newUser("alice"))
		changed := *u
		changed.Email = ""
		wantCode(t, s.UpdateUser(t.Context(), &changed), gatehouse.CodeValidation)
		changed = *u
		changed.State = "sleeping"
		wantCode(t, s.UpdateUser(t.Context(), &changed), gatehouse.CodeValidation)
		wantUser(t, s, u)
	})

	t.Run("SetPasswordHash", func(t *testing.T) {
		s := newStore(t)
		u := createUser(t, s, newUser("alice"))
		other := createUser(t, s, newUser("bob"))
		const hash = "$argon2id$v=19$m=47104,t=1,p=1$dXBncmFkZWQ$dXBncmFkZWQ"
		check(t, s.SetPasswordHash(t.Context(), u.ID, u.PasswordHash, hash))
		want := *u
		want.PasswordHash = hash // and only that: not the stamp, not UpdatedAt
		wantUser(t, s, &want)
		wantUser(t, s, other)
		wantNotFound(t, s.SetPasswordHash(t.Context(), gatehouse.NewID(), hash, hash))
		// A rehash of a password changed meanwhile never lands: the hash it
		// replaces must still be the one the login verified.
		err := s.SetPasswordHash(t.Context(), u.ID, u.PasswordHash, "$argon2id$v=19$m=47104,t=1,p=1$b2xk$b2xk")
		if !errors.Is(err, gatehouse.ErrConflict) {
			t.Errorf("SetPasswordHash over a changed hash = %v, want ErrConflict", err)
		}
		wantUser(t, s, &want)
	})

	t.Run("RecordLogin", func(t *testing.T) {
		s := newStore(t)
		u := newUser("alice")
		u.LastLoginAt = time.Time{}
		createUser(t, s, u)
		other := createUser(t, s, newUser("bob"))
		at := base.Add(90 * time.Minute)
		check(t, s.RecordLogin(t.Context(), u.ID, at))
		want := *u
		want.LastLoginAt = at
		wantUser(t, s, &want)
		wantUser(t, s, other)
		wantNotFound(t, s.RecordLogin(t.Context(), gatehouse.NewID(), at))
	})

	t.Run("ListUsers", func(t *testing.T) { testListUsers(t, newStore(t)) })

	t.Run("CountUsers", func(t *testing.T) {
		s := newStore(t)
		wantCount(t, s, 0)
		a := createUser(t, s, newUser("alice"))
		createUser(t, s, newUser("bob"))
		createUser(t, s, newUser("carol"))
		wantCount(t, s, 3)
		check(t, s.DeleteUser(t.Context(), a.ID))
		wantCount(t, s, 2)
	})

	t.Run("DeleteUser", func(t *testing.T) {
		s := newStore(t)
		putGroups(t, s, "editors")
		alice := newUser("alice")
		alice.Groups = []string{gatehouse.GroupAdministrators, "editors"}
		createUser(t, s, alice)
		bob := newUser("bob")
		bob.Groups = []string{"editors"}
		createUser(t, s, bob)

		check(t, s.DeleteUser(t.Context(), alice.ID))
		_, err := s.UserByID(t.Context(), alice.ID)
		wantNotFound(t, err)
		_, err = s.UserByLogin(t.Context(), "alice")
		wantNotFound(t, err)
		wantUser(t, s, bob)
		wantCount(t, s, 1)

		wantNotFound(t, s.DeleteUser(t.Context(), alice.ID))

		// The username, email and id are free again, and the new user
		// inherits no memberships.
		again := newUser("alice")
		again.ID = alice.ID
		createUser(t, s, again)
		wantUser(t, s, again)
	})

	t.Run("ConcurrentCreateSameUsername", func(t *testing.T) {
		s := newStore(t)
		const n = 20
		spellings := []string{"racer", "RACER", "Racer", "rAcEr"}
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				u := newUser(spellings[i%len(spellings)])
				u.Email = fmt.Sprintf("racer-%d@example.com", i)
				errs[i] = s.CreateUser(context.WithoutCancel(t.Context()), u)
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			wantCode(t, err, gatehouse.CodeConflict)
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent CreateUser calls succeeded, want exactly 1", ok, n)
		}
		wantCount(t, s, 1)
	})

	t.Run("UpdateUserStale", func(t *testing.T) {
		// A user read before another write is not written back over it:
		// an administrator's disable is not undone by a change read while
		// the user was active.
		s := newStore(t)
		alice := newUser("alice")
		createUser(t, s, alice)
		if alice.Version == 0 {
			t.Fatalf("CreateUser left Version 0")
		}
		stale, err := s.UserByID(t.Context(), alice.ID)
		check(t, err)
		disabled := *stale
		disabled.State = gatehouse.StateDisabled
		check(t, s.UpdateUser(t.Context(), &disabled))
		if disabled.Version == stale.Version {
			t.Errorf("UpdateUser kept Version %d, want a new one", disabled.Version)
		}
		stale.PasswordHash = "$argon2id$stale"
		err = s.UpdateUser(t.Context(), stale)
		if !errors.Is(err, gatehouse.ErrConflict) {
			t.Fatalf("UpdateUser of a stale user = %v, want ErrConflict", err)
		}
		wantUser(t, s, &disabled)
		// Writing back what was just written works, with its new version.
		disabled.Name = "Alice Again"
		check(t, s.UpdateUser(t.Context(), &disabled))
		wantUser(t, s, &disabled)
	})

	t.Run("UpdateUserConcurrent", func(t *testing.T) {
		// Writers that read the same user race to write it back: exactly
		// one wins, and what is stored is the winner's.
		s := newStore(t)
		alice := newUser("alice")
		createUser(t, s, alice)
		read, err := s.UserByID(t.Context(), alice.ID)
		check(t, err)
		const n = 20
		writes := make([]*gatehouse.User, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			w := *read
			w.Name = fmt.Sprintf("Writer %d", i)
			w.State = []gatehouse.UserState{gatehouse.StateActive, gatehouse.StateDisabled}[i%2]
			writes[i] = &w
			wg.Go(func() { errs[i] = s.UpdateUser(context.WithoutCancel(t.Context()), writes[i]) })
		}
		wg.Wait()
		var winner *gatehouse.User
		for i, err := range errs {
			if err == nil {
				if winner != nil {
					t.Errorf("two writers of the same version succeeded: %q and %q", winner.Name, writes[i].Name)
				}
				winner = writes[i]
				continue
			}
			if !errors.Is(err, gatehouse.ErrConflict) {
				t.Errorf("losing UpdateUser = %v, want ErrConflict", err)
			}
		}
		if winner == nil {
			t.Fatalf("none of %d writers of the version read succeeded", n)
		}
		wantUser(t, s, winner)
		// A stale write never lands, even after the race.
		late := *read
		late.Name = "Late"
		if err := s.UpdateUser(t.Context(), &late); !errors.Is(err, gatehouse.ErrConflict) {
			t.Errorf("UpdateUser of the version read after the race = %v, want ErrConflict", err)
		}
		wantUser(t, s, winner)
	})
}

func testListUsers(t *testing.T, s gatehouse.UserStore) {
	mk := func(username, email, name string, state gatehouse.UserState) *gatehouse.User {
		u := newUser(username)
		u.Email, u.Name, u.State = email, name, state
		u.EmailConfirmed = state != gatehouse.StateInvited
		return u
	}
	users := map[string]*gatehouse.User{}
	// Created out of order, so that insertion order is not username order.
	for _, u := range []*gatehouse.User{
		mk("erin", "erin@example.net", "Érin Ökland", gatehouse.StateActive),
		mk("bob", "bob@example.org", "Bob Builder", gatehouse.StateDisabled),
		mk("frank_x", "frank@example.com", "Frank", gatehouse.StateActive),
		mk("alice", "alice@example.com", "Alice Liddell", gatehouse.StateActive),
		mk("dave", "dave_d@example.com", "Dave 100% Real", gatehouse.StateActive),
		mk("carol", "carol@marvel.example", "Carol Danvers", gatehouse.StateInvited),
	} {
		if u.Username == "alice" {
			u.Groups = []string{gatehouse.GroupAdministrators}
		}
		createUser(t, s, u)
		users[u.Username] = u
	}

	for _, tc := range []struct {
		filter gatehouse.UserFilter
		want   []string
		total  int
	}{
		{gatehouse.UserFilter{}, []string{"alice", "bob", "carol", "dave", "erin", "frank_x"}, 6},
		{gatehouse.UserFilter{Search: "ALICE"}, []string{"alice"}, 1},
		{gatehouse.UserFilter{Search: "lic"}, []string{"alice"}, 1},
		{gatehouse.UserFilter{Search: "builder"}, []string{"bob"}, 1},
		{gatehouse.UserFilter{Search: "EXAMPLE.ORG"}, []string{"bob"}, 1},
		{gatehouse.UserFilter{Search: "example.com"}, []string{"alice", "dave", "frank_x"}, 3},
		{gatehouse.UserFilter{Search: "a"}, []string{"alice", "bob", "carol", "dave", "erin", "frank_x"}, 6},
		{gatehouse.UserFilter{Search: "%"}, []string{"dave"}, 1},
		{gatehouse.UserFilter{Search: "_"}, []string{"dave", "frank_x"}, 2},
		{gatehouse.UserFilter{Search: "ökland"}, []string{"erin"}, 1},
		{gatehouse.UserFilter{Search: "ÉRIN Ö"}, []string{"erin"}, 1},
		{gatehouse.UserFilter{Search: "nobody"}, nil, 0},
		{gatehouse.UserFilter{State: gatehouse.StateActive}, []string{"alice", "dave", "erin", "frank_x"}, 4},
		{gatehouse.UserFilter{State: gatehouse.StateDisabled}, []string{"bob"}, 1},
		{gatehouse.UserFilter{State: gatehouse.StateInvited}, []string{"carol"}, 1},
		{gatehouse.UserFilter{Search: "example.com", State: gatehouse.StateActive}, []string{"alice", "dave", "frank_x"}, 3},
		{gatehouse.UserFilter{Search: "example.org", State: gatehouse.StateActive}, nil, 0},
		{gatehouse.UserFilter{Limit: 2}, []string{"alice", "bob"}, 6},
		{gatehouse.UserFilter{Offset: 2, Limit: 2}, []string{"carol", "dave"}, 6},
		{gatehouse.UserFilter{Offset: 4, Limit: 10}, []string{"erin", "frank_x"}, 6},
		{gatehouse.UserFilter{Offset: 1}, []string{"bob", "carol", "dave", "erin", "frank_x"}, 6},
		{gatehouse.UserFilter{Offset: 6, Limit: 2}, nil, 6},
		{gatehouse.UserFilter{Offset: 100}, nil, 6},
		{gatehouse.UserFilter{State: gatehouse.StateActive, Offset: 1, Limit: 2}, []string{"dave", "erin"}, 4},
		{gatehouse.UserFilter{Search: "example", State: gatehouse.StateActive, Limit: 1}, []string{"alice"}, 4},
	} {
		got, total, err := s.ListUsers(t.Context(), tc.filter)
		if err != nil {
			t.Errorf("ListUsers(%+v): %v", tc.filter, err)
			continue
		}
		var names []string
		for _, u := range got {
			names = append(names, u.Username)
		}
		if d := diff(tc.want, names); d != "" {
			t.Errorf("ListUsers(%+v) usernames mismatch (-want +got):\n%s", tc.filter, d)
		}
		if total != tc.total {
			t.Errorf("ListUsers(%+v) total = %d, want %d", tc.filter, total, tc.total)
		}
		// The users listed are whole, groups included.
		for _, u := range got {
			if d := diff(users[u.Username], u); d != "" {
				t.Errorf("ListUsers(%+v): user %q mismatch (-want +got):\n%s", tc.filter, u.Username, d)
			}
		}
	}
}
