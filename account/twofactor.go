package account

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/mail"
	"github.com/gatehouse/gatehouse/otp"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sms"
)

// TwoFactorConfig holds the second-factor settings.
type TwoFactorConfig struct {
	// Issuer names the service in authenticator apps.
	Issuer string
	// PendingTTL is how long the second step may take after the password.
	PendingTTL time.Duration
	// CodeTTL is how long an email or SMS code is valid (ASVS: ≤ 10 min).
	CodeTTL time.Duration
	// MaxAttempts wrong codes end a pending login.
	MaxAttempts int
	// MaxSends codes may be sent per pending login, at least ResendAfter
	// apart.
	MaxSends    int
	ResendAfter time.Duration
	// DeviceTTL is how long a remembered device skips the second step.
	DeviceTTL time.Duration
}

// DefaultTwoFactorConfig: 5 minutes for the second step, 10-minute codes,
// 5 attempts, 3 sends 30 seconds apart.
var DefaultTwoFactorConfig = TwoFactorConfig{
	Issuer: "gatehouse", PendingTTL: 5 * time.Minute, CodeTTL: 10 * time.Minute,
	MaxAttempts: 5, MaxSends: 3, ResendAfter: 30 * time.Second,
	DeviceTTL: 30 * 24 * time.Hour,
}

// TwoFactorDeps are what second factors need beyond the store: the sealer
// that encrypts TOTP secrets at rest, and the SMS sender (nil: no SMS).
type TwoFactorDeps struct {
	Sealer *otp.Sealer
	SMS    sms.Sender
	Config TwoFactorConfig
}

var (
	errNoPendingLogin = &gatehouse.Error{Code: gatehouse.CodeNoPendingLogin, Message: "There is no login waiting for a second factor; log in again."}
	errInvalidCode    = &gatehouse.Error{Code: gatehouse.CodeInvalidCode, Message: "The code is not valid."}
	errNoTwoFactor    = gatehouse.Errorf(gatehouse.CodeConflict, "Two-factor authentication is not set up.")
)

// UseTwoFactor enables second factors. Without it, login ignores them.
func (s *Service) UseTwoFactor(d TwoFactorDeps) {
	if d.Config.PendingTTL == 0 {
		d.Config = DefaultTwoFactorConfig
	}
	s.twoFactor = &d
}

// twoFactorOf returns a user's settings, or nil when they have none.
func (s *Service) twoFactorOf(ctx context.Context, userID string) (*gatehouse.TwoFactor, error) {
	if s.twoFactor == nil {
		return nil, nil
	}
	tf, err := s.stores.TwoFactor.TwoFactor(ctx, userID)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, nil
	}
	return tf, err
}

// TwoFactorEnabled reports whether a user has a second factor.
func (s *Service) TwoFactorEnabled(ctx context.Context, userID string) (bool, error) {
	tf, err := s.twoFactorOf(ctx, userID)
	return tf.Enabled(), err
}

// providers lists the ways a user can pass the second step.
func (s *Service) providers(u *gatehouse.User, tf *gatehouse.TwoFactor) []string {
	p := []string{gatehouse.ProviderTOTP}
	if u.Email != "" {
		p = append(p, gatehouse.ProviderEmail)
	}
	if tf.Phone != "" && s.twoFactor.SMS != nil {
		p = append(p, gatehouse.ProviderSMS)
	}
	if len(tf.RecoveryCodes) > 0 {
		p = append(p, gatehouse.ProviderRecoveryCode)
	}
	return p
}

// startSecondStep records a correct first factor ff of a user with two
// factors and returns the pending login's cookie secret. The pending
// login keeps an external login's provider and ID token for the session
// it ends in.
func (s *Service) startSecondStep(ctx context.Context, u *gatehouse.User, tf *gatehouse.TwoFactor, remember bool, ff firstFactor) (*LoginResult, error) {
	token := session.NewToken()
	now := s.now().UTC()
	p := &gatehouse.PendingLogin{
		ID: gatehouse.NewID(), TokenHash: session.HashToken(token), UserID: u.ID, Stamp: u.SecurityStamp,
		Remember: remember, CreatedAt: now, ExpiresAt: now.Add(s.twoFactor.Config.PendingTTL),
		Provider: ff.provider, IDToken: ff.idToken,
	}
	if err := s.stores.PendingLogins.CreatePendingLogin(ctx, p); err != nil {
		return nil, err
	}
	return &LoginResult{User: u, PendingToken: token, PendingExpiresAt: p.ExpiresAt, Providers: s.providers(u, tf)}, nil
}

