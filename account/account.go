// Package account holds gatehouse's use cases: logging in and out, resolving
// the user behind a session, changing a password, creating users and the
// first administrator. The HTTP layer and the command line call it; it calls
// the stores through the root package's interfaces.
package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/mail"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
)

// Config holds the account settings.
type Config struct {
	// UserThrottle limits failed logins. Attempts from anywhere but a
	// known device count per submitted username (known or not), with the
	// growing waits of a Backoff rule (implied); attempts from a known
	// device of the user count per device, locked after MaxFailures for
	// Lockout. Wrong second-factor codes and current passwords count per
	// account, like untrusted attempts.
	UserThrottle gatehouse.ThrottleRule
	// AddrThrottle limits failed logins per client address; attempts from
	// a known device neither count nor are refused by it.
	AddrThrottle gatehouse.ThrottleRule
	// KnownDeviceSecret signs known-device cookies (a key is derived from
	// it). Empty: a random key per process, so the cookies last until a
	// restart.
	KnownDeviceSecret []byte
	// Policy is the password policy for new passwords.
	Policy password.Policy
	// UserCacheTTL is how long a user read for a session is trusted from
	// memory, and so are groups and API tokens; changes made through this
	// Service take effect at once, those made by another process within
	// UserCacheTTL, or as soon as they arrive with an Invalidator (see
	// Service.UseInvalidator). Zero means one second; negative disables
	// the cache.
	UserCacheTTL time.Duration

	// AllowPasswordReset turns the forgot-password flow on.
	AllowPasswordReset bool
	// ResetTTL and InviteTTL are how long mailed reset and invitation
	// links stay valid.
	ResetTTL, InviteTTL time.Duration
	// ForgotThrottle limits reset requests per address and per client.
	ForgotThrottle gatehouse.ThrottleRule
	// Guest turns guest sessions on (session.guest): sessions without a
	// user, for applications such as duplistatus that open a session
	// before anyone logs in (see StartGuest).
	Guest bool
	// GuestThrottle limits how many guest sessions one client address
	// may create: every creation counts, and reaching MaxFailures within
	// Window refuses further ones (429) for Lockout.
	GuestThrottle gatehouse.ThrottleRule
	// LinkBase is where mailed links point: the public URL and the base
	// path, such as https://admin.example.com/auth. Never from a request's
	// Host header.
	LinkBase string
	// Product names the product in mail.
	Product string
	// OnAudit, when set, is told the kind of every audit event recorded
	// (metrics.Metrics.Audit counts them); it must be quick and must not
	// block.
	OnAudit func(gatehouse.AuditKind)
	// OnLogin, when set, is told the method and outcome of every login
	// and every check of Basic or API-token credentials
	// (metrics.Metrics.Login counts them); it must be quick and must not
	// block: it runs on the request path of every token-authenticated
	// request.
	OnLogin func(gatehouse.LoginMethod, gatehouse.LoginOutcome)
	// ExternalProviders are the OpenID Connect providers people may log
	// in with (see external.go), in the order they are shown.
	ExternalProviders []ExternalProvider
}

// DefaultConfig makes a username wait after 5 failures from unknown
// browsers (3¾, 7½, then 15 minutes between further attempts, forgotten
// after 15 quiet minutes: at most 20 guesses an hour), locks a known
// browser for 15 minutes after 5 failures within 15 minutes, and a client
// address after 50 (an office behind one NAT address should not be locked
// out by a few people's typos).
var DefaultConfig = Config{
	UserThrottle: gatehouse.ThrottleRule{MaxFailures: 5, Window: 15 * time.Minute, Lockout: 15 * time.Minute},
	AddrThrottle: gatehouse.ThrottleRule{MaxFailures: 50, Window: 15 * time.Minute, Lockout: 15 * time.Minute},
	Policy:       password.DefaultPolicy,
	UserCacheTTL: time.Second,

	AllowPasswordReset: true,
	ResetTTL:           time.Hour,
	InviteTTL:          72 * time.Hour,
	ForgotThrottle:     gatehouse.ThrottleRule{MaxFailures: 5, Window: 15 * time.Minute, Lockout: 15 * time.Minute},
	GuestThrottle:      gatehouse.ThrottleRule{MaxFailures: 30, Window: time.Minute, Lockout: time.Minute},
	LinkBase:           "http://localhost:8080/auth",
	Product:            "gatehouse",
}

