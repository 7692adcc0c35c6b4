package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/csrf"
)

// emptyBody reports whether r has no body at all: no bytes, whatever its
// Content-Type says. A body of unknown length (chunked) is peeked at, one
// byte, and put back for the JSON decoder when there is one.
func emptyBody(r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return true
	}
	if r.ContentLength > 0 {
		return false
	}
	var b [1]byte
	n, err := io.ReadFull(r.Body, b[:])
	if n == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		return true
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b[:n]), r.Body), r.Body}
	return false
}

// handleStartGuest is POST BASE/session with an empty body while
// session.guest is on (duplistatus's POST /api/session): a guest session,
// one without a user. It answers {"state":"guest","sessionId","csrfToken"}
// where sessionId is the session cookie's value, which the client may send
// back itself as Cookie: <cookie_name>=<sessionId>; the XSRF-TOKEN cookie
// is set too. Throttled per client address (429 with Retry-After).
func (s *Server) handleStartGuest(w http.ResponseWriter, r *http.Request) error {
	secure := s.in(r).secure
	sm := s.sessions
	prev, _ := sm.ReadToken(r, secure)
	token, sess, err := s.accounts.StartGuest(r.Context(), s.client(r), prev)
	if err != nil {
		return err
	}
	sm.SetCookie(w, token, sess, secure)
	csrfToken := csrf.Token(token)
	csrf.SetCookie(w, csrfToken, secure, s.cookieDomain)
	writeJSON(w, http.StatusOK, map[string]string{
		"state":     "guest",
		"sessionId": token,
		"csrfToken": csrfToken,
	})
	return nil
}

// guestSession returns the live guest session of r's session cookie and
// the cookie's secret, or nil when there is none (or guest sessions are
// off). peek leaves its idle timeout alone.
func (s *Server) guestSession(r *http.Request, peek bool) (*gatehouse.Session, string, error) {
	if !s.accounts.GuestEnabled() || r.Header.Get("Authorization") != "" {
		return nil, "", nil
	}
	token, ok := s.sessions.ReadToken(r, s.in(r).secure)
	if !ok {
		return nil, "", nil
	}
	sess, err := s.accounts.GuestSession(r.Context(), token, peek)
	if gatehouse.ErrorCode(err) == gatehouse.CodeUnauthenticated {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	return sess, token, nil
}

// guestAccess decides a request without credentials to a route with
// access "session": a live guest session admits it, with the same
// cross-origin and CSRF checks as a user's session in the gateway (unsafe
// methods and WebSocket handshakes same-origin; the token on unsafe
// methods, and on safe ones but the handshake with
// Config.CSRFEveryRequest). No guest session: 401.
func (s *Server) guestAccess(r *http.Request) error {
	sess, token, err := s.guestSession(r, false)
	if err != nil {
		return err
	}
	if sess == nil {
		return errUnauthenticated
	}
	unsafe := csrf.Unsafe(r.Method)
	upgrade := r.Header.Get("Upgrade") != ""
	// A WebSocket handshake must be same-origin too, as for a user.
	if err := s.sameOrigin(r, unsafe, upgrade); err != nil {
		return err
	}
	// The handshake cannot carry a token (the browser's WebSocket API
	// sends no header), so CSRFEveryRequest exempts it, as for a user.
	if (unsafe || (s.cfg.CSRFEveryRequest && !upgrade)) && !csrf.Valid(token, csrf.FromRequest(r)) {
		s.log.InfoContext(r.Context(), "csrf token refused", "method", r.Method, "path", r.URL.Path, "session", "guest")
		return errCSRF
	}
	return nil
}

// orGuest serves h to a user's session and guest to a guest session: GET
// BASE/session and GET BASE/csrf, which a guest needs to get its CSRF
// token back (the XSRF-TOKEN cookie ends with the browser session).
func (s *Server) orGuest(h handlerFunc, guest func(w http.ResponseWriter, r *http.Request, sess *gatehouse.Session, token string) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		sess, token, err := s.guestSession(r, false)
		if err != nil {
			return err
		}
		if sess == nil {
			return h(w, r)
		}
		return guest(w, r, sess, token)
	}
}

// handleGuestSession is GET BASE/session for a guest session: 200
// {"state":"guest","session","csrfToken"}, with no user. A 401 would
// leave a guest no way to get its CSRF token back after the XSRF-TOKEN
// cookie is gone; a client that asks for the user finds none, and GET
// BASE/session/authenticated stays false.
func (s *Server) handleGuestSession(w http.ResponseWriter, r *http.Request, sess *gatehouse.Session, token string) error {
	csrfToken := csrf.Token(token)
	csrf.SetCookie(w, csrfToken, s.in(r).secure, s.cookieDomain)
	writeJSON(w, http.StatusOK, map[string]any{
		"state":     "guest",
		"session":   s.sessionView(sess),
		"csrfToken": csrfToken,
	})
	return nil
}

// handleGuestCSRF is GET BASE/csrf for a guest session.
func (s *Server) handleGuestCSRF(w http.ResponseWriter, r *http.Request, _ *gatehouse.Session, token string) error {
	csrfToken := csrf.Token(token)
	csrf.SetCookie(w, csrfToken, s.in(r).secure, s.cookieDomain)
	writeJSON(w, http.StatusOK, map[string]string{"csrfToken": csrfToken})
	return nil
}