// pending returns the live pending login of a cookie secret, its user and
// their settings.
func (s *Service) pending(ctx context.Context, token string) (*gatehouse.PendingLogin, *gatehouse.User, *gatehouse.TwoFactor, error) {
	if s.twoFactor == nil {
		return nil, nil, nil, errNoPendingLogin
	}
	if _, ok := session.ParseToken(token); !ok {
		return nil, nil, nil, errNoPendingLogin
	}
	p, err := s.stores.PendingLogins.PendingLoginByTokenHash(ctx, session.HashToken(token))
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, nil, nil, errNoPendingLogin
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if !s.now().Before(p.ExpiresAt) {
		return nil, nil, nil, errNoPendingLogin
	}
	u, err := s.stores.Users.UserByID(ctx, p.UserID)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, nil, nil, errNoPendingLogin
	}
	if err != nil {
		return nil, nil, nil, err
	}
	// A password change or a disabled account since the password step voids it.
	if u.SecurityStamp != p.Stamp || u.State != gatehouse.StateActive {
		return nil, nil, nil, errNoPendingLogin
	}
	tf, err := s.twoFactorOf(ctx, u.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	if !tf.Enabled() {
		return nil, nil, nil, errNoPendingLogin
	}
	return p, u, tf, nil
}

// PendingProviders returns the second-step providers of a pending login.
func (s *Service) PendingProviders(ctx context.Context, token string) ([]string, error) {
	_, u, tf, err := s.pending(ctx, token)
	if err != nil {
		return nil, err
	}
	return s.providers(u, tf), nil
}

// SendCode sends a one-time code for a pending login by email or SMS. The
// code is bound to that pending login, lives CodeTTL, and replaces any
// code sent before; sends are limited in number and pace.
func (s *Service) SendCode(ctx context.Context, token, provider string, client Client) error {
	p, u, tf, err := s.pending(ctx, token)
	if err != nil {
		return err
	}
	cfg := s.twoFactor.Config
	if !slices.Contains(s.providers(u, tf), provider) || (provider != gatehouse.ProviderEmail && provider != gatehouse.ProviderSMS) {
		return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The provider cannot send codes.", Fields: map[string]string{"provider": "must be email or sms, among the user's providers"}}
	}
	now := s.now().UTC()
	if p.Sends >= cfg.MaxSends {
		return tooManyAttempts(p.ExpiresAt.Sub(now))
	}
	if p.Sends > 0 && !p.CodeExpiresAt.IsZero() && now.Before(p.CodeExpiresAt.Add(-cfg.CodeTTL).Add(cfg.ResendAfter)) {
		return tooManyAttempts(p.CodeExpiresAt.Add(-cfg.CodeTTL).Add(cfg.ResendAfter).Sub(now))
	}
	code := otp.NewNumericCode(6)
	p.CodeHash, p.CodeProvider, p.CodeExpiresAt, p.Sends = otp.HashRecoveryCode(otp.NormalizeRecoveryCode(code)), provider, now.Add(cfg.CodeTTL), p.Sends+1
	if err := s.stores.PendingLogins.RecordCodeSent(ctx, p); errors.Is(err, gatehouse.ErrNotFound) {
		// Ended, or another send won the race: this one waits as a resend.
		return tooManyAttempts(cfg.ResendAfter)
	} else if err != nil {
		return err
	}
	switch provider {
	case gatehouse.ProviderEmail:
		d := s.mailData(u)
		d.Code, d.ExpiresIn, d.ClientAddr = code, cfg.CodeTTL, client.Addr
		if err := s.mailer.Enqueue(ctx, u.Email, mail.KindTwoFactorCode, d); err != nil {
			return fmt.Errorf("queue code: %w", err)
		}
	case gatehouse.ProviderSMS:
		body := fmt.Sprintf("%s code: %s (valid %d minutes). Never share it.", s.cfg.Product, code, int(cfg.CodeTTL/time.Minute))
		if err := s.twoFactor.SMS.Send(ctx, sms.Message{To: tf.Phone, Body: body, Kind: "two_factor_code"}); err != nil {
			s.log.ErrorContext(ctx, "sending an SMS code", "err", err)
			return &gatehouse.Error{Code: gatehouse.CodeBusy, Message: "The code could not be sent; try again shortly.", Err: err, RetryAfter: 30 * time.Second}
		}
	}
	s.record(ctx, Actor{User: u, Client: client}, gatehouse.AuditTwoFactorCodeSent, u.ID, map[string]string{"provider": provider})
	return nil
}

// VerifyRequest is the second step of a login.
type VerifyRequest struct {
	Token    string // the pending login's cookie secret
	Provider string
	Code     string
	Remember bool
	// RememberDevice asks to skip the second step on this browser from now
	// on (see DeviceTTL).
	RememberDevice bool
	Client         Client
	// KnownDevice is the browser's known-device cookie, as in LoginRequest.
	KnownDevice string
}

