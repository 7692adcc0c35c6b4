package account

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse"
)

// UserByLogin returns the user whose username or email is login (either
// compared without regard to case), as a login names them; none is
// ErrNotFound. The admin console's filters take people by the name they
// are known by, not by id.
func (s *Service) UserByLogin(ctx context.Context, login string) (*gatehouse.User, error) {
	return s.stores.Users.UserByLogin(ctx, login)
}

// Username is the username of the user with id, "" when there is none,
// for lists that name people (the console's sessions and audit log): it
// reads through the same short-lived cache as the requests, so a page of
// fifty rows by the same few people costs a few reads, not fifty.
func (s *Service) Username(ctx context.Context, id string) (string, error) {
	u, err := s.cachedUser(ctx, id)
	switch {
	case err == nil:
		return u.Username, nil
	case errors.Is(err, gatehouse.ErrNotFound):
		return "", nil
	}
	return "", err
}
