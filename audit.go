package gatehouse

import (
	"context"
	"time"
)

// AuditKind names a kind of security event.
type AuditKind string

// The audited events.
const (
	AuditLoginSucceeded   AuditKind = "login.succeeded"
	AuditLoginFailed      AuditKind = "login.failed"
	AuditLockout          AuditKind = "login.locked"
	AuditLogout           AuditKind = "logout"
	AuditPasswordChanged  AuditKind = "password.changed"
	AuditSessionEnded     AuditKind = "session.ended"
	AuditTokenCreated     AuditKind = "token.created"
	AuditTokenRevoked     AuditKind = "token.revoked"
	AuditUserCreated      AuditKind = "user.created"
	AuditUserUpdated      AuditKind = "user.updated"
	AuditUserDisabled     AuditKind = "user.disabled"
	AuditUserEnabled      AuditKind = "user.enabled"
	AuditUserDeleted      AuditKind = "user.deleted"
	AuditUserUnlocked     AuditKind = "user.unlocked"
	AuditGroupCreated     AuditKind = "group.created"
	AuditGroupUpdated     AuditKind = "group.updated"
	AuditGroupDeleted     AuditKind = "group.deleted"
	AuditPermissionDenied AuditKind = "permission.denied"
	AuditSetupCompleted   AuditKind = "setup.completed"
	AuditUserInvited      AuditKind = "user.invited"
	AuditInviteRevoked    AuditKind = "invite.revoked"
	AuditInviteVerified   AuditKind = "invite.verified"
	AuditInviteAccepted   AuditKind = "invite.accepted"
	AuditResetRequested   AuditKind = "password.reset_requested"
	AuditPasswordReset    AuditKind = "password.reset"
	// AuditReauthenticated is a session's user proving their password (or,
	// without one, a second factor's code: detail "provider") again before
	// a sensitive change; a wrong one is AuditLoginFailed.
	AuditReauthenticated AuditKind = "session.reauthenticated"

	AuditTwoFactorAdded       AuditKind = "two_factor.added"
	AuditTwoFactorRemoved     AuditKind = "two_factor.removed"
	AuditTwoFactorFailed      AuditKind = "two_factor.failed"
	AuditTwoFactorReplay      AuditKind = "two_factor.replay"
	AuditTwoFactorCodeSent    AuditKind = "two_factor.code_sent"
	AuditRecoveryCodeUsed     AuditKind = "two_factor.recovery_code_used"
	AuditRecoveryCodesRenewed AuditKind = "two_factor.recovery_codes_renewed"
	AuditDeviceRemembered     AuditKind = "two_factor.device_remembered"

	// AuditIdentityLinked and AuditIdentityUnlinked are an external login
	// linked to or removed from a user (detail "provider"; "by" says how a
	// link was made: "user", "verified_email" or "created").
	AuditIdentityLinked   AuditKind = "identity.linked"
	AuditIdentityUnlinked AuditKind = "identity.unlinked"
	// AuditExternalLoginFailed is an external login refused after the
	// provider answered: an account linked to nobody, a token that does
	// not verify, a disabled user (detail "provider", "reason").
	AuditExternalLoginFailed AuditKind = "external_login.failed"
	// AuditGroupsMapped is a user's groups changed from the provider's
	// groups claim at an external login (detail "provider", "added",
	// "removed").
	AuditGroupsMapped AuditKind = "user.groups_mapped"
)

// AuditEvent is one security event. It never holds a secret: no password,
// token, session id secret or code, only public ids.
type AuditEvent struct {
	ID   string
	Time time.Time
	Kind AuditKind
	// ActorID is the user who acted ("" for an anonymous client); ActorName
	// is their username at the time, or the username a failed login named.
	ActorID   string
	ActorName string
	// TargetID is the object acted on: a user id, group name, session or
	// token id.
	TargetID   string
	ClientAddr string
	UserAgent  string
	// Detail adds event-specific, non-secret facts (a method and path for a
	// denial, the changed fields of an update).
	Detail map[string]string
}

// AuditFilter selects audit events; zero fields select everything.
type AuditFilter struct {
	// UserID matches events whose actor or target is that user.
	UserID string
	Kind   AuditKind
	// Since and Until bound the time: Since <= Time < Until.
	Since, Until time.Time
	// Offset and Limit page through the events, newest first.
	Offset, Limit int
}

// AuditStore keeps the audit log. Events outlive the users they name, and
// need not refer to existing users. Times are kept at microsecond
// precision, and Since and Until compare against the stored time; the
// order of events with the same time is unspecified.
type AuditStore interface {
	// AppendAudit stores an event.
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// Audit returns events newest first, and how many match in all.
	Audit(ctx context.Context, f AuditFilter) ([]*AuditEvent, int, error)
}