// VerifyCode checks the second factor of a pending login and, when it is
// right, starts a session marked two-factor. A wrong code counts against
// the pending login, which ends after MaxAttempts, and like a wrong
// password against the account's untrusted budget — or, from a known
// device of the user, against that device alone.
func (s *Service) VerifyCode(ctx context.Context, req VerifyRequest) (*LoginResult, error) {
	res, err := s.verifyCode(ctx, req)
	s.countLogin(gatehouse.LoginTwoFactor, res, err, false)
	return res, err
}

// verifyCode is VerifyCode.
func (s *Service) verifyCode(ctx context.Context, req VerifyRequest) (*LoginResult, error) {
	_, u, _, err := s.pending(ctx, req.Token)
	if err != nil {
		return nil, err
	}
	keys := s.accountKeys(u, req.KnownDevice, req.Client.Addr)
	att, err := s.reserveAttempt(ctx, keys)
	if err != nil {
		return nil, err
	}
	defer s.endAttempt(ctx, att)
	// Read the pending login again once the attempt is reserved: a
	// parallel request may have used or ended it meanwhile. No lock is
	// held, here or in any process: what must happen once (a code counted,
	// a TOTP step or a recovery code used) is one atomic step in the store.
	p, u, tf, err := s.pending(ctx, req.Token)
	if err != nil {
		return nil, err
	}
	// The code counts against the pending login before it is checked, in
	// one atomic step in the store: parallel codes, sent to any number of
	// processes, never get more than MaxAttempts checked.
	limit := s.twoFactor.Config.MaxAttempts
	attempts, err := s.stores.PendingLogins.CountPendingLoginAttempt(ctx, p.ID, limit)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, errNoPendingLogin
	}
	if err != nil {
		return nil, err
	}
	ok, err := s.checkCode(ctx, p, u, tf, req.Provider, req.Code, req.Client)
	if err != nil {
		return nil, err
	}
	if !ok {
		// The last attempt ends the pending login. A parallel request may
		// have ended it first: it is gone either way.
		if attempts >= limit {
			if err := s.stores.PendingLogins.TakePendingLogin(ctx, p.ID); err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
				return nil, err
			}
		}
		if err := s.failAttempt(ctx, att, u); err != nil {
			return nil, err
		}
		s.record(ctx, Actor{User: u, Client: req.Client}, gatehouse.AuditTwoFactorFailed, u.ID, map[string]string{"provider": req.Provider})
		return nil, errInvalidCode
	}
	// A right code is not enough: the pending login must still be there to
	// be taken, in one atomic step in the store, and only the request that
	// takes it starts a session. Two requests with the same pending login
	// and the same right email or SMS code (which, unlike a TOTP step or a
	// recovery code, nothing else uses up) both get here; the one that
	// loses the take is answered as for a pending login that ended.
	if err := s.stores.PendingLogins.TakePendingLogin(ctx, p.ID); errors.Is(err, gatehouse.ErrNotFound) {
		return nil, errNoPendingLogin
	} else if err != nil {
		return nil, err
	}
	if err := s.resetAttempt(ctx, att); err != nil {
		return nil, err
	}
	detail := map[string]string{"twoFactor": req.Provider}
	if p.Provider != "" {
		detail["method"], detail["provider"] = methodExternal, p.Provider
	}
	token, sess, err := s.startLogin(ctx, Actor{User: u, Client: req.Client}, session.CreateOptions{
		Remember: p.Remember || req.Remember, TwoFactor: true, ClientAddr: req.Client.Addr, UserAgent: req.Client.UserAgent,
		Provider: p.Provider, IDToken: p.IDToken,
	}, detail)
	if err != nil {
		return nil, err
	}
	res := &LoginResult{User: u, Session: sess, Token: token}
	res.KnownDeviceToken, res.KnownDeviceExpiresAt = s.issueKnownDevice(u.ID)
	if req.RememberDevice {
		if res.DeviceToken, res.DeviceExpiresAt, err = s.rememberDevice(ctx, u, sess, req.Client); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// rememberDevice records the browser of a session as remembered and
// returns its cookie secret.
func (s *Service) rememberDevice(ctx context.Context, u *gatehouse.User, sess *gatehouse.Session, client Client) (string, time.Time, error) {
	token := session.NewToken()
	now := s.now().UTC()
	d := &gatehouse.Device{
		ID: gatehouse.NewID(), TokenHash: session.HashToken(token), UserID: u.ID, SessionID: sess.ID,
		Stamp: u.SecurityStamp, CreatedAt: now, ExpiresAt: now.Add(s.twoFactor.Config.DeviceTTL),
		ClientAddr: client.Addr, UserAgent: truncate(client.UserAgent, 512),
	}
	if err := s.stores.Devices.CreateDevice(ctx, d); err != nil {
		return "", time.Time{}, err
	}
	s.record(ctx, Actor{User: u, Client: client}, gatehouse.AuditDeviceRemembered, d.ID, nil)
	return token, d.ExpiresAt, nil
}

// rememberedDevice returns the device of token when it is a live
// remembered device of u, remembered under u's current security stamp.
func (s *Service) rememberedDevice(ctx context.Context, u *gatehouse.User, token string) *gatehouse.Device {
	if token == "" {
		return nil
	}
	if _, ok := session.ParseToken(token); !ok {
		return nil
	}
	d, err := s.stores.Devices.DeviceByTokenHash(ctx, session.HashToken(token))
	if err != nil || d.UserID != u.ID || d.Stamp != u.SecurityStamp || !s.now().Before(d.ExpiresAt) {
		return nil
	}
	return d
}

// renewDevice replaces a remembered device used at a login with a new one
// bound to the new session, so that ending that session from the session
// list forgets the device, and a copied cookie works at most once more.
func (s *Service) renewDevice(ctx context.Context, old *gatehouse.Device, u *gatehouse.User, sess *gatehouse.Session, client Client) (string, time.Time, error) {
	if _, err := s.stores.Devices.DeleteDevices(ctx, u.ID, old.SessionID); err != nil {
		return "", time.Time{}, err
	}
	return s.rememberDevice(ctx, u, sess, client)
}

// checkCode reports whether code is right for provider at the second step
// of the pending login p. Each code works once: a TOTP step once, a
// recovery code once, a sent code once.
func (s *Service) checkCode(ctx context.Context, p *gatehouse.PendingLogin, u *gatehouse.User, tf *gatehouse.TwoFactor, provider, code string, client Client) (bool, error) {
	switch provider {
	case gatehouse.ProviderTOTP, gatehouse.ProviderRecoveryCode:
		return s.checkFactor(ctx, u, tf, provider, code, client)
	case gatehouse.ProviderEmail, gatehouse.ProviderSMS:
		// Sent codes belong to the pending login they were sent for.
		if len(code) == 0 || len(code) > 64 || p.CodeProvider != provider || len(p.CodeHash) == 0 || !s.now().Before(p.CodeExpiresAt) {
			return false, nil
		}
		return subtle.ConstantTimeCompare(p.CodeHash, otp.HashRecoveryCode(otp.NormalizeRecoveryCode(code))) == 1, nil
	default:
		return false, &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "Unknown provider.", Fields: map[string]string{"provider": "must be totp, email, sms or recovery_code"}}
	}
}

