package account

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// errNotLinked refuses an external login whose account at the provider
// is linked to nobody and may neither be linked nor get a user created.
var errNotLinked = &gatehouse.Error{Code: gatehouse.CodeNotLinked, Message: "This account is not linked to a user here; log in another way and link it, or ask an administrator."}

// ExternalLogin logs in the user whose identity ext proved, through
// finishLogin (req gives the browser's side: Remember, Client,
// PreviousToken, DeviceToken; never credentials). The identity's user is
// found by (provider, subject); else, with AutoLinkVerifiedEmail, the user
// whose email equals a verified ext.Email is linked (an invited user
// becomes active); else, with AutoCreate, a user is created; else 403
// CodeNotLinked. A disabled user is refused like a wrong password.
// GroupMap applies on every login. Every outcome is audited.
//
// It is not throttled: nothing is guessed here, the provider proved the
// first factor. For the same reason an account locked by wrong passwords
// still logs in this way: the lock stops guessing of the password, which
// this login does not use, and the provider has its own protections; a
// locked-out user whose provider vouches for them is who the lock protects.
// The second factor is owed as after a password, unless the provider is
// trusted for it (TrustedAMR, TrustedACR).
func (s *Service) ExternalLogin(ctx context.Context, ext ExternalAssertion, req LoginRequest) (*LoginResult, error) {
	var disabled bool
	res, err := s.externalLogin(ctx, ext, req, &disabled)
	s.countLogin(gatehouse.LoginExternal, res, err, disabled)
	return res, err
}

// externalLogin is ExternalLogin; it sets *disabled when the identity's
// user is not active.
func (s *Service) externalLogin(ctx context.Context, ext ExternalAssertion, req LoginRequest, disabled *bool) (*LoginResult, error) {
	a := Actor{Client: req.Client}
	p, ok := s.ExternalProvider(ext.Provider)
	if !ok {
		return nil, errNoProvider
	}
	if ext.Subject == "" {
		s.refuseExternal(ctx, a, p, "", "no_subject", nil)
		return nil, &gatehouse.Error{Code: gatehouse.CodeExternalLoginFailed, Message: "The provider did not say who logged in."}
	}
	u, err := s.externalUser(ctx, a, p, ext)
	if err != nil {
		return nil, err
	}
	if u.State != gatehouse.StateActive {
		// A disabled user hears what a wrong password would tell them,
		// and no more. (An invited user is activated by the link that
		// makes them an identity's user; a linked one still invited was
		// refused its invitation, and is refused here too.)
		*disabled = true
		s.refuseExternal(ctx, a, p, u.ID, string(u.State), nil)
		return nil, errInvalidCredentials
	}
	if err := s.stores.Identities.TouchIdentity(ctx, p.ID, ext.Subject, s.now().UTC()); err != nil {
		return nil, fmt.Errorf("touch identity: %w", err)
	}
	if u, err = s.mapGroups(ctx, a, p, u, ext.Groups); err != nil {
		return nil, err
	}
	return s.finishLogin(ctx, u, firstFactor{
		method: methodExternal, provider: p.ID, idToken: ext.IDToken, vouched: p.trustsSecondFactor(ext),
	}, req)
}

// externalUser returns the user of the account ext proved at p: the
// linked one, else one linked by verified email, else one created, as p
// allows; else it audits the refusal and returns errNotLinked.
func (s *Service) externalUser(ctx context.Context, a Actor, p ExternalProvider, ext ExternalAssertion) (*gatehouse.User, error) {
	id, err := s.stores.Identities.IdentityBySubject(ctx, p.ID, ext.Subject)
	if err == nil {
		u, err := s.stores.Users.UserByID(ctx, id.UserID)
		if errors.Is(err, gatehouse.ErrNotFound) {
			// Deleted between the two reads: linked to nobody now.
			s.refuseExternal(ctx, a, p, "", "not_linked", map[string]string{"subject": ext.Subject})
			return nil, errNotLinked
		}
		return u, err
	}
	if !errors.Is(err, gatehouse.ErrNotFound) {
		return nil, fmt.Errorf("find identity: %w", err)
	}
	if p.AutoLinkVerifiedEmail && ext.EmailVerified && ext.Email != "" {
		u, err := s.userByEmail(ctx, ext.Email)
		if err != nil {
			return nil, err
		}
		if u != nil {
			return s.linkByEmail(ctx, a, p, u, ext)
		}
	}
	if p.AutoCreate {
		return s.createExternalUser(ctx, a, p, ext)
	}
	s.refuseExternal(ctx, a, p, "", "not_linked", map[string]string{"subject": ext.Subject})
	return nil, errNotLinked
}

// userByEmail returns the user whose email is email, compared as Login
// compares names (case-insensitively), or nil: a user whose username only
// happens to be that address is not theirs.
func (s *Service) userByEmail(ctx context.Context, email string) (*gatehouse.User, error) {
	u, err := s.stores.Users.UserByLogin(ctx, email)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find user: %w", err)
	}
	if !strings.EqualFold(u.Email, email) {
		return nil, nil
	}
	return u, nil
}

