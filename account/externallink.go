package account

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse"
)

// Linking and unlinking external logins by their users and by
// administrators.

var (
	errManualLinkingDisabled = &gatehouse.Error{Code: gatehouse.CodeManualLinkingDisabled, Message: "This provider's logins cannot be linked or unlinked by their users; ask an administrator."}
	errAlreadyLinked         = gatehouse.Errorf(gatehouse.CodeConflict, "You have a login of this provider linked already; unlink it first.")
	errLinkedToAnother       = gatehouse.Errorf(gatehouse.CodeConflict, "This account at the provider is linked to another user.")
	errLastLoginMethod       = &gatehouse.Error{Code: gatehouse.CodeLastLoginMethod, Message: "This is the last way left to log in; set a password or link another login first."}
	errNoIdentity            = gatehouse.Errorf(gatehouse.CodeNotFound, "The user has no login of this provider.")
)

// CanLink checks, before a link flow starts, that a.User may link the
// provider: it exists, allows manual linking (else 400
// CodeManualLinkingDisabled) and the user has no identity of it yet
// (else 409 CodeConflict).
func (s *Service) CanLink(ctx context.Context, a Actor, provider string) error {
	_, err := s.linker(ctx, a, provider)
	return err
}

// linker is CanLink's check, which returns the user as stored.
func (s *Service) linker(ctx context.Context, a Actor, provider string) (*gatehouse.User, error) {
	p, ok := s.ExternalProvider(provider)
	if !ok {
		return nil, errNoProvider
	}
	if a.User == nil {
		return nil, errNoSession
	}
	if a.Scope != nil {
		// A person links their own logins, from a browser; an API
		// token, which may be a script's, does not.
		return nil, gatehouse.Errorf(gatehouse.CodePermissionDenied, "An API token cannot link logins.")
	}
	if !p.AllowManualLinking {
		return nil, errManualLinkingDisabled
	}
	u, err := s.stores.Users.UserByID(ctx, a.User.ID)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	if u.State != gatehouse.StateActive {
		return nil, errNoSession
	}
	ids, err := s.stores.Identities.UserIdentities(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("list identities: %w", err)
	}
	for _, id := range ids {
		if id.Provider == p.ID {
			return nil, errAlreadyLinked
		}
	}
	return u, nil
}

// LinkIdentity links the identity ext proved to a.User, after the same
// checks as CanLink; an account at the provider that is linked to another
// user is 409 CodeConflict. Audited.
func (s *Service) LinkIdentity(ctx context.Context, a Actor, ext ExternalAssertion) (*gatehouse.Identity, error) {
	u, err := s.linker(ctx, a, ext.Provider)
	if err != nil {
		return nil, err
	}
	if ext.Subject == "" {
		return nil, &gatehouse.Error{Code: gatehouse.CodeExternalLoginFailed, Message: "The provider did not say who logged in."}
	}
	switch other, err := s.stores.Identities.IdentityBySubject(ctx, ext.Provider, ext.Subject); {
	case err == nil && other.UserID == u.ID:
		return nil, errAlreadyLinked
	case err == nil:
		s.record(ctx, a, gatehouse.AuditExternalLoginFailed, u.ID, map[string]string{"provider": ext.Provider, "reason": "linked_to_another_user"})
		return nil, errLinkedToAnother
	case !errors.Is(err, gatehouse.ErrNotFound):
		return nil, fmt.Errorf("find identity: %w", err)
	}
	if err := s.createIdentity(ctx, a, u, ext, "user"); err != nil {
		if gatehouse.ErrorCode(err) == gatehouse.CodeConflict {
			// Linked meanwhile, by this user or another.
			return nil, errLinkedToAnother
		}
		return nil, err
	}
	id, err := s.stores.Identities.IdentityBySubject(ctx, ext.Provider, ext.Subject)
	if err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	return id, nil
}

// Identities returns the user's linked identities: a.User's own, or,
// for an actor acting on another user (the management API), any user a
// may act on (see checkActsOn; a missing user is ErrNotFound).
func (s *Service) Identities(ctx context.Context, a Actor, userID string) ([]*gatehouse.Identity, error) {
	if a.User == nil || a.User.ID != userID {
		if _, err := s.actOn(ctx, a, userID, "see the logins"); err != nil {
			return nil, err
		}
	}
	ids, err := s.stores.Identities.UserIdentities(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list identities: %w", err)
	}
	if ids == nil {
		ids = []*gatehouse.Identity{}
	}
	return ids, nil
}

// UnlinkIdentity removes the user's identity of provider. A user removing
// their own needs the provider to allow manual linking (400
// CodeManualLinkingDisabled) unless it is no longer configured; anyone's
// removal that would leave the user
// no way to log in (no usable password, no other identity of a configured
// provider) is 409 CodeLastLoginMethod. Missing: 404. Audited.
//
// A usable password is one the user has while local login is enabled. An
// identity of a provider no longer configured is no way in: it does not
// count as one left, and removing it takes no way away, so it may always
// go, by its user too.
func (s *Service) UnlinkIdentity(ctx context.Context, a Actor, userID, provider string) error {
	self := a.User != nil && a.User.ID == userID
	var (
		u   *gatehouse.User
		err error
	)
	if self {
		u, err = s.stores.Users.UserByID(ctx, userID)
	} else {
		u, err = s.actOn(ctx, a, userID, "remove a login")
	}
	if err != nil {
		return err
	}
	// A provider no longer configured logs nobody in: its identities are
	// leftovers anyone may clear, and a name that is no provider and no
	// identity is not found.
	p, configured := s.ExternalProvider(provider)
	if self && configured && !p.AllowManualLinking {
		return errManualLinkingDisabled
	}
	ids, err := s.stores.Identities.UserIdentities(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("list identities: %w", err)
	}
	var gone *gatehouse.Identity
	for _, id := range ids {
		if id.Provider == provider {
			gone = id
		}
	}
	if gone == nil {
		return errNoIdentity
	}
	if configured && !s.hasAnotherWayIn(u, ids, provider) {
		return errLastLoginMethod
	}
	if err := s.stores.Identities.DeleteIdentity(ctx, u.ID, provider); errors.Is(err, gatehouse.ErrNotFound) {
		return errNoIdentity
	} else if err != nil {
		return err
	}
	if configured {
		// Two removals at once could each have counted the other's
		// identity as the way left: look again, and put this one back if
		// nothing is left.
		ids, err := s.stores.Identities.UserIdentities(ctx, u.ID)
		if err == nil && !s.hasAnotherWayIn(u, ids, provider) {
			if err := s.stores.Identities.CreateIdentity(context.WithoutCancel(ctx), gone); err != nil {
				s.log.ErrorContext(ctx, "restoring the last login of a user", "user", u.ID, "provider", provider, "err", err)
			}
			return errLastLoginMethod
		}
	}
	by := "user"
	if !self {
		by = "administrator"
	}
	s.log.InfoContext(ctx, "external login unlinked", "user", u.ID, "provider", provider, "by", by)
	s.record(ctx, a, gatehouse.AuditIdentityUnlinked, u.ID, map[string]string{"provider": provider, "by": by})
	return nil
}

// hasAnotherWayIn reports whether u can log in without their identity of
// provider: with a usable password, or another identity of a configured
// provider among ids.
func (s *Service) hasAnotherWayIn(u *gatehouse.User, ids []*gatehouse.Identity, provider string) bool {
	if u.PasswordHash != "" && !s.LocalLoginDisabled() {
		return true
	}
	for _, id := range ids {
		if _, ok := s.ExternalProvider(id.Provider); ok && id.Provider != provider {
			return true
		}
	}
	return false
}
