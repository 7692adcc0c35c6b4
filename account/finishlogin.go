package account

import (
	"context"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/session"
)

// A login has two halves: proving a first factor (a password today; an
// external identity provider or a passkey later) and finishing the login,
// which is the same whatever the first factor was. Every interactive login
// ends in finishLogin, so that none can skip the rules of its second half:
// a user with a second factor owes it (unless the browser is a remembered
// device), a user whose group requires one and has none gets only an
// enrolment session, and only then does a full session start.

// Methods of a first factor, for the log and the audit log.
const (
	methodPassword = "password"
	methodExternal = "external"
	methodRecovery = "recovery"
)

// firstFactor is what a login proved before finishLogin: which method, and
// the throttle attempt it was let through on, which finishLogin settles
// as a success once it knows whether a second step follows. A first factor
// that is not guessed against the login throttles (an external identity
// provider) has no attempt.
type firstFactor struct {
	method string
	att    *attempt // nil: no attempt to settle
	// provider and idToken are an external login's provider id and raw
	// ID token, which its session (or pending login) carries for the
	// provider's sign-out; "" for any other first factor.
	provider, idToken string
	// vouched is set when a provider trusted for second factors reported
	// one at this login (ExternalProvider.TrustedAMR, TrustedACR): the
	// user then owes nothing more, and the session counts as two-factor.
	vouched bool
}

// loginDetail is the audit detail a login of ff adds to login.succeeded:
// none for a password (the default), else the method and the provider.
func (ff firstFactor) loginDetail(detail map[string]string) map[string]string {
	if ff.method == methodPassword {
		return detail
	}
	if detail == nil {
		detail = map[string]string{}
	}
	detail["method"] = ff.method
	if ff.provider != "" {
		detail["provider"] = ff.provider
	}
	return detail
}

// owed is what a user still owes after proving a first factor.
type owed int

const (
	owesNothing      owed = iota
	owesSecondFactor      // the user has a second factor
	owesEnrolment         // a group requires a second factor; the user has none
)

// owedAfterFirstFactor decides what u still owes after a first factor, and
// returns u's second-factor settings (nil when none). It is the one place
// the rule is decided, for the logins that finishLogin ends and for HTTP
// Basic, which cannot take a second step and so refuses anything owed.
func (s *Service) owedAfterFirstFactor(ctx context.Context, u *gatehouse.User) (owed, *gatehouse.TwoFactor, error) {
	tf, err := s.twoFactorOf(ctx, u.ID)
	if err != nil {
		return owesNothing, nil, err
	}
	if tf.Enabled() {
		return owesSecondFactor, tf, nil
	}
	required, err := s.requiresTwoFactor(ctx, u)
	if err != nil {
		return owesNothing, nil, err
	}
	if required {
		return owesEnrolment, tf, nil
	}
	return owesNothing, tf, nil
}

// finishLogin finishes the login of u, whose first factor ff was just
// proved: it starts the second step (a pending login) for a user with a
// second factor unless req's remembered device skips it, an enrolment
// session for a user whose group requires a second factor they lack, and
// otherwise a full session; it ends the browser's previous session and
// records the login. Of req only what comes from the browser is read
// (Remember, Client, PreviousToken, DeviceToken), never the credentials.
func (s *Service) finishLogin(ctx context.Context, u *gatehouse.User, ff firstFactor, req LoginRequest) (*LoginResult, error) {
	need, tf, err := s.owedAfterFirstFactor(ctx, u)
	if err != nil {
		return nil, err
	}
	if ff.vouched {
		// The provider proved a second factor this deployment trusts:
		// none is owed here, nor an enrolment in one.
		need = owesNothing
	}
	var device *gatehouse.Device
	if need == owesSecondFactor {
		if device = s.rememberedDevice(ctx, u, req.DeviceToken); device == nil {
			// The first factor was right. Wrong codes count against the
			// account (or the known device), not the name, so the name's
			// count may go; a known device's stays until the second
			// factor is right too, so guessing codes from it still locks.
			if ff.att != nil && !ff.att.keys.known {
				if err := s.resetAttempt(ctx, ff.att); err != nil {
					return nil, err
				}
			}
			s.endPrevious(ctx, req.PreviousToken)
			return s.startSecondStep(ctx, u, tf, req.Remember, ff)
		}
	}
	if ff.att != nil {
		if err := s.resetAttempt(ctx, ff.att); err != nil {
			return nil, err
		}
	}
	if req.PreviousToken != "" {
		if old, err := s.sessions.Peek(ctx, req.PreviousToken); err == nil {
			if err := s.sessions.Revoke(ctx, old.ID); err != nil {
				return nil, err
			}
		}
	}
	required := need == owesEnrolment
	scope := ""
	if required {
		scope = gatehouse.ScopeEnrol
	}
	var detail map[string]string
	switch {
	case required:
		detail = map[string]string{"scope": scope}
	case device != nil:
		detail = map[string]string{"twoFactor": "remembered_device"}
	case ff.vouched:
		detail = map[string]string{"twoFactor": "provider"}
	}
	token, sess, err := s.startLogin(ctx, Actor{User: u, Client: req.Client}, session.CreateOptions{
		Remember:   req.Remember && !required,
		TwoFactor:  device != nil || ff.vouched,
		ClientAddr: req.Client.Addr,
		UserAgent:  req.Client.UserAgent,
		Scope:      scope,
		Provider:   ff.provider,
		IDToken:    ff.idToken,
	}, ff.loginDetail(detail))
	if err != nil {
		return nil, err
	}
	known, knownExp := s.issueKnownDevice(u.ID)
	if required {
		return &LoginResult{User: u, Session: sess, Token: token, EnrolmentRequired: true, KnownDeviceToken: known, KnownDeviceExpiresAt: knownExp}, nil
	}
	s.log.InfoContext(ctx, "login succeeded", "user", u.ID, "session", sess.ID, "client", req.Client.Addr, "method", ff.method, "provider", ff.provider)
	res := &LoginResult{User: u, Session: sess, Token: token, KnownDeviceToken: known, KnownDeviceExpiresAt: knownExp}
	if device != nil {
		if res.DeviceToken, res.DeviceExpiresAt, err = s.renewDevice(ctx, device, u, sess, req.Client); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// errExternalFailed stands for an external login that failed before the
// account service could decide (see ExternalLoginFailed), for countLogin.
var errExternalFailed = &gatehouse.Error{Code: gatehouse.CodeExternalLoginFailed}

// countLogin tells Config.OnLogin of a login of method that ended with
// res and err; disabled is a right credential of an account that is not
// active, which the client is answered as a wrong one.
func (s *Service) countLogin(method gatehouse.LoginMethod, res *LoginResult, err error, disabled bool) {
	if s.cfg.OnLogin == nil {
		return
	}
	outcome := gatehouse.OutcomeOf(err)
	switch {
	case disabled && outcome == gatehouse.LoginInvalidCredentials:
		outcome = gatehouse.LoginDisabled
	case err == nil && res != nil && res.PendingToken != "":
		outcome = gatehouse.LoginTwoFactorRequired
	case err == nil && res != nil && res.EnrolmentRequired:
		outcome = gatehouse.LoginEnrolmentRequired
	}
	s.cfg.OnLogin(method, outcome)
}
