package gatehouse

import (
	"context"
	"time"
)

// The second-factor providers, as the HTTP contract names them.
const (
	ProviderTOTP         = "totp"
	ProviderEmail        = "email"
	ProviderSMS          = "sms"
	ProviderRecoveryCode = "recovery_code"
)

// TwoFactor is a user's second-factor settings. Secrets are sealed
// (encrypted with the server's key, bound to the user's id), never stored
// in clear; recovery codes are stored as hashes.
type TwoFactor struct {
	UserID string
	// TOTPSecret is the sealed TOTP key once enrolment is confirmed;
	// TOTPPending the sealed key of an enrolment not yet confirmed.
	TOTPSecret  []byte
	TOTPPending []byte
	// TOTPLastStep is the last time step whose code was accepted: a code of
	// that step or an earlier one is refused (no replay).
	TOTPLastStep int64
	// Phone is the E.164 number SMS codes go to, "" when none.
	Phone string
	// RecoveryCodes are the SHA-256 hashes of the unused recovery codes.
	RecoveryCodes [][]byte
	UpdatedAt     time.Time
	// Version identifies the stored settings as they were read: every write
	// (PutTwoFactor, UseTOTPStep, UseRecoveryCode) stores a new one, so
	// that PutTwoFactor can refuse to write back settings read before
	// another change. 0 means none were read (new settings). It is an
	// opaque identifier, not a counter.
	Version int64
}

// Enabled reports whether the user has a second factor: a confirmed TOTP
// enrolment. Email, SMS and recovery codes are further ways to pass the
// second step of such a user, not second factors on their own.
func (t *TwoFactor) Enabled() bool { return t != nil && len(t.TOTPSecret) > 0 }

// PendingLogin is the state between a correct password and the second
// factor: bound to one user and one password check, short-lived, and known
// to the browser only by a secret in a cookie, of which the store keeps
// the SHA-256.
type PendingLogin struct {
	ID        string
	TokenHash []byte
	UserID    string
	// Stamp is the user's security stamp at the password check: a password
	// change in between voids the pending login.
	Stamp     string
	Remember  bool
	CreatedAt time.Time
	ExpiresAt time.Time
	// Attempts counts wrong codes entered for this pending login.
	Attempts int
	// CodeHash, CodeProvider and CodeExpiresAt describe the one email or
	// SMS code sent for it, if any; Sends counts codes sent.
	CodeHash      []byte
	CodeProvider  string
	CodeExpiresAt time.Time
	Sends         int
	// Provider and IDToken are those of the external login whose second
	// step this is ("" after a password): the session it ends in carries
	// them (see Session.Provider).
	Provider string
	IDToken  string
}

// TwoFactorStore keeps users' second-factor settings, which last until
// changed. Missing records are ErrNotFound.
//
// Every change is atomic in the store, so that requests served by any
// number of processes sharing it cannot undo one another's changes: the
// use of a code is a single conditional step (UseTOTPStep,
// UseRecoveryCode), and any other change is read, decided and written
// back with PutTwoFactor, a compare-and-swap on the Version read.
type TwoFactorStore interface {
	// TwoFactor returns a user's settings, with their Version; a user
	// without any is ErrNotFound.
	TwoFactor(ctx context.Context, userID string) (*TwoFactor, error)
	// PutTwoFactor writes a user's settings, atomically, only if they are
	// still as read: with t.Version 0 it creates the settings of a user
	// who has none, otherwise it replaces settings whose stored Version is
	// still t.Version. Settings that exist (for Version 0), or that were
	// changed or deleted since they were read, are ErrConflict, and are
	// left as they are. On success t.Version is set to the new version.
	PutTwoFactor(ctx context.Context, t *TwoFactor) error
	// DeleteTwoFactor removes a user's settings (a 2FA reset).
	DeleteTwoFactor(ctx context.Context, userID string) error
	// UseTOTPStep records step as the last accepted TOTP step of a user if
	// it is later than the one stored, atomically, and gives the settings
	// a new Version; a step not later is CodeConflict (a replay, even from
	// a concurrent request), and changes nothing.
	UseTOTPStep(ctx context.Context, userID string, step int64) error
	// UseRecoveryCode removes the recovery code with hash from a user's
	// codes, atomically, and gives the settings a new Version; a code not
	// among them is ErrNotFound, and changes nothing.
	UseRecoveryCode(ctx context.Context, userID string, hash []byte) error
}

