package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/csrf"
)

// writeSecondStep answers a correct password of a user with a second
// factor: only the pending-login cookie, no session.
func (s *Server) writeSecondStep(w http.ResponseWriter, r *http.Request, res *account.LoginResult) error {
	s.setLoginCookies(w, r, res, pendingCookie)
	writeJSON(w, http.StatusOK, map[string]any{"state": "two_factor_required", "providers": res.Providers})
	return nil
}

// handleProviders is GET BASE/2fa/providers.
func (s *Server) handleProviders(w http.ResponseWriter, r *http.Request) error {
	p, err := s.accounts.PendingProviders(r.Context(), s.cookieToken(r, pendingCookie))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

type sendCodeBody struct {
	Provider string `json:"provider"`
}

// handleSendCode is POST BASE/2fa/send: a code by email or SMS.
func (s *Server) handleSendCode(w http.ResponseWriter, r *http.Request) error {
	var body sendCodeBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if err := s.accounts.SendCode(r.Context(), s.cookieToken(r, pendingCookie), body.Provider, s.client(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type verifyCodeBody struct {
	Provider       string `json:"provider"`
	Code           string `json:"code"`
	Remember       bool   `json:"remember"`
	RememberDevice bool   `json:"rememberDevice"`
}

// handleVerifyCode is POST BASE/2fa/verify: the second step; a success is
// answered like a login.
func (s *Server) handleVerifyCode(w http.ResponseWriter, r *http.Request) error {
	var body verifyCodeBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	res, err := s.accounts.VerifyCode(r.Context(), account.VerifyRequest{
		Token: s.cookieToken(r, pendingCookie), Provider: body.Provider, Code: body.Code, Remember: body.Remember,
		RememberDevice: body.RememberDevice, Client: s.client(r),
		KnownDevice: s.cookieValue(r, knownCookie),
	})
	if err != nil {
		return err
	}
	s.clearCookie(w, pendingCookie, s.in(r).secure)
	return s.writeLogin(w, r, res)
}

// errTokenForFactors refuses API tokens on the endpoints that manage the
// account itself (password, factors, sessions, other tokens): a leaked,
// narrowly scoped token must not be able to take the account over.
var errTokenForFactors = gatehouse.Errorf(gatehouse.CodePermissionDenied, "API tokens cannot manage the account; log in to do that.")

// withPerson is withUser for the endpoints that manage the account itself:
// a session or Basic credentials, never an API token.
func (s *Server) withPerson(h authedFunc) handlerFunc {
	return s.withUser(func(w http.ResponseWriter, r *http.Request, c *credentials) error {
		if c.via == viaToken {
			return errTokenForFactors
		}
		return h(w, r, c)
	})
}

// orEnrolment calls h for a request whose session cookie names the
// partial session of a user who must enrol (ScopeEnrol), after checking
// its CSRF token, and other for every other request.
func (s *Server) orEnrolment(other handlerFunc, h authedFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		token, ok := s.sessions.ReadToken(r, s.in(r).secure)
		if ok && r.Header.Get("Authorization") == "" {
			if u, sess, err := s.accounts.EnrolmentSession(r.Context(), token); err == nil {
				c := &credentials{user: u, via: viaSession, session: sess, token: token}
				if err := checkCSRF(r, c, s.cfg.CSRFEveryRequest); err != nil {
					return err
				}
				return h(w, withCredentials(r, c), c)
			}
		}
		return other(w, r)
	}
}

// handleBeginTOTP is POST BASE/2fa/totp: a secret to enrol.
func (s *Server) handleBeginTOTP(w http.ResponseWriter, r *http.Request, c *credentials) error {
	e, err := s.accounts.BeginTOTP(r.Context(), c.user)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}

type codeBody struct {
	Code string `json:"code"`
}

// handleConfirmTOTP is POST BASE/2fa/totp/confirm: two-factor is on from
// now, and the recovery codes are shown once.
func (s *Server) handleConfirmTOTP(w http.ResponseWriter, r *http.Request, c *credentials) error {
	var body codeBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	codes, err := s.accounts.ConfirmTOTP(r.Context(), s.actor(r, c), c.user, body.Code)
	if err != nil {
		return err
	}
	if c.session != nil && c.session.Scope == gatehouse.ScopeEnrol {
		// Enrolment was all the partial session was for: it becomes a
		// full session, in a new cookie.
		res, err := s.accounts.FinishEnrolment(r.Context(), c.user, c.session, s.client(r))
		if err != nil {
			return err
		}
		secure := s.in(r).secure
		s.sessions.SetCookie(w, res.Token, res.Session, secure)
		csrf.SetCookie(w, csrf.Token(res.Token), secure, s.cookieDomain)
		writeJSON(w, http.StatusOK, map[string]any{"recoveryCodes": codes, "csrfToken": csrf.Token(res.Token)})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"recoveryCodes": codes})
	return nil
}

type passwordBody struct {
	Password string `json:"password"`
}

// handleDisableTOTP is DELETE BASE/2fa/totp {password}. Without the
// password, a recently authenticated session will do.
func (s *Server) handleDisableTOTP(w http.ResponseWriter, r *http.Request, c *credentials) error {
	var body passwordBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if err := s.accounts.DisableTOTP(r.Context(), s.actor(r, c), c.user, s.proof(c, body.Password)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleRecoveryCodes is POST BASE/2fa/recovery-codes {password}: new
// codes, the old ones void. Without the password, a recently
// authenticated session will do.
func (s *Server) handleRecoveryCodes(w http.ResponseWriter, r *http.Request, c *credentials) error {
	var body passwordBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	codes, err := s.accounts.RegenerateRecoveryCodes(r.Context(), s.actor(r, c), c.user, s.proof(c, body.Password))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"recoveryCodes": codes})
	return nil
}

type phoneBody struct {
	Phone    string `json:"phone"`
	Password string `json:"password"`
}

// handleSetPhone is PUT BASE/2fa/phone {phone, password}: where SMS codes
// go. Without the password, a recently authenticated session will do.
func (s *Server) handleSetPhone(w http.ResponseWriter, r *http.Request, c *credentials) error {
	var body phoneBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if err := s.accounts.SetPhone(r.Context(), s.actor(r, c), c.user, body.Phone, s.proof(c, body.Password)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleResetTwoFactor is POST …/users/{id}/reset-two-factor.
func (s *Server) handleResetTwoFactor(w http.ResponseWriter, r *http.Request, c *credentials) error {
	// Removing one's own second factor this way is DELETE BASE/2fa/totp
	// without the password: it needs a recent authentication too.
	if r.PathValue("id") == c.user.ID {
		if err := s.requireRecentAuth(c); err != nil {
			return err
		}
	}
	if err := s.accounts.ResetTwoFactor(r.Context(), s.actor(r, c), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleTwoFactorStatus is GET BASE/2fa: the caller's second factors, the
// recovery codes left and the (masked) SMS number.
func (s *Server) handleTwoFactorStatus(w http.ResponseWriter, r *http.Request, c *credentials) error {
	st, err := s.accounts.TwoFactorStatusOf(r.Context(), c.user)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

type adminPhoneBody struct {
	Phone string `json:"phone"`
}

// handleAdminSetPhone is PUT …/users/{id}/phone {phone}.
func (s *Server) handleAdminSetPhone(w http.ResponseWriter, r *http.Request, c *credentials) error {
	var body adminPhoneBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	// One's own SMS number is a way in: as sensitive as PUT BASE/2fa/phone.
	if r.PathValue("id") == c.user.ID {
		if err := s.requireRecentAuth(c); err != nil {
			return err
		}
	}
	if err := s.accounts.SetPhoneFor(r.Context(), s.actor(r, c), r.PathValue("id"), body.Phone); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
