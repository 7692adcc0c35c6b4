package account

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse"
)

// LockedUntil returns when the login lockout of u ends — the latest lock
// on its username, its email or the account itself — or the zero time
// when none of them is locked now. UnlockUser clears these same keys.
func (s *Service) LockedUntil(ctx context.Context, u *gatehouse.User) (time.Time, error) {
	now := s.now()
	var until time.Time
	for _, k := range []string{nameKey(u.Username), nameKey(u.Email), accountKey(u)} {
		t, err := s.stores.Throttles.Throttle(ctx, k)
		if err != nil {
			return time.Time{}, err
		}
		if t.Locked(now) && t.LockedUntil.After(until) {
			until = t.LockedUntil
		}
	}
	return until, nil
}
