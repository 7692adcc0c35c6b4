package gatehouse

import (
	"context"
	"time"
)

// Token is an API token: a long random secret a script sends as
// "Authorization: Bearer <secret>". The store keeps only the secret's
// SHA-256.
type Token struct {
	ID     string
	UserID string
	Name   string
	// Hash is the SHA-256 of the secret.
	Hash []byte
	// Hint is the first characters of the secret (its public prefix and a
	// few more), so a person can tell tokens apart in a list.
	Hint string
	// Permissions is the subset of its owner's permissions the token may
	// use; empty means all of them. A token never exceeds its owner's
	// current permissions.
	Permissions []string
	CreatedAt   time.Time
	// ExpiresAt is zero for a token that does not expire.
	ExpiresAt time.Time
	// LastUsedAt is zero for a token never used; it is updated at most
	// once a minute.
	LastUsedAt time.Time
}

// Expired reports whether the token has expired at now.
func (t *Token) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// TokenStore keeps API tokens. A missing token is ErrNotFound.
type TokenStore interface {
	// CreateToken stores a new token; a missing user is ErrNotFound, a
	// duplicate id or hash CodeConflict.
	CreateToken(ctx context.Context, t *Token) error
	// TokenByHash returns the token whose secret hashes to hash.
	TokenByHash(ctx context.Context, hash []byte) (*Token, error)
	// TokenByID returns the token with that id.
	TokenByID(ctx context.Context, id string) (*Token, error)
	// UserTokens returns a user's tokens, newest first.
	UserTokens(ctx context.Context, userID string) ([]*Token, error)
	// Tokens returns tokens newest first, paged by offset and limit (zero
	// means no limit), and how many there are.
	Tokens(ctx context.Context, offset, limit int) ([]*Token, int, error)
	// TouchToken sets the last-used time of a token; a missing token is no
	// error.
	TouchToken(ctx context.Context, id string, at time.Time) error
	// DeleteToken removes a token; a missing token is no error.
	DeleteToken(ctx context.Context, id string) error
	// DeleteUserTokens removes every token of a user and returns how many.
	DeleteUserTokens(ctx context.Context, userID string) (int, error)
}