// Service runs the account use cases.
type Service struct {
	stores   Stores
	hasher   *password.Hasher
	sessions *session.Manager
	cfg      Config
	now      func() time.Time
	log      *slog.Logger

	users  *memo[*gatehouse.User]             // by user id
	tokens *memo[*gatehouse.Token]            // by string(token hash)
	basic  *memo[basicEntry]                  // by keyed hash of the credentials
	groups *memo[map[string]*gatehouse.Group] // every group by name, under allGroups

	invMu sync.Mutex
	inv   gatehouse.Invalidator // nil: one process (see UseInvalidator)
	// listening is set while inv's subscription receives.
	listening bool

	basicMACs *sync.Pool // HMACs under a per-process key that index the Basic cache
	knownKey  []byte     // signs known-device tokens

	mailer     Mailer
	twoFactor  *TwoFactorDeps // nil: second factors are off
	background sync.WaitGroup // forgot-password work in flight

	setupMu   sync.Mutex
	setupHash []byte // SHA-256 of the one-time setup token, nil when none

	// localLoginDisabled: a provider of cfg.ExternalProviders denies
	// local login (see LocalLoginDisabled).
	localLoginDisabled bool
}

// Mailer queues mail for delivery (mail.Outbox does, through the outbox
// table, so nothing is lost when the mail server is down).
type Mailer interface {
	Enqueue(ctx context.Context, to, kind string, d mail.Data) error
}

