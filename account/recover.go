package account

import (
	"context"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/password"
)

// RecoverAccess is the operator's way back in while local login is
// disabled: a recovery link (PurposeRecovery, from `gatehouse user
// reset-link`) sets the password like ResetPassword and then logs the
// user in through finishLogin (req: the browser's side), so a second
// factor still applies. Any other link is CodeLocalLoginDisabled.
//
// While local login is enabled nothing works here (CodeInvalidToken): a
// link then only sets a password, with ResetPassword. Like a reset, it
// voids the user's other links, sessions and remembered devices, unlocks
// the account and activates an invited user who never logged in; a user
// who is not active then (disabled) is refused with CodeInvalidToken and
// their password is left as it was.
func (s *Service) RecoverAccess(ctx context.Context, userID, secret, pw string, req LoginRequest) (*LoginResult, error) {
	t, u, err := s.checkActionToken(ctx, userID, secret, gatehouse.PurposeRecovery, gatehouse.PurposeReset)
	if err != nil {
		return nil, err
	}
	if t.Purpose != gatehouse.PurposeRecovery || !s.LocalLoginDisabled() {
		// A mailed link only sets a password (ResetPassword), and while
		// local login works so does a recovery link: no login follows a
		// reset then (OWASP's forgot-password cheat sheet).
		if err := s.refuseLocalLogin(); err != nil {
			return nil, err
		}
		return nil, errInvalidToken
	}
	if pw == "" {
		return nil, &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The request is not valid.", Fields: map[string]string{"password": "Password is required."}}
	}
	// Checked before the link is used, so a refused password leaves it
	// working for another try.
	if u.State == gatehouse.StateDisabled {
		return nil, errInvalidToken
	}
	if err := s.checkPolicyFor(ctx, pw, password.Context{Username: u.Username, Email: u.Email, Name: u.Name}); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return nil, err
	}
	if err := s.useActionToken(ctx, t); err != nil {
		return nil, err
	}
	u, err = s.changeUser(ctx, u.ID, func(cur *gatehouse.User) (bool, error) {
		if cur.State == gatehouse.StateInvited && cur.LastLoginAt.IsZero() {
			cur.State = gatehouse.StateActive
		}
		if cur.State != gatehouse.StateActive {
			// Disabled (or an invitation revoked after a login) since
			// the link was checked: nothing is written.
			return false, errInvalidToken
		}
		cur.PasswordHash, cur.SecurityStamp, cur.EmailConfirmed = hash, newStamp(), true
		cur.UpdatedAt = s.now().UTC()
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.endCredentials(ctx, u.ID); err != nil {
		return nil, err
	}
	if err := s.Unlock(ctx, u.Username); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "access recovered", "user", u.ID, "client", req.Client.Addr)
	s.record(ctx, Actor{User: u, Client: req.Client}, gatehouse.AuditPasswordReset, u.ID, map[string]string{"by": string(t.Purpose)})
	d := s.mailData(u)
	d.ClientAddr = req.Client.Addr
	s.notify(ctx, u.Email, "password_changed", d)
	// The previous session ended with the others (endCredentials).
	req.PreviousToken = ""
	return s.finishLogin(ctx, u, firstFactor{method: methodRecovery}, req)
}
