package gatehouse

import (
	"context"
	"time"
)

// Identity is an external login linked to a user: the account a user has
// at an OpenID Connect provider, by which they may log in (see External
// logins in the HTTP contract). A provider's subject is the stable id of
// the account there; the email is what the provider last said about it,
// kept for display and matching, never as proof of who the user is.
type Identity struct {
	// Provider is the configured name of the provider, e.g. "google".
	Provider string
	// Subject is the provider's id of the account (the "sub" claim).
	Subject string
	// UserID is the user the identity logs in as.
	UserID string
	// Email is the account's address at the provider, "" when it has
	// none; EmailVerified is whether the provider said it verified it.
	Email         string
	EmailVerified bool
	// LinkedAt is when the identity was linked; LastUsedAt when it last
	// logged in (LinkedAt until it has).
	LinkedAt   time.Time
	LastUsedAt time.Time
}

// IdentityStore keeps external logins. A missing identity is ErrNotFound.
// A user has at most one identity per provider, and a provider's subject
// belongs to at most one user.
type IdentityStore interface {
	// CreateIdentity links the identity id. A (provider, subject) that is
	// taken, or a user who has an identity of the provider already, is
	// CodeConflict; a missing user is ErrNotFound.
	CreateIdentity(ctx context.Context, id *Identity) error
	// IdentityBySubject returns the identity of a provider's subject.
	IdentityBySubject(ctx context.Context, provider, subject string) (*Identity, error)
	// UserIdentities returns a user's identities ordered by provider; none
	// (also for a missing user) is an empty list, not an error.
	UserIdentities(ctx context.Context, userID string) ([]*Identity, error)
	// DeleteIdentity unlinks the user's identity of the provider;
	// ErrNotFound when there is none.
	DeleteIdentity(ctx context.Context, userID, provider string) error
	// TouchIdentity sets the LastUsedAt of a provider's subject to at;
	// ErrNotFound when there is no such identity.
	TouchIdentity(ctx context.Context, provider, subject string, at time.Time) error
}
