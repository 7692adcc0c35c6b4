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

// Caller is what an authenticated request's context carries about who made
// it. The HTTP layer stores one value per request (a single context node,
// since this is on the path of every protected request).
type Caller interface {
	// CallerUser is the authenticated user.
	CallerUser() *User
	// CallerSession is the session that authenticated the request, or nil
	// for credentials from an Authorization header.
	CallerSession() *Session
}

// callerKey is unexported so no other package can collide with it.
type callerKey struct{}

// NewContext returns a copy of ctx that carries the caller c.
func NewContext(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller a context carries, or nil.
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}

// UserFrom returns the authenticated user of a request context, or nil when
// the request is not authenticated.
func UserFrom(ctx context.Context) *User {
	if c := CallerFrom(ctx); c != nil {
		return c.CallerUser()
	}
	return nil
}

// SessionFrom returns the session that authenticated a request, or nil when
// the request was not authenticated by a session cookie.
func SessionFrom(ctx context.Context) *Session {
	if c := CallerFrom(ctx); c != nil {
		return c.CallerSession()
	}
	return nil
}
