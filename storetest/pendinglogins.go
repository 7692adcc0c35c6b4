package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// newPendingLogin returns a pending login of userID with every field set,
// a code sent included; its token hash is the SHA-256 of secret.
func newPendingLogin(userID, secret string) *gatehouse.PendingLogin {
	return &gatehouse.PendingLogin{
		ID:            gatehouse.NewID(),
		TokenHash:     hashOf(secret),
		UserID:        userID,
		Stamp:         "stamp-" + secret,
		Remember:      true,
		CreatedAt:     base,
		ExpiresAt:     base.Add(10 * time.Minute),
		Attempts:      2,
		CodeHash:      hashOf("code " + secret),
		CodeProvider:  gatehouse.ProviderEmail,
		CodeExpiresAt: base.Add(5 * time.Minute),
		Sends:         1,
		Provider:      testProvider,
		IDToken:       idToken(secret, 0),
	}
}

// createPendingLogin stores p or fails t.
func createPendingLogin(t *testing.T, s gatehouse.PendingLoginStore, p *gatehouse.PendingLogin) *gatehouse.PendingLogin {
	t.Helper()
	if err := s.CreatePendingLogin(t.Context(), p); err != nil {
		t.Fatalf("CreatePendingLogin: %v", err)
	}
	return p
}

