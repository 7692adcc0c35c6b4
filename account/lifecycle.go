package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/mail"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
)

// discardMailer drops mail, for a Service built without one.
type discardMailer struct{}

func (discardMailer) Enqueue(context.Context, string, string, mail.Data) error { return nil }

var (
	errInvalidToken   = &gatehouse.Error{Code: gatehouse.CodeInvalidToken, Message: "The link is not valid: it was used already, has expired, or a newer one was sent."}
	errResetDisabled  = &gatehouse.Error{Code: gatehouse.CodePasswordResetDisabled, Message: "Password reset is turned off; ask an administrator."}
	errNotInvited     = &gatehouse.Error{Code: gatehouse.CodeNotInvited, Message: "This account is already active."}
	errNoInvitation   = &gatehouse.Error{Code: gatehouse.CodeUnauthenticated, Message: "No invitation session."}
	errUserNotInvited = gatehouse.Errorf(gatehouse.CodeConflict, "The user is not invited: only invited users have invitations.")
)

// newActionSecret returns 256 random bits for a mailed link.
func newActionSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// link builds a mailed link from the configured public base, never from a
// request's Host.
func (s *Service) link(page, userID, secret string) string {
	q := url.Values{"userId": {userID}, "token": {secret}}
	return strings.TrimRight(s.cfg.LinkBase, "/") + "/ui/" + page + "?" + q.Encode()
}

// issueActionToken voids the user's earlier tokens for purpose and
// returns the secret of a fresh one.
func (s *Service) issueActionToken(ctx context.Context, u *gatehouse.User, purpose gatehouse.ActionPurpose, ttl time.Duration) (string, error) {
	if _, err := s.stores.ActionTokens.DeleteActionTokens(ctx, u.ID, purpose); err != nil {
		return "", err
	}
	secret := newActionSecret()
	now := s.now().UTC()
	t := &gatehouse.ActionToken{
		ID: gatehouse.NewID(), UserID: u.ID, Purpose: purpose, Hash: hashSecret(secret),
		Stamp: u.SecurityStamp, CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
	if err := s.stores.ActionTokens.CreateActionToken(ctx, t); err != nil {
		return "", err
	}
	return secret, nil
}

// checkActionToken returns the token and its user when secret is a live
// token of one of purposes for userID: unused, unexpired, issued under the
// user's current security stamp. Anything else is errInvalidToken, the
// same for every reason.
func (s *Service) checkActionToken(ctx context.Context, userID, secret string, purposes ...gatehouse.ActionPurpose) (*gatehouse.ActionToken, *gatehouse.User, error) {
	if userID == "" || len(secret) < 16 || len(secret) > 200 {
		return nil, nil, errInvalidToken
	}
	t, err := s.stores.ActionTokens.ActionTokenByHash(ctx, hashSecret(secret))
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, nil, errInvalidToken
	}
	if err != nil {
		return nil, nil, err
	}
	// The user id is compared too, so a token of user A sent with user B's
	// id fails the same way as a wrong token.
	if !slices.Contains(purposes, t.Purpose) || t.UserID != userID || !t.UsedAt.IsZero() || !s.now().Before(t.ExpiresAt) {
		return nil, nil, errInvalidToken
	}
	u, err := s.stores.Users.UserByID(ctx, userID)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, nil, errInvalidToken
	}
	if err != nil {
		return nil, nil, err
	}
	if u.SecurityStamp != t.Stamp {
		return nil, nil, errInvalidToken
	}
	return t, u, nil
}

// useActionToken consumes a token; a concurrent use that won first makes
// this one invalid.
func (s *Service) useActionToken(ctx context.Context, t *gatehouse.ActionToken) error {
	err := s.stores.ActionTokens.UseActionToken(ctx, t.ID, s.now().UTC())
	if code := gatehouse.ErrorCode(err); code == gatehouse.CodeConflict || code == gatehouse.CodeNotFound {
		return errInvalidToken
	}
	return err
}

func (s *Service) mailData(u *gatehouse.User) mail.Data {
	return mail.Data{Product: s.cfg.Product, Username: u.Username, Name: u.Name, Email: u.Email, Time: s.now().UTC()}
}

// notify queues a notice to a user; a failure is logged, since the change it
// reports has already happened.
func (s *Service) notify(ctx context.Context, to, kind string, d mail.Data) {
	if err := s.mailer.Enqueue(context.WithoutCancel(ctx), to, kind, d); err != nil {
		s.log.ErrorContext(ctx, "queueing mail", "kind", kind, "err", err)
	}
}

