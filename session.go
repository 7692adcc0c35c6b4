package gatehouse

import (
	"context"
	"time"
)

// Session is a browser's authenticated session.
//
// The secret that authenticates the browser lives only in its cookie; the
// store keeps TokenHash, the SHA-256 of that secret, so a copy of the
// database cannot be replayed as cookies.
type Session struct {
	// ID is the public handle used to list and revoke the session. It is not
	// the secret. It changes, with the secret, when the session gains
	// privileges in place (SessionStore.RekeySession).
	ID        string
	TokenHash []byte
	// UserID is the user of the session; "" for a guest session
	// (ScopeGuest), which has none.
	UserID string

	CreatedAt time.Time
	// LastSeenAt is when the session was last used, updated at most every
	// few seconds (see session.Manager), and drives the idle timeout.
	LastSeenAt time.Time
	// ExpiresAt is the absolute end of the session, never extended.
	ExpiresAt time.Time
	// IdleTimeout is how long the session lives unused.
	IdleTimeout time.Duration

	// AuthenticatedAt is when the user last proved a first factor (a
	// password, or for a user without one a second factor's code) in this
	// session: at the login, or at a re-authentication since. Zero for a session that never did (an invitation's). Sensitive
	// changes need it recent (session.Config.ReauthenticateAfter).
	AuthenticatedAt time.Time

	Remember  bool
	TwoFactor bool
	// Scope is "" for a full session. A partial session is limited to a
	// few endpoints: ScopeInvite lets an invited user only read their
	// invitation, set their password and log out.
	Scope string

	// ClientAddr and UserAgent describe where the session was created, so
	// the user can recognise it in a list.
	ClientAddr string
	UserAgent  string

	// Provider is the external identity provider (its configured id)
	// whose login started the session, "" for any other login; IDToken is
	// the raw ID token that provider issued at that login, kept only to
	// name the session at the provider's sign-out (id_token_hint). Both
	// survive a rekey.
	Provider string
	IDToken  string
}

// The scopes of partial sessions.
const (
	// ScopeInvite marks the partial session of an invited user.
	ScopeInvite = "invite"
	// ScopeEnrol marks the partial session of a user whose group requires
	// two-factor and who has none yet: it allows only enrolment and logout.
	ScopeEnrol = "enrol"
	// ScopeGuest marks a guest session (session.guest): it has no user
	// (UserID ""), authenticates nobody, and only opens routes whose
	// access is "session".
	ScopeGuest = "guest"
)

// IdleExpiresAt is when the session ends if it is not used before.
func (s *Session) IdleExpiresAt() time.Time {
	return s.LastSeenAt.Add(s.IdleTimeout)
}

// EndsAt is the earlier of the idle and the absolute expiry.
func (s *Session) EndsAt() time.Time {
	if idle := s.IdleExpiresAt(); idle.Before(s.ExpiresAt) {
		return idle
	}
	return s.ExpiresAt
}

// Expired reports whether the session has ended at now.
func (s *Session) Expired(now time.Time) bool {
	return !now.Before(s.EndsAt())
}

// SessionStore keeps sessions. A missing session is ErrNotFound; stores do
// not check expiry themselves, the session manager does. A store may forget
// a session once it has ended (Redis expires its key then), so an ended
// session may be ErrNotFound before DeleteExpiredSessions runs.
type SessionStore interface {
	// CreateSession stores a new session.
	CreateSession(ctx context.Context, s *Session) error
	// SessionByTokenHash returns the session whose token hashes to hash.
	SessionByTokenHash(ctx context.Context, hash []byte) (*Session, error)
	// TouchSession sets the last-seen time of a session. Touching a missing
	// session is not an error (it may have just been revoked).
	TouchSession(ctx context.Context, id string, at time.Time) error
	// DeleteSession removes a session by its public id. Deleting a missing
	// session is not an error.
	DeleteSession(ctx context.Context, id string) error
	// DeleteUserSessions removes every session of a user except the one
	// with id except (which may be ""), and returns how many it removed.
	DeleteUserSessions(ctx context.Context, userID, except string) (int, error)
	// UserSessions returns the sessions of a user, newest first.
	UserSessions(ctx context.Context, userID string) ([]*Session, error)
	// Sessions returns a page of every session (guest sessions included),
	// newest first: by CreatedAt, then by ID, both descending. The page
	// starts after the session the cursor after was taken from ("" for the
	// first page) and holds at most limit sessions (zero: no limit). next
	// is the cursor of the following page, "" when no session follows.
	// Cursors name a position in that order, not an offset, so they stay
	// valid when sessions are deleted, even the one a cursor was taken
	// from: a session that exists throughout a walk appears on exactly one
	// page. There is no total, which a store of millions of short-lived
	// keys cannot count cheaply. A cursor the store did not make is a
	// CodeValidation error naming the field "cursor".
	Sessions(ctx context.Context, after string, limit int) (page []*Session, next string, err error)
	// SessionByID returns the session with that public id.
	SessionByID(ctx context.Context, id string) (*Session, error)
	// DeleteExpiredSessions removes every session that has ended at now and
	// returns how many it removed.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
	// RekeySession replaces the stored session with public id oldID and
	// token hash oldHash by the same session under the new public id s.ID
	// and token hash s.TokenHash, with s's AuthenticatedAt, TwoFactor and
	// LastSeenAt, in one step: the old id and token stop existing the
	// moment the new ones start; the user, creation, expiry and the rest
	// stay. What names the session by its id in other stores (the
	// remembered devices created with it) is the caller's to move
	// (DeviceStore.MoveDevices). A session that is missing, or
	// whose hash is no longer oldHash, is ErrNotFound and nothing changes,
	// so of two concurrent rekeys of one token only one wins. A new id or
	// hash that another session has is CodeConflict.
	RekeySession(ctx context.Context, oldID string, oldHash []byte, s *Session) error
}

// LoginRecorder is an optional ability of a store: recording a login as one
// write — the user's last-login time (the session's creation time), the new
// session, and its audit event when e is not nil — where RecordLogin,
// CreateSession and AppendAudit would be three, each of which a durable
// store makes wait for the disk. All of it is stored, or none: a user that
// does not exist is ErrNotFound, a session or event id taken CodeConflict.
type LoginRecorder interface {
	RecordLoginSession(ctx context.Context, s *Session, e *AuditEvent) error
}

// SessionCounter is an optional ability of a session store: counting the
// sessions that have not ended at now (Session.Expired is false), guest
// sessions included, for the gatehouse_sessions_active metric. The count
// must be cheap — an indexed count, not a walk through every session —
// since it runs while a metrics scrape waits; a store that cannot count
// cheaply does not implement it. A store that keeps session ends at
// microsecond precision may count a session that ends within the
// microsecond of now either way.
type SessionCounter interface {
	CountSessions(ctx context.Context, now time.Time) (int, error)
}