// checkFactor reports whether code is right for u's second factor of a
// provider that needs no sending step (totp or recovery_code), at a
// login's second step or at re-authentication alike. Each code works
// once: a TOTP step once (a replay is audited), a recovery code once (it
// is used up, and audited).
func (s *Service) checkFactor(ctx context.Context, u *gatehouse.User, tf *gatehouse.TwoFactor, provider, code string, client Client) (bool, error) {
	switch provider {
	case gatehouse.ProviderTOTP, gatehouse.ProviderRecoveryCode:
	default:
		return false, &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "Unknown provider.", Fields: map[string]string{"provider": "must be totp or recovery_code"}}
	}
	if len(code) == 0 || len(code) > 64 {
		return false, nil
	}
	if provider == gatehouse.ProviderTOTP {
		return s.checkTOTP(ctx, u, tf, code, client)
	}
	err := s.stores.TwoFactor.UseRecoveryCode(ctx, u.ID, otp.HashRecoveryCode(otp.NormalizeRecoveryCode(code)))
	if errors.Is(err, gatehouse.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.record(ctx, Actor{User: u, Client: client}, gatehouse.AuditRecoveryCodeUsed, u.ID, map[string]string{"remaining": fmt.Sprint(len(tf.RecoveryCodes) - 1)})
	return true, nil
}

func (s *Service) checkTOTP(ctx context.Context, u *gatehouse.User, tf *gatehouse.TwoFactor, code string, client Client) (bool, error) {
	key, err := s.twoFactor.Sealer.Open(tf.TOTPSecret, []byte(u.ID))
	if err != nil {
		// A wrong sealing key or a damaged record: a fault of
		// gatehouse's (CodeInternal), not a store that cannot be reached.
		return false, &gatehouse.Error{Code: gatehouse.CodeInternal, Message: "An internal error occurred.", Err: fmt.Errorf("open TOTP secret: %w (was it sealed with another two-factor key? every gatehouse process sharing a database must use the same key file)", err)}
	}
	step, ok := otp.TOTP{Key: key}.Verify(code, s.now(), tf.TOTPLastStep)
	if !ok {
		// Tell a replay (the right code of a step already used) apart, for
		// the audit log only.
		if _, again := (otp.TOTP{Key: key}).Verify(code, s.now(), -1); again {
			s.record(ctx, Actor{User: u, Client: client}, gatehouse.AuditTwoFactorReplay, u.ID, nil)
		}
		return false, nil
	}
	err = s.stores.TwoFactor.UseTOTPStep(ctx, u.ID, step)
	if gatehouse.ErrorCode(err) == gatehouse.CodeConflict {
		s.record(ctx, Actor{User: u, Client: client}, gatehouse.AuditTwoFactorReplay, u.ID, nil)
		return false, nil
	}
	return err == nil, err
}

