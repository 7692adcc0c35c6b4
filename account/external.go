package account

import (
	"fmt"
	"slices"
	"strings"

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

// ValidateProviders checks configured providers: every id non-empty,
// made of letters, digits and . _ - (it is a path segment of the HTTP
// API), and unique. New panics on providers that fail it (a wiring
// mistake): a configuration loader calls it first to report the error.
func ValidateProviders(ps []ExternalProvider) error {
	seen := map[string]bool{}
	for i, p := range ps {
		switch {
		case p.ID == "":
			return fmt.Errorf("external provider %d: id is required", i+1)
		case strings.ContainsFunc(p.ID, func(r rune) bool {
			return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("._-", r))
		}):
			return fmt.Errorf("external provider %q: id may contain only letters, digits and . _ -", p.ID)
		case seen[p.ID]:
			return fmt.Errorf("external provider %q: id is configured twice", p.ID)
		}
		seen[p.ID] = true
	}
	return nil
}

// ExternalProviders returns the configured providers, in configured order.
func (s *Service) ExternalProviders() []ExternalProvider {
	return slices.Clone(s.cfg.ExternalProviders)
}

// ExternalProvider returns the provider with id, false when none.
func (s *Service) ExternalProvider(id string) (ExternalProvider, bool) {
	for _, p := range s.cfg.ExternalProviders {
		if p.ID == id {
			return p, true
		}
	}
	return ExternalProvider{}, false
}

// LocalLoginDisabled reports whether a provider denies local login: then
// every password use case answers CodeLocalLoginDisabled, except a
// recovery link an operator issued (IssueResetLink with kind "", used
// with RecoverAccess).
func (s *Service) LocalLoginDisabled() bool { return s.localLoginDisabled }

// errLocalLoginDisabled is the one answer of every password use case while
// a provider denies local login, given before the password or the user is
// looked at, so it is the same for everyone and counts nothing.
var errLocalLoginDisabled = &gatehouse.Error{Code: gatehouse.CodeLocalLoginDisabled, Message: "Passwords are turned off; log in with your organisation's sign-in."}

// refuseLocalLogin returns errLocalLoginDisabled while local login is
// disabled: the first step of every password use case.
func (s *Service) refuseLocalLogin() error {
	if s.localLoginDisabled {
		return errLocalLoginDisabled
	}
	return nil
}

// trustsSecondFactor reports whether p trusts the second factor the
// provider reported at the login ext: an amr of TrustedAMR or an acr of
// TrustedACR.
func (p ExternalProvider) trustsSecondFactor(ext ExternalAssertion) bool {
	for _, m := range ext.AMR {
		if slices.Contains(p.TrustedAMR, m) {
			return true
		}
	}
	return ext.ACR != "" && slices.Contains(p.TrustedACR, ext.ACR)
}

// errNoProvider answers a provider id that is not configured.
var errNoProvider = gatehouse.Errorf(gatehouse.CodeNotFound, "No such login provider.")
