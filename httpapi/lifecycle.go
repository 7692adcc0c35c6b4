package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/csrf"
)

type forgotBody struct {
	Email string `json:"email"`
}

// forgotAnswer is the one answer to a reset request, whether or not the
// address belongs to an account.
var forgotAnswer = map[string]string{"message": "If the address belongs to an account, a link to reset its password is on its way."}

// handleForgot is POST BASE/password/forgot: always 202 with the same body.
func (s *Server) handleForgot(w http.ResponseWriter, r *http.Request) error {
	var body forgotBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if err := s.accounts.ForgotPassword(r.Context(), body.Email, s.client(r)); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, forgotAnswer)
	return nil
}

type resetBody struct {
	UserID   string `json:"userId"`
	Token    string `json:"token"`
	Password string `json:"password"`
}

// handleReset is POST BASE/password/reset: a new password with a mailed
// token. It logs nobody in; except while local login is disabled, when
// only an operator's recovery link works, and it logs the user in (with
// any second factor), answered like a login: there is no password form to
// log in with afterwards.
func (s *Server) handleReset(w http.ResponseWriter, r *http.Request) error {
	var body resetBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if s.accounts.LocalLoginDisabled() {
		res, err := s.recoverAccess(r, body.UserID, body.Token, body.Password)
		if err != nil {
			return err
		}
		return s.writeLogin(w, r, res)
	}
	if err := s.accounts.ResetPassword(r.Context(), body.UserID, body.Token, body.Password, s.client(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// recoverAccess uses an operator's recovery link (account.RecoverAccess)
// for the browser of r.
func (s *Server) recoverAccess(r *http.Request, userID, token, password string) (*account.LoginResult, error) {
	prev, _ := s.sessions.ReadToken(r, s.in(r).secure)
	return s.accounts.RecoverAccess(r.Context(), userID, token, password, account.LoginRequest{
		Client: s.client(r), PreviousToken: prev, DeviceToken: s.cookieToken(r, deviceCookie),
		KnownDevice: s.cookieValue(r, knownCookie),
	})
}

// errLocalLoginDisabled refuses a password endpoint while a provider's
// deny_local_login is in effect.
var errLocalLoginDisabled = gatehouse.Errorf(gatehouse.CodeLocalLoginDisabled, "Passwords are turned off; log in with your organisation's sign-in.")

type verifyInviteBody struct {
	UserID string `json:"userId"`
	Token  string `json:"token"`
}

// handleVerifyInvite is POST BASE/invite/verify: the invitation token buys
// a partial session that allows only the invitation endpoints and logout.
func (s *Server) handleVerifyInvite(w http.ResponseWriter, r *http.Request) error {
	var body verifyInviteBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	secure := s.in(r).secure
	sm := s.sessions
	prev, _ := sm.ReadToken(r, secure)
	inv, err := s.accounts.VerifyInvite(r.Context(), body.UserID, body.Token, s.client(r), prev)
	if err != nil {
		return err
	}
	uv, err := s.userView(r.Context(), inv.User)
	if err != nil {
		return err
	}
	token := csrf.Token(inv.Token)
	sm.SetCookie(w, inv.Token, inv.Session, secure)
	csrf.SetCookie(w, token, secure, s.cookieDomain)
	writeJSON(w, http.StatusOK, map[string]any{"user": uv, "session": s.sessionView(inv.Session), "csrfToken": token})
	return nil
}

// inviteToken reads the session cookie for the invitation endpoints.
func (s *Server) inviteToken(r *http.Request) string {
	token, _ := s.sessions.ReadToken(r, s.in(r).secure)
	return token
}

// handleInvite is GET BASE/invite: the invited user of the partial session
// (Umbraco's GetCurrentInvitedUser); 403 not_invited once active.
func (s *Server) handleInvite(w http.ResponseWriter, r *http.Request) error {
	token := s.inviteToken(r)
	u, _, err := s.accounts.InvitedUser(r.Context(), token)
	if err != nil {
		return err
	}
	uv, err := s.userView(r.Context(), u)
	if err != nil {
		return err
	}
	csrfToken := csrf.Token(token)
	csrf.SetCookie(w, csrfToken, s.in(r).secure, s.cookieDomain)
	writeJSON(w, http.StatusOK, map[string]any{"user": uv, "csrfToken": csrfToken})
	return nil
}

type invitePasswordBody struct {
	Password string `json:"password"`
}

// handleInvitePassword is POST BASE/invite/password: the invited user sets
// a password, becomes active and is logged in, as after a login.
func (s *Server) handleInvitePassword(w http.ResponseWriter, r *http.Request) error {
	if s.accounts.LocalLoginDisabled() {
		// Said before anything else, as by every password endpoint: no
		// invitation session can exist then (POST /invite/verify refuses).
		return errLocalLoginDisabled
	}
	token := s.inviteToken(r)
	if _, _, err := s.accounts.InvitedUser(r.Context(), token); err != nil {
		return err
	}
	if !csrf.Valid(token, csrf.FromRequest(r)) {
		return errCSRF
	}
	var body invitePasswordBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	res, err := s.accounts.AcceptInvite(r.Context(), token, body.Password, s.client(r))
	if err != nil {
		return err
	}
	return s.writeLogin(w, r, res)
}

// writeLogin answers a successful login: the session cookie, the CSRF
// cookie, and {state, user, session, csrfToken}.
func (s *Server) writeLogin(w http.ResponseWriter, r *http.Request, res *account.LoginResult) error {
	if res.PendingToken != "" {
		return s.writeSecondStep(w, r, res)
	}
	if res.EnrolmentRequired {
		token := s.setLoginCookies(w, r, res, pendingCookie)
		writeJSON(w, http.StatusOK, map[string]any{"state": "two_factor_enrollment_required", "csrfToken": token})
		return nil
	}
	uv, err := s.userView(r.Context(), res.User)
	if err != nil {
		return err
	}
	token := s.setLoginCookies(w, r, res, pendingCookie)
	writeJSON(w, http.StatusOK, map[string]any{
		"state":     "authenticated",
		"user":      uv,
		"session":   s.sessionView(res.Session),
		"csrfToken": token,
	})
	return nil
}

// setLoginCookies is the one function that ends every successful login
// step with its cookies, whichever way it came (the JSON API, the pages,
// an invitation, a recovery link, an external login). A login that owes
// a second factor gets only the pending-login cookie, as pending (the
// external login's is SameSite=Lax: see externalPendingCookie), and ""
// is returned. A login that started a session (full, or partial for
// enrolling a second factor) gets the session and XSRF-TOKEN cookies, the
// known-device cookie and, for a full session, the remembered-device
// cookie; the CSRF token is returned.
func (s *Server) setLoginCookies(w http.ResponseWriter, r *http.Request, res *account.LoginResult, pending hostCookie) string {
	secure := s.in(r).secure
	if res.PendingToken != "" {
		s.setCookie(w, pending, res.PendingToken, res.PendingExpiresAt, secure)
		return ""
	}
	if res.User != nil {
		noteUser(r, res.User.ID) // the login's line in the log names who logged in
	}
	token := csrf.Token(res.Token)
	s.sessions.SetCookie(w, res.Token, res.Session, secure)
	csrf.SetCookie(w, token, secure, s.cookieDomain)
	if res.DeviceToken != "" && !res.EnrolmentRequired {
		s.setCookie(w, deviceCookie, res.DeviceToken, res.DeviceExpiresAt, secure)
	}
	s.setCookie(w, knownCookie, res.KnownDeviceToken, res.KnownDeviceExpiresAt, secure)
	return token
}

type inviteUserBody struct {
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

// handleInviteUser is POST …/users/invite: an invited user and a mailed link.
func (s *Server) handleInviteUser(w http.ResponseWriter, r *http.Request, c *credentials) error {
	var body inviteUserBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	u, err := s.accounts.Invite(r.Context(), account.NewInvite{Email: body.Email, Name: body.Name, Username: body.Username, Groups: body.Groups, By: s.actor(r, c)})
	if err != nil {
		return err
	}
	return s.writeUser(w, r, http.StatusCreated, u)
}

// handleResendInvite is POST …/users/{id}/invite: a fresh link.
func (s *Server) handleResendInvite(w http.ResponseWriter, r *http.Request, c *credentials) error {
	if err := s.accounts.ResendInvite(r.Context(), s.actor(r, c), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleRevokeInvite is DELETE …/users/{id}/invite: the links stop working.
func (s *Server) handleRevokeInvite(w http.ResponseWriter, r *http.Request, c *credentials) error {
	if err := s.accounts.RevokeInvite(r.Context(), s.actor(r, c), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleSendReset is POST …/users/{id}/reset-password: an administrator
// starts a reset (the user gets the link); nobody sets the password for
// them (ASVS 6.4.6).
func (s *Server) handleSendReset(w http.ResponseWriter, r *http.Request, c *credentials) error {
	if err := s.accounts.SendResetLink(r.Context(), s.actor(r, c), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