// TOTPEnrolment is what a user needs to add gatehouse to an authenticator
// app: the secret, the otpauth URL and that URL as a QR code (PNG, base64).
type TOTPEnrolment struct {
	Secret     string `json:"secret"`
	OtpauthURL string `json:"otpauthUrl"`
	QRPNG      string `json:"qrPng"`
}

// BeginTOTP starts a TOTP enrolment: a new secret, stored sealed and pending
// until ConfirmTOTP proves the app has it.
func (s *Service) BeginTOTP(ctx context.Context, u *gatehouse.User) (*TOTPEnrolment, error) {
	if s.twoFactor == nil {
		return nil, gatehouse.Errorf(gatehouse.CodeNotFound, "Two-factor authentication is not available.")
	}
	key := otp.NewKey()
	_, err := s.changeTwoFactor(ctx, u.ID, func(tf *gatehouse.TwoFactor) (*gatehouse.TwoFactor, error) {
		if tf.Enabled() {
			return nil, gatehouse.Errorf(gatehouse.CodeConflict, "Two-factor authentication is already on; turn it off first to enrol again.")
		}
		if tf == nil {
			tf = &gatehouse.TwoFactor{UserID: u.ID}
		}
		tf.TOTPPending = s.twoFactor.Sealer.Seal(key, []byte(u.ID))
		tf.UpdatedAt = s.now().UTC()
		return tf, nil
	})
	if err != nil {
		return nil, err
	}
	t := otp.TOTP{Key: key}
	url := otp.URL(s.twoFactor.Config.Issuer, u.Username, key, t)
	png, err := otp.QRPNG(url, 256)
	if err != nil {
		return nil, err
	}
	return &TOTPEnrolment{Secret: otp.EncodeKey(key), OtpauthURL: url, QRPNG: base64.StdEncoding.EncodeToString(png)}, nil
}

// ConfirmTOTP turns two-factor on once code proves the authenticator app
// has the pending secret, and returns ten fresh recovery codes, shown once.
func (s *Service) ConfirmTOTP(ctx context.Context, a Actor, u *gatehouse.User, code string) ([]string, error) {
	codes := otp.NewRecoveryCodes(10)
	// Decided on the settings as read: of two confirmations racing, the
	// second finds no enrolment pending any more, and one started anew
	// meanwhile is checked against its own key.
	_, err := s.changeTwoFactor(ctx, u.ID, func(tf *gatehouse.TwoFactor) (*gatehouse.TwoFactor, error) {
		if tf == nil || len(tf.TOTPPending) == 0 {
			return nil, gatehouse.Errorf(gatehouse.CodeConflict, "No enrolment is pending; start one first.")
		}
		key, err := s.twoFactor.Sealer.Open(tf.TOTPPending, []byte(u.ID))
		if err != nil {
			return nil, &gatehouse.Error{Code: gatehouse.CodeInternal, Message: "An internal error occurred.", Err: fmt.Errorf("open pending TOTP secret: %w (was it sealed with another two-factor key? every gatehouse process sharing a database must use the same key file)", err)}
		}
		step, ok := otp.TOTP{Key: key}.Verify(code, s.now(), 0)
		if !ok {
			return nil, errInvalidCode
		}
		tf.TOTPSecret, tf.TOTPPending, tf.TOTPLastStep = tf.TOTPPending, nil, step
		tf.RecoveryCodes = hashCodes(codes)
		tf.UpdatedAt = s.now().UTC()
		return tf, nil
	})
	if err != nil {
		return nil, err
	}
	s.forgetUser(u.ID)
	s.basic.forgetWhere(func(e basicEntry) bool { return e.userID == u.ID })
	s.record(ctx, a, gatehouse.AuditTwoFactorAdded, u.ID, map[string]string{"provider": gatehouse.ProviderTOTP})
	s.notify(ctx, u.Email, mail.KindTwoFactorAdded, s.mailData(u))
	return codes, nil
}

func hashCodes(codes []string) [][]byte {
	out := make([][]byte, len(codes))
	for i, c := range codes {
		out[i] = otp.HashRecoveryCode(otp.NormalizeRecoveryCode(c))
	}
	return out
}

// Proof is how the caller of a sensitive change (a second factor, a
// phone) proved it is the user: the password sent with the change, or a
// session that proved it recently (session.Manager.RecentlyAuthenticated:
// at login or with Reauthenticate, by the password or, for a user without
// one, a second factor's code; or Basic credentials, which carry the
// password in every request). A
// password, when given, is checked even if Recent is set. The zero Proof
// proves nothing: CodeReauthenticationRequired.
type Proof struct {
	Password string
	Recent   bool
}