// NewInvite describes a user to invite.
type NewInvite struct {
	Email string
	Name  string
	// Username defaults to the email address.
	Username string
	Groups   []string
	By       Actor
}

// Invite creates an invited user and mails them a single-use link.
func (s *Service) Invite(ctx context.Context, ni NewInvite) (*gatehouse.User, error) {
	if ni.Username == "" {
		ni.Username = ni.Email
	}
	if fields := validateIdentity(ni.Username, ni.Email, ni.Name); len(fields) > 0 {
		return nil, &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The invitation is not valid.", Fields: fields}
	}
	if err := s.checkGrant(ctx, ni.By, ni.Groups, "invite a user into these groups"); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	u := &gatehouse.User{
		ID: gatehouse.NewID(), Username: ni.Username, Email: ni.Email, Name: ni.Name,
		State: gatehouse.StateInvited, SecurityStamp: newStamp(), Groups: normalizePermissions(ni.Groups),
		CreatedAt: now, UpdatedAt: now,
	}
	if err := s.stores.Users.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	if err := s.sendInvite(ctx, u); err != nil {
		return nil, err
	}
	s.record(ctx, ni.By, gatehouse.AuditUserInvited, u.ID, map[string]string{"username": u.Username})
	return u, nil
}

func (s *Service) sendInvite(ctx context.Context, u *gatehouse.User) error {
	secret, err := s.issueActionToken(ctx, u, gatehouse.PurposeInvite, s.cfg.InviteTTL)
	if err != nil {
		return err
	}
	d := s.mailData(u)
	d.Link, d.ExpiresIn = s.link("invite", u.ID, secret), s.cfg.InviteTTL
	if err := s.mailer.Enqueue(ctx, u.Email, "invite", d); err != nil {
		return fmt.Errorf("queue invitation: %w", err)
	}
	return nil
}

// ResendInvite mails an invited user a fresh link with a fresh expiry; the
// earlier links stop working.
func (s *Service) ResendInvite(ctx context.Context, a Actor, userID string) error {
	u, err := s.actOn(ctx, a, userID, "resend the invitation")
	if err != nil {
		return err
	}
	if u.State != gatehouse.StateInvited {
		return errUserNotInvited
	}
	if err := s.sendInvite(ctx, u); err != nil {
		return err
	}
	s.record(ctx, a, gatehouse.AuditUserInvited, u.ID, map[string]string{"resent": "true"})
	return nil
}

// RevokeInvite voids an invited user's links and ends their invitation
// sessions; the user stays, invited, until deleted or invited again.
func (s *Service) RevokeInvite(ctx context.Context, a Actor, userID string) error {
	u, err := s.actOn(ctx, a, userID, "revoke the invitation")
	if err != nil {
		return err
	}
	if u.State != gatehouse.StateInvited {
		return errUserNotInvited
	}
	if _, err := s.stores.ActionTokens.DeleteActionTokens(ctx, u.ID, gatehouse.PurposeInvite); err != nil {
		return err
	}
	if _, err := s.sessions.RevokeUser(ctx, u.ID, ""); err != nil {
		return err
	}
	s.record(ctx, a, gatehouse.AuditInviteRevoked, u.ID, nil)
	return nil
}

// InviteSession is the partial session an accepted invitation link gives.
type InviteSession struct {
	User    *gatehouse.User
	Session *gatehouse.Session
	Token   string
}

// VerifyInvite consumes an invitation token and starts a partial session
// that allows only the invitation endpoints and logout. The session the
// browser had before (previousToken) ends.
func (s *Service) VerifyInvite(ctx context.Context, userID, secret string, client Client, previousToken string) (*InviteSession, error) {
	if err := s.refuseLocalLogin(); err != nil {
		return nil, err
	}
	t, u, err := s.checkActionToken(ctx, userID, secret, gatehouse.PurposeInvite)
	if err != nil {
		return nil, err
	}
	if u.State != gatehouse.StateInvited {
		return nil, errInvalidToken
	}
	if err := s.useActionToken(ctx, t); err != nil {
		return nil, err
	}
	s.endPrevious(ctx, previousToken)
	token, sess, err := s.sessions.Create(ctx, u.ID, session.CreateOptions{ClientAddr: client.Addr, UserAgent: client.UserAgent, Scope: gatehouse.ScopeInvite})
	if err != nil {
		return nil, err
	}
	s.record(ctx, Actor{User: u, Client: client}, gatehouse.AuditInviteVerified, sess.ID, nil)
	return &InviteSession{User: u, Session: sess, Token: token}, nil
}