// linkByEmail links the account ext proved to u, whose email the provider
// verified, and activates u when invited. A disabled user is not linked
// (ExternalLogin refuses them), nor a user who has another account of the
// provider linked: one user, one account per provider.
func (s *Service) linkByEmail(ctx context.Context, a Actor, p ExternalProvider, u *gatehouse.User, ext ExternalAssertion) (*gatehouse.User, error) {
	if u.State == gatehouse.StateDisabled {
		return u, nil
	}
	if !u.EmailConfirmed {
		// A user made by an external login from an address its provider
		// did not verify holds that address on nobody's word: linking the
		// address's verified owner into it would hand the owner's account
		// to whoever made it. (A user an administrator made, with no
		// identity yet, took the address from the administrator.)
		ids, err := s.stores.Identities.UserIdentities(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 {
			s.refuseExternal(ctx, a, p, u.ID, "address_unconfirmed", map[string]string{"subject": ext.Subject})
			return nil, errNotLinked
		}
	}
	if err := s.createIdentity(ctx, a, u, ext, "verified_email"); err != nil {
		if gatehouse.ErrorCode(err) == gatehouse.CodeConflict {
			s.refuseExternal(ctx, a, p, u.ID, "other_account_linked", map[string]string{"subject": ext.Subject})
			return nil, errNotLinked
		}
		return nil, err
	}
	if u.State != gatehouse.StateInvited {
		return u, nil
	}
	// The provider verified the address the invitation went to: that
	// proves what accepting the invitation would have.
	now := s.now().UTC()
	linked := u
	u, err := s.changeUser(ctx, u.ID, func(cur *gatehouse.User) (bool, error) {
		if cur.State != gatehouse.StateInvited {
			return false, nil // disabled meanwhile, or active already
		}
		cur.State, cur.EmailConfirmed, cur.UpdatedAt = gatehouse.StateActive, true, now
		return true, nil
	})
	if err != nil {
		// Not left half done: an invited user with an identity would be
		// refused at every login.
		if derr := s.stores.Identities.DeleteIdentity(context.WithoutCancel(ctx), linked.ID, p.ID); derr != nil {
			s.log.ErrorContext(ctx, "undoing a link", "user", linked.ID, "provider", p.ID, "err", derr)
		}
		return nil, err
	}
	s.forgetUser(u.ID)
	if _, err := s.stores.ActionTokens.DeleteActionTokens(ctx, u.ID, gatehouse.PurposeInvite); err != nil {
		return nil, err
	}
	s.record(ctx, Actor{User: u, Client: a.Client}, gatehouse.AuditInviteAccepted, u.ID, map[string]string{"provider": p.ID})
	return u, nil
}

// createIdentity links the account ext proved to u and audits how (by).
func (s *Service) createIdentity(ctx context.Context, a Actor, u *gatehouse.User, ext ExternalAssertion, by string) error {
	now := s.now().UTC()
	id := &gatehouse.Identity{
		Provider: ext.Provider, Subject: ext.Subject, UserID: u.ID,
		Email: ext.Email, EmailVerified: ext.EmailVerified, LinkedAt: now, LastUsedAt: now,
	}
	if err := s.stores.Identities.CreateIdentity(ctx, id); err != nil {
		return err
	}
	if a.User == nil {
		a.User = u
	}
	s.log.InfoContext(ctx, "external login linked", "user", u.ID, "provider", ext.Provider, "by", by)
	s.record(ctx, a, gatehouse.AuditIdentityLinked, u.ID, map[string]string{"provider": ext.Provider, "by": by})
	return nil
}

// refuseExternal audits and logs an external login refused for reason.
func (s *Service) refuseExternal(ctx context.Context, a Actor, p ExternalProvider, userID, reason string, detail map[string]string) {
	if detail == nil {
		detail = map[string]string{}
	}
	detail["provider"], detail["reason"] = p.ID, reason
	s.log.InfoContext(ctx, "external login refused", "provider", p.ID, "reason", reason, "user", userID, "client", a.Client.Addr)
	s.record(ctx, a, gatehouse.AuditExternalLoginFailed, userID, detail)
}

// ExternalLoginFailed records (audits and logs) an external login that
// ended before the account service could decide anything: the provider
// returned an error, the state or a token did not verify, the provider was
// unreachable. reason is safe to record (never a token).
func (s *Service) ExternalLoginFailed(ctx context.Context, a Actor, provider, reason string) {
	reason = truncate(reason, 200)
	s.countLogin(gatehouse.LoginExternal, nil, errExternalFailed, false)
	s.log.WarnContext(ctx, "external login failed", "provider", provider, "reason", reason, "client", a.Client.Addr)
	target := ""
	if a.User != nil {
		target = a.User.ID
	}
	s.record(ctx, a, gatehouse.AuditExternalLoginFailed, target, map[string]string{"provider": truncate(provider, 100), "reason": reason})
}
