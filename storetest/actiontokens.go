package storetest

import (
	"context"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// newActionToken returns an unused action token of userID for purpose with
// every other field set; its hash is the SHA-256 of secret.
func newActionToken(userID, secret string, purpose gatehouse.ActionPurpose) *gatehouse.ActionToken {
	h := sha256.Sum256([]byte(secret))
	return &gatehouse.ActionToken{
		ID:        gatehouse.NewID(),
		UserID:    userID,
		Purpose:   purpose,
		Hash:      h[:],
		Stamp:     "stamp-" + secret,
		CreatedAt: base,
		ExpiresAt: base.Add(24 * time.Hour),
	}
}

// createActionToken stores tok or fails t.
func createActionToken(t *testing.T, s gatehouse.ActionTokenStore, tok *gatehouse.ActionToken) *gatehouse.ActionToken {
	t.Helper()
	if err := s.CreateActionToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateActionToken(%s): %v", tok.Purpose, err)
	}
	return tok
}

// wantActionToken fails t unless ActionTokenByHash returns want.
func wantActionToken(t *testing.T, s gatehouse.ActionTokenStore, want *gatehouse.ActionToken) {
	t.Helper()
	got, err := s.ActionTokenByHash(t.Context(), want.Hash)
	if err != nil {
		t.Fatalf("ActionTokenByHash: %v", err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("ActionTokenByHash mismatch (-want +got):\n%s", d)
	}
}

// wantNoActionToken fails t unless ActionTokenByHash finds no tok.
func wantNoActionToken(t *testing.T, s gatehouse.ActionTokenStore, tok *gatehouse.ActionToken) {
	t.Helper()
	_, err := s.ActionTokenByHash(t.Context(), tok.Hash)
	wantNotFound(t, err)
}

// ActionTokenStores are the stores RunActionTokens checks: the action
// tokens, the users they belong to, and API tokens and sessions, which are
// no action tokens; all but ActionTokenStore may live in another store.
type ActionTokenStores struct {
	gatehouse.ActionTokenStore
	// UserStore holds the tokens' users; the suite creates and deletes
	// users with it.
	gatehouse.UserStore
	gatehouse.TokenStore
	gatehouse.SessionStore
}

// RunActionTokens checks a gatehouse.ActionTokenStore. newStores must
// return new, empty, migrated stores on every call. Besides the
// interface's doc comments, it holds stores to these rules:
//
//   - DeleteUser removes the user's action tokens too, and
//     CreateActionToken for a user that does not exist is ErrNotFound; a
//     duplicate id or hash is CodeConflict, and a purpose other than
//     PurposeReset, PurposeInvite and PurposeRecovery CodeValidation. ActionTokenByHash
//     returns used and expired tokens: whether a token is void is the
//     caller's decision.
func RunActionTokens(t *testing.T, newStores func(t *testing.T) ActionTokenStores) {
	// setup returns stores with the users alice and bob.
	setup := func(t *testing.T) (ActionTokenStores, *gatehouse.User, *gatehouse.User) {
		s := newStores(t)
		return s, createUser(t, s, newUser("alice")), createUser(t, s, newUser("bob"))
	}

	t.Run("DeleteStaleActionTokens", func(t *testing.T) {
		s, alice, _ := setup(t)
		live := createActionToken(t, s, newActionToken(alice.ID, "live", gatehouse.PurposeReset))
		expired := newActionToken(alice.ID, "expired", gatehouse.PurposeReset)
		expired.ExpiresAt = base.Add(time.Hour)
		createActionToken(t, s, expired)
		used := createActionToken(t, s, newActionToken(alice.ID, "used", gatehouse.PurposeInvite))
		check(t, s.UseActionToken(t.Context(), used.ID, base.Add(time.Minute)))
		n, err := s.DeleteStaleActionTokens(t.Context(), base.Add(2*time.Hour))
		check(t, err)
		if n != 2 {
			t.Errorf("DeleteStaleActionTokens = %d, want 2 (the expired and the used token)", n)
		}
		wantActionToken(t, s, live)
		wantNoActionToken(t, s, expired)
		wantNoActionToken(t, s, used)
	})

	t.Run("CreateAndActionTokenByHash", func(t *testing.T) {
		s, alice, _ := setup(t)
		for _, purpose := range []gatehouse.ActionPurpose{gatehouse.PurposeReset, gatehouse.PurposeInvite, gatehouse.PurposeRecovery} {
			tok := createActionToken(t, s, newActionToken(alice.ID, string(purpose), purpose))
			wantActionToken(t, s, tok)
			got, err := s.ActionTokenByHash(t.Context(), tok.Hash)
			check(t, err)
			wantUTC(t, "CreatedAt", got.CreatedAt)
			wantUTC(t, "ExpiresAt", got.ExpiresAt)
			if !got.UsedAt.IsZero() {
				t.Errorf("UsedAt of a new token = %v, want zero", got.UsedAt)
			}
		}

		// A token may be stored used, with an empty stamp, in another zone.
		used := newActionToken(alice.ID, "used", gatehouse.PurposeReset)
		zone := time.FixedZone("UTC+9", 9*3600)
		used.Stamp = ""
		used.CreatedAt, used.ExpiresAt, used.UsedAt = base.In(zone), base.Add(time.Hour).In(zone), base.Add(time.Minute).In(zone)
		createActionToken(t, s, used)
		wantActionToken(t, s, used)
		got, err := s.ActionTokenByHash(t.Context(), used.Hash)
		check(t, err)
		wantUTC(t, "CreatedAt", got.CreatedAt)
		wantUTC(t, "ExpiresAt", got.ExpiresAt)
		wantUTC(t, "UsedAt", got.UsedAt)
	})

	t.Run("ActionTokenByHashMissing", func(t *testing.T) {
		s, alice, _ := setup(t)
		tok := createActionToken(t, s, newActionToken(alice.ID, "secret", gatehouse.PurposeReset))
		other := sha256.Sum256([]byte("other"))
		for _, hash := range [][]byte{other[:], tok.Hash[:16], append(tok.Hash[:len(tok.Hash):len(tok.Hash)], 0), nil, {}} {
			_, err := s.ActionTokenByHash(t.Context(), hash)
			wantNotFound(t, err)
		}
		_, err := s.ActionTokenByHash(t.Context(), []byte(tok.ID))
		wantNotFound(t, err)
		// Nor is an API token's hash an action token's.
		api := createToken(t, s, newToken(alice.ID, "api"))
		_, err = s.ActionTokenByHash(t.Context(), api.Hash)
		wantNotFound(t, err)
	})

	t.Run("VoidTokensAreReturned", func(t *testing.T) {
		// Expiry, use and a changed stamp are the caller's business.
		s, alice, _ := setup(t)
		expired := newActionToken(alice.ID, "expired", gatehouse.PurposeReset)
		expired.ExpiresAt = base.Add(-time.Hour)
		createActionToken(t, s, expired)
		wantActionToken(t, s, expired)

		used := createActionToken(t, s, newActionToken(alice.ID, "used", gatehouse.PurposeInvite))
		check(t, s.UseActionToken(t.Context(), used.ID, base))
		want := *used
		want.UsedAt = base
		wantActionToken(t, s, &want)
	})

	t.Run("CreateActionTokenMissingUser", func(t *testing.T) {
		s, alice, _ := setup(t)
		tok := newActionToken(gatehouse.NewID(), "orphan", gatehouse.PurposeInvite)
		wantNotFound(t, s.CreateActionToken(t.Context(), tok))
		wantNoActionToken(t, s, tok)

		check(t, s.DeleteUser(t.Context(), alice.ID))
		tok = newActionToken(alice.ID, "late", gatehouse.PurposeReset)
		wantNotFound(t, s.CreateActionToken(t.Context(), tok))
		wantNoActionToken(t, s, tok)
	})

	t.Run("CreateActionTokenConflicts", func(t *testing.T) {
		s, alice, bob := setup(t)
		tok := createActionToken(t, s, newActionToken(alice.ID, "secret", gatehouse.PurposeReset))

		sameHash := newActionToken(bob.ID, "secret", gatehouse.PurposeInvite)
		wantCode(t, s.CreateActionToken(t.Context(), sameHash), gatehouse.CodeConflict)

		sameID := newActionToken(bob.ID, "other", gatehouse.PurposeInvite)
		sameID.ID = tok.ID
		wantCode(t, s.CreateActionToken(t.Context(), sameID), gatehouse.CodeConflict)
		wantNoActionToken(t, s, sameID)

		wantActionToken(t, s, tok)
		n, err := s.DeleteActionTokens(t.Context(), bob.ID, "")
		check(t, err)
		if n != 0 {
			t.Errorf("bob has %d action tokens after two conflicts, want 0", n)
		}
	})

	t.Run("CreateActionTokenInvalidPurpose", func(t *testing.T) {
		s, alice, _ := setup(t)
		for _, purpose := range []gatehouse.ActionPurpose{"", "login", "RESET", "Recovery", "recovery "} {
			tok := newActionToken(alice.ID, "secret "+string(purpose), purpose)
			wantCode(t, s.CreateActionToken(t.Context(), tok), gatehouse.CodeValidation)
			wantNoActionToken(t, s, tok)
		}
	})

	t.Run("UseActionToken", func(t *testing.T) {
		s, alice, _ := setup(t)
		tok := createActionToken(t, s, newActionToken(alice.ID, "secret", gatehouse.PurposeReset))
		other := createActionToken(t, s, newActionToken(alice.ID, "other", gatehouse.PurposeReset))
		at := base.Add(time.Hour)
		check(t, s.UseActionToken(t.Context(), tok.ID, at))
		want := *tok
		want.UsedAt = at
		wantActionToken(t, s, &want)
		got, err := s.ActionTokenByHash(t.Context(), tok.Hash)
		check(t, err)
		wantUTC(t, "UsedAt", got.UsedAt)
		wantActionToken(t, s, other)

		// A second use fails, and keeps the time of the first.
		wantCode(t, s.UseActionToken(t.Context(), tok.ID, at.Add(time.Hour)), gatehouse.CodeConflict)
		wantActionToken(t, s, &want)

		for _, id := range []string{gatehouse.NewID(), "", string(tok.Hash)} {
			wantNotFound(t, s.UseActionToken(t.Context(), id, at))
		}
		// A token deleted is missing, not used.
		_, err = s.DeleteActionTokens(t.Context(), alice.ID, gatehouse.PurposeReset)
		check(t, err)
		wantNotFound(t, s.UseActionToken(t.Context(), other.ID, at))
	})

	t.Run("UseActionTokenConcurrent", func(t *testing.T) {
		s, alice, _ := setup(t)
		tok := createActionToken(t, s, newActionToken(alice.ID, "secret", gatehouse.PurposeInvite))
		const n = 20
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = s.UseActionToken(context.WithoutCancel(t.Context()), tok.ID, base.Add(time.Duration(i)*time.Second))
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err == nil {
				if winner >= 0 {
					t.Errorf("uses %d and %d both succeeded", winner, i)
				}
				winner = i
				continue
			}
			wantCode(t, err, gatehouse.CodeConflict)
		}
		if winner < 0 {
			t.Fatalf("none of %d concurrent uses succeeded, want exactly 1", n)
		}
		want := *tok
		want.UsedAt = base.Add(time.Duration(winner) * time.Second)
		wantActionToken(t, s, &want)
	})

	t.Run("DeleteActionTokens", func(t *testing.T) {
		s, alice, bob := setup(t)
		r1 := createActionToken(t, s, newActionToken(alice.ID, "r1", gatehouse.PurposeReset))
		r2 := createActionToken(t, s, newActionToken(alice.ID, "r2", gatehouse.PurposeReset))
		check(t, s.UseActionToken(t.Context(), r2.ID, base)) // used ones go too
		inv := createActionToken(t, s, newActionToken(alice.ID, "inv", gatehouse.PurposeInvite))
		// A recovery link is a purpose of its own: deleting the resets
		// leaves it.
		rec := createActionToken(t, s, newActionToken(alice.ID, "rec", gatehouse.PurposeRecovery))
		b1 := createActionToken(t, s, newActionToken(bob.ID, "b1", gatehouse.PurposeReset))
		// API tokens and sessions are not action tokens.
		api := createToken(t, s, newToken(alice.ID, "api"))
		ses := createSession(t, s, newSession(alice.ID, "session"))

		n, err := s.DeleteActionTokens(t.Context(), alice.ID, gatehouse.PurposeReset)
		check(t, err)
		if n != 2 {
			t.Errorf("DeleteActionTokens(reset) = %d, want 2", n)
		}
		wantNoActionToken(t, s, r1)
		wantNoActionToken(t, s, r2)
		wantActionToken(t, s, inv)
		wantActionToken(t, s, rec)
		wantActionToken(t, s, b1)

		n, err = s.DeleteActionTokens(t.Context(), alice.ID, gatehouse.PurposeReset)
		check(t, err)
		if n != 0 {
			t.Errorf("DeleteActionTokens(reset) again = %d, want 0", n)
		}

		r3 := createActionToken(t, s, newActionToken(alice.ID, "r3", gatehouse.PurposeReset))
		n, err = s.DeleteActionTokens(t.Context(), alice.ID, "")
		check(t, err)
		if n != 3 {
			t.Errorf("DeleteActionTokens(all purposes) = %d, want 3", n)
		}
		wantNoActionToken(t, s, rec)
		wantNoActionToken(t, s, inv)
		wantNoActionToken(t, s, r3)
		wantActionToken(t, s, b1)
		wantToken(t, s, api)
		wantSession(t, s, ses)
		wantUser(t, s, alice)

		n, err = s.DeleteActionTokens(t.Context(), gatehouse.NewID(), "")
		check(t, err)
		if n != 0 {
			t.Errorf("DeleteActionTokens(unknown user) = %d, want 0", n)
		}
		n, err = s.DeleteActionTokens(t.Context(), bob.ID, gatehouse.PurposeInvite)
		check(t, err)
		if n != 0 {
			t.Errorf("DeleteActionTokens(bob, invite) = %d, want 0", n)
		}
		wantActionToken(t, s, b1)

		// The hash is free again.
		createActionToken(t, s, newActionToken(alice.ID, "r1", gatehouse.PurposeReset))
	})

	t.Run("DeleteUserDeletesActionTokens", func(t *testing.T) {
		s, alice, bob := setup(t)
		a1 := createActionToken(t, s, newActionToken(alice.ID, "a1", gatehouse.PurposeReset))
		a2 := createActionToken(t, s, newActionToken(alice.ID, "a2", gatehouse.PurposeInvite))
		check(t, s.UseActionToken(t.Context(), a2.ID, base))
		b1 := createActionToken(t, s, newActionToken(bob.ID, "b1", gatehouse.PurposeInvite))

		check(t, s.DeleteUser(t.Context(), alice.ID))
		wantNoActionToken(t, s, a1)
		wantNoActionToken(t, s, a2)
		wantNotFound(t, s.UseActionToken(t.Context(), a1.ID, base))
		wantActionToken(t, s, b1)

		// A new user with the old id inherits no tokens.
		again := newUser("alice")
		again.ID = alice.ID
		createUser(t, s, again)
		n, err := s.DeleteActionTokens(t.Context(), alice.ID, "")
		check(t, err)
		if n != 0 {
			t.Errorf("the new alice has %d action tokens, want 0", n)
		}
	})
}
