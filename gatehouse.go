// Package gatehouse holds the domain of the gatehouse authentication server:
// users, sessions, login throttles, the error type every layer returns, and
// the small storage interfaces the services depend on.
//
// The packages below it implement those interfaces (sqlite, and later
// postgres and redis), the use cases (account), the HTTP layer (httpapi) and
// the command (cmd/gatehouse). Nothing in this package touches the network,
// the clock or the environment.
package gatehouse

import (
	"context"
	"crypto/rand"
)

// NewID returns a new opaque identifier with 128 bits of randomness, used for
// users, groups and public session handles. It is not a secret.
func NewID() string {
	return rand.Text()
}

// contextKey is unexported so no other package can collide with it.
type contextKey int

const (
	userKey contextKey = iota
	sessionKey
)

// NewContextWithUser returns a copy of ctx that carries the authenticated user.
func NewContextWithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey, u)
}

// UserFrom returns the authenticated user of a request context, or nil when
// the request is not authenticated.
func UserFrom(ctx context.Context) *User {
	u, _ := ctx.Value(userKey).(*User)
	return u
}

// NewContextWithSession returns a copy of ctx that carries the session that
// authenticated the request.
func NewContextWithSession(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, sessionKey, s)
}

// SessionFrom returns the session that authenticated a request, or nil when
// the request was not authenticated by a session cookie.
func SessionFrom(ctx context.Context) *Session {
	s, _ := ctx.Value(sessionKey).(*Session)
	return s
}
