package storetest

import (
	"crypto/sha256"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// newSession returns a session of userID with every field set; its token
// hash is the SHA-256 of secret.
func newSession(userID, secret string) *gatehouse.Session {
	h := sha256.Sum256([]byte(secret))
	return &gatehouse.Session{
		ID:          gatehouse.NewID(),
		TokenHash:   h[:],
		UserID:      userID,
		CreatedAt:   base,
		LastSeenAt:  base.Add(time.Minute),
		ExpiresAt:   base.Add(30 * 24 * time.Hour),
		IdleTimeout: 2 * time.Hour,
		Remember:    true,
		TwoFactor:   true,
		Scope:       gatehouse.ScopeInvite,
		// AuthenticatedAt is a time of its own, so that a store mixing it
		// up with another column fails.
		AuthenticatedAt: base.Add(30 * time.Second),
		ClientAddr:      "192.0.2.1",
		UserAgent:       "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
		Provider:        testProvider,
		IDToken:         idToken(secret, 0),
	}
}

// walkSessions pages through every session with limit, checking that each
// page but the last is full and the last has no next cursor, and returns
// them in the order read. between, if set, runs after each page but the
// last, with its index and sessions.
func walkSessions(t *testing.T, s gatehouse.SessionStore, limit int, between func(page int, got []*gatehouse.Session)) []*gatehouse.Session {
	t.Helper()
	var all []*gatehouse.Session
	cursor := ""
	for page := 0; ; page++ {
		got, next, err := s.Sessions(t.Context(), cursor, limit)
		if err != nil {
			t.Fatalf("Sessions(page %d of %d): %v", page, limit, err)
		}
		all = append(all, got...)
		if len(got) > limit {
			t.Fatalf("Sessions(page %d of %d) = %d sessions", page, limit, len(got))
		}
		if next == "" {
			return all
		}
		if len(got) != limit {
			t.Fatalf("Sessions(page %d of %d) = %d sessions and a next cursor, want a full page", page, limit, len(got))
		}
		if page > 1000 {
			t.Fatalf("Sessions(limit %d): still a next cursor after 1000 pages", limit)
		}
		if between != nil {
			between(page, got)
		}
		cursor = next
	}
}

// createSession stores ses or fails t.
func createSession(t *testing.T, s gatehouse.SessionStore, ses *gatehouse.Session) *gatehouse.Session {
	t.Helper()
	if err := s.CreateSession(t.Context(), ses); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return ses
}

// wantSession fails t unless the stored session with want's token hash
// equals want.
func wantSession(t *testing.T, s gatehouse.SessionStore, want *gatehouse.Session) {
	t.Helper()
	got, err := s.SessionByTokenHash(t.Context(), want.TokenHash)
	if err != nil {
		t.Fatalf("SessionByTokenHash: %v", err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("SessionByTokenHash mismatch (-want +got):\n%s", d)
	}
}

// wantSessionIDs fails t unless UserSessions(userID) returns sessions with
// exactly the ids of want, in that order.
func wantSessionIDs(t *testing.T, s gatehouse.SessionStore, userID string, want ...*gatehouse.Session) {
	t.Helper()
	got, err := s.UserSessions(t.Context(), userID)
	if err != nil {
		t.Fatalf("UserSessions: %v", err)
	}
	var wantIDs, gotIDs []string
	for _, ses := range want {
		wantIDs = append(wantIDs, ses.ID)
	}
	for _, ses := range got {
		gotIDs = append(gotIDs, ses.ID)
	}
	if d := diff(wantIDs, gotIDs); d != "" {
		t.Errorf("UserSessions ids mismatch (-want +got):\n%s", d)
	}
}

// SessionStores are the stores RunSessions checks: the sessions and the
// users they belong to, which may live in another store.
type SessionStores struct {
	gatehouse.SessionStore
	// UserStore holds the sessions' users; the suite creates and deletes
	// users with it.
	gatehouse.UserStore
}

// RunSessions checks a gatehouse.SessionStore. newStores must return new,
// empty, migrated stores on every call. Besides the interface's doc
// comments, it holds stores to these rules:
//
//   - Times come back in UTC, truncated (not rounded) to the microsecond
//     (see Run).
//   - The store need not know the users: it may refuse a session for a
//     user it cannot see, or keep it, and DeleteUser need not reach the
//     sessions (account ends them with DeleteUserSessions), so the suite
//     asks neither.
//   - Sessions, like Audit, takes a limit of zero for no limit; its pages
//     end exactly when its next cursor is "" (a last, full page has none).
func RunSessions(t *testing.T, newStores func(t *testing.T) SessionStores) {
	// setup returns stores with the users alice and bob.
	setup := func(t *testing.T) (SessionStores, *gatehouse.User, *gatehouse.User) {
		s := newStores(t)
		return s, createUser(t, s, newUser("alice")), createUser(t, s, newUser("bob"))
	}

	t.Run("CreateAndSessionByTokenHash", func(t *testing.T) {
		s, alice, _ := setup(t)
		ses := createSession(t, s, newSession(alice.ID, "secret"))
		wantSession(t, s, ses)
		got, err := s.SessionByTokenHash(t.Context(), ses.TokenHash)
		check(t, err)
		wantUTC(t, "CreatedAt", got.CreatedAt)
		wantUTC(t, "LastSeenAt", got.LastSeenAt)
		wantUTC(t, "ExpiresAt", got.ExpiresAt)

		plain := newSession(alice.ID, "plain")
		plain.Remember, plain.TwoFactor = false, false
		plain.Scope = ""
		plain.ClientAddr, plain.UserAgent = "", ""
		plain.AuthenticatedAt = time.Time{}    // never proved a first factor
		plain.Provider, plain.IDToken = "", "" // not an external login
		createSession(t, s, plain)
		wantSession(t, s, plain)
		got, err = s.SessionByTokenHash(t.Context(), plain.TokenHash)
		check(t, err)
		if !got.AuthenticatedAt.IsZero() {
			t.Errorf("AuthenticatedAt of a session that never authenticated = %v, want the zero time", got.AuthenticatedAt)
		}
		if got.Provider != "" || got.IDToken != "" {
			t.Errorf("session of no external login: Provider %q, IDToken %q; want both empty", got.Provider, got.IDToken)
		}
	})

	t.Run("ExternalLogin", func(t *testing.T) {
		// The provider and ID token of an external login come back
		// exactly, by every way of reading a session and through a rekey,
		// even for a token of several kilobytes (Entra ID's, with
		// groups); a session of any other login has neither.
		s, alice, _ := setup(t)
		ext := newSession(alice.ID, "external")
		ext.IDToken = idToken("external", 6*1024)
		if len(ext.IDToken) < 6*1024 {
			t.Fatalf("the test ID token has %d bytes, want 6 KB", len(ext.IDToken))
		}
		createSession(t, s, ext)
		local := newSession(alice.ID, "local")
		local.CreatedAt = base.Add(time.Second) // listed first
		local.Provider, local.IDToken = "", ""
		createSession(t, s, local)

		wantExternal := func(t *testing.T, how string, got *gatehouse.Session, want *gatehouse.Session) {
			t.Helper()
			if got.Provider != want.Provider || got.IDToken != want.IDToken {
				t.Errorf("%s: Provider %q, IDToken of %d bytes (equal: %t); want %q, %d bytes", how,
					got.Provider, len(got.IDToken), got.IDToken == want.IDToken, want.Provider, len(want.IDToken))
			}
		}
		for _, want := range []*gatehouse.Session{ext, local} {
			got, err := s.SessionByTokenHash(t.Context(), want.TokenHash)
			check(t, err)
			wantExternal(t, "SessionByTokenHash", got, want)
			got, err = s.SessionByID(t.Context(), want.ID)
			check(t, err)
			wantExternal(t, "SessionByID", got, want)
		}
		list, err := s.UserSessions(t.Context(), alice.ID)
		check(t, err)
		if len(list) != 2 {
			t.Fatalf("UserSessions = %d sessions, want 2", len(list))
		}
		wantExternal(t, "UserSessions", list[0], local)
		wantExternal(t, "UserSessions", list[1], ext)
		list = walkSessions(t, s, 1, nil)
		if len(list) != 2 {
			t.Fatalf("Sessions = %d sessions, want 2", len(list))
		}
		wantExternal(t, "Sessions", list[0], local)
		wantExternal(t, "Sessions", list[1], ext)

		// A rekey keeps them as stored, whatever the caller passes: they
		// are of the login, not of the privileges gained.
		next := *ext
		next.ID, next.TokenHash = gatehouse.NewID(), hashOf("external rekeyed")
		next.TwoFactor = false
		next.Provider, next.IDToken = "", ""
		check(t, s.RekeySession(t.Context(), ext.ID, ext.TokenHash, &next))
		want := next
		want.Provider, want.IDToken = ext.Provider, ext.IDToken
		wantSession(t, s, &want)
		got, err := s.SessionByID(t.Context(), next.ID)
		check(t, err)
		wantExternal(t, "SessionByID after RekeySession", got, ext)
		// Nor does a rekey give a session of another login any.
		nextLocal := *local
		nextLocal.ID, nextLocal.TokenHash = gatehouse.NewID(), hashOf("local rekeyed")
		nextLocal.Provider, nextLocal.IDToken = testProvider, idToken("injected", 0)
		check(t, s.RekeySession(t.Context(), local.ID, local.TokenHash, &nextLocal))
		got, err = s.SessionByTokenHash(t.Context(), nextLocal.TokenHash)
		check(t, err)
		wantExternal(t, "SessionByTokenHash after RekeySession", got, local)
	})

	t.Run("RekeySession", func(t *testing.T) {
		s, alice, bob := setup(t)
		ses := createSession(t, s, newSession(alice.ID, "secret"))
		other := createSession(t, s, newSession(alice.ID, "other"))
		bobs := createSession(t, s, newSession(bob.ID, "bob"))

		next := *ses
		next.ID = gatehouse.NewID()
		h := sha256.Sum256([]byte("rotated"))
		next.TokenHash = h[:]
		next.AuthenticatedAt = base.Add(2 * time.Hour)
		next.LastSeenAt = base.Add(2 * time.Hour)
		next.TwoFactor = false
		// Only the id, hash, AuthenticatedAt, TwoFactor and LastSeenAt
		// change: the rest of what the caller passes is not written.
		next.ExpiresAt = base.Add(1000 * time.Hour)
		check(t, s.RekeySession(t.Context(), ses.ID, ses.TokenHash, &next))

		// The old token and the old id are gone at once.
		_, err := s.SessionByTokenHash(t.Context(), ses.TokenHash)
		wantNotFound(t, err)
		_, err = s.SessionByID(t.Context(), ses.ID)
		wantNotFound(t, err)
		want := next
		want.ExpiresAt = ses.ExpiresAt
		wantSession(t, s, &want)
		got, err := s.SessionByID(t.Context(), next.ID)
		check(t, err)
		if d := diff(&want, got); d != "" {
			t.Errorf("SessionByID after RekeySession mismatch (-want +got):\n%s", d)
		}
		wantUTC(t, "AuthenticatedAt", got.AuthenticatedAt)
		list, err := s.UserSessions(t.Context(), alice.ID)
		check(t, err)
		var ids []string
		for _, l := range list {
			ids = append(ids, l.ID)
		}
		if len(ids) != 2 || !slices.Contains(ids, next.ID) || !slices.Contains(ids, other.ID) {
			t.Errorf("UserSessions after RekeySession = %q, want %q and %q", ids, next.ID, other.ID)
		}
		wantSession(t, s, other)
		wantSession(t, s, bobs)

		// The old hash no longer matches: a second rekey from it (a
		// concurrent request with the same old cookie) loses, whether it
		// names the old id or the new one.
		again := next
		again.ID = gatehouse.NewID()
		again.TokenHash = hashOf("again")
		wantNotFound(t, s.RekeySession(t.Context(), ses.ID, ses.TokenHash, &again))
		wantNotFound(t, s.RekeySession(t.Context(), next.ID, ses.TokenHash, &again))
		wantSession(t, s, &want)
		_, err = s.SessionByID(t.Context(), again.ID)
		wantNotFound(t, err)

		// A missing session, or another session's hash, changes nothing.
		wantNotFound(t, s.RekeySession(t.Context(), gatehouse.NewID(), next.TokenHash, &again))
		wrong := *other
		wrong.ID = gatehouse.NewID()
		wrong.TokenHash = hashOf("wrong")
		wantNotFound(t, s.RekeySession(t.Context(), other.ID, bobs.TokenHash, &wrong))
		wantSession(t, s, &want)
		wantSession(t, s, other)
		wantSession(t, s, bobs)

		// A new hash or a new id that another session has is a conflict,
		// and nothing changes.
		taken := next
		taken.ID = gatehouse.NewID()
		taken.TokenHash = other.TokenHash
		wantCode(t, s.RekeySession(t.Context(), next.ID, next.TokenHash, &taken), gatehouse.CodeConflict)
		taken.ID, taken.TokenHash = bobs.ID, hashOf("taken")
		wantCode(t, s.RekeySession(t.Context(), next.ID, next.TokenHash, &taken), gatehouse.CodeConflict)
		wantSession(t, s, &want)
		wantSession(t, s, other)
		wantSession(t, s, bobs)
	})

	t.Run("Scope", func(t *testing.T) {
		// Every way of reading a session returns its scope, full ("") or
		// partial.
		s, alice, _ := setup(t)
		full := newSession(alice.ID, "full")
		full.Scope = ""
		createSession(t, s, full)
		invite := newSession(alice.ID, "invite")
		invite.Scope = gatehouse.ScopeInvite
		invite.CreatedAt = base.Add(time.Second)
		createSession(t, s, invite)
		other := newSession(alice.ID, "other")
		other.Scope = "some future scope"
		other.CreatedAt = base.Add(2 * time.Second)
		createSession(t, s, other)
		scopes := map[string]string{full.ID: "", invite.ID: gatehouse.ScopeInvite, other.ID: "some future scope"}

		for _, want := range []*gatehouse.Session{full, invite, other} {
			wantSession(t, s, want)
			got, err := s.SessionByID(t.Context(), want.ID)
			check(t, err)
			if got.Scope != want.Scope {
				t.Errorf("SessionByID: Scope = %q, want %q", got.Scope, want.Scope)
			}
		}
		listed, err := s.UserSessions(t.Context(), alice.ID)
		check(t, err)
		paged, _, err := s.Sessions(t.Context(), "", 0)
		check(t, err)
		if len(listed) != 3 || len(paged) != 3 {
			t.Fatalf("UserSessions, Sessions = %d, %d sessions; want 3 each", len(listed), len(paged))
		}
		for _, got := range append(listed, paged...) {
			if got.Scope != scopes[got.ID] {
				t.Errorf("listed session: Scope = %q, want %q", got.Scope, scopes[got.ID])
			}
		}
	})

	t.Run("GuestSession", func(t *testing.T) {
		// A guest session (session.guest) has no user: UserID "" and
		// ScopeGuest. It is stored, read and swept like any other, but it
		// is no user's: listing or ending a user's sessions, even those of
		// user "", leaves it alone.
		s, alice, _ := setup(t)
		guest := newSession("", "guest")
		guest.Scope = gatehouse.ScopeGuest
		guest.Remember, guest.TwoFactor = false, false
		guest.AuthenticatedAt = time.Time{}
		guest.ExpiresAt = base.Add(time.Hour)
		guest.IdleTimeout = 20 * time.Minute
		createSession(t, s, guest)
		alices := createSession(t, s, newSession(alice.ID, "alice"))
		wantSession(t, s, guest)
		got, err := s.SessionByID(t.Context(), guest.ID)
		check(t, err)
		if got.UserID != "" || got.Scope != gatehouse.ScopeGuest {
			t.Errorf("SessionByID: UserID, Scope = %q, %q; want \"\", %q", got.UserID, got.Scope, gatehouse.ScopeGuest)
		}
		wantSessionIDs(t, s, alice.ID, alices)
		wantSessionIDs(t, s, "")
		n, err := s.DeleteUserSessions(t.Context(), "", "")
		check(t, err)
		if n != 0 {
			t.Errorf(`DeleteUserSessions("") = %d, want 0`, n)
		}
		_, err = s.DeleteUserSessions(t.Context(), alice.ID, "")
		check(t, err)
		wantSession(t, s, guest)
		all, _, err := s.Sessions(t.Context(), "", 0)
		check(t, err)
		if len(all) != 1 || all[0].ID != guest.ID || all[0].UserID != "" {
			t.Errorf("Sessions = %d sessions, want the guest session alone", len(all))
		}
		// Idle after 20 minutes: swept.
		n, err = s.DeleteExpiredSessions(t.Context(), guest.LastSeenAt.Add(20*time.Minute))
		check(t, err)
		if n != 1 {
			t.Errorf("DeleteExpiredSessions = %d, want 1 (the idle guest session)", n)
		}
		_, err = s.SessionByTokenHash(t.Context(), guest.TokenHash)
		wantNotFound(t, err)
	})

	t.Run("SessionByTokenHashMissing", func(t *testing.T) {
		s, alice, _ := setup(t)
		ses := createSession(t, s, newSession(alice.ID, "secret"))
		other := sha256.Sum256([]byte("other"))
		_, err := s.SessionByTokenHash(t.Context(), other[:])
		wantNotFound(t, err)
		_, err = s.SessionByTokenHash(t.Context(), ses.TokenHash[:16])
		wantNotFound(t, err)
		_, err = s.SessionByTokenHash(t.Context(), nil)
		wantNotFound(t, err)
	})

	t.Run("TouchSession", func(t *testing.T) {
		s, alice, _ := setup(t)
		ses := createSession(t, s, newSession(alice.ID, "secret"))
		other := createSession(t, s, newSession(alice.ID, "other"))
		at := base.Add(time.Hour)
		check(t, s.TouchSession(t.Context(), ses.ID, at))
		want := *ses
		want.LastSeenAt = at
		wantSession(t, s, &want)
		wantSession(t, s, other)

		if err := s.TouchSession(t.Context(), gatehouse.NewID(), at); err != nil {
			t.Errorf("TouchSession(missing) = %v, want nil", err)
		}
	})

	t.Run("DeleteSession", func(t *testing.T) {
		s, alice, _ := setup(t)
		ses := createSession(t, s, newSession(alice.ID, "secret"))
		other := createSession(t, s, newSession(alice.ID, "other"))
		check(t, s.DeleteSession(t.Context(), ses.ID))
		_, err := s.SessionByTokenHash(t.Context(), ses.TokenHash)
		wantNotFound(t, err)
		wantSession(t, s, other)

		if err := s.DeleteSession(t.Context(), ses.ID); err != nil {
			t.Errorf("DeleteSession(deleted) = %v, want nil", err)
		}
		if err := s.DeleteSession(t.Context(), gatehouse.NewID()); err != nil {
			t.Errorf("DeleteSession(missing) = %v, want nil", err)
		}
	})

	t.Run("DeleteUserSessions", func(t *testing.T) {
		s, alice, bob := setup(t)
		a1 := newSession(alice.ID, "a1")
		a2 := newSession(alice.ID, "a2")
		a2.CreatedAt = base.Add(time.Second)
		a3 := newSession(alice.ID, "a3")
		a3.CreatedAt = base.Add(2 * time.Second)
		for _, ses := range []*gatehouse.Session{a1, a2, a3} {
			createSession(t, s, ses)
		}
		b1 := createSession(t, s, newSession(bob.ID, "b1"))

		n, err := s.DeleteUserSessions(t.Context(), alice.ID, a2.ID)
		check(t, err)
		if n != 2 {
			t.Errorf("DeleteUserSessions(except one of 3) = %d, want 2", n)
		}
		wantSessionIDs(t, s, alice.ID, a2)
		wantSession(t, s, a2)
		wantSession(t, s, b1)

		n, err = s.DeleteUserSessions(t.Context(), alice.ID, "")
		check(t, err)
		if n != 1 {
			t.Errorf("DeleteUserSessions(no exception) = %d, want 1", n)
		}
		wantSessionIDs(t, s, alice.ID)
		wantSession(t, s, b1)

		n, err = s.DeleteUserSessions(t.Context(), alice.ID, "")
		check(t, err)
		if n != 0 {
			t.Errorf("DeleteUserSessions(none left) = %d, want 0", n)
		}
		n, err = s.DeleteUserSessions(t.Context(), gatehouse.NewID(), "")
		check(t, err)
		if n != 0 {
			t.Errorf("DeleteUserSessions(unknown user) = %d, want 0", n)
		}

		// The exception may be another user's session: it is not deleted
		// either way, and all of the user's sessions are.
		b2 := createSession(t, s, newSession(bob.ID, "b2"))
		n, err = s.DeleteUserSessions(t.Context(), bob.ID, a2.ID)
		check(t, err)
		if n != 2 {
			t.Errorf("DeleteUserSessions(except another user's) = %d, want 2", n)
		}
		_, err = s.SessionByTokenHash(t.Context(), b2.TokenHash)
		wantNotFound(t, err)
	})

	t.Run("UserSessionsNewestFirst", func(t *testing.T) {
		s, alice, bob := setup(t)
		var created []*gatehouse.Session
		for i, offset := range []time.Duration{time.Hour, 0, 2 * time.Hour, time.Microsecond} {
			ses := newSession(alice.ID, string(rune('a'+i)))
			ses.CreatedAt = base.Add(offset)
			created = append(created, createSession(t, s, ses))
		}
		createSession(t, s, newSession(bob.ID, "bob"))
		wantSessionIDs(t, s, alice.ID, created[2], created[0], created[3], created[1])

		got, err := s.UserSessions(t.Context(), alice.ID)
		check(t, err)
		for _, ses := range got {
			for _, c := range created {
				if c.ID == ses.ID {
					if d := diff(c, ses); d != "" {
						t.Errorf("UserSessions: session mismatch (-want +got):\n%s", d)
					}
				}
			}
		}

		got, err = s.UserSessions(t.Context(), gatehouse.NewID())
		check(t, err)
		if len(got) != 0 {
			t.Errorf("UserSessions(unknown user) = %d sessions, want none", len(got))
		}
	})

	t.Run("SessionByID", func(t *testing.T) {
		s, alice, bob := setup(t)
		ses := createSession(t, s, newSession(alice.ID, "secret"))
		other := createSession(t, s, newSession(bob.ID, "other"))
		for _, want := range []*gatehouse.Session{ses, other} {
			got, err := s.SessionByID(t.Context(), want.ID)
			check(t, err)
			if d := diff(want, got); d != "" {
				t.Errorf("SessionByID mismatch (-want +got):\n%s", d)
			}
			wantUTC(t, "CreatedAt", got.CreatedAt)
			wantUTC(t, "LastSeenAt", got.LastSeenAt)
			wantUTC(t, "ExpiresAt", got.ExpiresAt)
		}

		// Like SessionByTokenHash, it does not check expiry.
		ended := newSession(alice.ID, "ended")
		ended.ExpiresAt = base.Add(-time.Hour)
		createSession(t, s, ended)
		got, err := s.SessionByID(t.Context(), ended.ID)
		check(t, err)
		if d := diff(ended, got); d != "" {
			t.Errorf("SessionByID(ended) mismatch (-want +got):\n%s", d)
		}

		for _, id := range []string{gatehouse.NewID(), "", string(ses.TokenHash)} {
			_, err := s.SessionByID(t.Context(), id)
			wantNotFound(t, err)
		}
		check(t, s.DeleteSession(t.Context(), ses.ID))
		_, err = s.SessionByID(t.Context(), ses.ID)
		wantNotFound(t, err)
		_, err = s.DeleteUserSessions(t.Context(), bob.ID, "")
		check(t, err)
		_, err = s.SessionByID(t.Context(), other.ID)
		wantNotFound(t, err)
	})

	t.Run("Sessions", func(t *testing.T) {
		s, alice, bob := setup(t)
		got, next, err := s.Sessions(t.Context(), "", 0)
		check(t, err)
		if len(got) != 0 || next != "" {
			t.Errorf("Sessions of an empty store = %d sessions, next %q; want none, \"\"", len(got), next)
		}
		got, next, err = s.Sessions(t.Context(), "", 2)
		check(t, err)
		if len(got) != 0 || next != "" {
			t.Errorf("Sessions(limit 2) of an empty store = %d sessions, next %q; want none, \"\"", len(got), next)
		}

		// Every user's sessions and a guest's, created out of order; two
		// were created in the same microsecond, so their ids order them.
		var created []*gatehouse.Session
		for i, offset := range []time.Duration{time.Hour, 0, 3 * time.Hour, time.Microsecond, 2 * time.Hour, time.Hour} {
			owner := alice
			if i%2 == 1 {
				owner = bob
			}
			ses := newSession(owner.ID, string(rune('a'+i)))
			ses.CreatedAt = base.Add(offset)
			created = append(created, createSession(t, s, ses))
		}
		guest := newSession("", "guest")
		guest.Scope = gatehouse.ScopeGuest
		guest.Remember, guest.TwoFactor, guest.AuthenticatedAt = false, false, time.Time{}
		guest.CreatedAt = base.Add(90 * time.Minute)
		created = append(created, createSession(t, s, guest))
		newest := slices.Clone(created)
		slices.SortFunc(newest, func(a, b *gatehouse.Session) int {
			if c := b.CreatedAt.Truncate(time.Microsecond).Compare(a.CreatedAt.Truncate(time.Microsecond)); c != 0 {
				return c
			}
			return strings.Compare(b.ID, a.ID)
		})

		all, next, err := s.Sessions(t.Context(), "", 0)
		check(t, err)
		if d := diff(newest, all); d != "" {
			t.Errorf("Sessions(no limit) mismatch (-want +got):\n%s", d)
		}
		if next != "" {
			t.Errorf("Sessions(no limit) next = %q, want \"\"", next)
		}
		for _, limit := range []int{1, 2, 3, len(newest) - 1, len(newest), len(newest) + 1, 100} {
			if d := diff(newest, walkSessions(t, s, limit, nil)); d != "" {
				t.Errorf("pages of %d mismatch (-want +got):\n%s", limit, d)
			}
		}

		// Deleting sessions between pages, the one the cursor was taken
		// from included, neither skips nor repeats any that remain.
		deleted := map[string]bool{}
		walked := walkSessions(t, s, 2, func(page int, got []*gatehouse.Session) {
			if page != 0 {
				return
			}
			for _, gone := range []*gatehouse.Session{got[len(got)-1], newest[4]} {
				check(t, s.DeleteSession(t.Context(), gone.ID))
				deleted[gone.ID] = true
			}
		})
		var left []*gatehouse.Session
		for i, ses := range newest {
			if i < 2 || !deleted[ses.ID] {
				left = append(left, ses)
			}
		}
		if d := diff(left, walked); d != "" {
			t.Errorf("pages of 2 with deletions after the first mismatch (-want +got):\n%s", d)
		}

		// A cursor the store did not make is a validation error.
		for _, bad := range []string{"not a cursor", "%%", "\x00", strings.Repeat("A", 300)} {
			_, _, err := s.Sessions(t.Context(), bad, 2)
			wantCode(t, err, gatehouse.CodeValidation)
		}
	})

	t.Run("DeleteExpiredSessions", func(t *testing.T) {
		s, alice, _ := setup(t)
		// Boundaries are exact at microseconds, so the times here are too.
		now := micro.Add(10 * time.Hour)
		mk := func(name string, lastSeen time.Duration, idle time.Duration, expires time.Duration) *gatehouse.Session {
			ses := newSession(alice.ID, name)
			ses.CreatedAt = micro
			ses.LastSeenAt = micro.Add(lastSeen)
			ses.IdleTimeout = idle
			ses.ExpiresAt = micro.Add(expires)
			return createSession(t, s, ses)
		}
		const h = time.Hour
		ended := []*gatehouse.Session{
			mk("idle ends now", 8*h, 2*h, 24*h),
			mk("idle ended", 0, h, 24*h),
			mk("absolute ends now", 9*h+59*time.Minute, 2*h, 10*h),
			mk("absolute ended", 5*h, 2*h, 6*h),
			mk("both ended", 0, h, 2*h),
		}
		alive := []*gatehouse.Session{
			mk("idle ends in 1µs", 8*h+time.Microsecond, 2*h, 24*h),
			mk("absolute ends in 1µs", 9*h, 2*h, 10*h+time.Microsecond),
			mk("idle ends in 1ns", 8*h, 2*h+time.Nanosecond, 24*h),
			mk("fresh", 10*h, 2*h, 24*h),
			mk("long idle timeout", 9*h, 100*365*24*h, 24*h),
		}
		farFuture := newSession(alice.ID, "far future")
		farFuture.IdleTimeout = 100 * 365 * 24 * h
		farFuture.ExpiresAt = time.Date(9999, time.December, 31, 23, 59, 59, 0, time.UTC)
		alive = append(alive, createSession(t, s, farFuture))
		for _, ses := range ended {
			if !ses.Expired(now) {
				t.Fatalf("test bug: %+v has not expired", ses)
			}
		}
		for _, ses := range alive {
			if ses.Expired(now) {
				t.Fatalf("test bug: %+v has expired", ses)
			}
		}

		n, err := s.DeleteExpiredSessions(t.Context(), now)
		check(t, err)
		if n != len(ended) {
			t.Errorf("DeleteExpiredSessions = %d, want %d", n, len(ended))
		}
		for _, ses := range ended {
			if _, err := s.SessionByTokenHash(t.Context(), ses.TokenHash); err == nil {
				t.Errorf("ended session (ends %v, now %v) was kept", ses.EndsAt(), now)
			}
		}
		for _, ses := range alive {
			wantSession(t, s, ses)
		}

		n, err = s.DeleteExpiredSessions(t.Context(), now)
		check(t, err)
		if n != 0 {
			t.Errorf("DeleteExpiredSessions again = %d, want 0", n)
		}

		// A nanosecond counts.
		n, err = s.DeleteExpiredSessions(t.Context(), now.Add(time.Nanosecond))
		check(t, err)
		if n != 1 {
			t.Errorf("DeleteExpiredSessions(now+1ns) = %d, want 1 (the idle timeout with 1ns)", n)
		}
		n, err = s.DeleteExpiredSessions(t.Context(), now.Add(time.Microsecond))
		check(t, err)
		if n != 2 {
			t.Errorf("DeleteExpiredSessions(now+1µs) = %d, want 2", n)
		}
	})

	t.Run("CountSessions", func(t *testing.T) {
		// An optional ability (gatehouse.SessionCounter): the sessions not
		// ended at now, guests included. Times are whole microseconds,
		// where every store is exact.
		s, alice, bob := setup(t)
		counter, ok := s.SessionStore.(gatehouse.SessionCounter)
		if !ok {
			t.Skip("the store is no gatehouse.SessionCounter")
		}
		now := micro.Add(10 * time.Hour)
		count := func(at time.Time, want int) {
			t.Helper()
			n, err := counter.CountSessions(t.Context(), at)
			check(t, err)
			if n != want {
				t.Errorf("CountSessions(%v) = %d, want %d", at, n, want)
			}
		}
		count(now, 0)
		mk := func(userID, name string, lastSeen, idle, expires time.Duration) *gatehouse.Session {
			ses := newSession(userID, name)
			ses.CreatedAt = micro
			ses.LastSeenAt = micro.Add(lastSeen)
			ses.IdleTimeout = idle
			ses.ExpiresAt = micro.Add(expires)
			if userID == "" {
				ses.Scope, ses.Remember, ses.TwoFactor, ses.AuthenticatedAt = gatehouse.ScopeGuest, false, false, time.Time{}
			}
			return createSession(t, s, ses)
		}
		const h = time.Hour
		mk(alice.ID, "idle ends now", 8*h, 2*h, 24*h)
		mk(alice.ID, "absolute ended", 5*h, 2*h, 6*h)
		live := mk(alice.ID, "fresh", 10*h, 2*h, 24*h)
		mk(bob.ID, "absolute ends in 1µs", 9*h, 2*h, 10*h+time.Microsecond)
		mk("", "guest", 10*h, 20*time.Minute, 11*h)
		count(now, 3)
		count(now.Add(time.Microsecond), 2)
		count(micro, 5)
		check(t, s.DeleteSession(t.Context(), live.ID))
		count(now, 2)
		if _, err := s.DeleteExpiredSessions(t.Context(), now); err != nil {
			t.Fatal(err)
		}
		count(now, 2)
	})

	t.Run("DeleteExpiredSessionsMatchesExpired", func(t *testing.T) {
		// With times that have nanoseconds, a store decides on the times it
		// keeps: what it returns must agree with Session.Expired.
		s, alice, _ := setup(t)
		var sessions []*gatehouse.Session
		for i := range 12 {
			ses := newSession(alice.ID, string(rune('a'+i)))
			ses.LastSeenAt = base.Add(time.Duration(i) * 10 * time.Minute)
			ses.IdleTimeout = time.Hour + time.Duration(i)*time.Nanosecond*300
			ses.ExpiresAt = base.Add(2*time.Hour - time.Duration(i)*7*time.Minute)
			createSession(t, s, ses)
			sessions = append(sessions, ses)
		}
		for _, now := range []time.Time{base, base.Add(70 * time.Minute), base.Add(time.Hour + 30*time.Minute + 1), base.Add(3 * time.Hour)} {
			var want []string
			for _, ses := range sessions {
				stored, err := s.SessionByTokenHash(t.Context(), ses.TokenHash)
				if err == nil && stored.Expired(now) {
					want = append(want, ses.ID)
				}
			}
			n, err := s.DeleteExpiredSessions(t.Context(), now)
			check(t, err)
			if n != len(want) {
				t.Errorf("DeleteExpiredSessions(%v) = %d, want %d", now, n, len(want))
			}
			for _, id := range want {
				for _, ses := range sessions {
					if ses.ID == id {
						if _, err := s.SessionByTokenHash(t.Context(), ses.TokenHash); err == nil {
							t.Errorf("DeleteExpiredSessions(%v) kept a session that ended at %v", now, ses.EndsAt())
						}
					}
				}
			}
		}
	})
}
