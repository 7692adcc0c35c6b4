package gatehouse

import (
	"context"
	"time"
)

// ActionPurpose is what a one-time action token is for.
type ActionPurpose string

// The purposes of action tokens.
const (
	PurposeReset  ActionPurpose = "reset"
	PurposeInvite ActionPurpose = "invite"
	// PurposeRecovery is a password reset link an operator issued
	// (gatehouse user reset-link): it works like PurposeReset, and also
	// while local login is disabled, when it is the way back in.
	PurposeRecovery ActionPurpose = "recovery"
)

// ActionToken is a single-use token mailed to a user: a password reset or
// an invitation. The store keeps only the SHA-256 of the secret. A token is
// void once used, once expired, and once the user's security stamp differs
// from Stamp (a password change voids every outstanding token).
type ActionToken struct {
	ID        string
	UserID    string
	Purpose   ActionPurpose
	Hash      []byte
	Stamp     string
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is zero until the token is used.
	UsedAt time.Time
}

// ActionTokenStore keeps action tokens. A missing token is ErrNotFound; a
// duplicate id or hash is CodeConflict; an unknown purpose is
// CodeValidation.
type ActionTokenStore interface {
	// CreateActionToken stores a new token; a missing user is ErrNotFound.
	CreateActionToken(ctx context.Context, t *ActionToken) error
	// ActionTokenByHash returns the token whose secret hashes to hash.
	ActionTokenByHash(ctx context.Context, hash []byte) (*ActionToken, error)
	// UseActionToken marks an unused token used at at. It is atomic: of
	// two concurrent uses exactly one succeeds; using a token already used
	// is CodeConflict, a missing one ErrNotFound.
	UseActionToken(ctx context.Context, id string, at time.Time) error
	// DeleteActionTokens removes every token of a user for purpose ("" for
	// all purposes) and returns how many.
	DeleteActionTokens(ctx context.Context, userID string, purpose ActionPurpose) (int, error)
	// DeleteStaleActionTokens removes tokens used or expired before
	// before, and returns how many.
	DeleteStaleActionTokens(ctx context.Context, before time.Time) (int, error)
}

// Mail is a message in the outbox: stored before it is sent, so that an
// outage of the mail server or a restart loses nothing.
type Mail struct {
	ID      string
	To      string
	Subject string
	Text    string
	HTML    string
	// Kind says what the message is ("invite", "reset", "password_changed",
	// …), for logs and metrics; it never holds a secret.
	Kind      string
	CreatedAt time.Time
	// Attempts counts delivery attempts so far; NextAttemptAt is when the
	// next one is due (or, while a sender holds the message, when its lease
	// ends).
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	// SentAt is zero until the message is accepted by the mail server.
	SentAt time.Time
}

// OutboxStore keeps the mail outbox. A missing message is ErrNotFound. A
// zero NextAttemptAt means "never due" (a message given up); only ClaimMail
// counts attempts; ClaimMail with n <= 0 claims nothing, and messages due
// at the same time come in no particular order.
type OutboxStore interface {
	// EnqueueMail stores a message, due at m.NextAttemptAt.
	EnqueueMail(ctx context.Context, m *Mail) error
	// ClaimMail hands out up to n unsent messages due at now, oldest due
	// first, and leases them until now+lease: until then no other call
	// hands them out again, so several processes can send from one outbox
	// without sending a message twice while a sender is alive.
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*Mail, error)
	// MarkMailSent records delivery and forgets the message's subject and
	// bodies, which may hold one-time links.
	MarkMailSent(ctx context.Context, id string, at time.Time) error
	// MarkMailFailed records a failed attempt and when to try again; a
	// zero next gives the message up: it is never claimed again and not
	// counted by PendingMail. The attempt itself was counted by ClaimMail.
	MarkMailFailed(ctx context.Context, id, reason string, next time.Time) error
	// DeleteOldMail removes messages sent, or given up, before before, and
	// returns how many: the outbox keeps addresses only as long as needed.
	DeleteOldMail(ctx context.Context, before time.Time) (int, error)
	// PendingMail counts the unsent messages.
	PendingMail(ctx context.Context) (int, error)
}