// New returns a Service that keeps its records in stores, every field of
// which but Logins must be set, and whose cfg.ExternalProviders pass
// ValidateProviders (New panics otherwise: it is a wiring mistake). now is the clock; log receives internal errors. Mail goes to
// mailer; nil discards it (tests of other parts, tools).
func New(stores Stores, hasher *password.Hasher, sessions *session.Manager, cfg Config, now func() time.Time, log *slog.Logger, mailer Mailer) *Service {
	if missing := stores.missing(); missing != "" {
		panic("account.New: Stores." + missing + " is nil")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.UserCacheTTL == 0 {
		cfg.UserCacheTTL = time.Second
	}
	if mailer == nil {
		mailer = discardMailer{}
	}
	if err := ValidateProviders(cfg.ExternalProviders); err != nil {
		panic("account.New: " + err.Error())
	}
	cfg.ExternalProviders = slices.Clone(cfg.ExternalProviders)
	return &Service{
		stores: stores, hasher: hasher, sessions: sessions, cfg: cfg, now: now, log: log, mailer: mailer,
		users:     newMemo[*gatehouse.User](cfg.UserCacheTTL, 100_000),
		tokens:    newMemo[*gatehouse.Token](cfg.UserCacheTTL, 100_000),
		basic:     newMemo[basicEntry](basicCacheTTL, 10_000),
		groups:    newMemo[map[string]*gatehouse.Group](cfg.UserCacheTTL, 1),
		basicMACs: newBasicMACs(),
		knownKey:  knownDeviceKey(cfg.KnownDeviceSecret),

		localLoginDisabled: slices.ContainsFunc(cfg.ExternalProviders, func(p ExternalProvider) bool { return p.DenyLocalLogin }),
	}
}

// Policy returns the password policy.
func (s *Service) Policy() password.Policy { return s.cfg.Policy }

// Sessions returns the session manager.
func (s *Service) Sessions() *session.Manager { return s.sessions }

// Client describes where a request came from, for throttling and for the
// session list.
type Client struct {
	Addr      string
	UserAgent string
}

// LoginRequest is a password login.
type LoginRequest struct {
	Username string
	Password string
	Remember bool
	Client   Client
	// PreviousToken is the session token the browser presented, if any. A
	// successful login ends that session.
	PreviousToken string
	// DeviceToken is the remembered-device cookie the browser presented,
	// if any: for a user with two-factor it skips the second step while
	// the device is remembered.
	DeviceToken string
	// KnownDevice is the known-device cookie the browser presented, if
	// any: when it is valid for the user, failures count against this
	// browser alone, and the untrusted limits do not refuse it.
	KnownDevice string
}

// LoginResult is a successful login: the user, the new session and its
// secret token for the cookie. For a user with a second factor, the
// password step ends with PendingToken set instead (the pending login's
// cookie secret) and the providers of the second step; no session yet.
type LoginResult struct {
	User    *gatehouse.User
	Session *gatehouse.Session
	Token   string

	PendingToken     string
	PendingExpiresAt time.Time
	Providers        []string

	// DeviceToken, when set, is the cookie secret of a device remembered
	// at this login, valid until DeviceExpiresAt.
	DeviceToken     string
	DeviceExpiresAt time.Time

	// KnownDeviceToken, when set, is the known-device cookie to give the
	// browser, valid until KnownDeviceExpiresAt: set at every login that
	// ends with a session.
	KnownDeviceToken     string
	KnownDeviceExpiresAt time.Time

	// EnrolmentRequired is set when the user's group requires two-factor
	// and the user has none: Session is then a partial session (ScopeEnrol)
	// that allows only enrolment and logout.
	EnrolmentRequired bool
}

// errInvalidCredentials is the one answer for unknown user, wrong password,
// disabled or invited user, so none of them can be told apart.
var errInvalidCredentials = &gatehouse.Error{Code: gatehouse.CodeInvalidCredentials, Message: "Invalid username or password."}

// Login checks a username and password and starts a session.
//
// Every failure that involves a user name costs one full password
// verification, whether the user exists or not, and answers the same
// error; so neither the answer nor its timing tells whether an account
// exists. Locked keys answer before any verification, equally fast for
// every name; the keys are what was submitted (the name, the browser's
// known-device cookie, the address), never what the name turned out to
// be, so a refusal tells nothing about accounts either.
//
// While local login is disabled (LocalLoginDisabled) it answers
// CodeLocalLoginDisabled to everyone, before anything else; so do the
// other password use cases.
func (s *Service) Login(ctx context.Context, req LoginRequest) (*LoginResult, error) {
	var disabled bool
	res, err := s.login(ctx, req, &disabled)
	s.countLogin(gatehouse.LoginPassword, res, err, disabled)
	return res, err
}

// login is Login; it sets *disabled when the password was right for an
// account that is not active (answered as a wrong one).
func (s *Service) login(ctx context.Context, req LoginRequest, disabled *bool) (*LoginResult, error) {
	if err := s.refuseLocalLogin(); err != nil {
		return nil, err
	}
	if req.Username == "" || req.Password == "" {
		fields := map[string]string{}
		if req.Username == "" {
			fields["username"] = "Username is required."
		}
		if req.Password == "" {
			fields["password"] = "Password is required."
		}
		return nil, &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The request is not valid.", Fields: fields}
	}
	u, err := s.stores.Users.UserByLogin(ctx, req.Username)
	if err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
		return nil, fmt.Errorf("find user: %w", err)
	}
	keys := s.loginKeys(u, req.Username, req.KnownDevice, req.Client.Addr)
	att, err := s.reserveAttempt(ctx, keys)
	if err != nil {
		// Only a lock is a failed login; a throttle store that cannot be
		// reached is not the client's doing, and is not recorded as one.
		if gatehouse.ErrorCode(err) == gatehouse.CodeTooManyAttempts {
			s.record(ctx, Actor{Client: req.Client}, gatehouse.AuditLoginFailed, userID(u), map[string]string{"reason": "locked"})
		}
		return nil, err
	}
	defer s.endAttempt(ctx, att)
	ok, rehash, err := s.verifyPassword(ctx, u, req.Password)
	if err != nil {
		return nil, err
	}
	if !ok || u.State != gatehouse.StateActive {
		*disabled = ok
		if err := s.failAttempt(ctx, att, u); err != nil {
			return nil, err
		}
		s.log.InfoContext(ctx, "login failed", "client", req.Client.Addr)
		// The submitted name is not recorded: people type passwords into
		// the username field. A known user is recorded by id.
		s.record(ctx, Actor{Client: req.Client}, gatehouse.AuditLoginFailed, userID(u), nil)
		return nil, errInvalidCredentials
	}

	if rehash {
		s.upgradeHash(ctx, u, req.Password)
	}
	return s.finishLogin(ctx, u, firstFactor{method: methodPassword, att: att}, req)
}