// ErrReauthenticationRequired is the answer to a sensitive change whose
// caller has not proved their first factor recently enough (see
// Reauthenticate). Its message names no path: this layer does not know
// the base path the HTTP API is served under.
var ErrReauthenticationRequired = &gatehouse.Error{Code: gatehouse.CodeReauthenticationRequired,
	Message: "Confirm your password (or, for an account without one, a code of your second factor) by re-authenticating the session, then try again."}

// confirm checks p for a sensitive change by u.
func (s *Service) confirm(ctx context.Context, u *gatehouse.User, p Proof, client Client) error {
	if p.Password != "" {
		return s.checkPassword(ctx, u, p.Password, client)
	}
	if !p.Recent {
		return ErrReauthenticationRequired
	}
	return nil
}

// checkPassword verifies a user's password for a sensitive change, throttled
// like a login, and audited like one when wrong.
func (s *Service) checkPassword(ctx context.Context, u *gatehouse.User, pw string, client Client) error {
	if err := s.refuseLocalLogin(); err != nil {
		return err
	}
	keys := s.accountKeys(u, "", client.Addr)
	att, err := s.reserveAttempt(ctx, keys)
	if err != nil {
		return err
	}
	defer s.endAttempt(ctx, att)
	fresh, err := s.stores.Users.UserByID(ctx, u.ID)
	if err != nil {
		return err
	}
	ok, _, err := s.hasher.Verify(ctx, pw, fresh.PasswordHash)
	if gatehouse.ErrorCode(err) == gatehouse.CodeBusy {
		return err
	}
	if err != nil || !ok {
		if err := s.failAttempt(ctx, att, fresh); err != nil {
			return err
		}
		s.record(ctx, Actor{User: fresh, Client: client}, gatehouse.AuditLoginFailed, fresh.ID, map[string]string{"reason": "password_confirmation"})
		return &gatehouse.Error{Code: gatehouse.CodeInvalidCredentials, Message: "The password is not correct."}
	}
	return nil
}

// checkSecondFactor verifies a code of the second factor of u, a user
// without a local password, in place of the password (Reauthenticate):
// checked as at a login's second step (checkFactor), throttled like a
// login and audited like one when wrong, as checkPassword does. A user
// with a password is refused before the code is looked at (unless local
// login is disabled, which makes the password useless); a user with
// neither a password nor a second factor has nothing that can prove it.
func (s *Service) checkSecondFactor(ctx context.Context, u *gatehouse.User, provider, code string, client Client) error {
	fresh, err := s.stores.Users.UserByID(ctx, u.ID)
	if err != nil {
		return err
	}
	// A password that local login no longer accepts (LocalLoginDisabled)
	// cannot be asked for: the code is then the proof, as for a user
	// without one.
	if fresh.PasswordHash != "" && !s.LocalLoginDisabled() {
		return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The request is not valid.",
			Fields: map[string]string{"password": "Your account has a password: confirm with it; a second factor cannot replace it."}}
	}
	keys := s.accountKeys(fresh, "", client.Addr)
	att, err := s.reserveAttempt(ctx, keys)
	if err != nil {
		return err
	}
	defer s.endAttempt(ctx, att)
	tf, err := s.twoFactorOf(ctx, fresh.ID)
	if err != nil {
		return err
	}
	if !tf.Enabled() {
		// Neither a password nor a second factor: no guess can succeed,
		// so there is nothing to count.
		return &gatehouse.Error{Code: gatehouse.CodeInvalidCredentials, Message: "Your account has nothing to confirm it with: neither a password nor a second factor."}
	}
	ok, err := s.checkFactor(ctx, fresh, tf, provider, code, client)
	if err != nil {
		return err
	}
	if !ok {
		if err := s.failAttempt(ctx, att, fresh); err != nil {
			return err
		}
		s.record(ctx, Actor{User: fresh, Client: client}, gatehouse.AuditLoginFailed, fresh.ID, map[string]string{"reason": "code_confirmation", "provider": provider})
		return &gatehouse.Error{Code: gatehouse.CodeInvalidCredentials, Message: "The code is not correct."}
	}
	return nil
}

// DisableTOTP turns two-factor off after the user proves their password
// (p), unless one of the user's groups requires it.
func (s *Service) DisableTOTP(ctx context.Context, a Actor, u *gatehouse.User, p Proof) error {
	if err := s.confirm(ctx, u, p, a.Client); err != nil {
		return err
	}
	if required, err := s.requiresTwoFactor(ctx, u); err != nil {
		return err
	} else if required {
		return gatehouse.Errorf(gatehouse.CodeConflict, "Your group requires two-factor authentication; it cannot be turned off.")
	}
	return s.removeTwoFactor(ctx, a, u, nil)
}

