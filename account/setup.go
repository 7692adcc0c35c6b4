package account

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/session"
)

var errInvalidSetupToken = &gatehouse.Error{Code: gatehouse.CodeInvalidToken, Message: "The setup token is not valid."}

// StartSetup returns a one-time setup token when the store has no users, and
// "" otherwise. The token lives only in this process's memory (as a hash):
// a restart before setup prints a new one, and no default credential ever
// exists.
func (s *Service) StartSetup(ctx context.Context) (string, error) {
	n, err := s.stores.Users.CountUsers(ctx)
	if err != nil {
		return "", fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return "", nil
	}
	token := session.NewToken()
	h := sha256.Sum256([]byte(token))
	s.setupMu.Lock()
	s.setupHash = h[:]
	s.setupMu.Unlock()
	return token, nil
}

// CompleteSetup creates the first administrator, in the administrators
// group, when token is the setup token. The token works once; it also stops
// working as soon as any user exists.
func (s *Service) CompleteSetup(ctx context.Context, token string, nu NewUser) (*gatehouse.User, error) {
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	h := sha256.Sum256([]byte(token))
	if s.setupHash == nil || subtle.ConstantTimeCompare(h[:], s.setupHash) != 1 {
		return nil, errInvalidSetupToken
	}
	n, err := s.stores.Users.CountUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		s.setupHash = nil
		return nil, errInvalidSetupToken
	}
	nu.Groups = []string{gatehouse.GroupAdministrators}
	u, err := s.CreateUser(ctx, nu)
	if err != nil {
		return nil, err
	}
	s.setupHash = nil
	s.log.InfoContext(ctx, "first administrator created", "user", u.ID)
	return u, nil
}

// SetupPending reports whether a setup token is waiting to be used.
func (s *Service) SetupPending() bool {
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	return s.setupHash != nil
}
