package gatehouse

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Code is a stable machine-readable error code. The HTTP layer sends it as the
// "code" member of a problem+json body and maps it to a status.
type Code string

// The error codes of the HTTP contract, plus Internal for everything the
// client must not learn about. Code that finds a fault of its own (a bug,
// a broken setting, unreadable data) returns an *Error with CodeInternal,
// answered 500: a bare error is taken for a store failure (see
// CodeStoreUnavailable).
const (
	CodeUnauthenticated       Code = "unauthenticated"
	CodeInvalidCredentials    Code = "invalid_credentials"
	CodeTooManyAttempts       Code = "too_many_attempts"
	CodePermissionDenied      Code = "permission_denied"
	CodeCSRFFailed            Code = "csrf_failed"
	CodeInsecureBasicAuth     Code = "insecure_basic_auth"
	CodeLocalLoginDisabled    Code = "local_login_disabled"
	CodePasswordResetDisabled Code = "password_reset_disabled"
	CodeInvalidToken          Code = "invalid_token"
	CodePasswordPolicy        Code = "password_policy"
	CodeInvalidCode           Code = "invalid_code"
	CodeNoPendingLogin        Code = "no_pending_login"
	CodeNotInvited            Code = "not_invited"
	CodeLastLoginMethod       Code = "last_login_method"
	// CodeManualLinkingDisabled refuses linking or unlinking an external
	// login of a provider whose allow_manual_linking is off (400).
	CodeManualLinkingDisabled Code = "manual_linking_disabled"
	// CodeNotLinked refuses an external login whose account at the
	// provider is linked to no user, and which the provider may neither
	// link by a verified email nor create a user for (403).
	CodeNotLinked Code = "not_linked"
	// CodeProviderUnavailable answers a request that needed an external
	// identity provider gatehouse could not reach, or that answered with
	// a server error (503).
	CodeProviderUnavailable Code = "provider_unavailable"
	// CodeExternalLoginFailed refuses the end of an external login that
	// did not prove anything: a state, nonce or PKCE mismatch, an ID token
	// that is expired, for another client or wrongly signed, an issuer
	// that differs, or an error the provider returned (400).
	CodeExternalLoginFailed Code = "external_login_failed"
	// CodeReauthenticationRequired refuses a sensitive change from a
	// session that has not proved its user's password recently enough.
	CodeReauthenticationRequired Code = "reauthentication_required"
	CodeValidation               Code = "validation"
	CodeNotFound                 Code = "not_found"
	CodeConflict                 Code = "conflict"
	CodeBadRequest               Code = "bad_request"
	CodeUnsupportedMediaType     Code = "unsupported_media_type"
	CodeMethodNotAllowed         Code = "method_not_allowed"
	CodeBusy                     Code = "busy"
	// CodeStoreUnavailable answers a request that needed a store gatehouse
	// could not reach (503, or 403 from forward auth). Stores need not
	// return it themselves: an error they return that is not an *Error
	// (connection refused, a timeout, a closed pool) is a store failure,
	// and the HTTP layer answers it with this code. A store may wrap
	// such a failure in an *Error with this code to give RetryAfter.
	CodeStoreUnavailable Code = "store_unavailable"
	CodeInternal         Code = "internal"
)

// Error is the one error type of gatehouse. Message is safe to show to the
// client; Err is the underlying cause, which is only ever logged.
type Error struct {
	Code    Code
	Message string

	// Fields maps a request field to what is wrong with it (CodeValidation).
	Fields map[string]string
	// Rules lists the password rules a password broke (CodePasswordPolicy).
	Rules []RuleViolation
	// RetryAfter tells a throttled or busy client when to come back.
	RetryAfter time.Duration

	// Err is the internal cause. It never reaches the client.
	Err error
}

// Error implements the error interface. It includes the internal cause, so it
// is meant for logs, not for clients.
func (e *Error) Error() string {
	msg := string(e.Code) + ": " + e.Message
	// What a program embedding gatehouse needs to fix its input: the
	// rules a password broke, the fields that are wrong (in name order).
	for _, r := range e.Rules {
		msg += " " + r.Message
	}
	for _, f := range slices.Sorted(maps.Keys(e.Fields)) {
		msg += " " + f + ": " + e.Fields[f]
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is match any *Error with the same code, so that a store
// can return a not-found error that carries its cause and still satisfy
// errors.Is(err, ErrNotFound).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Errorf returns an *Error with the given code and a client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: the code of the first *Error in its
// chain, or CodeInternal for any other non-nil error, or "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	if e, ok := err.(*Error); ok { // the common case, without errors.As's allocation
		return e.Code
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the client-safe message of err. Errors that are not an
// *Error are internal, and their text is never shown.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "An internal error occurred."
}

// ErrNotFound is returned by stores when a record does not exist.
var ErrNotFound = &Error{Code: CodeNotFound, Message: "Not found."}

// ErrConflict is returned by a store's compare-and-swap (such as
// TwoFactorStore.PutTwoFactor) when the record changed since it was read:
// the caller reads it again and decides again, never overwrites.
// errors.Is matches it with any CodeConflict error.
var ErrConflict = &Error{Code: CodeConflict, Message: "The record was changed meanwhile; try again."}

// RuleViolation is one password rule a password broke.
type RuleViolation struct {
	// Rule is a stable name such as "min_length" or "max_length".
	Rule string `json:"rule"`
	// Message says what is wrong, for a person.
	Message string `json:"message"`
}