// verifyPassword checks pw against the hash of u (nil for an unknown
// name) and reports whether it matches and whether the hash should be
// remade with today's parameters. It takes the time of one argon2id
// verification whatever happens — unknown user, no password, an unreadable
// or an imported hash that fails fast — so that the time tells nothing
// about the account. The error is only the hashing pool's ErrBusy.
func (s *Service) verifyPassword(ctx context.Context, u *gatehouse.User, pw string) (ok, rehash bool, err error) {
	if u == nil || u.PasswordHash == "" {
		return false, false, s.hasher.VerifyDummy(ctx, pw)
	}
	ok, rehash, err = s.hasher.Verify(ctx, pw, u.PasswordHash)
	if errors.Is(err, password.ErrBusy) {
		return false, false, err
	}
	if err != nil {
		// A stored hash we cannot read: log it, spend the time a
		// verification would have, and refuse like any failure.
		s.log.ErrorContext(ctx, "unreadable password hash", "user", u.ID, "err", err)
		return false, false, s.hasher.VerifyDummy(ctx, pw)
	}
	if !ok && !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		// An imported hash (bcrypt, PBKDF2, …) may fail much faster
		// than argon2id; spend the rest so that the time does not tell
		// imported users from unknown names.
		return false, false, s.hasher.VerifyDummy(ctx, pw)
	}
	return ok, rehash, nil
}

// startLogin starts the session of a login by a.User and records it: the
// user's last-login time, the session, and the login.succeeded audit event
// with detail — in one write where the stores can (Stores.Logins),
// which spares a durable store two of three waits for the disk.
func (s *Service) startLogin(ctx context.Context, a Actor, o session.CreateOptions, detail map[string]string) (string, *gatehouse.Session, error) {
	u := a.User
	if o.AuthenticatedAt.IsZero() {
		// Every login proved a first factor just now (a second step
		// follows a password proved minutes ago at most).
		o.AuthenticatedAt = s.now()
	}
	token, sess := s.sessions.Prepare(u.ID, o)
	e := s.newEvent(a, gatehouse.AuditLoginSucceeded, sess.ID, detail)
	if s.stores.Logins != nil {
		if err := s.stores.Logins.RecordLoginSession(ctx, sess, e); err != nil {
			return "", nil, fmt.Errorf("record login: %w", err)
		}
		s.audited(e.Kind)
	} else {
		if err := s.stores.Users.RecordLogin(ctx, u.ID, sess.CreatedAt); err != nil {
			return "", nil, fmt.Errorf("record login: %w", err)
		}
		if err := s.stores.Sessions.CreateSession(ctx, sess); err != nil {
			return "", nil, fmt.Errorf("create session: %w", err)
		}
		s.appendEvent(ctx, e)
	}
	u.LastLoginAt = sess.CreatedAt
	s.forgetUser(u.ID)
	return token, sess, nil
}

// upgradeHash rehashes a password whose hash was made with other parameters.
// Only the hash changes, never the security stamp, so the user's sessions
// and outstanding tokens stay valid (the lesson of dotnet/aspnetcore#46185).
// A failure is logged, not returned: the login itself succeeded.
func (s *Service) upgradeHash(ctx context.Context, u *gatehouse.User, pw string) {
	h, err := s.hasher.Hash(ctx, pw)
	if err == nil {
		err = s.stores.Users.SetPasswordHash(ctx, u.ID, u.PasswordHash, h)
	}
	if errors.Is(err, gatehouse.ErrConflict) {
		// The password changed since this login read it: the new one stays.
		return
	}
	if err != nil {
		s.log.WarnContext(ctx, "password rehash failed", "user", u.ID, "err", err)
		return
	}
	u.PasswordHash = h
}

// loginKeys are the throttling keys of an attempt: count is the key its
// failure counts against, under rule; addr the client address's key, ""
// when the address limit does not apply (a known device).
type loginKeys struct {
	count, addr string
	rule        gatehouse.ThrottleRule
	known       bool   // count is a known device's key
	client      string // the client's address, for the audit and the lock mail
}

// loginKeys returns the keys of a login attempt with the submitted name
// and known-device token from addr; u is the user the name found, or nil.
// From a known device of u, failures count against the device; otherwise
// against the case-folded submitted name (known or not: never the user
// the name found, or a refusal of one spelling would confirm another) and
// the address.
func (s *Service) loginKeys(u *gatehouse.User, name, knownToken, addr string) loginKeys {
	if k := s.knownDeviceKeyOf(knownToken, userID(u)); k != "" {
		return loginKeys{count: k, rule: s.knownRule(), known: true, client: addr}
	}
	return loginKeys{count: nameKey(name), addr: addrKey(addr), rule: s.untrustedRule(), client: addr}
}