// wantPendingLogin fails t unless PendingLoginByTokenHash returns want.
func wantPendingLogin(t *testing.T, s gatehouse.PendingLoginStore, want *gatehouse.PendingLogin) {
	t.Helper()
	got, err := s.PendingLoginByTokenHash(t.Context(), want.TokenHash)
	if err != nil {
		t.Fatalf("PendingLoginByTokenHash: %v", err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("PendingLoginByTokenHash mismatch (-want +got):\n%s", d)
	}
	if got.CodeHash != nil && len(got.CodeHash) == 0 {
		t.Errorf("PendingLoginByTokenHash: CodeHash is empty but not nil")
	}
	wantUTC(t, "CreatedAt", got.CreatedAt)
	wantUTC(t, "ExpiresAt", got.ExpiresAt)
	wantUTC(t, "CodeExpiresAt", got.CodeExpiresAt)
}

// wantNoPendingLogin fails t unless PendingLoginByTokenHash finds no p.
func wantNoPendingLogin(t *testing.T, s gatehouse.PendingLoginStore, p *gatehouse.PendingLogin) {
	t.Helper()
	_, err := s.PendingLoginByTokenHash(t.Context(), p.TokenHash)
	wantNotFound(t, err)
}

// PendingLoginStores are the stores RunPendingLogins checks: the pending
// logins, the users they belong to, and the sessions whose cookie hashes
// are not pending-login hashes; the users and sessions may live in another
// store.
type PendingLoginStores struct {
	gatehouse.PendingLoginStore
	// UserStore holds the pending logins' users; the suite creates and
	// deletes users with it.
	gatehouse.UserStore
	gatehouse.SessionStore
}

// RunPendingLogins checks a gatehouse.PendingLoginStore. newStores must
// return new, empty, migrated stores on every call. Besides its doc
// comments, it holds stores to these rules:
//
//   - An empty CodeHash comes back nil, so "empty" has one form, whether
//     stored nil or empty.
//   - A duplicate id or token hash is CodeConflict. RecordCodeSent and
//     CountPendingLoginAttempt change only what their doc comments say,
//     atomically.
//   - The store need not know the users: it may refuse a pending login for
//     a user it cannot see, or keep it, and DeleteUser need not reach the
//     pending logins (account ends them with DeleteUserPendingLogins), so
//     the suite asks neither.
//   - A pending login is expired at now when its ExpiresAt, as stored
//     (truncated to the microsecond), is not after now.
func RunPendingLogins(t *testing.T, newStores func(t *testing.T) PendingLoginStores) {
	// setup returns stores with the users alice and bob.
	setup := func(t *testing.T) (PendingLoginStores, *gatehouse.User, *gatehouse.User) {
		s := newStores(t)
		return s, createUser(t, s, newUser("alice")), createUser(t, s, newUser("bob"))
	}

	t.Run("DeleteUserPendingLogins", func(t *testing.T) {
		s, alice, bob := setup(t)
		p1 := createPendingLogin(t, s, newPendingLogin(alice.ID, "alice-1"))
		p2 := createPendingLogin(t, s, newPendingLogin(alice.ID, "alice-2"))
		bp := createPendingLogin(t, s, newPendingLogin(bob.ID, "bob"))

		n, err := s.DeleteUserPendingLogins(t.Context(), alice.ID)
		check(t, err)
		if n != 2 {
			t.Errorf("DeleteUserPendingLogins = %d, want 2", n)
		}
		wantNoPendingLogin(t, s, p1)
		wantNoPendingLogin(t, s, p2)
		sent := *p1
		sent.Sends++
		wantNotFound(t, s.RecordCodeSent(t.Context(), &sent))
		_, err = s.CountPendingLoginAttempt(t.Context(), p1.ID, 10)
		wantNotFound(t, err)
		wantPendingLogin(t, s, bp)
		wantUser(t, s, alice)

		for _, id := range []string{alice.ID, gatehouse.NewID(), ""} {
			n, err = s.DeleteUserPendingLogins(t.Context(), id)
			check(t, err)
			if n != 0 {
				t.Errorf("DeleteUserPendingLogins(%q) with none left = %d, want 0", id, n)
			}
		}
		wantPendingLogin(t, s, bp)
		// The deleted pending login's id and hash are free again.
		createPendingLogin(t, s, p1)
		wantPendingLogin(t, s, p1)
	})

	t.Run("CreateAndPendingLoginByTokenHash", func(t *testing.T) {
		s, alice, _ := setup(t)
		p := createPendingLogin(t, s, newPendingLogin(alice.ID, "secret"))
		wantPendingLogin(t, s, p)

		// No code sent, not remembered, no stamp, in another zone; an empty
		// code hash comes back nil.
		zone := time.FixedZone("UTC-5", -5*3600)
		bare := newPendingLogin(alice.ID, "bare")
		bare.Stamp, bare.Remember, bare.Attempts, bare.Sends = "", false, 0, 0
		bare.CodeHash, bare.CodeProvider, bare.CodeExpiresAt = []byte{}, "", time.Time{}
		bare.CreatedAt, bare.ExpiresAt = base.In(zone), base.Add(time.Minute).In(zone)
		bare.Provider, bare.IDToken = "", "" // after a password
		createPendingLogin(t, s, bare)
		wantPendingLogin(t, s, bare)
		got, err := s.PendingLoginByTokenHash(t.Context(), bare.TokenHash)
		check(t, err)
		if got.CodeHash != nil || !got.CodeExpiresAt.IsZero() || got.CodeProvider != "" {
			t.Errorf("pending login without a code = %+v, want nil CodeHash, zero CodeExpiresAt, no provider", got)
		}
		if got.Provider != "" || got.IDToken != "" {
			t.Errorf("pending login after a password: Provider %q, IDToken %q; want both empty", got.Provider, got.IDToken)
		}

		// The second step of an external login keeps the provider and the
		// ID token exactly, a token of several kilobytes too.
		ext := newPendingLogin(alice.ID, "external")
		ext.IDToken = idToken("external", 6*1024)
		createPendingLogin(t, s, ext)
		wantPendingLogin(t, s, ext)

		sms := newPendingLogin(alice.ID, "sms")
		sms.CodeProvider, sms.Sends, sms.Attempts = gatehouse.ProviderSMS, 3, 4
		createPendingLogin(t, s, sms)
		wantPendingLogin(t, s, sms)
		wantPendingLogin(t, s, p)
	})

	t.Run("PendingLoginByTokenHashMissing", func(t *testing.T) {
		s, alice, _ := setup(t)
		p := createPendingLogin(t, s, newPendingLogin(alice.ID, "secret"))
		for _, h := range [][]byte{hashOf("other"), p.TokenHash[:16], append(p.TokenHash[:len(p.TokenHash):len(p.TokenHash)], 0), nil, {}} {
			_, err := s.PendingLoginByTokenHash(t.Context(), h)
			wantNotFound(t, err)
		}
		_, err := s.PendingLoginByTokenHash(t.Context(), []byte(p.ID))
		wantNotFound(t, err)
		_, err = s.PendingLoginByTokenHash(t.Context(), p.CodeHash)
		wantNotFound(t, err)
		// A session's hash is not a pending login's, nor the other way round.
		ses := createSession(t, s, newSession(alice.ID, "session"))
		_, err = s.PendingLoginByTokenHash(t.Context(), ses.TokenHash)
		wantNotFound(t, err)
		_, err = s.SessionByTokenHash(t.Context(), p.TokenHash)
		wantNotFound(t, err)
	})

	t.Run("CreatePendingLoginConflicts", func(t *testing.T) {
		s, alice, bob := setup(t)
		p := createPendingLogin(t, s, newPendingLogin(alice.ID, "secret"))

		sameHash := newPendingLogin(bob.ID, "secret")
		wantCode(t, s.CreatePendingLogin(t.Context(), sameHash), gatehouse.CodeConflict)

		sameID := newPendingLogin(bob.ID, "other")
		sameID.ID = p.ID
		wantCode(t, s.CreatePendingLogin(t.Context(), sameID), gatehouse.CodeConflict)
		wantNoPendingLogin(t, s, sameID)
		wantPendingLogin(t, s, p)

		check(t, s.DeleteUser(t.Context(), bob.ID))
		wantPendingLogin(t, s, p)
	})

	t.Run("RecordCodeSent", func(t *testing.T) {
		s, alice, _ := setup(t)
		bare := newPendingLogin(alice.ID, "secret")
		bare.Attempts, bare.Sends = 0, 0
		bare.CodeHash, bare.CodeProvider, bare.CodeExpiresAt = nil, "", time.Time{}
		createPendingLogin(t, s, bare)
		other := createPendingLogin(t, s, newPendingLogin(alice.ID, "other"))

		// A code sent by SMS.
		upd := *bare
		upd.Sends = 1
		upd.CodeHash, upd.CodeProvider, upd.CodeExpiresAt = hashOf("123456"), gatehouse.ProviderSMS, base.Add(3*time.Minute)
		check(t, s.RecordCodeSent(t.Context(), &upd))
		wantPendingLogin(t, s, &upd)
		wantPendingLogin(t, s, other)

		// Only the code and sends change; not the attempts.
		sneaky := upd
		sneaky.Sends = 2
		sneaky.Attempts = 4
		sneaky.Stamp, sneaky.Remember = "other stamp", !upd.Remember
		sneaky.CreatedAt, sneaky.ExpiresAt = base.Add(time.Hour), base.Add(24*time.Hour)
		sneaky.Provider, sneaky.IDToken = "other", idToken("sneaky", 0)
		check(t, s.RecordCodeSent(t.Context(), &sneaky))
		want := upd
		want.Sends = 2
		wantPendingLogin(t, s, &want)

		// A send computed from a stale read loses: the sends changed.
		stale := upd
		stale.Sends = 2
		stale.CodeHash = hashOf("999999")
		wantNotFound(t, s.RecordCodeSent(t.Context(), &stale))
		wantPendingLogin(t, s, &want)

		// The code cleared again.
		cleared := want
		cleared.Sends = 3
		cleared.CodeHash, cleared.CodeProvider, cleared.CodeExpiresAt = []byte{}, "", time.Time{}
		check(t, s.RecordCodeSent(t.Context(), &cleared))
		cleared.CodeHash = nil
		wantPendingLogin(t, s, &cleared)
		wantPendingLogin(t, s, other)

		missing := newPendingLogin(alice.ID, "missing")
		missing.Sends = 2
		wantNotFound(t, s.RecordCodeSent(t.Context(), missing))
		wantNoPendingLogin(t, s, missing)
		check(t, s.TakePendingLogin(t.Context(), bare.ID))
		cleared.Sends = 4
		wantNotFound(t, s.RecordCodeSent(t.Context(), &cleared))
		wantNoPendingLogin(t, s, bare)
	})

	t.Run("CountPendingLoginAttempt", func(t *testing.T) {
		s, alice, _ := setup(t)
		p := newPendingLogin(alice.ID, "secret")
		p.Attempts = 0
		createPendingLogin(t, s, p)
		other := createPendingLogin(t, s, newPendingLogin(alice.ID, "other"))
		for want := 1; want <= 3; want++ {
			n, err := s.CountPendingLoginAttempt(t.Context(), p.ID, 3)
			check(t, err)
			if n != want {
				t.Errorf("CountPendingLoginAttempt = %d, want %d", n, want)
			}
		}
		// At the limit: refused, and nothing changes.
		_, err := s.CountPendingLoginAttempt(t.Context(), p.ID, 3)
		wantNotFound(t, err)
		p.Attempts = 3
		wantPendingLogin(t, s, p)
		wantPendingLogin(t, s, other)
		// A higher limit lets more through.
		n, err := s.CountPendingLoginAttempt(t.Context(), p.ID, 5)
		check(t, err)
		if n != 4 {
			t.Errorf("CountPendingLoginAttempt with a higher limit = %d, want 4", n)
		}
		_, err = s.CountPendingLoginAttempt(t.Context(), gatehouse.NewID(), 5)
		wantNotFound(t, err)
	})

	t.Run("ConcurrentCountPendingLoginAttempt", func(t *testing.T) {
		// Codes sent in parallel, to any number of processes: exactly
		// limit of them may be checked, each with its own count.
		s, alice, _ := setup(t)
		p := newPendingLogin(alice.ID, "secret")
		p.Attempts = 0
		createPendingLogin(t, s, p)
		const workers, limit = 30, 5
		counts := make([]int, workers)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				counts[i], errs[i] = s.CountPendingLoginAttempt(context.WithoutCancel(t.Context()), p.ID, limit)
			})
		}
		wg.Wait()
		var got []int
		for i, err := range errs {
			switch {
			case err == nil:
				got = append(got, counts[i])
			case !errors.Is(err, gatehouse.ErrNotFound):
				t.Fatalf("CountPendingLoginAttempt: %v", err)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, []int{1, 2, 3, 4, 5}) {
			t.Errorf("%d parallel CountPendingLoginAttempt with limit %d returned %v, want 1 to %d once each", workers, limit, got, limit)
		}
	})

	t.Run("SendsRaceToOne", func(t *testing.T) {
		// Parallel sends computed from the same read: one wins.
		s, alice, _ := setup(t)
		p := newPendingLogin(alice.ID, "secret")
		createPendingLogin(t, s, p)
		const workers = 10
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				q := *p
				q.Sends++
				q.CodeHash = hashOf(fmt.Sprint("code ", i))
				errs[i] = s.RecordCodeSent(context.WithoutCancel(t.Context()), &q)
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, gatehouse.ErrNotFound):
				t.Fatalf("RecordCodeSent: %v", err)
			}
		}
		if won != 1 {
			t.Errorf("%d parallel RecordCodeSent from one read: %d recorded, want 1", workers, won)
		}
	})

	t.Run("TakePendingLogin", func(t *testing.T) {
		s, alice, _ := setup(t)
		p := createPendingLogin(t, s, newPendingLogin(alice.ID, "secret"))
		other := newPendingLogin(alice.ID, "other")
		other.IDToken = idToken("other", 6*1024)
		createPendingLogin(t, s, other)
		check(t, s.TakePendingLogin(t.Context(), p.ID))
		wantNoPendingLogin(t, s, p)
		wantPendingLogin(t, s, other)
		wantUser(t, s, alice)
		// Taken means gone for every other operation too.
		_, err := s.CountPendingLoginAttempt(t.Context(), p.ID, 10)
		wantNotFound(t, err)
		sent := *p
		sent.Sends++
		wantNotFound(t, s.RecordCodeSent(t.Context(), &sent))

		// A second take, of the same id, finds nothing: it is what tells
		// the loser of a race that it lost.
		wantNotFound(t, s.TakePendingLogin(t.Context(), p.ID))
		// Nor is anything else an id: not a near miss, not bytes that are
		// no text, not the token hash.
		for _, id := range []string{gatehouse.NewID(), "", other.ID + "x", other.ID[:len(other.ID)-1],
			other.ID + "\x00", "\xff" + other.ID, string(other.TokenHash)} {
			wantNotFound(t, s.TakePendingLogin(t.Context(), id))
		}
		wantPendingLogin(t, s, other)
		// The id and hash are free again, and taken again once.
		createPendingLogin(t, s, p)
		wantPendingLogin(t, s, p)
		check(t, s.TakePendingLogin(t.Context(), p.ID))
		wantNotFound(t, s.TakePendingLogin(t.Context(), p.ID))

		// An expired pending login not yet swept is still there to take:
		// expiry is the caller's to check (it reads ExpiresAt first).
		old := newPendingLogin(alice.ID, "old")
		old.CreatedAt, old.ExpiresAt = micro.Add(-2*time.Hour), micro.Add(-time.Hour)
		createPendingLogin(t, s, old)
		if err := s.TakePendingLogin(t.Context(), old.ID); err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("TakePendingLogin(expired) = %v, want nil or not found", err)
		}
		wantNoPendingLogin(t, s, old)
		wantPendingLogin(t, s, other)
	})

	t.Run("ConcurrentTakePendingLogin", func(t *testing.T) {
		// Requests completing one pending login in parallel, in any
		// number of processes: exactly one takes it. Another pending
		// login taken at the same time is no concern of theirs.
		s, alice, _ := setup(t)
		p := createPendingLogin(t, s, newPendingLogin(alice.ID, "secret"))
		q := createPendingLogin(t, s, newPendingLogin(alice.ID, "other"))
		const workers = 20
		errs := make([]error, workers)
		otherErrs := make([]error, workers)
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() { errs[i] = s.TakePendingLogin(context.WithoutCancel(t.Context()), p.ID) })
			wg.Go(func() { otherErrs[i] = s.TakePendingLogin(context.WithoutCancel(t.Context()), q.ID) })
		}
		wg.Wait()
		for name, errs := range map[string][]error{"one": errs, "another": otherErrs} {
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, gatehouse.ErrNotFound):
					t.Fatalf("TakePendingLogin: %v", err)
				}
			}
			if won != 1 {
				t.Errorf("%d parallel TakePendingLogin of %s pending login: %d succeeded, want exactly 1", workers, name, won)
			}
		}
		wantNoPendingLogin(t, s, p)
		wantNoPendingLogin(t, s, q)
	})

	t.Run("DeleteExpiredPendingLogins", func(t *testing.T) {
		s, alice, bob := setup(t)
		mk := func(secret string, userID string, expires time.Time) *gatehouse.PendingLogin {
			p := newPendingLogin(userID, secret)
			p.ExpiresAt = expires
			// The code's expiry is not the pending login's.
			p.CodeExpiresAt = micro.Add(-24 * time.Hour)
			return createPendingLogin(t, s, p)
		}
		old := mk("old", alice.ID, micro.Add(-time.Hour))
		exact := mk("exact", bob.ID, micro)
		// base has nanoseconds beyond micro: as stored, it is micro.
		nanos := mk("nanos", alice.ID, base)
		later := mk("later", alice.ID, micro.Add(time.Microsecond))
		live := mk("live", bob.ID, micro.Add(time.Hour))
		// Other things expiring long ago are not pending logins.
		ses := newSession(alice.ID, "session")
		ses.ExpiresAt = micro.Add(-time.Hour)
		createSession(t, s, ses)

		n, err := s.DeleteExpiredPendingLogins(t.Context(), micro.Add(-time.Microsecond))
		check(t, err)
		if n != 1 {
			t.Errorf("DeleteExpiredPendingLogins(just before) = %d, want 1", n)
		}
		wantNoPendingLogin(t, s, old)
		wantPendingLogin(t, s, exact)

		n, err = s.DeleteExpiredPendingLogins(t.Context(), micro)
		check(t, err)
		if n != 2 {
			t.Errorf("DeleteExpiredPendingLogins(at the expiry) = %d, want 2", n)
		}
		wantNoPendingLogin(t, s, exact)
		wantNoPendingLogin(t, s, nanos)
		wantPendingLogin(t, s, later)

		// 999ns after micro is before micro+1µs.
		n, err = s.DeleteExpiredPendingLogins(t.Context(), micro.Add(999*time.Nanosecond))
		check(t, err)
		if n != 0 {
			t.Errorf("DeleteExpiredPendingLogins(999ns after) = %d, want 0", n)
		}
		wantPendingLogin(t, s, later)

		n, err = s.DeleteExpiredPendingLogins(t.Context(), micro.Add(time.Microsecond))
		check(t, err)
		if n != 1 {
			t.Errorf("DeleteExpiredPendingLogins(1µs after) = %d, want 1", n)
		}
		wantNoPendingLogin(t, s, later)
		wantPendingLogin(t, s, live)
		wantSession(t, s, ses)
		wantUser(t, s, alice)
		wantUser(t, s, bob)

		n, err = s.DeleteExpiredPendingLogins(t.Context(), micro.Add(time.Microsecond))
		check(t, err)
		if n != 0 {
			t.Errorf("DeleteExpiredPendingLogins again = %d, want 0", n)
		}
	})

	t.Run("PendingLoginLifecycle", func(t *testing.T) {
		// A password check, a wrong code, an email code sent and entered.
		s, alice, _ := setup(t)
		p := newPendingLogin(alice.ID, "cookie")
		p.Attempts, p.Sends = 0, 0
		p.CodeHash, p.CodeProvider, p.CodeExpiresAt = nil, "", time.Time{}
		createPendingLogin(t, s, p)

		got, err := s.PendingLoginByTokenHash(t.Context(), hashOf("cookie"))
		check(t, err)
		n, err := s.CountPendingLoginAttempt(t.Context(), got.ID, 5)
		check(t, err)
		if n != 1 {
			t.Errorf("CountPendingLoginAttempt = %d, want 1", n)
		}

		got, err = s.PendingLoginByTokenHash(t.Context(), hashOf("cookie"))
		check(t, err)
		if got.Attempts != 1 {
			t.Errorf("Attempts after a wrong code = %d, want 1", got.Attempts)
		}
		got.CodeHash, got.CodeProvider, got.CodeExpiresAt = hashOf("424242"), gatehouse.ProviderEmail, base.Add(5*time.Minute)
		got.Sends++
		check(t, s.RecordCodeSent(t.Context(), got))
		wantPendingLogin(t, s, got)

		check(t, s.TakePendingLogin(t.Context(), got.ID))
		wantNoPendingLogin(t, s, p)
		n, err = s.DeleteExpiredPendingLogins(t.Context(), base.Add(24*time.Hour))
		check(t, err)
		if n != 0 {
			t.Errorf("DeleteExpiredPendingLogins after the login = %d, want 0", n)
		}
	})
}