func (s *Service) endPrevious(ctx context.Context, previousToken string) {
	if previousToken == "" {
		return
	}
	if old, err := s.sessions.Peek(ctx, previousToken); err == nil {
		if err := s.sessions.Revoke(ctx, old.ID); err != nil {
			s.log.WarnContext(ctx, "ending the previous session", "err", err)
		}
	}
}

// InvitedUser returns the user of an invitation session. For an active
// user (a full session, or an invitation already accepted) it is
// CodeNotInvited.
func (s *Service) InvitedUser(ctx context.Context, token string) (*gatehouse.User, *gatehouse.Session, error) {
	sess, err := s.sessions.Load(ctx, token)
	if err != nil || (sess.Scope != gatehouse.ScopeInvite && sess.Scope != "") {
		return nil, nil, errNoInvitation
	}
	u, err := s.stores.Users.UserByID(ctx, sess.UserID)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, nil, errNoInvitation
	}
	if err != nil {
		return nil, nil, err
	}
	switch u.State {
	case gatehouse.StateInvited:
		if sess.Scope != gatehouse.ScopeInvite {
			return nil, nil, errNoInvitation
		}
		return u, sess, nil
	case gatehouse.StateActive:
		return nil, nil, errNotInvited
	default:
		return nil, nil, errNoInvitation
	}
}

// AcceptInvite sets the invited user's password from their invitation
// session, activates them, and logs them in: the partial session ends and a
// full one starts.
func (s *Service) AcceptInvite(ctx context.Context, token, pw string, client Client) (*LoginResult, error) {
	if err := s.refuseLocalLogin(); err != nil {
		return nil, err
	}
	u, sess, err := s.InvitedUser(ctx, token)
	if err != nil {
		return nil, err
	}
	hash, err := s.inviteePassword(ctx, u, pw)
	if err != nil {
		return nil, err
	}
	return s.activateInvited(ctx, u, hash, sess.ID, client)
}

// AcceptInviteLink accepts an invitation in one step, from the link itself
// (the invitation page's form): the link is checked, then the password
// (policy and hash), and only then is the link used up, so that a refused
// password or a busy server leaves it valid for another try. The session
// the browser had before (previousToken) ends.
func (s *Service) AcceptInviteLink(ctx context.Context, userID, secret, pw string, client Client, previousToken string) (*LoginResult, error) {
	if err := s.refuseLocalLogin(); err != nil {
		return nil, err
	}
	t, u, err := s.checkActionToken(ctx, userID, secret, gatehouse.PurposeInvite)
	if err != nil {
		return nil, err
	}
	if u.State != gatehouse.StateInvited {
		return nil, errInvalidToken
	}
	hash, err := s.inviteePassword(ctx, u, pw)
	if err != nil {
		return nil, err
	}
	if err := s.useActionToken(ctx, t); err != nil {
		return nil, err
	}
	s.endPrevious(ctx, previousToken)
	s.record(ctx, Actor{User: u, Client: client}, gatehouse.AuditInviteVerified, u.ID, nil)
	return s.activateInvited(ctx, u, hash, "", client)
}

// inviteePassword checks the password an invited user chose against the
// policy and returns its hash.
func (s *Service) inviteePassword(ctx context.Context, u *gatehouse.User, pw string) (string, error) {
	if pw == "" {
		return "", &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The request is not valid.", Fields: map[string]string{"password": "Password is required."}}
	}
	if err := s.checkPolicyFor(ctx, pw, password.Context{Username: u.Username, Email: u.Email, Name: u.Name}); err != nil {
		return "", err
	}
	return s.hasher.Hash(ctx, pw)
}

