package account

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse"
)

// userChangeTries bounds how often changeUser reads and decides again
// after losing a race: each loss means another request changed the user in
// between, so more than a few in a row only happen under a flood of
// changes to one user.
const userChangeTries = 3

// errUserBusy ends a change of a user that lost the race to other changes
// of it userChangeTries times in a row.
var errUserBusy = gatehouse.Errorf(gatehouse.CodeConflict, "The account was being changed by another request at the same time; try again.")

// changeUser reads user id from the store, lets decide change it (decide
// returns false when there is nothing to write, or an error, which ends
// the change), and writes it back with the store's compare-and-swap
// (UpdateUser on the Version read). When another request, in this process
// or any other sharing the store, changed the user in between (an
// administrator disabling it, a password change), it reads it again and
// decides again, up to userChangeTries times: it never writes over a
// change it did not see. It returns the user as written (or as read, when
// decide wrote nothing).
func (s *Service) changeUser(ctx context.Context, id string, decide func(u *gatehouse.User) (bool, error)) (*gatehouse.User, error) {
	for range userChangeTries {
		u, err := s.stores.Users.UserByID(ctx, id)
		if err != nil {
			return nil, err
		}
		write, err := decide(u)
		if err != nil {
			return nil, err
		}
		if !write {
			return u, nil
		}
		err = s.stores.Users.UpdateUser(ctx, u)
		if lostRace(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return u, nil
	}
	return nil, errUserBusy
}

// lostRace reports whether err is the store's compare-and-swap refusing a
// record changed since it was read: gatehouse.ErrConflict itself, not any
// CodeConflict (a username taken is one too, and deciding again would not
// change it).
func lostRace(err error) bool {
	var ge *gatehouse.Error
	return errors.As(err, &ge) && ge == gatehouse.ErrConflict
}