// accountKeys returns the keys of an attempt that is not a login by name
// (a second-factor code, the current password of a signed-in user): the
// account's own untrusted budget and the address; or a known device's key.
func (s *Service) accountKeys(u *gatehouse.User, knownToken, addr string) loginKeys {
	if k := s.knownDeviceKeyOf(knownToken, u.ID); k != "" {
		return loginKeys{count: k, rule: s.knownRule(), known: true, client: addr}
	}
	return loginKeys{count: accountKey(u), addr: addrKey(addr), rule: s.untrustedRule(), client: addr}
}

// untrustedRule is UserThrottle with growing waits; knownRule is
// UserThrottle as a lock, for one known device.
func (s *Service) untrustedRule() gatehouse.ThrottleRule {
	r := s.cfg.UserThrottle
	r.Backoff = true
	return r
}

func (s *Service) knownRule() gatehouse.ThrottleRule {
	r := s.cfg.UserThrottle
	r.Backoff = false
	return r
}

func nameKey(name string) string          { return "login:name:" + foldName(name) }
func accountKey(u *gatehouse.User) string { return "login:user:" + u.ID }
func addrKey(addr string) string          { return "login:addr:" + clientNet(addr) }

// foldName folds case exactly the way the stores compare names: two names
// share a throttle key only when they could name the same account.
// (ToLower(ToUpper) would fold "admın", with a dotless ı, into "admin",
// another account, whose owner could then reset or spend the other's
// count.)
func foldName(s string) string { return gatehouse.FoldName(s) }

func userID(u *gatehouse.User) string {
	if u == nil {
		return ""
	}
	return u.ID
}

func tooManyAttempts(wait time.Duration) error {
	// Round up so a client that waits exactly Retry-After is let in.
	wait = (wait + time.Second - 1).Truncate(time.Second)
	return &gatehouse.Error{
		Code:       gatehouse.CodeTooManyAttempts,
		Message:    "Too many failed attempts; try again later.",
		RetryAfter: max(wait, time.Second),
	}
}