// removeTwoFactor turns u's two-factor off, audits it with detail and
// tells u by mail. The remembered devices go first: if the second delete
// failed, two-factor would stay on (and can be removed again), rather than
// off with devices that would skip a later enrolment's second step.
//
// The delete is unconditional: turning two-factor off wins over any change
// in flight, whose compare-and-swap then fails (changeTwoFactor) instead
// of bringing the old settings back.
func (s *Service) removeTwoFactor(ctx context.Context, a Actor, u *gatehouse.User, detail map[string]string) error {
	tf, err := s.twoFactorOf(ctx, u.ID)
	if err != nil {
		return err
	}
	if !tf.Enabled() {
		return errNoTwoFactor
	}
	if _, err := s.stores.Devices.DeleteDevices(ctx, u.ID, ""); err != nil {
		return err
	}
	if err := s.stores.TwoFactor.DeleteTwoFactor(ctx, u.ID); err != nil {
		return err
	}
	s.forgetUser(u.ID)
	s.record(ctx, a, gatehouse.AuditTwoFactorRemoved, u.ID, detail)
	s.notify(ctx, u.Email, mail.KindTwoFactorRemoved, s.mailData(u))
	return nil
}

// RegenerateRecoveryCodes replaces a user's recovery codes after they prove
// their password (p); the old ones stop working.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, a Actor, u *gatehouse.User, p Proof) ([]string, error) {
	if err := s.confirm(ctx, u, p, a.Client); err != nil {
		return nil, err
	}
	codes := otp.NewRecoveryCodes(10)
	_, err := s.changeTwoFactor(ctx, u.ID, func(tf *gatehouse.TwoFactor) (*gatehouse.TwoFactor, error) {
		if !tf.Enabled() {
			return nil, errNoTwoFactor
		}
		tf.RecoveryCodes = hashCodes(codes)
		tf.UpdatedAt = s.now().UTC()
		return tf, nil
	})
	if err != nil {
		return nil, err
	}
	s.record(ctx, a, gatehouse.AuditRecoveryCodesRenewed, u.ID, nil)
	return codes, nil
}

// ResetTwoFactor lets an administrator turn a user's two-factor off (the
// user lost their device); the user is told by mail.
func (s *Service) ResetTwoFactor(ctx context.Context, a Actor, userID string) error {
	u, err := s.actOn(ctx, a, userID, "reset the second factor")
	if err != nil {
		return err
	}
	return s.removeTwoFactor(ctx, a, u, map[string]string{"by": "administrator"})
}

// SetPhone sets (or, with "", removes) the number SMS codes go to, after
// the user proves their password (p: a phone is a way in). Without an SMS
// sender (TwoFactorDeps.SMS nil) no number can be set.
func (s *Service) SetPhone(ctx context.Context, a Actor, u *gatehouse.User, phone string, p Proof) error {
	if err := s.confirm(ctx, u, p, a.Client); err != nil {
		return err
	}
	return s.putPhone(ctx, a, u, phone)
}

func (s *Service) putPhone(ctx context.Context, a Actor, u *gatehouse.User, phone string) error {
	if s.twoFactor == nil {
		return errNoTwoFactor
	}
	if phone != "" && s.twoFactor.SMS == nil {
		return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "SMS codes are not offered here.",
			Fields: map[string]string{"phone": "SMS codes are turned off here (no SMS sender; gatehouse serve: sms.driver none), so a number for them cannot be set."}}
	}
	if phone != "" {
		n, err := sms.NormalizePhone(phone)
		if err != nil {
			return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The phone number is not valid.", Fields: map[string]string{"phone": err.Error()}}
		}
		phone = n
	}
	_, err := s.changeTwoFactor(ctx, u.ID, func(tf *gatehouse.TwoFactor) (*gatehouse.TwoFactor, error) {
		if tf == nil {
			tf = &gatehouse.TwoFactor{UserID: u.ID}
		}
		tf.Phone, tf.UpdatedAt = phone, s.now().UTC()
		return tf, nil
	})
	if err != nil {
		return err
	}
	s.record(ctx, a, gatehouse.AuditUserUpdated, u.ID, map[string]string{"fields": "phone"})
	return nil
}

// requiresTwoFactor reports whether one of the user's groups requires a
// second factor (and second factors are available at all).
func (s *Service) requiresTwoFactor(ctx context.Context, u *gatehouse.User) (bool, error) {
	if s.twoFactor == nil || len(u.Groups) == 0 {
		return false, nil
	}
	byName, err := s.groupsByName(ctx)
	if err != nil {
		return false, err
	}
	for _, name := range u.Groups {
		if g := byName[name]; g != nil && g.RequireTwoFactor {
			return true, nil
		}
	}
	return false, nil
}

