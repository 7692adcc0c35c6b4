package storetest

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// newToken returns a token of userID with every field set; its hash is the
// SHA-256 of secret.
func newToken(userID, secret string) *gatehouse.Token {
	h := sha256.Sum256([]byte(secret))
	return &gatehouse.Token{
		ID:          gatehouse.NewID(),
		UserID:      userID,
		Name:        "deploy " + secret,
		Hash:        h[:],
		Hint:        "gh_" + secret,
		Permissions: []string{"users:read", "audit:read"},
		CreatedAt:   base,
		ExpiresAt:   base.Add(90 * 24 * time.Hour),
		LastUsedAt:  base.Add(time.Minute),
	}
}

// createToken stores tok or fails t.
func createToken(t *testing.T, s gatehouse.TokenStore, tok *gatehouse.Token) *gatehouse.Token {
	t.Helper()
	if err := s.CreateToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateToken(%q): %v", tok.Name, err)
	}
	return tok
}

// wantToken fails t unless TokenByHash and TokenByID both return want.
func wantToken(t *testing.T, s gatehouse.TokenStore, want *gatehouse.Token) {
	t.Helper()
	got, err := s.TokenByHash(t.Context(), want.Hash)
	if err != nil {
		t.Fatalf("TokenByHash(%q): %v", want.Name, err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("TokenByHash(%q) mismatch (-want +got):\n%s", want.Name, d)
	}
	got, err = s.TokenByID(t.Context(), want.ID)
	if err != nil {
		t.Fatalf("TokenByID(%q): %v", want.Name, err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("TokenByID(%q) mismatch (-want +got):\n%s", want.Name, d)
	}
}

// wantNoToken fails t unless neither TokenByHash nor TokenByID finds tok.
func wantNoToken(t *testing.T, s gatehouse.TokenStore, tok *gatehouse.Token) {
	t.Helper()
	_, err := s.TokenByHash(t.Context(), tok.Hash)
	wantNotFound(t, err)
	_, err = s.TokenByID(t.Context(), tok.ID)
	wantNotFound(t, err)
}

// wantTokenIDs fails t unless UserTokens(userID) returns tokens with exactly
// the ids of want, in that order.
func wantTokenIDs(t *testing.T, s gatehouse.TokenStore, userID string, want ...*gatehouse.Token) {
	t.Helper()
	got, err := s.UserTokens(t.Context(), userID)
	if err != nil {
		t.Fatalf("UserTokens: %v", err)
	}
	var wantIDs, gotIDs []string
	for _, tok := range want {
		wantIDs = append(wantIDs, tok.ID)
	}
	for _, tok := range got {
		gotIDs = append(gotIDs, tok.ID)
	}
	if d := diff(wantIDs, gotIDs); d != "" {
		t.Errorf("UserTokens ids mismatch (-want +got):\n%s", d)
	}
}

// wantTokenTotal fails t unless Tokens counts n tokens in all.
func wantTokenTotal(t *testing.T, s gatehouse.TokenStore, n int) {
	t.Helper()
	_, total, err := s.Tokens(t.Context(), 0, 0)
	if err != nil {
		t.Fatalf("Tokens: %v", err)
	}
	if total != n {
		t.Errorf("Tokens total = %d, want %d", total, n)
	}
}

// TokenStores are the stores RunTokens checks: the tokens, the users they
// belong to, and sessions, which deleting tokens leaves alone; the users
// and sessions may live in another store.
type TokenStores struct {
	gatehouse.TokenStore
	// UserStore holds the tokens' users; the suite creates and deletes
	// users with it.
	gatehouse.UserStore
	gatehouse.SessionStore
}

// RunTokens checks a gatehouse.TokenStore. newStores must return new,
// empty, migrated stores on every call. Besides the interface's doc
// comments, it holds stores to these rules:
//
//   - DeleteUser removes the user's tokens too, and CreateToken for a user
//     that does not exist is ErrNotFound, like CreateSession.
//   - A token without permissions comes back with nil Permissions, whether
//     it was stored nil or empty, so that "empty" has one form.
//   - Tokens, like Audit, takes a limit of zero for no limit.
func RunTokens(t *testing.T, newStores func(t *testing.T) TokenStores) {
	// setup returns stores with the users alice and bob.
	setup := func(t *testing.T) (TokenStores, *gatehouse.User, *gatehouse.User) {
		s := newStores(t)
		return s, createUser(t, s, newUser("alice")), createUser(t, s, newUser("bob"))
	}

	t.Run("CreateAndTokenByHash", func(t *testing.T) {
		s, alice, _ := setup(t)
		tok := createToken(t, s, newToken(alice.ID, "secret"))
		wantToken(t, s, tok)
		got, err := s.TokenByHash(t.Context(), tok.Hash)
		check(t, err)
		wantUTC(t, "CreatedAt", got.CreatedAt)
		wantUTC(t, "ExpiresAt", got.ExpiresAt)
		wantUTC(t, "LastUsedAt", got.LastUsedAt)

		// A token that does not expire, was never used, and may use all of
		// its owner's permissions.
		plain := newToken(alice.ID, "plain")
		plain.Name, plain.Hint = "", ""
		plain.Permissions = nil
		plain.ExpiresAt, plain.LastUsedAt = time.Time{}, time.Time{}
		createToken(t, s, plain)
		wantToken(t, s, plain)
		got, err = s.TokenByHash(t.Context(), plain.Hash)
		check(t, err)
		if !got.ExpiresAt.IsZero() || !got.LastUsedAt.IsZero() {
			t.Errorf("ExpiresAt, LastUsedAt = %v, %v; want zero times", got.ExpiresAt, got.LastUsedAt)
		}
		if got.Expired(base.Add(100 * 365 * 24 * time.Hour)) {
			t.Error("a token stored without expiry has expired")
		}
	})

	t.Run("TimesInOtherZones", func(t *testing.T) {
		s, alice, _ := setup(t)
		tok := newToken(alice.ID, "secret")
		zone := time.FixedZone("UTC-3", -3*3600)
		tok.CreatedAt, tok.ExpiresAt, tok.LastUsedAt = base.In(zone), base.Add(time.Hour).In(zone), base.In(zone)
		createToken(t, s, tok)
		got, err := s.TokenByID(t.Context(), tok.ID)
		check(t, err)
		if !equalTime(got.ExpiresAt, base.Add(time.Hour)) {
			t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, base.Add(time.Hour))
		}
		wantUTC(t, "CreatedAt", got.CreatedAt)
		wantUTC(t, "ExpiresAt", got.ExpiresAt)
		wantUTC(t, "LastUsedAt", got.LastUsedAt)
	})

	t.Run("TokenByHashMissing", func(t *testing.T) {
		s, alice, _ := setup(t)
		tok := createToken(t, s, newToken(alice.ID, "secret"))
		other := sha256.Sum256([]byte("other"))
		for _, hash := range [][]byte{other[:], tok.Hash[:16], append(tok.Hash[:len(tok.Hash):len(tok.Hash)], 0), nil, {}} {
			_, err := s.TokenByHash(t.Context(), hash)
			wantNotFound(t, err)
		}
		// Nor is a token's id its hash.
		_, err := s.TokenByHash(t.Context(), []byte(tok.ID))
		wantNotFound(t, err)
	})

	t.Run("TokenByIDMissing", func(t *testing.T) {
		s, alice, _ := setup(t)
		tok := createToken(t, s, newToken(alice.ID, "secret"))
		for _, id := range []string{gatehouse.NewID(), "", tok.Hint, string(tok.Hash)} {
			_, err := s.TokenByID(t.Context(), id)
			wantNotFound(t, err)
		}
	})

	t.Run("ExpiredTokenIsReturned", func(t *testing.T) {
		// Expiry is not the store's business: it returns an expired token,
		// and Token.Expired decides.
		s, alice, _ := setup(t)
		tok := newToken(alice.ID, "expired")
		tok.ExpiresAt = micro.Add(-time.Hour)
		createToken(t, s, tok)
		wantToken(t, s, tok)
		got, err := s.TokenByHash(t.Context(), tok.Hash)
		check(t, err)
		if !got.Expired(micro) || !got.Expired(micro.Add(-time.Hour)) {
			t.Errorf("Expired = false for a token that expired at %v", got.ExpiresAt)
		}
		if got.Expired(micro.Add(-time.Hour - time.Nanosecond)) {
			t.Errorf("Expired = true before %v", got.ExpiresAt)
		}
		wantTokenIDs(t, s, alice.ID, tok)
		wantTokenTotal(t, s, 1)
	})

	t.Run("Permissions", func(t *testing.T) {
		s, alice, _ := setup(t)
		// Permissions keep their order.
		ordered := newToken(alice.ID, "ordered")
		ordered.Permissions = []string{"users:write", "audit:read", "users:read", gatehouse.PermissionAll}
		createToken(t, s, ordered)
		wantToken(t, s, ordered)

		// No permissions, nil or empty, come back nil.
		for name, perms := range map[string][]string{"nil": nil, "empty": {}} {
			tok := newToken(alice.ID, name)
			tok.Permissions = perms
			createToken(t, s, tok)
			for _, get := range []func() (*gatehouse.Token, error){
				func() (*gatehouse.Token, error) { return s.TokenByHash(t.Context(), tok.Hash) },
				func() (*gatehouse.Token, error) { return s.TokenByID(t.Context(), tok.ID) },
			} {
				got, err := get()
				check(t, err)
				if got.Permissions != nil {
					t.Errorf("Permissions stored %s = %#v, want nil", name, got.Permissions)
				}
			}
		}
		tokens, err := s.UserTokens(t.Context(), alice.ID)
		check(t, err)
		listed, _, err := s.Tokens(t.Context(), 0, 0)
		check(t, err)
		for _, tok := range append(tokens, listed...) {
			if tok.ID != ordered.ID && tok.Permissions != nil {
				t.Errorf("listed Permissions = %#v, want nil", tok.Permissions)
			}
		}
	})

	t.Run("CreateTokenMissingUser", func(t *testing.T) {
		s, alice, _ := setup(t)
		tok := newToken(gatehouse.NewID(), "orphan")
		wantNotFound(t, s.CreateToken(t.Context(), tok))
		wantNoToken(t, s, tok)

		// Nor may a token outlive its deleted user.
		check(t, s.DeleteUser(t.Context(), alice.ID))
		tok = newToken(alice.ID, "late")
		wantNotFound(t, s.CreateToken(t.Context(), tok))
		wantNoToken(t, s, tok)
		wantTokenTotal(t, s, 0)
	})

	t.Run("CreateTokenConflicts", func(t *testing.T) {
		s, alice, bob := setup(t)
		tok := createToken(t, s, newToken(alice.ID, "secret"))

		sameHash := newToken(bob.ID, "secret")
		wantCode(t, s.CreateToken(t.Context(), sameHash), gatehouse.CodeConflict)
		_, err := s.TokenByID(t.Context(), sameHash.ID)
		wantNotFound(t, err)

		sameID := newToken(bob.ID, "other")
		sameID.ID = tok.ID
		wantCode(t, s.CreateToken(t.Context(), sameID), gatehouse.CodeConflict)
		_, err = s.TokenByHash(t.Context(), sameID.Hash)
		wantNotFound(t, err)

		wantToken(t, s, tok)
		wantTokenIDs(t, s, bob.ID)
		wantTokenTotal(t, s, 1)
	})

	t.Run("UserTokensNewestFirst", func(t *testing.T) {
		s, alice, bob := setup(t)
		var created []*gatehouse.Token
		for i, offset := range []time.Duration{time.Hour, 0, 2 * time.Hour, time.Microsecond} {
			tok := newToken(alice.ID, string(rune('a'+i)))
			tok.CreatedAt = base.Add(offset)
			created = append(created, createToken(t, s, tok))
		}
		createToken(t, s, newToken(bob.ID, "bob"))
		wantTokenIDs(t, s, alice.ID, created[2], created[0], created[3], created[1])

		got, err := s.UserTokens(t.Context(), alice.ID)
		check(t, err)
		want := []*gatehouse.Token{created[2], created[0], created[3], created[1]}
		if d := diff(want, got); d != "" {
			t.Errorf("UserTokens mismatch (-want +got):\n%s", d)
		}

		got, err = s.UserTokens(t.Context(), gatehouse.NewID())
		check(t, err)
		if len(got) != 0 {
			t.Errorf("UserTokens(unknown user) = %d tokens, want none", len(got))
		}
	})

	t.Run("Tokens", func(t *testing.T) {
		s, alice, bob := setup(t)
		got, total, err := s.Tokens(t.Context(), 0, 0)
		check(t, err)
		if len(got) != 0 || total != 0 {
			t.Errorf("Tokens of an empty store = %d tokens, total %d; want none, 0", len(got), total)
		}

		// Every user's tokens, created out of order.
		var created []*gatehouse.Token
		for i, offset := range []time.Duration{time.Hour, 0, 3 * time.Hour, time.Microsecond, 2 * time.Hour} {
			owner := alice
			if i%2 == 1 {
				owner = bob
			}
			tok := newToken(owner.ID, string(rune('a'+i)))
			tok.CreatedAt = base.Add(offset)
			created = append(created, createToken(t, s, tok))
		}
		newest := []*gatehouse.Token{created[2], created[4], created[0], created[3], created[1]}
		for _, tc := range []struct {
			offset, limit int
			want          []*gatehouse.Token
		}{
			{0, 0, newest},
			{0, 2, newest[:2]},
			{2, 2, newest[2:4]},
			{4, 2, newest[4:]},
			{1, 0, newest[1:]},
			{0, 5, newest},
			{0, 100, newest},
			{5, 2, nil},
			{100, 0, nil},
		} {
			got, total, err := s.Tokens(t.Context(), tc.offset, tc.limit)
			if err != nil {
				t.Errorf("Tokens(%d, %d): %v", tc.offset, tc.limit, err)
				continue
			}
			if d := diff(tc.want, got); d != "" {
				t.Errorf("Tokens(%d, %d) mismatch (-want +got):\n%s", tc.offset, tc.limit, d)
			}
			if total != len(created) {
				t.Errorf("Tokens(%d, %d) total = %d, want %d", tc.offset, tc.limit, total, len(created))
			}
		}

		check(t, s.DeleteToken(t.Context(), created[2].ID))
		got, total, err = s.Tokens(t.Context(), 0, 1)
		check(t, err)
		if d := diff(newest[1:2], got); d != "" {
			t.Errorf("Tokens after DeleteToken mismatch (-want +got):\n%s", d)
		}
		if total != 4 {
			t.Errorf("Tokens after DeleteToken total = %d, want 4", total)
		}
	})

	t.Run("TouchToken", func(t *testing.T) {
		s, alice, _ := setup(t)
		tok := createToken(t, s, newToken(alice.ID, "secret"))
		never := newToken(alice.ID, "never used")
		never.LastUsedAt = time.Time{}
		createToken(t, s, never)
		other := createToken(t, s, newToken(alice.ID, "other"))

		at := base.Add(time.Hour)
		check(t, s.TouchToken(t.Context(), tok.ID, at))
		want := *tok
		want.LastUsedAt = at
		wantToken(t, s, &want)
		wantToken(t, s, other)

		check(t, s.TouchToken(t.Context(), never.ID, at))
		want = *never
		want.LastUsedAt = at
		wantToken(t, s, &want)

		// A missing token is no error: it may have just been revoked.
		if err := s.TouchToken(t.Context(), gatehouse.NewID(), at); err != nil {
			t.Errorf("TouchToken(missing) = %v, want nil", err)
		}
		check(t, s.DeleteToken(t.Context(), other.ID))
		if err := s.TouchToken(t.Context(), other.ID, at); err != nil {
			t.Errorf("TouchToken(deleted) = %v, want nil", err)
		}
		wantNoToken(t, s, other)
	})

	t.Run("DeleteToken", func(t *testing.T) {
		s, alice, _ := setup(t)
		tok := createToken(t, s, newToken(alice.ID, "secret"))
		other := createToken(t, s, newToken(alice.ID, "other"))
		check(t, s.DeleteToken(t.Context(), tok.ID))
		wantNoToken(t, s, tok)
		wantToken(t, s, other)
		wantTokenIDs(t, s, alice.ID, other)

		if err := s.DeleteToken(t.Context(), tok.ID); err != nil {
			t.Errorf("DeleteToken(deleted) = %v, want nil", err)
		}
		if err := s.DeleteToken(t.Context(), gatehouse.NewID()); err != nil {
			t.Errorf("DeleteToken(missing) = %v, want nil", err)
		}
		wantToken(t, s, other)

		// The hash is free again.
		again := newToken(alice.ID, "secret")
		createToken(t, s, again)
		wantToken(t, s, again)
	})

	t.Run("DeleteUserTokens", func(t *testing.T) {
		s, alice, bob := setup(t)
		a1 := createToken(t, s, newToken(alice.ID, "a1"))
		a2 := createToken(t, s, newToken(alice.ID, "a2"))
		a3 := createToken(t, s, newToken(alice.ID, "a3"))
		b1 := createToken(t, s, newToken(bob.ID, "b1"))
		// Sessions are not tokens.
		ses := createSession(t, s, newSession(alice.ID, "session"))

		n, err := s.DeleteUserTokens(t.Context(), alice.ID)
		check(t, err)
		if n != 3 {
			t.Errorf("DeleteUserTokens = %d, want 3", n)
		}
		for _, tok := range []*gatehouse.Token{a1, a2, a3} {
			wantNoToken(t, s, tok)
		}
		wantTokenIDs(t, s, alice.ID)
		wantToken(t, s, b1)
		wantSession(t, s, ses)
		wantUser(t, s, alice)

		n, err = s.DeleteUserTokens(t.Context(), alice.ID)
		check(t, err)
		if n != 0 {
			t.Errorf("DeleteUserTokens(none left) = %d, want 0", n)
		}
		n, err = s.DeleteUserTokens(t.Context(), gatehouse.NewID())
		check(t, err)
		if n != 0 {
			t.Errorf("DeleteUserTokens(unknown user) = %d, want 0", n)
		}
		wantTokenTotal(t, s, 1)
	})

	t.Run("DeleteUserDeletesTokens", func(t *testing.T) {
		s, alice, bob := setup(t)
		a1 := createToken(t, s, newToken(alice.ID, "a1"))
		a2 := createToken(t, s, newToken(alice.ID, "a2"))
		b1 := createToken(t, s, newToken(bob.ID, "b1"))

		check(t, s.DeleteUser(t.Context(), alice.ID))
		for _, tok := range []*gatehouse.Token{a1, a2} {
			wantNoToken(t, s, tok)
		}
		wantTokenIDs(t, s, alice.ID)
		wantToken(t, s, b1)
		wantTokenTotal(t, s, 1)

		// A new user with the old id inherits no tokens.
		again := newUser("alice")
		again.ID = alice.ID
		createUser(t, s, again)
		wantTokenIDs(t, s, alice.ID)
	})
}