// Unlock clears the untrusted failure counters of a username (as
// submitted at login and, when it names a user, the user's username, email
// and account), so a locked-out user can log in again at once. A known
// device's own lock is left to end by itself.
func (s *Service) Unlock(ctx context.Context, login string) error {
	keys := []string{nameKey(login)}
	if u, err := s.stores.Users.UserByLogin(ctx, login); err == nil {
		keys = append(keys, nameKey(u.Username), nameKey(u.Email), accountKey(u))
	}
	for _, k := range keys {
		if err := s.stores.Throttles.ResetThrottle(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// Authenticate returns the user and session behind a session token and
// slides the session's idle timeout. Anything but a live session of an
// active user is CodeUnauthenticated.
func (s *Service) Authenticate(ctx context.Context, token string) (*gatehouse.User, *gatehouse.Session, error) {
	sess, err := s.sessions.Load(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	return s.sessionUser(ctx, sess)
}

// Peek is Authenticate without extending the session.
func (s *Service) Peek(ctx context.Context, token string) (*gatehouse.User, *gatehouse.Session, error) {
	sess, err := s.sessions.Peek(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	return s.sessionUser(ctx, sess)
}

var errNoSession = &gatehouse.Error{Code: gatehouse.CodeUnauthenticated, Message: "No valid session."}

func (s *Service) sessionUser(ctx context.Context, sess *gatehouse.Session) (*gatehouse.User, *gatehouse.Session, error) {
	if sess.Scope != "" {
		// A partial session authenticates nobody outside its own few
		// endpoints, which look it up through their own use cases.
		return nil, nil, errNoSession
	}
	u, err := s.cachedUser(ctx, sess.UserID)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, nil, errNoSession
	}
	if err != nil {
		return nil, nil, err
	}
	if u.State != gatehouse.StateActive {
		return nil, nil, errNoSession
	}
	return u, sess, nil
}

func (s *Service) cachedUser(ctx context.Context, id string) (*gatehouse.User, error) {
	// The cache is tried first here, not only in load: the closure would
	// otherwise cost an allocation on every request.
	now := s.now()
	if u, ok := s.users.get(id, now); ok {
		return u, nil
	}
	return s.users.load(ctx, id, now, func() (*gatehouse.User, error) {
		return s.stores.Users.UserByID(ctx, id)
	})
}

// forgetUser drops the cached user id, here and in the other processes
// (which drop its cached Basic credentials too).
func (s *Service) forgetUser(id string) {
	s.users.forget(id)
	s.publish(gatehouse.Invalidation{Kind: gatehouse.InvalidateUser, ID: id})
}

// Logout ends a session.
func (s *Service) Logout(ctx context.Context, a Actor, sess *gatehouse.Session) error {
	if err := s.sessions.Revoke(ctx, sess.ID); err != nil {
		return err
	}
	if a.User == nil {
		a.User, _ = s.cachedUser(ctx, sess.UserID)
	}
	s.log.InfoContext(ctx, "logout", "user", sess.UserID, "session", sess.ID)
	s.record(ctx, a, gatehouse.AuditLogout, sess.ID, nil)
	return nil
}

// Reauthentication is what the user of a session gives to re-authenticate:
// their password or, only for a user without a local password (one who
// logs in through an external provider or a passkey), a code of a second
// factor that needs no sending step (Provider totp or recovery_code).
// Exactly one of Password and Provider with Code.
type Reauthentication struct {
	Password string
	Provider string
	Code     string
}

// validate checks the shape of r: exactly one of a password or a
// provider with its code, and a provider that needs no sending step.
func (r Reauthentication) validate() error {
	fields := map[string]string{}
	switch {
	case r.Password != "" && (r.Provider != "" || r.Code != ""):
		fields["password"] = "Give the password or a second factor's code, not both."
	case r.Password == "" && r.Provider == "" && r.Code == "":
		fields["password"] = "Password is required."
	case r.Password == "":
		switch r.Provider {
		case gatehouse.ProviderTOTP, gatehouse.ProviderRecoveryCode:
		case "":
			fields["provider"] = "Provider is required with a code."
		default:
			fields["provider"] = "must be totp or recovery_code"
		}
		if r.Code == "" {
			fields["code"] = "Code is required."
		}
	}
	if len(fields) > 0 {
		return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The request is not valid.", Fields: fields}
	}
	return nil
}

// Reauthenticate proves the first factor of the user a of session sess
// again, before a sensitive change (ASVS 7.5.1), and rekeys the session: it
// returns the new cookie secret and the session under its new public id,
// recently authenticated from now; the old id and secret stop existing.
//
// The proof is the user's password. A user without a local password (one
// who logs in through an external provider or a passkey) gives instead a
// TOTP code or a recovery code, checked as at a login's second step: each
// TOTP step once, each recovery code once. A user who has a password must
// give it: a code is refused (CodeValidation, the code not even looked
// at), so that a stolen session and a phished code cannot stand in for the
// password, and a second factor never acts as a first. A user with neither
// a password nor a second factor has nothing to prove it with:
// CodeInvalidCredentials.
//
// A wrong password or code counts and is audited like a failed login,
// against the account's own budget; the throttles of logins apply.
//
// While local login is disabled (LocalLoginDisabled) a password is
// refused with CodeLocalLoginDisabled, and a code is taken from every user.
func (s *Service) Reauthenticate(ctx context.Context, a Actor, sess *gatehouse.Session, r Reauthentication) (string, *gatehouse.Session, error) {
	if err := r.validate(); err != nil {
		return "", nil, err
	}
	if r.Password != "" {
		// Before the password is looked at (checkPassword refuses it too).
		if err := s.refuseLocalLogin(); err != nil {
			return "", nil, err
		}
	}
	u := a.User
	var err error
	if r.Password != "" {
		err = s.checkPassword(ctx, u, r.Password, a.Client)
	} else {
		err = s.checkSecondFactor(ctx, u, r.Provider, r.Code, a.Client)
	}
	if err != nil {
		return "", nil, err
	}
	if err := s.stores.Throttles.ResetThrottle(ctx, accountKey(u)); err != nil {
		return "", nil, fmt.Errorf("reset throttle: %w", err)
	}
	token, next, err := s.sessions.Rekey(ctx, sess, s.now())
	if err != nil {
		return "", nil, err
	}
	// The devices remembered with the session follow it to its new id, so
	// that ending it from the session list still forgets them. A failure
	// fails the request: the old cookie is already worthless, so the
	// browser is logged out rather than left with devices that ending its
	// session would not reach.
	if _, err := s.stores.Devices.MoveDevices(ctx, u.ID, sess.ID, next.ID); err != nil {
		return "", nil, fmt.Errorf("move remembered devices: %w", err)
	}
	s.log.InfoContext(ctx, "re-authenticated", "user", u.ID, "session", next.ID, "previousSession", sess.ID, "client", a.Client.Addr)
	// The session has a new id: the event names it, and the old one, which
	// earlier events name, so that the session's history stays linked.
	detail := map[string]string{"previousSession": sess.ID}
	if r.Provider != "" {
		detail["provider"] = r.Provider
	}
	s.record(ctx, a, gatehouse.AuditReauthenticated, next.ID, detail)
	return token, next, nil
}

// errPasswordChangedMeanwhile refuses a password change whose current
// password was checked against a hash another request replaced since.
var errPasswordChangedMeanwhile = gatehouse.Errorf(gatehouse.CodeConflict, "Your password was changed by another request at the same time; try again.")

// ChangePasswordRequest is a user changing their own password.
type ChangePasswordRequest struct {
	User            *gatehouse.User
	Session         *gatehouse.Session
	CurrentPassword string
	NewPassword     string
	Client          Client
}

// ChangePassword checks the current password, sets the new one and ends
// the user's other sessions. A wrong current password counts as a failed
// login, so a stolen session cannot be used to guess the password.
func (s *Service) ChangePassword(ctx context.Context, req ChangePasswordRequest) error {
	if err := s.refuseLocalLogin(); err != nil {
		return err
	}
	fields := map[string]string{}
	if req.CurrentPassword == "" {
		fields["currentPassword"] = "Current password is required."
	}
	if req.NewPassword == "" {
		fields["newPassword"] = "New password is required."
	}
	if len(fields) > 0 {
		return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The request is not valid.", Fields: fields}
	}
	// No per-user lock: the guess budget is reserved atomically in the
	// store (reserveAttempt), across processes; two changes at once each
	// need the current password, and the user is written back by
	// compare-and-swap (changeUser), so a change made meanwhile (the user
	// disabled) is kept, and one of two racing password changes is refused.
	keys := s.accountKeys(req.User, "", req.Client.Addr)
	att, err := s.reserveAttempt(ctx, keys)
	if err != nil {
		return err
	}
	defer s.endAttempt(ctx, att)
	u, err := s.stores.Users.UserByID(ctx, req.User.ID)
	if err != nil {
		return err
	}
	ok, _, err := s.hasher.Verify(ctx, req.CurrentPassword, u.PasswordHash)
	if errors.Is(err, password.ErrBusy) {
		return err
	}
	if err != nil || !ok {
		if err := s.failAttempt(ctx, att, u); err != nil {
			return err
		}
		s.record(ctx, Actor{User: u, Client: req.Client}, gatehouse.AuditLoginFailed, u.ID, map[string]string{"reason": "password_confirmation"})
		return &gatehouse.Error{Code: gatehouse.CodeInvalidCredentials, Message: "The current password is not correct."}
	}
	if err := s.checkPolicyFor(ctx, req.NewPassword, password.Context{Username: u.Username, Email: u.Email, Name: u.Name}); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, req.NewPassword)
	if err != nil {
		return err
	}
	verified := u.PasswordHash
	u, err = s.changeUser(ctx, u.ID, func(cur *gatehouse.User) (bool, error) {
		if cur.PasswordHash != verified {
			// The current password was checked against a hash that is no
			// longer the user's.
			return false, errPasswordChangedMeanwhile
		}
		cur.PasswordHash = hash
		cur.SecurityStamp = newStamp()
		cur.UpdatedAt = s.now().UTC()
		return true, nil
	})
	if err != nil {
		return err
	}
	s.forgetUser(u.ID)
	keep := ""
	if req.Session != nil {
		keep = req.Session.ID
	}
	n, err := s.sessions.RevokeUser(ctx, u.ID, keep)
	if err != nil {
		return err
	}
	s.basic.forgetWhere(func(e basicEntry) bool { return e.userID == u.ID })
	if _, err := s.stores.Devices.DeleteDevices(ctx, u.ID, ""); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "password changed", "user", u.ID, "ended_sessions", n)
	s.record(ctx, Actor{User: u, Client: req.Client}, gatehouse.AuditPasswordChanged, u.ID, map[string]string{"endedSessions": fmt.Sprint(n)})
	d := s.mailData(u)
	d.ClientAddr = req.Client.Addr
	s.notify(ctx, u.Email, "password_changed", d)
	return nil
}

// checkPolicyFor checks a new password of the user described by c, whose
// username and email it must not contain, and whose words (name included)
// the strength estimate counts as guessable.
func (s *Service) checkPolicyFor(ctx context.Context, pw string, c password.Context) error {
	rules, err := s.cfg.Policy.CheckContext(ctx, pw, c)
	if err != nil {
		// The breached-password service is an extra check: when it cannot
		// be reached, the local rules (which did run) decide, and the
		// outage is logged for the operator.
		s.log.WarnContext(ctx, "breached-password check unavailable", "err", err)
	}
	if len(rules) == 0 {
		return nil
	}
	return &gatehouse.Error{Code: gatehouse.CodePasswordPolicy, Message: "The password does not meet the password policy.", Rules: rules}
}

func newStamp() string { return gatehouse.NewID() }

// NewUser describes a user to create.
type NewUser struct {
	Username string
	Email    string
	Name     string
	Password string
	Groups   []string
	// By is who creates the user, for the audit log; zero for the
	// command line.
	By Actor
}

// CreateUser validates and creates an active user with a password.
func (s *Service) CreateUser(ctx context.Context, nu NewUser) (*gatehouse.User, error) {
	if err := validateNewUser(nu); err != nil {
		return nil, err
	}
	if err := s.checkPolicyFor(ctx, nu.Password, password.Context{Username: nu.Username, Email: nu.Email, Name: nu.Name}); err != nil {
		return nil, err
	}
	if err := s.checkGrant(ctx, nu.By, nu.Groups, "create a user in these groups"); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, nu.Password)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	groups := slices.Clone(nu.Groups)
	slices.Sort(groups)
	u := &gatehouse.User{
		ID:            gatehouse.NewID(),
		Username:      nu.Username,
		Email:         nu.Email,
		Name:          nu.Name,
		State:         gatehouse.StateActive,
		PasswordHash:  hash,
		SecurityStamp: newStamp(),
		Groups:        slices.Compact(groups),
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if err := s.stores.Users.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "user created", "user", u.ID)
	s.record(ctx, nu.By, gatehouse.AuditUserCreated, u.ID, map[string]string{"username": u.Username})
	return u, nil
}

func validateNewUser(nu NewUser) error {
	fields := validateIdentity(nu.Username, nu.Email, nu.Name)
	if nu.Password == "" {
		fields["password"] = "Password is required."
	}
	if len(fields) > 0 {
		return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The request is not valid.", Fields: fields}
	}
	return nil
}

// validateIdentity checks a user's username, email and name, and returns
// field → problem for each that is wrong.
func validateIdentity(username, email, name string) map[string]string {
	fields := map[string]string{}
	switch {
	case username == "":
		fields["username"] = "Username is required."
	case utf8.RuneCountInString(username) > 100:
		fields["username"] = "Username must be at most 100 characters."
	case !validUsername(username):
		fields["username"] = "Username may contain only letters, digits and . _ - @ +."
	}
	switch {
	case email == "":
		fields["email"] = "Email is required."
	case len(email) > 254 || !validEmail(email):
		fields["email"] = "Email is not a valid address."
	}
	if utf8.RuneCountInString(name) > 200 || strings.ContainsFunc(name, unicode.IsControl) {
		fields["name"] = "Name must be at most 200 characters without control characters."
	}
	return fields
}

// validUsername keeps usernames to letters, digits and . _ - @ +, so that a
// username is unambiguous in logs, headers (Remote-User) and lists, and
// harmless wherever it is shown. An email address is a valid username.
func validUsername(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._-@+", r) {
			return false
		}
	}
	return true
}

func validEmail(s string) bool {
	a, err := netmail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}