// EnrolmentSession returns the user of a partial enrolment session (a user
// whose group requires two-factor, logging in without one).
func (s *Service) EnrolmentSession(ctx context.Context, token string) (*gatehouse.User, *gatehouse.Session, error) {
	sess, err := s.sessions.Load(ctx, token)
	if err != nil || sess.Scope != gatehouse.ScopeEnrol {
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

// FinishEnrolment ends a partial enrolment session once two-factor is on
// and starts a full session, marked two-factor (the confirmation code was
// the second factor).
func (s *Service) FinishEnrolment(ctx context.Context, u *gatehouse.User, partial *gatehouse.Session, client Client) (*LoginResult, error) {
	if err := s.sessions.Revoke(ctx, partial.ID); err != nil {
		return nil, err
	}
	// The password was proved when the partial session started, not now.
	token, sess, err := s.sessions.Create(ctx, u.ID, session.CreateOptions{
		TwoFactor: true, ClientAddr: client.Addr, UserAgent: client.UserAgent, AuthenticatedAt: partial.AuthenticatedAt,
		Provider: partial.Provider, IDToken: partial.IDToken,
	})
	if err != nil {
		return nil, err
	}
	s.record(ctx, Actor{User: u, Client: client}, gatehouse.AuditLoginSucceeded, sess.ID, map[string]string{"twoFactor": "enrolment"})
	return &LoginResult{User: u, Session: sess, Token: token}, nil
}

// twoFactorChangeTries bounds how often changeTwoFactor reads and decides
// again after losing a race: each loss means another request changed the
// settings in between, so more than a few in a row only happen under a
// flood of changes to one user's settings.
const twoFactorChangeTries = 3

// errTwoFactorBusy ends a change of second-factor settings that lost the
// race to other changes of them twoFactorChangeTries times in a row.
var errTwoFactorBusy = gatehouse.Errorf(gatehouse.CodeConflict, "Your two-factor settings were being changed by another request at the same time; try again.")

// changeTwoFactor reads the second-factor settings of a user (nil when
// they have none), lets decide return them changed (or an error, which
// ends the change), and writes them back with the store's compare-and-swap
// (PutTwoFactor on the Version read). When another request, in this
// process or any other sharing the store, changed them in between (a
// recovery code or TOTP step used, another change), it reads them again
// and decides again, up to twoFactorChangeTries times: it never writes
// over a change it did not see. It returns the settings written.
//
// This replaces the per-process lock (lockUser) that used to serialise
// these changes, which could not stop two processes from undoing each
// other's changes, such as bringing back a recovery code just used.
func (s *Service) changeTwoFactor(ctx context.Context, userID string, decide func(tf *gatehouse.TwoFactor) (*gatehouse.TwoFactor, error)) (*gatehouse.TwoFactor, error) {
	for range twoFactorChangeTries {
		tf, err := s.twoFactorOf(ctx, userID)
		if err != nil {
			return nil, err
		}
		next, err := decide(tf)
		if err != nil {
			return nil, err
		}
		err = s.stores.TwoFactor.PutTwoFactor(ctx, next)
		if errors.Is(err, gatehouse.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return next, nil
	}
	return nil, errTwoFactorBusy
}

// TwoFactorStatus is what a user may see of their own second factors.
type TwoFactorStatus struct {
	Enabled bool `json:"enabled"`
	// Providers are the ways the second step can be passed.
	Providers []string `json:"providers"`
	// RecoveryCodesRemaining counts the unused recovery codes.
	RecoveryCodesRemaining int `json:"recoveryCodesRemaining"`
	// Phone is the SMS number, masked, or "".
	Phone string `json:"phone"`
}

// TwoFactorStatusOf returns a user's second-factor status.
func (s *Service) TwoFactorStatusOf(ctx context.Context, u *gatehouse.User) (*TwoFactorStatus, error) {
	tf, err := s.twoFactorOf(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	st := &TwoFactorStatus{Providers: []string{}}
	if tf == nil {
		return st, nil
	}
	st.Enabled = tf.Enabled()
	if st.Enabled {
		st.Providers = s.providers(u, tf)
	}
	st.RecoveryCodesRemaining = len(tf.RecoveryCodes)
	if tf.Phone != "" {
		st.Phone = sms.Mask(tf.Phone)
	}
	return st, nil
}

// SetPhoneFor lets an administrator set (or, with "", remove) a user's SMS
// number; no password is asked, but the administrator must hold every
// permission the user holds.
func (s *Service) SetPhoneFor(ctx context.Context, a Actor, userID, phone string) error {
	u, err := s.actOn(ctx, a, userID, "change the phone number")
	if err != nil {
		return err
	}
	return s.putPhone(ctx, a, u, phone)
}
