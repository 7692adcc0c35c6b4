package account

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse"
)

// External logins: a user proves a first factor at an OpenID Connect
// provider (the HTTP layer runs the flow with package oidclogin), and the
// account service decides who that is and finishes the login like any
// other (finishLogin): the second factor is still owed unless the provider
// is trusted for it.

// ExternalProvider is what the account service knows of a configured
// provider: its rules for linking, creating users and mapping groups.
type ExternalProvider struct {
	// ID is the provider's configured id (gatehouse.Identity.Provider);
	// Name is shown to people.
	ID, Name string
	// DenyLocalLogin turns off every password endpoint (403
	// local_login_disabled) while the provider is configured.
	DenyLocalLogin bool
	// AllowManualLinking lets users link and unlink this provider
	// themselves (LinkIdentity, UnlinkIdentity); without it 400
	// manual_linking_disabled.
	AllowManualLinking bool
	// AutoLinkVerifiedEmail links an unknown account to the user with the
	// same email when the provider says it verified the email.
	AutoLinkVerifiedEmail bool
	// AutoCreate creates a user for an unknown account (that no verified
	// email links), in AutoCreateGroups (and the mapped groups).
	AutoCreate       bool
	AutoCreateGroups []string
	// GroupMap maps the provider's group names (ExternalAssertion.Groups)
	// to gatehouse groups. When set, every login makes the user's
	// membership of the mapped gatehouse groups follow the claim: mapped
	// groups the claim names are added, mapped groups it does not name
	// are removed; groups no mapping names are left alone. nil: groups
	// are not mapped.
	GroupMap map[string][]string
	// TrustedAMR and TrustedACR trust the provider's second factor: a
	// login whose amr has any of TrustedAMR, or whose acr is one of
	// TrustedACR, owes no second factor here (nor enrolment) and its
	// session counts as two-factor.
	TrustedAMR, TrustedACR []string
}

// ExternalAssertion is what a provider proved at a finished login (see
// oidclogin.Claims).
type ExternalAssertion struct {
	// Provider is the provider's id; Subject the account's id there.
	Provider, Subject string
	// Email and EmailVerified as the provider said.
	Email         string
	EmailVerified bool
	// Name and Username (preferred_username) for a created user.
	Name, Username string
	// Groups are the provider's groups of the account (for GroupMap).
	Groups []string
	// AMR and ACR as the provider reported (for TrustedAMR/TrustedACR).
	AMR []string
	ACR string
	// IDToken is kept with the session for the provider's sign-out.
	IDToken string
}

var errExternalNotBuilt = errors.New("account: external logins are not built yet")

// ExternalProviders returns the configured providers, in configured order.
func (s *Service) ExternalProviders() []ExternalProvider { return nil }

// ExternalProvider returns the provider with id, false when none.
func (s *Service) ExternalProvider(id string) (ExternalProvider, bool) {
	return ExternalProvider{}, false
}

// LocalLoginDisabled reports whether a provider denies local login: then
// every password use case answers CodeLocalLoginDisabled, except a reset
// link an operator issued (IssueOperatorResetLink).
func (s *Service) LocalLoginDisabled() bool { return false }

// ExternalLogin logs in the user whose identity ext proved, through
// finishLogin (req gives the browser's side: Remember, Client,
// PreviousToken, DeviceToken; never credentials). The identity's user is
// found by (provider, subject); else, with AutoLinkVerifiedEmail, the user
// whose email equals a verified ext.Email is linked (an invited user
// becomes active); else, with AutoCreate, a user is created; else 403
// CodeNotLinked. A disabled user is refused like a wrong password.
// GroupMap applies on every login. Every outcome is audited.
func (s *Service) ExternalLogin(ctx context.Context, ext ExternalAssertion, req LoginRequest) (*LoginResult, error) {
	return nil, errExternalNotBuilt
}

// CanLink checks, before a link flow starts, that a.User may link the
// provider: it exists, allows manual linking (else 400
// CodeManualLinkingDisabled) and the user has no identity of it yet
// (else 409 CodeConflict).
func (s *Service) CanLink(ctx context.Context, a Actor, provider string) error {
	return errExternalNotBuilt
}

// LinkIdentity links the identity ext proved to a.User, after the same
// checks as CanLink; an account at the provider that is linked to another
// user is 409 CodeConflict. Audited.
func (s *Service) LinkIdentity(ctx context.Context, a Actor, ext ExternalAssertion) (*gatehouse.Identity, error) {
	return nil, errExternalNotBuilt
}

// Identities returns the user's linked identities: a.User's own, or,
// for an actor acting on another user (the management API), any user a
// may act on.
func (s *Service) Identities(ctx context.Context, a Actor, userID string) ([]*gatehouse.Identity, error) {
	return nil, errExternalNotBuilt
}

// UnlinkIdentity removes the user's identity of provider. A user removing
// their own needs the provider to allow manual linking (400
// CodeManualLinkingDisabled); anyone's removal that would leave the user
// no way to log in (no usable password, no other identity of a configured
// provider) is 409 CodeLastLoginMethod. Missing: 404. Audited.
func (s *Service) UnlinkIdentity(ctx context.Context, a Actor, userID, provider string) error {
	return errExternalNotBuilt
}

// RecoverAccess is the operator's way back in while local login is
// disabled: a recovery link (PurposeRecovery, from `gatehouse user
// reset-link`) sets the password like ResetPassword and then logs the
// user in through finishLogin (req: the browser's side), so a second
// factor still applies. Any other link is CodeLocalLoginDisabled.
func (s *Service) RecoverAccess(ctx context.Context, userID, secret, pw string, req LoginRequest) (*LoginResult, error) {
	return nil, errExternalNotBuilt
}

// ExternalLoginFailed records (audits and logs) an external login that
// ended before the account service could decide anything: the provider
// returned an error, the state or a token did not verify, the provider was
// unreachable. reason is safe to record (never a token).
func (s *Service) ExternalLoginFailed(ctx context.Context, a Actor, provider, reason string) {}
