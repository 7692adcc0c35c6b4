package account

import (
	"context"

	"github.com/gatehouse/gatehouse"
)

// What the pages may offer of second factors: whether they are on here
// at all (UseTwoFactor was called; without it BeginTOTP answers 404), and
// which of a user's groups require one (then DisableTOTP answers 409).

// TwoFactorAvailable reports whether second factors are on here, so that
// a user may enrol one.
func (s *Service) TwoFactorAvailable() bool { return s.twoFactor != nil }

// GroupsRequiringTwoFactor returns the names of u's groups that require a
// second factor, in u's order; none when second factors are off here.
// A user with one of them cannot turn two-factor off.
func (s *Service) GroupsRequiringTwoFactor(ctx context.Context, u *gatehouse.User) ([]string, error) {
	if s.twoFactor == nil || len(u.Groups) == 0 {
		return nil, nil
	}
	byName, err := s.groupsByName(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, name := range u.Groups {
		if g := byName[name]; g != nil && g.RequireTwoFactor {
			names = append(names, name)
		}
	}
	return names, nil
}
