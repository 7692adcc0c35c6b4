package account

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
)

// basicCacheTTL is how long verified Basic credentials skip the password
// hash. A script calling in a loop pays one argon2id a minute, not one per
// request.
const basicCacheTTL = time.Minute

// basicEntry remembers a verified username and password by a keyed hash of
// both. It is valid only while the user's password hash and security stamp
// are those it was verified against, so a password change voids it at once.
type basicEntry struct {
	userID, passwordHash, stamp string
}

func newBasicMACs() *sync.Pool {
	key := make([]byte, 32)
	rand.Read(key)
	return &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}
}

// basicCacheKey is HMAC-SHA256 under a per-process random key: the cache
// never holds a password, nor a hash of one that could be attacked
// offline. The HMAC states are pooled: this runs on every Basic request.
func (s *Service) basicCacheKey(username, pw string) [sha256.Size]byte {
	m := s.basicMACs.Get().(hash.Hash)
	m.Reset()
	io.WriteString(m, foldName(username)) // as the store tells names apart
	m.Write([]byte{0})
	io.WriteString(m, pw)
	var out [sha256.Size]byte
	m.Sum(out[:0])
	s.basicMACs.Put(m)
	return out
}

// basicFromCache returns the user of Basic credentials verified within the
// last minute, when they are still the user's (same password hash and
// security stamp, user active). It never hashes a password and counts no
// failure; on false, call AuthenticateBasic.
func (s *Service) basicFromCache(ctx context.Context, username, pw string) (*gatehouse.User, bool) {
	key := s.basicCacheKey(username, pw)
	e, ok := s.basic.get(string(key[:]), s.now())
	if !ok {
		return nil, false
	}
	u, err := s.cachedUser(ctx, e.userID)
	if err == nil && u.State == gatehouse.StateActive && u.PasswordHash == e.passwordHash && u.SecurityStamp == e.stamp {
		return u, true
	}
	s.basic.forget(string(key[:]))
	return nil, false
}

// AuthenticateBasic checks HTTP Basic credentials. It is throttled like a
// login and answers failures the same way (CodeInvalidCredentials), but
// starts no session, and a success forgets no failures.
func (s *Service) AuthenticateBasic(ctx context.Context, username, pw string, client Client) (*gatehouse.User, error) {
	var disabled bool
	u, err := s.authenticateBasic(ctx, username, pw, client, &disabled)
	s.countLogin(gatehouse.LoginBasic, nil, err, disabled)
	return u, err
}

// authenticateBasic is AuthenticateBasic; it sets *disabled when the
// password was right for an account that is not active.
func (s *Service) authenticateBasic(ctx context.Context, username, pw string, client Client, disabled *bool) (*gatehouse.User, error) {
	if err := s.refuseLocalLogin(); err != nil {
		return nil, err
	}
	if username == "" || pw == "" {
		return nil, errInvalidCredentials
	}
	if u, ok := s.basicFromCache(ctx, username, pw); ok {
		return u, nil
	}
	sum := s.basicCacheKey(username, pw)
	key := string(sum[:])
	now := s.now()

	gen := s.basic.generation()
	u, err := s.stores.Users.UserByLogin(ctx, username)
	if err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
		return nil, fmt.Errorf("find user: %w", err)
	}
	// Scripts have no known-device cookie: always the untrusted budget.
	keys := s.loginKeys(u, username, "", client.Addr)
	att, err := s.reserveAttempt(ctx, keys)
	if err != nil {
		return nil, err
	}
	defer s.endAttempt(ctx, att)
	ok, rehash, err := s.verifyPassword(ctx, u, pw)
	if err != nil {
		return nil, err
	}
	if !ok || u.State != gatehouse.StateActive {
		*disabled = ok
		if err := s.failAttempt(ctx, att, u); err != nil {
			return nil, err
		}
		s.record(ctx, Actor{Client: client}, gatehouse.AuditLoginFailed, userID(u), map[string]string{"method": "basic"})
		return nil, errInvalidCredentials
	}
	// Basic decides what the user still owes as every login does
	// (owedAfterFirstFactor), but does not end in finishLogin: it starts
	// no session and cannot take a second step or an enrolment, so
	// anything owed refuses it.
	need, _, err := s.owedAfterFirstFactor(ctx, u)
	if err != nil {
		return nil, err
	}
	if need != owesNothing {
		// A password alone is not enough for a user with a second
		// factor (or whose group requires one); scripts use API tokens
		// instead. The answer is the one for a wrong password, or it
		// would confirm the password; and it counts like one, or the
		// wait starting a guess later would.
		if err := s.failAttempt(ctx, att, u); err != nil {
			return nil, err
		}
		s.record(ctx, Actor{User: u, Client: client}, gatehouse.AuditLoginFailed, u.ID, map[string]string{"method": "basic", "reason": "two_factor"})
		return nil, errInvalidCredentials
	}
	if rehash {
		s.upgradeHash(ctx, u, pw) // an imported or older hash, as Login does
	}
	// A success does not forget the name's failures, as a login does: a
	// script is verified again every basicCacheTTL, and each reset would
	// give whoever guesses at its name more guesses in between. Its own
	// wrong passwords are forgotten after a quiet window like any others.
	s.basic.put(key, basicEntry{userID: u.ID, passwordHash: u.PasswordHash, stamp: u.SecurityStamp}, now, gen)
	return u, nil
}