// activateInvited makes an invited user active with the password hash,
// ends their invitation links and the invitation session partial (when not
// ""), and starts their first session (an enrolment-only one when a group
// requires two-factor).
func (s *Service) activateInvited(ctx context.Context, u *gatehouse.User, hash, partial string, client Client) (*LoginResult, error) {
	now := s.now().UTC()
	u, err := s.changeUser(ctx, u.ID, func(cur *gatehouse.User) (bool, error) {
		if cur.State != gatehouse.StateInvited {
			// Disabled (or activated) since the invitation was checked.
			return false, errInvalidToken
		}
		cur.PasswordHash, cur.SecurityStamp, cur.State, cur.EmailConfirmed = hash, newStamp(), gatehouse.StateActive, true
		cur.UpdatedAt, cur.LastLoginAt = now, now
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	s.forgetUser(u.ID)
	if _, err := s.stores.ActionTokens.DeleteActionTokens(ctx, u.ID, ""); err != nil {
		return nil, err
	}
	if partial != "" {
		if err := s.sessions.Revoke(ctx, partial); err != nil {
			return nil, err
		}
	}
	required, err := s.requiresTwoFactor(ctx, u)
	if err != nil {
		return nil, err
	}
	scope := ""
	if required {
		scope = gatehouse.ScopeEnrol
	}
	// Choosing the password proves it, as a login would: the new session
	// counts as recently authenticated.
	newToken, full, err := s.sessions.Create(ctx, u.ID, session.CreateOptions{
		ClientAddr: client.Addr, UserAgent: client.UserAgent, Scope: scope, AuthenticatedAt: now,
	})
	if err != nil {
		return nil, err
	}
	s.record(ctx, Actor{User: u, Client: client}, gatehouse.AuditInviteAccepted, u.ID, nil)
	if required {
		return &LoginResult{User: u, Session: full, Token: newToken, EnrolmentRequired: true}, nil
	}
	s.record(ctx, Actor{User: u, Client: client}, gatehouse.AuditLoginSucceeded, full.ID, map[string]string{"method": "invite"})
	return &LoginResult{User: u, Session: full, Token: newToken}, nil
}

// ForgotPassword starts a password reset for email. It answers the same,
// as fast, whether or not the address belongs to an account: the lookup,
// the token and the mail happen after the answer, in the background. Only
// the per-address and per-client throttles answer in the request, and they
// count unknown addresses too.
func (s *Service) ForgotPassword(ctx context.Context, email string, client Client) error {
	if err := s.refuseLocalLogin(); err != nil {
		return err
	}
	if !s.cfg.AllowPasswordReset {
		return errResetDisabled
	}
	email = strings.TrimSpace(email)
	if email == "" || len(email) > 254 || !validEmail(email) {
		return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The request is not valid.", Fields: map[string]string{"email": "Email is not a valid address."}}
	}
	now := s.now().UTC()
	for _, key := range []string{"forgot:email:" + strings.ToLower(email), "forgot:addr:" + clientNet(client.Addr)} {
		t, err := s.stores.Throttles.AddFailure(ctx, key, now, s.cfg.ForgotThrottle)
		if err != nil {
			return err
		}
		if t.Locked(now) {
			return tooManyAttempts(t.LockedUntil.Sub(now))
		}
	}
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := s.sendReset(bg, email, client); err != nil {
			s.log.ErrorContext(ctx, "password reset request", "err", err)
		}
	}()
	return nil
}

func (s *Service) sendReset(ctx context.Context, email string, client Client) error {
	u, err := s.stores.Users.UserByLogin(ctx, email)
	if errors.Is(err, gatehouse.ErrNotFound) || (err == nil && !strings.EqualFold(u.Email, email)) {
		s.record(ctx, Actor{Client: client}, gatehouse.AuditResetRequested, "", map[string]string{"known": "false"})
		return nil
	}
	if err != nil {
		return err
	}
	if u.State != gatehouse.StateActive {
		// Disabled users get nothing; invited users accept their
		// invitation (a reset would let a revoked invitation back in).
		s.record(ctx, Actor{Client: client}, gatehouse.AuditResetRequested, u.ID, map[string]string{"sent": "false", "reason": string(u.State)})
		return nil
	}
	_, err = s.IssueResetLink(ctx, u, "reset")
	if err == nil {
		s.record(ctx, Actor{Client: client}, gatehouse.AuditResetRequested, u.ID, map[string]string{"sent": "true"})
	}
	return err
}

// IssueResetLink creates a password-reset token for u and returns its link;
// with kind "" it mails nothing (the operator's `user reset-link`) and the
// token is a recovery link (PurposeRecovery), which also works while local
// login is disabled (RecoverAccess); otherwise it mails the link with that
// template kind.
func (s *Service) IssueResetLink(ctx context.Context, u *gatehouse.User, kind string) (string, error) {
	purpose := gatehouse.PurposeReset
	if kind == "" {
		purpose = gatehouse.PurposeRecovery
	}
	secret, err := s.issueActionToken(ctx, u, purpose, s.cfg.ResetTTL)
	if err != nil {
		return "", err
	}
	link := s.link("reset", u.ID, secret)
	if kind != "" {
		d := s.mailData(u)
		d.Link, d.ExpiresIn = link, s.cfg.ResetTTL
		if err := s.mailer.Enqueue(ctx, u.Email, kind, d); err != nil {
			return "", fmt.Errorf("queue reset mail: %w", err)
		}
	}
	return link, nil
}

// WaitBackground waits for background work started by requests (password
// reset lookups) to finish: for an orderly shutdown, and for tests.
func (s *Service) WaitBackground() { s.background.Wait() }

// ResetPassword sets a new password with a reset token. It unlocks the
// account, confirms the email address, activates an invited user who never
// logged in (never a disabled one), and changes the security stamp, which
// ends every session and voids every other outstanding link. It does not
// log the user in: the next login, with any second factor, does.
//
// AllowPasswordReset gates only the self-service request (ForgotPassword):
// a link an administrator or the operator issued still works with it off,
// so a locked-out sole administrator can always be recovered. While local
// login is disabled it answers CodeLocalLoginDisabled, for the operator's
// recovery links too: those go to RecoverAccess.
func (s *Service) ResetPassword(ctx context.Context, userID, secret, pw string, client Client) error {
	if err := s.refuseLocalLogin(); err != nil {
		return err
	}
	t, u, err := s.checkActionToken(ctx, userID, secret, gatehouse.PurposeReset, gatehouse.PurposeRecovery)
	if err != nil {
		return err
	}
	if pw == "" {
		return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The request is not valid.", Fields: map[string]string{"password": "Password is required."}}
	}
	// The policy is checked before the token is used, so a refused
	// password leaves the link working for another try.
	if err := s.checkPolicyFor(ctx, pw, password.Context{Username: u.Username, Email: u.Email, Name: u.Name}); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return err
	}
	if err := s.useActionToken(ctx, t); err != nil {
		return err
	}
	// Decided on the user as stored, so that a user disabled since the
	// link was checked stays disabled.
	u, err = s.changeUser(ctx, u.ID, func(cur *gatehouse.User) (bool, error) {
		cur.PasswordHash, cur.SecurityStamp, cur.EmailConfirmed = hash, newStamp(), true
		if cur.State == gatehouse.StateInvited && cur.LastLoginAt.IsZero() {
			cur.State = gatehouse.StateActive
		}
		cur.UpdatedAt = s.now().UTC()
		return true, nil
	})
	if err != nil {
		return err
	}
	if err := s.endCredentials(ctx, u.ID); err != nil {
		return err
	}
	if err := s.Unlock(ctx, u.Username); err != nil {
		return err
	}
	s.record(ctx, Actor{User: u, Client: client}, gatehouse.AuditPasswordReset, u.ID, nil)
	d := s.mailData(u)
	d.ClientAddr = client.Addr
	s.notify(ctx, u.Email, "password_changed", d)
	return nil
}

