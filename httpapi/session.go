package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/csrf"
	"github.com/gatehouse/gatehouse/session"
)

type loginBody struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Remember bool   `json:"remember"`
}

// handleLogin is POST BASE/session: password login; with session.guest, an
// empty body starts a guest session instead (handleStartGuest).
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	if s.accounts.GuestEnabled() && emptyBody(r) {
		return s.handleStartGuest(w, r)
	}
	var body loginBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	secure := s.in(r).secure
	sm := s.sessions
	prev, _ := sm.ReadToken(r, secure)
	res, err := s.accounts.Login(r.Context(), account.LoginRequest{
		Username:      body.Username,
		Password:      body.Password,
		Remember:      body.Remember,
		Client:        s.client(r),
		PreviousToken: prev,
		DeviceToken:   s.cookieToken(r, deviceCookie),
		KnownDevice:   s.cookieValue(r, knownCookie),
	})
	if err != nil {
		return err
	}
	return s.writeLogin(w, r, res)
}

// handleCurrentSession is GET BASE/session: the current user and session.
// It sets the XSRF-TOKEN cookie again, since that is a browser-session
// cookie that may be gone while a remembered session lives on.
func (s *Server) handleCurrentSession(w http.ResponseWriter, r *http.Request, c *credentials) error {
	return s.writeCurrentSession(w, r, c.user, c.session, c.token)
}

// writeCurrentSession answers {user, session, csrfToken} for the session
// of token and sets the XSRF-TOKEN cookie.
func (s *Server) writeCurrentSession(w http.ResponseWriter, r *http.Request, u *gatehouse.User, sess *gatehouse.Session, token string) error {
	uv, err := s.userView(r.Context(), u)
	if err != nil {
		return err
	}
	csrfToken := csrf.Token(token)
	csrf.SetCookie(w, csrfToken, s.in(r).secure, s.cookieDomain)
	writeJSON(w, http.StatusOK, map[string]any{
		"user":      uv,
		"session":   s.sessionView(sess),
		"csrfToken": csrfToken,
	})
	return nil
}

type reauthenticateBody struct {
	Password string `json:"password"`
	Provider string `json:"provider"`
	Code     string `json:"code"`
}

// handleReauthenticate is POST BASE/session/reauthenticate {password} (or,
// for a user without a local password, {provider, code} of a second factor
// that needs no sending step: totp or recovery_code; see
// account.Service.Reauthenticate): the user of the session proves their
// first factor again before a sensitive change. The session gets a new
// public id and a new cookie secret (the old id, the old cookie and the
// CSRF token derived from it stop working) and is recently authenticated
// from now; the answer is that of GET BASE/session (for the partial
// session of a user who must enrol, that of the login which started it). A
// wrong password or code is a failed login: 401, counted by the login
// throttles, audited. Both, neither, or a code from a user who has a
// password: 422 validation.
func (s *Server) handleReauthenticate(w http.ResponseWriter, r *http.Request, c *credentials) error {
	var body reauthenticateBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	token, sess, err := s.accounts.Reauthenticate(r.Context(), s.actor(r, c), c.session, account.Reauthentication{
		Password: body.Password, Provider: body.Provider, Code: body.Code,
	})
	if err != nil {
		return err
	}
	if sess.Scope == gatehouse.ScopeEnrol {
		// The partial session of a user who must enrol, left too long
		// before enrolling: answered like the login that started it.
		return s.writeLogin(w, r, &account.LoginResult{User: c.user, Session: sess, Token: token, EnrolmentRequired: true})
	}
	s.sessions.SetCookie(w, token, sess, s.in(r).secure)
	return s.writeCurrentSession(w, r, c.user, sess, token)
}

// handleLogout is DELETE BASE/session. It answers 204 whether or not there
// was a session; when there is one (full or partial), the request must
// carry its CSRF token, or a cross-site page could log the user out. When
// an external login started the session and its provider has an
// end_session_endpoint, it answers 200 {signOutRedirectUrl} instead: where
// the browser goes to end its login at the provider too.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	secure := s.in(r).secure
	sm := s.sessions
	signOut, ok := "", false
	if token, found := sm.ReadToken(r, secure); found {
		sess, err := sm.Peek(r.Context(), token)
		switch {
		case err == nil:
			if !csrf.Valid(token, csrf.FromRequest(r)) {
				return errCSRF
			}
			if err := s.accounts.Logout(r.Context(), account.Actor{Client: s.client(r)}, sess); err != nil {
				return err
			}
			signOut, ok = s.signOutURL(r, sess)
		case gatehouse.ErrorCode(err) != gatehouse.CodeUnauthenticated:
			return err
		}
	}
	sm.ClearCookie(w, secure)
	csrf.ClearCookie(w, secure, s.cookieDomain)
	if s.cookieToken(r, pendingCookie) != "" {
		s.clearCookie(w, pendingCookie, secure)
	}
	// The browser drops what it cached while logged in (OWASP's session
	// cheat sheet). Not "cookies" or "storage": those reach every site of
	// the registrable domain, and an application gatehouse is embedded in
	// or guards keeps its own there.
	w.Header().Set("Clear-Site-Data", `"cache"`)
	if ok {
		writeJSON(w, http.StatusOK, map[string]string{"signOutRedirectUrl": signOut})
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleRemaining is GET BASE/session/remaining. It never extends the
// session: asking how long is left must not change the answer. With
// Config.CSRFEveryRequest, a live session's cookie needs its CSRF token
// here too (see peekSession).
func (s *Server) handleRemaining(w http.ResponseWriter, r *http.Request) error {
	c, err := s.peekSession(r)
	if err != nil {
		return err
	}
	var secs int64
	if c != nil {
		secs = session.SecondsLeft(c.session, s.now())
	} else {
		// A guest session has a timeout too (never extended here either).
		sess, token, err := s.guestSession(r, true)
		if err != nil {
			return err
		}
		if sess != nil {
			if s.cfg.CSRFEveryRequest && !csrf.Valid(token, csrf.FromRequest(r)) {
				return errCSRF
			}
			secs = session.SecondsLeft(sess, s.now())
		}
	}
	writeJSON(w, http.StatusOK, map[string]int64{"seconds": secs})
	return nil
}

// handleAuthenticated is GET BASE/session/authenticated; it never extends
// the session either.
func (s *Server) handleAuthenticated(w http.ResponseWriter, r *http.Request) error {
	c, err := s.peekSession(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"authenticated": c != nil})
	return nil
}

// peekSession resolves the session cookie of r without extending the
// session, for the endpoints that only report on it. With
// Config.CSRFEveryRequest a live session's cookie must come with its CSRF
// token (403 csrf_failed): the contract exempts only GET BASE/session and
// GET BASE/csrf, which hand the token out, and a client polling these
// holds it already. A cookie that names no live session needs none.
func (s *Server) peekSession(r *http.Request) (*credentials, error) {
	c, err := s.cookieSession(r, true)
	if err != nil {
		return nil, err
	}
	if err := checkCSRF(r, c, s.cfg.CSRFEveryRequest); err != nil {
		return nil, err
	}
	return c, nil
}

// handleCSRF is GET BASE/csrf: the session's CSRF token (duplistatus's
// /api/csrf), also set as the XSRF-TOKEN cookie.
func (s *Server) handleCSRF(w http.ResponseWriter, r *http.Request, c *credentials) error {
	token := csrf.Token(c.token)
	csrf.SetCookie(w, token, s.in(r).secure, s.cookieDomain)
	writeJSON(w, http.StatusOK, map[string]string{"csrfToken": token})
	return nil
}
