package gatehouse

// LoginMethod is how a login, or a request's credentials, proved who it
// is: what the metrics count logins by (account.Config.OnLogin).
type LoginMethod string

// The login methods.
const (
	// LoginPassword is a username and password submitted to log in.
	LoginPassword LoginMethod = "password"
	// LoginTwoFactor is the second step of a login: a code of a second
	// factor (TOTP, mail, SMS or a recovery code).
	LoginTwoFactor LoginMethod = "two_factor"
	// LoginExternal is a login at an OpenID Connect provider.
	LoginExternal LoginMethod = "external"
	// LoginBasic is HTTP Basic credentials, checked on every request that
	// carries them.
	LoginBasic LoginMethod = "basic"
	// LoginToken is an API token, checked on every request that carries
	// one.
	LoginToken LoginMethod = "token"
)

// LoginOutcome is how a login ended, for the metrics. Unlike the answer
// the client gets, it tells a disabled account from a wrong password: it
// is counted, never shown, and names nobody.
type LoginOutcome string

// The login outcomes.
const (
	// LoginSucceeded is a login that started a session (or a request's
	// credentials that were accepted).
	LoginSucceeded LoginOutcome = "success"
	// LoginTwoFactorRequired is a right first factor of a user who owes a
	// second: the login waits for its second step.
	LoginTwoFactorRequired LoginOutcome = "two_factor_required"
	// LoginEnrolmentRequired is a login that got only an enrolment
	// session: the user's group requires a second factor they lack.
	LoginEnrolmentRequired LoginOutcome = "enrolment_required"
	// LoginInvalidCredentials is an unknown name, a wrong password or an
	// invalid token.
	LoginInvalidCredentials LoginOutcome = "invalid_credentials"
	// LoginDisabled is the right password (or an external identity) of an
	// account that is not active: disabled, or invited and not yet set up.
	LoginDisabled LoginOutcome = "disabled"
	// LoginLocked is an attempt refused, unchecked, because its name,
	// account, device or address is throttled.
	LoginLocked LoginOutcome = "locked"
	// LoginTwoFactorFailed is a wrong second-factor code.
	LoginTwoFactorFailed LoginOutcome = "two_factor_failed"
	// LoginRefused is a login refused for any other reason the client
	// caused: a missing field, local login disabled, a pending login that
	// ended, an external identity linked to nobody, a provider's error.
	LoginRefused LoginOutcome = "refused"
	// LoginError is a login gatehouse could not decide: a store that
	// failed, the password hashing too busy.
	LoginError LoginOutcome = "error"
)

// LoginMethods are every LoginMethod, and LoginOutcomes every
// LoginOutcome: the only label values of the login metrics.
var (
	LoginMethods  = []LoginMethod{LoginPassword, LoginTwoFactor, LoginExternal, LoginBasic, LoginToken}
	LoginOutcomes = []LoginOutcome{LoginSucceeded, LoginTwoFactorRequired, LoginEnrolmentRequired, LoginInvalidCredentials,
		LoginDisabled, LoginLocked, LoginTwoFactorFailed, LoginRefused, LoginError}
)

// OutcomeOf is the outcome of a login that ended with err (nil for a
// success); a success that still owes something is the caller's to tell.
func OutcomeOf(err error) LoginOutcome {
	switch ErrorCode(err) {
	case "":
		return LoginSucceeded
	case CodeInvalidCredentials, CodeUnauthenticated:
		return LoginInvalidCredentials
	case CodeTooManyAttempts:
		return LoginLocked
	case CodeInvalidCode:
		return LoginTwoFactorFailed
	case CodeInternal, CodeStoreUnavailable, CodeBusy:
		return LoginError
	}
	return LoginRefused
}
