package httpapi

import (
	"context"
	"net/http"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/csrf"
)

// credentials are what authenticated a request.
type credentials struct {
	user    *gatehouse.User
	session *gatehouse.Session
	// token is the session secret from the cookie; the CSRF token is
	// derived from it.
	token string
}

type credentialsKey struct{}

func credentialsFrom(ctx context.Context) *credentials {
	c, _ := ctx.Value(credentialsKey{}).(*credentials)
	return c
}

func withCredentials(r *http.Request, c *credentials) *http.Request {
	ctx := context.WithValue(r.Context(), credentialsKey{}, c)
	ctx = gatehouse.NewContextWithUser(ctx, c.user)
	ctx = gatehouse.NewContextWithSession(ctx, c.session)
	return r.WithContext(ctx)
}

// authenticate resolves the session cookie of r. No cookie, or one that
// names no live session, is (nil, nil); only internal failures are errors.
// peek leaves the session's idle timeout alone.
func (s *Server) authenticate(r *http.Request, peek bool) (*credentials, error) {
	if c := credentialsFrom(r.Context()); c != nil {
		return c, nil
	}
	token, ok := s.accounts.Sessions().ReadToken(r, s.proxies.isHTTPS(r))
	if !ok {
		return nil, nil
	}
	resolve := s.accounts.Authenticate
	if peek {
		resolve = s.accounts.Peek
	}
	u, sess, err := resolve(r.Context(), token)
	if gatehouse.ErrorCode(err) == gatehouse.CodeUnauthenticated {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &credentials{user: u, session: sess, token: token}, nil
}

var errUnauthenticated = &gatehouse.Error{Code: gatehouse.CodeUnauthenticated, Message: "Authentication is required."}

var errCSRF = &gatehouse.Error{Code: gatehouse.CodeCSRFFailed, Message: "Missing or invalid CSRF token."}

// checkCSRF refuses an unsafe request authenticated by a session cookie
// unless it carries that session's CSRF token.
func checkCSRF(r *http.Request, c *credentials) error {
	if c == nil || c.token == "" || !csrf.Unsafe(r.Method) {
		return nil
	}
	if !csrf.Valid(c.token, csrf.FromRequest(r)) {
		return errCSRF
	}
	return nil
}

// Authenticate is middleware that resolves the session cookie and, when it
// names a live session of an active user, puts the user and session in the
// request context (see gatehouse.UserFrom). It lets unauthenticated
// requests through: combine it with RequireUser.
func (s *Server) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authenticate(r, false)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if c != nil {
			r = withCredentials(r, c)
		}
		next.ServeHTTP(w, r)
	})
}

// RequireUser is middleware that answers 401 unauthenticated unless an
// earlier Authenticate found a user.
func (s *Server) RequireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gatehouse.UserFrom(r.Context()) == nil {
			s.writeError(w, r, errUnauthenticated)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CSRF is middleware that refuses cross-origin unsafe requests and, for
// unsafe requests authenticated by the session cookie, requires the
// session's CSRF token in X-CSRF-Token, X-CSRF, X-XSRF-TOKEN or the
// csrf_token form field. Place it after Authenticate.
func (s *Server) CSRF(next http.Handler) http.Handler {
	return s.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkCSRF(r, credentialsFrom(r.Context())); err != nil {
			s.log.Info("csrf token refused", "method", r.Method, "path", r.URL.Path)
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// Protect wraps h so that only authenticated users reach it, with CSRF
// checks on unsafe methods: Authenticate, CSRF and RequireUser together.
func (s *Server) Protect(h http.Handler) http.Handler {
	return s.Authenticate(s.CSRF(s.RequireUser(h)))
}

// authed is a handler that needs an authenticated user.
type authedFunc func(w http.ResponseWriter, r *http.Request, c *credentials) error

// withUser resolves the session (sliding it), answers 401 without one, and
// checks CSRF on unsafe methods before calling h.
func (s *Server) withUser(h authedFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := s.authenticate(r, false)
		if err != nil {
			return err
		}
		if c == nil {
			return errUnauthenticated
		}
		if err := checkCSRF(r, c); err != nil {
			s.log.Info("csrf token refused", "method", r.Method, "path", r.URL.Path, "user", c.user.ID)
			return err
		}
		return h(w, withCredentials(r, c), c)
	}
}
