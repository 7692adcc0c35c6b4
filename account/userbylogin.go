package account

import (
	"context"

	"github.com/gatehouse/gatehouse"
)

// UserByLogin returns the user whose username or email is login (either
// compared without regard to case), as a login names them; none is
// ErrNotFound. The admin console's filters take people by the name they
// are known by, not by id.
func (s *Service) UserByLogin(ctx context.Context, login string) (*gatehouse.User, error) {
	return s.stores.Users.UserByLogin(ctx, login)
}