// PendingLoginStore keeps pending logins: short-lived state (minutes),
// apart from the durable second-factor settings of TwoFactorStore, so that
// it can live with the sessions. A missing pending login is ErrNotFound.
type PendingLoginStore interface {
	// CreatePendingLogin stores a pending login.
	CreatePendingLogin(ctx context.Context, p *PendingLogin) error
	// PendingLoginByTokenHash returns the pending login of a cookie secret.
	PendingLoginByTokenHash(ctx context.Context, hash []byte) (*PendingLogin, error)
	// RecordCodeSent stores the code of p (CodeHash, CodeProvider,
	// CodeExpiresAt) and its Sends, one more than when p was read, and
	// nothing else of p (its attempts change only by
	// CountPendingLoginAttempt): atomically, and only if the stored Sends
	// are still p.Sends-1, so that two sends racing, from any processes,
	// cannot both pass the limit on sends. A pending login that does not
	// exist, or that another send changed meanwhile, is ErrNotFound.
	RecordCodeSent(ctx context.Context, p *PendingLogin) error
	// CountPendingLoginAttempt adds one to the attempts of pending login
	// id if they are below max, atomically, and returns the new count. A
	// code is counted before it is checked, so that parallel codes, from
	// any number of processes, never get more than max checked. A pending
	// login that does not exist, or whose attempts reached max, is
	// ErrNotFound.
	CountPendingLoginAttempt(ctx context.Context, id string, max int) (int, error)
	// TakePendingLogin removes pending login id, atomically, and reports
	// whether this call removed it: a pending login that is not there
	// (never was, expired away, or already taken) is ErrNotFound. Of
	// concurrent takes of one id, from any number of processes, exactly
	// one succeeds. A login completes only through a successful take, so
	// that one pending login starts at most one session; a plain delete
	// that treated "missing" as success would let two requests racing
	// with the same correct code both finish.
	TakePendingLogin(ctx context.Context, id string) error
	// DeleteExpiredPendingLogins removes those expired at now.
	DeleteExpiredPendingLogins(ctx context.Context, now time.Time) (int, error)
	// DeleteUserPendingLogins removes every pending login of a user and
	// returns how many it removed. The use cases call it when they end a
	// user's access: the store holding the user need not be this one, so
	// deleting the user does not reach its pending logins.
	DeleteUserPendingLogins(ctx context.Context, userID string) (int, error)
}

// Device is a browser a user asked to remember after passing the second
// factor: its cookie skips the second step for that user until it expires
// (30 days by default), the user's password changes, their two-factor is
// reset, or the session it was created with is ended from the session list.
// The store keeps only the SHA-256 of the cookie's secret.
type Device struct {
	ID        string
	TokenHash []byte
	UserID    string
	// SessionID is the session created with the device, whose revocation
	// forgets the device too.
	SessionID string
	// Stamp is the user's security stamp when the device was remembered.
	Stamp      string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	ClientAddr string
	UserAgent  string
}

// DeviceStore keeps remembered devices. A missing device is ErrNotFound.
type DeviceStore interface {
	// CreateDevice stores a device; a missing user is ErrNotFound.
	CreateDevice(ctx context.Context, d *Device) error
	// DeviceByTokenHash returns the device of a cookie secret.
	DeviceByTokenHash(ctx context.Context, hash []byte) (*Device, error)
	// DeleteDevices removes a user's devices: all of them when sessionID is
	// "", else those created with that session. It returns how many.
	DeleteDevices(ctx context.Context, userID, sessionID string) (int, error)
	// MoveDevices gives the devices of userID created with session
	// fromSessionID the session id toSessionID, and returns how many it
	// moved. The use cases call it when a session is rekeyed
	// (SessionStore.RekeySession), so that ending the session by its new
	// id still forgets its devices; the session store need not be this
	// one, so the rekey cannot move them itself.
	MoveDevices(ctx context.Context, userID, fromSessionID, toSessionID string) (int, error)
	// DeleteExpiredDevices removes the devices expired at now.
	DeleteExpiredDevices(ctx context.Context, now time.Time) (int, error)
}
