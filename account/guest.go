package account

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/session"
)

// errGuestDisabled answers a guest session asked for while session.guest
// is off; the HTTP layer never asks then (an empty login body is judged as
// today), so this only guards other callers.
var errGuestDisabled = &gatehouse.Error{Code: gatehouse.CodePermissionDenied, Message: "Guest sessions are disabled."}

// GuestEnabled reports whether guest sessions are on (Config.Guest).
func (s *Service) GuestEnabled() bool { return s.cfg.Guest }

// StartGuest creates a guest session (gatehouse.ScopeGuest): one without a
// user, which authenticates nobody and opens only routes with access
// "session". It returns the cookie secret and the stored session.
//
// Creations count per client address (per /64 for IPv6: see guestKey)
// under Config.GuestThrottle, so that a script cannot fill the store with
// sessions: past the limit it is
// CodeTooManyAttempts with a RetryAfter. A guest session is never
// remembered: it ends after the idle timeout unused, and at the latest
// after the absolute timeout, like a user's session that is not
// remembered. The session the browser had before (previousToken) ends, as
// at a login.
func (s *Service) StartGuest(ctx context.Context, client Client, previousToken string) (string, *gatehouse.Session, error) {
	if !s.cfg.Guest {
		return "", nil, errGuestDisabled
	}
	if rule := s.cfg.GuestThrottle; rule.MaxFailures > 0 {
		now := s.now().UTC()
		t, err := s.stores.Throttles.AddFailure(ctx, guestKey(client.Addr), now, rule)
		if err != nil {
			return "", nil, err
		}
		if t.Locked(now) {
			return "", nil, tooManyGuests(t, now)
		}
	}
	s.endPrevious(ctx, previousToken)
	return s.sessions.Create(ctx, "", session.CreateOptions{
		Scope:      gatehouse.ScopeGuest,
		ClientAddr: client.Addr,
		UserAgent:  client.UserAgent,
	})
}

// guestKey is the throttle key of the guest sessions created from addr
// (counted by its network, see clientNet).
func guestKey(addr string) string { return "guest:addr:" + clientNet(addr) }

// tooManyGuests refuses one guest session too many from an address.
func tooManyGuests(t gatehouse.Throttle, now time.Time) error {
	// Round up so a client that waits exactly Retry-After is let in.
	wait := (t.LockedUntil.Sub(now) + time.Second - 1).Truncate(time.Second)
	return &gatehouse.Error{
		Code:       gatehouse.CodeTooManyAttempts,
		Message:    "Too many guest sessions from this address; try again later.",
		RetryAfter: max(wait, time.Second),
	}
}

// GuestSession returns the live guest session of token, sliding its idle
// timeout unless peek. A token that names no session, or a user's session
// (which Authenticate resolves), is CodeUnauthenticated; so is every token
// while guest sessions are off, which ends the guest sessions of a
// configuration that had them on.
func (s *Service) GuestSession(ctx context.Context, token string, peek bool) (*gatehouse.Session, error) {
	if !s.cfg.Guest {
		return nil, errNoSession
	}
	load := s.sessions.Load
	if peek {
		load = s.sessions.Peek
	}
	sess, err := load(ctx, token)
	if err != nil {
		return nil, err
	}
	if sess.Scope != gatehouse.ScopeGuest || sess.UserID != "" {
		return nil, errNoSession
	}
	return sess, nil
}