// endCredentials ends every session of a user, forgets their cached Basic
// credentials and voids their outstanding links, after a password reset.
func (s *Service) endCredentials(ctx context.Context, userID string) error {
	s.forgetUser(userID)
	if _, err := s.stores.Devices.DeleteDevices(ctx, userID, ""); err != nil {
		return err
	}
	s.basic.forgetWhere(func(e basicEntry) bool { return e.userID == userID })
	if _, err := s.sessions.RevokeUser(ctx, userID, ""); err != nil {
		return err
	}
	_, err := s.stores.ActionTokens.DeleteActionTokens(ctx, userID, "")
	return err
}

// SendResetLink lets an administrator start a password reset: the user is
// mailed a link; nobody else learns or sets the password (ASVS 6.4.6).
func (s *Service) SendResetLink(ctx context.Context, a Actor, userID string) error {
	u, err := s.actOn(ctx, a, userID, "start a password reset")
	if err != nil {
		return err
	}
	if u.State == gatehouse.StateDisabled {
		return gatehouse.Errorf(gatehouse.CodeConflict, "The user is disabled; enable them first.")
	}
	if _, err := s.IssueResetLink(ctx, u, "reset"); err != nil {
		return err
	}
	s.record(ctx, a, gatehouse.AuditResetRequested, u.ID, map[string]string{"sent": "true", "by": "administrator"})
	return nil
}

// AllowPasswordReset reports whether the forgot-password flow is on.
func (s *Service) AllowPasswordReset() bool { return s.cfg.AllowPasswordReset }
