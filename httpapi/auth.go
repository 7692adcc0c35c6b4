package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/csrf"
	"github.com/gatehouse/gatehouse/policy"
)

// Ways a request can be authenticated.
const (
	viaSession = "session"
	viaToken   = "token"
	viaBasic   = "basic"
)

// credentials are what authenticated a request.
type credentials struct {
	user *gatehouse.User
	via  string // viaSession, viaToken or viaBasic

	// session and token (the secret from the cookie, from which the CSRF
	// token derives) are set for viaSession.
	session *gatehouse.Session
	token   string

	// apiToken is set for viaToken, with perms already cut down to it.
	apiToken *gatehouse.Token
	perms    []string
	permsSet bool

	// groups, when groupsSet, are the user's groups the credential may
	// claim (Remote-Groups): for a token with a list, only the groups
	// whose permissions the token holds in full.
	groups    []string
	groupsSet bool
}

// remoteGroups returns the groups the credential may claim to an
// application.
func (c *credentials) remoteGroups() []string {
	if c.groupsSet {
		return c.groups
	}
	return c.user.Groups
}

// CallerUser implements gatehouse.Caller.
func (c *credentials) CallerUser() *gatehouse.User { return c.user }

// CallerSession implements gatehouse.Caller.
func (c *credentials) CallerSession() *gatehouse.Session { return c.session }

func credentialsFrom(ctx context.Context) *credentials {
	c, _ := gatehouse.CallerFrom(ctx).(*credentials)
	return c
}

func withCredentials(r *http.Request, c *credentials) *http.Request {
	return r.WithContext(gatehouse.NewContext(r.Context(), c))
}

// permissions returns the effective permissions of the caller: a token's
// own (already limited to its owner's), else the user's.
func (s *Server) permissions(ctx context.Context, c *credentials) ([]string, error) {
	if c.permsSet {
		return c.perms, nil
	}
	perms, err := s.accounts.Permissions(ctx, c.user)
	if err != nil {
		return nil, err
	}
	c.perms, c.permsSet = perms, true
	return perms, nil
}

// authenticate resolves the credentials of r: an Authorization header
// (Bearer token, or Basic when enabled) or else the session cookie. No
// credentials, or a cookie that names no live session, is (nil, nil).
// Credentials presented in an Authorization header that do not verify are
// an error (401), never a silent fall-back to anonymous. peek leaves a
// session's idle timeout alone.
func (s *Server) authenticate(r *http.Request, peek bool) (*credentials, error) {
	if c := credentialsFrom(r.Context()); c != nil {
		return c, nil
	}
	if c, handled, err := s.authenticateHeader(r); handled {
		if c != nil && c.user != nil {
			noteUser(r, c.user.ID)
		}
		return c, err
	}
	return s.cookieSession(r, peek)
}

// noteUser records the id of the user r was authenticated as, for the
// request's line in the log; for a request that did not enter through the
// Server (Protect), there is no line and nothing to record.
func noteUser(r *http.Request, id string) {
	if in, ok := r.Context().Value(inboundKey{}).(*inbound); ok {
		in.user = id
	}
}

// cookieSession resolves only the session cookie of r, for the endpoints
// that are about the browser session itself.
func (s *Server) cookieSession(r *http.Request, peek bool) (*credentials, error) {
	if c := credentialsFrom(r.Context()); c != nil && c.via == viaSession {
		return c, nil
	}
	token, ok := s.sessions.ReadToken(r, s.in(r).secure)
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
	noteUser(r, u.ID)
	return &credentials{user: u, via: viaSession, session: sess, token: token}, nil
}

var errInsecureBasic = &gatehouse.Error{Code: gatehouse.CodeInsecureBasicAuth, Message: "Basic authentication is accepted only over HTTPS."}

// authenticateHeader handles the Authorization header. handled is false
// when the header is absent or of a scheme gatehouse does not take (Basic
// when disabled), so the cookie decides.
func (s *Server) authenticateHeader(r *http.Request) (c *credentials, handled bool, err error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, false, nil
	}
	scheme, rest, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		u, t, perms, err := s.accounts.AuthenticateToken(r.Context(), strings.TrimSpace(rest))
		if err != nil {
			return nil, true, err
		}
		c := &credentials{user: u, via: viaToken, apiToken: t, perms: perms, permsSet: true}
		if len(t.Permissions) > 0 {
			// A limited token is not its owner: it does not claim the
			// owner's more powerful groups either.
			if c.groups, err = s.accounts.GroupsWithin(r.Context(), u, perms); err != nil {
				return nil, true, err
			}
			c.groupsSet = true
		}
		return c, true, nil
	case strings.EqualFold(scheme, "Basic") && s.cfg.BasicAuth.Enabled:
		// Over plain HTTP the password is not even looked at: it has
		// already crossed the network in the clear, and checking it
		// would make the server an oracle for it.
		if !s.in(r).secure && !s.cfg.BasicAuth.AllowInsecure {
			return nil, true, errInsecureBasic
		}
		user, pw, ok := parseBasic(rest)
		if !ok {
			return nil, true, errBadBasic
		}
		// AuthenticateBasic answers from its cache first.
		u, err := s.accounts.AuthenticateBasic(r.Context(), user, pw, s.client(r))
		if err != nil {
			return nil, true, err
		}
		return &credentials{user: u, via: viaBasic}, true, nil
	}
	return nil, false, nil
}

var errBadBasic = &gatehouse.Error{Code: gatehouse.CodeInvalidCredentials, Message: "Invalid username or password."}

// parseBasic decodes the credentials of a Basic Authorization header
// (RFC 7617): base64 of "user:password", the password possibly containing
// colons. Anything malformed is refused.
func parseBasic(b64 string) (user, pw string, ok bool) {
	b64 = strings.TrimSpace(b64)
	if b64 == "" || len(b64) > 4096 {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", "", false
	}
	user, pw, ok = strings.Cut(string(raw), ":")
	if !ok || user == "" || !utf8.ValidString(user) || strings.ContainsFunc(user, unicode.IsControl) {
		return "", "", false
	}
	return user, pw, true
}

var errUnauthenticated = &gatehouse.Error{Code: gatehouse.CodeUnauthenticated, Message: "Authentication is required."}

var errCSRF = &gatehouse.Error{Code: gatehouse.CodeCSRFFailed, Message: "Missing or invalid CSRF token."}

// checkCSRF refuses an unsafe request authenticated by a session cookie
// unless it carries that session's CSRF token; with everyRequest
// (Config.CSRFEveryRequest), a safe one too.
func checkCSRF(r *http.Request, c *credentials, everyRequest bool) error {
	if c == nil || c.token == "" || (!everyRequest && !csrf.Unsafe(r.Method)) {
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
		r = s.enter(r)
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
		r = s.enter(r)
		if err := checkCSRF(r, credentialsFrom(r.Context()), s.cfg.CSRFEveryRequest); err != nil {
			s.log.InfoContext(r.Context(), "csrf token refused", "method", r.Method, "path", r.URL.Path)
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// checkAmbient makes, for credentials c of r, the checks that
// credentials a browser sends by itself (the session cookie, Basic) need
// wherever gatehouse decides a request: an unsafe request or a WebSocket
// handshake must be same-origin (cross-site request forgery, cross-site
// WebSocket hijacking), and with the session cookie an unsafe request
// must carry its CSRF token. With Config.CSRFEveryRequest a safe request
// with the cookie needs the token too — errTokenless without it, which a
// caller may take as "anonymous" on a public route, so that an
// application's pages and files still load — except a WebSocket
// handshake: the browser's WebSocket API cannot send a header, and the
// origin check protects it. Bearer tokens are not ambient: never refused.
func (s *Server) checkAmbient(r *http.Request, c *credentials) error {
	if c == nil || c.via == viaToken {
		return nil
	}
	unsafe := csrf.Unsafe(r.Method)
	upgrade := r.Header.Get("Upgrade") != ""
	if err := s.sameOrigin(r, unsafe, upgrade); err != nil {
		return err
	}
	if err := checkCSRF(r, c, unsafe || (s.cfg.CSRFEveryRequest && !upgrade)); err != nil {
		if !unsafe {
			return errTokenless
		}
		s.log.InfoContext(r.Context(), "csrf token refused", "method", r.Method, "path", r.URL.Path, "user", c.user.ID)
		return err
	}
	return nil
}

// sameOrigin refuses (errCrossOrigin) an unsafe request or a WebSocket
// handshake (upgrade) that is cross-origin and not from a trusted origin:
// the handshake is checked as the unsafe request it amounts to
// (cross-site WebSocket hijacking). Other requests pass.
func (s *Server) sameOrigin(r *http.Request, unsafe, upgrade bool) error {
	if !unsafe && !upgrade {
		return nil
	}
	probe := r
	if !unsafe {
		p := *r
		p.Method = http.MethodPost
		probe = &p
	}
	if s.cop.Check(probe) != nil {
		s.log.InfoContext(r.Context(), "cross-origin request refused", "method", r.Method, "path", r.URL.Path, "origin", r.Header.Get("Origin"))
		return errCrossOrigin
	}
	return nil
}

// errTokenless is errCSRF for a safe request under
// Config.CSRFEveryRequest (see checkAmbient).
var errTokenless = &gatehouse.Error{Code: gatehouse.CodeCSRFFailed, Message: errCSRF.Message}

// cookieStoreFailure reports whether err, from authenticating r, is a
// store failure in resolving its session cookie: r has no Authorization
// header. Credentials a client presents on purpose never fall back to
// anonymous, a store failure included.
func cookieStoreFailure(r *http.Request, err error) bool {
	return storeFailure(err) && r.Header.Get("Authorization") == ""
}

// publicRoute reports whether the route table makes r's route public.
func (s *Server) publicRoute(r *http.Request) bool {
	if s.cfg.Routes == nil {
		return false
	}
	d, err := s.decide(r)
	return err == nil && d.Access == policy.Public
}

// Protect guards h for a Go program that embeds gatehouse: it
// authenticates the request (session cookie, Bearer token, or Basic when
// enabled), refuses cross-origin unsafe requests and, for cookie
// sessions, unsafe requests without the CSRF token; then, when the server
// has a route table, applies it to the request (first matching rule; no
// rule matches → 403), else requires an authenticated user. A WebSocket
// handshake with the cookie or Basic must be same-origin. With
// Config.CSRFEveryRequest, a safe request whose cookie comes without its
// token is taken as anonymous on a public route (see checkAmbient), and
// so is a cookie whose session store cannot be reached; anywhere else
// that is 503 store_unavailable.
func (s *Server) Protect(h http.Handler) http.Handler {
	return s.CSRF(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authenticate(r, false)
		if err != nil {
			// Without its store, the cookie is ignored on a public route
			// (see gateway.gate); everywhere else the failure is answered.
			if !cookieStoreFailure(r, err) || !s.publicRoute(r) {
				s.writeError(w, r, err)
				return
			}
			s.log.WarnContext(r.Context(), "store unavailable: session cookie ignored on a public route", "method", r.Method, "path", r.URL.Path, "err", err)
			c = nil
		}
		if c != nil {
			if err := s.checkAmbient(r, c); err != nil {
				if err != errTokenless || !s.publicRoute(r) {
					s.writeError(w, r, err)
					return
				}
				c = nil // the cookie without its token on a public route
			}
		}
		if c != nil {
			r = withCredentials(r, c)
		}
		if err := s.authorizeRoute(r, c, true); err != nil {
			s.writeError(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// Require returns middleware that lets through only callers holding one of
// perms (any of them), after the same authentication and CSRF checks as
// Protect: 401 without credentials, 403 without the permission.
func (s *Server) Require(perms ...string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return s.CSRF(s.handle(func(w http.ResponseWriter, r *http.Request) error {
			c, err := s.caller(r)
			if err != nil {
				return err
			}
			r = withCredentials(r, c)
			if err := s.checkPermission(r, c, perms...); err != nil {
				return err
			}
			h.ServeHTTP(w, r)
			return nil
		}))
	}
}

// checkPermission refuses (403, audited) a caller who holds none of perms.
func (s *Server) checkPermission(r *http.Request, c *credentials, perms ...string) error {
	have, err := s.permissions(r.Context(), c)
	if err != nil {
		return err
	}
	for _, p := range perms {
		if gatehouse.HasPermission(have, p) {
			return nil
		}
	}
	s.accounts.RecordDenial(r.Context(), account.Actor{User: c.user, Client: s.client(r)}, r.Method, r.URL.Path)
	return &gatehouse.Error{Code: gatehouse.CodePermissionDenied, Message: "You do not have the permission this needs: " + strings.Join(perms, " or ") + "."}
}

// authorizeRoute applies the route table to r for caller c (nil when
// anonymous). With no table, requireUser decides: true requires an
// authenticated user, false lets the request through.
func (s *Server) authorizeRoute(r *http.Request, c *credentials, requireUser bool) error {
	if s.cfg.Routes == nil {
		if requireUser && c == nil {
			return errUnauthenticated
		}
		return nil
	}
	d, err := s.decide(r)
	if err != nil {
		return err
	}
	return s.applyDecision(r, d, c)
}

// decide matches r against the route table.
func (s *Server) decide(r *http.Request) (policy.Decision, error) {
	p, err := policy.CleanPath(r.URL.EscapedPath())
	if err != nil {
		return policy.Decision{}, &gatehouse.Error{Code: gatehouse.CodeBadRequest, Message: "The request path is malformed or ambiguous."}
	}
	in := s.in(r)
	host, err := routeHost(s.cfg.Routes, in)
	if err != nil {
		return policy.Decision{}, err
	}
	return s.cfg.Routes.Decide(r.Method, host, p, in.client), nil
}

// applyDecision turns a route decision for caller c into nil (allowed),
// 401 or 403. A guest session counts only on a route with access
// "session", and never as c.
func (s *Server) applyDecision(r *http.Request, d policy.Decision, c *credentials) error {
	if c == nil && d.Access == policy.Session {
		// No credentials, but a guest session will do (session.guest).
		return s.guestAccess(r)
	}
	var perms []string
	if c != nil && d.Access == policy.Permission {
		var err error
		if perms, err = s.permissions(r.Context(), c); err != nil {
			return err
		}
	}
	switch d.Authorize(c != nil, perms) {
	case policy.Allow:
		return nil
	case policy.Unauthenticated:
		return errUnauthenticated
	default:
		a := account.Actor{Client: s.client(r)}
		if c != nil {
			a.User = c.user
		}
		s.accounts.RecordDenial(r.Context(), a, r.Method, r.URL.Path)
		if d.Access == policy.Permission {
			return &gatehouse.Error{Code: gatehouse.CodePermissionDenied, Message: "You do not have the permission this needs: " + strings.Join(d.Permissions, " or ") + "."}
		}
		return &gatehouse.Error{Code: gatehouse.CodePermissionDenied, Message: "Access to this path is denied."}
	}
}

// caller resolves r's credentials (sliding the session) and requires
// some: 401 without, and the CSRF check on unsafe methods.
func (s *Server) caller(r *http.Request) (*credentials, error) {
	c, err := s.authenticate(r, false)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, errUnauthenticated
	}
	if err := s.checkAmbient(r, c); err != nil {
		return nil, err
	}
	return c, nil
}

// authed is a handler that needs an authenticated user.
type authedFunc func(w http.ResponseWriter, r *http.Request, c *credentials) error

// withUser resolves the session (sliding it), answers 401 without one, and
// checks CSRF on unsafe methods before calling h.
func (s *Server) withUser(h authedFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := s.caller(r)
		if err != nil {
			return err
		}
		return h(w, withCredentials(r, c), c)
	}
}

// withSession is withUser for the endpoints about the browser session
// itself (current session, CSRF token, re-authentication): only the
// session cookie counts, and unsafe methods need its CSRF token.
func (s *Server) withSession(h authedFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := s.cookieSession(r, false)
		if err != nil {
			return err
		}
		if c == nil {
			return errUnauthenticated
		}
		// Only unsafe methods, even with Config.CSRFEveryRequest: the safe
		// ones here are GET BASE/session and GET BASE/csrf, which hand the
		// token out.
		if err := checkCSRF(r, c, false); err != nil {
			return err
		}
		return h(w, withCredentials(r, c), c)
	}
}

// recentlyAuthenticated reports whether caller c proved their password
// recently enough for a sensitive change (ASVS 7.5.1): a session within
// session.reauthenticate_after of its login or last re-authentication, or
// Basic credentials, which carry the password in this very request. An
// API token never does: it is a credential for programs, not a person.
func (s *Server) recentlyAuthenticated(c *credentials) bool {
	switch c.via {
	case viaBasic:
		return true
	case viaSession:
		return s.sessions.RecentlyAuthenticated(c.session)
	}
	return false
}

// proof is what caller c sends to a sensitive change that also takes the
// password in its body: the password, if any, and whether c is recently
// authenticated (see account.Proof).
func (s *Server) proof(c *credentials, password string) account.Proof {
	return account.Proof{Password: password, Recent: s.recentlyAuthenticated(c)}
}

// withRecentAuth guards h, a sensitive change without a password in its
// body (enrolling a second factor, creating an API token, changing one's
// email address): 403 reauthentication_required unless the caller is
// recently authenticated, so that a stolen session cookie cannot lock the
// owner out of their account. API tokens are refused outright
// (permission_denied): re-authenticating would not help them. It goes
// inside withUser or withPerson (guard puts it there for RecentAuth routes).
func (s *Server) withRecentAuth(h authedFunc) authedFunc {
	return func(w http.ResponseWriter, r *http.Request, c *credentials) error {
		if err := s.requireRecentAuth(c); err != nil {
			return err
		}
		return h(w, r, c)
	}
}

// requireRecentAuth is the check of withRecentAuth, for the handlers that
// are sensitive only for some requests (an administrator changing their
// own email address through the management API).
func (s *Server) requireRecentAuth(c *credentials) error {
	if c.via == viaToken {
		return errTokenForFactors
	}
	if !s.recentlyAuthenticated(c) {
		return account.ErrReauthenticationRequired
	}
	return nil
}

// withPermission is withUser that also requires one of perms (403 without).
func (s *Server) withPermission(perm string, h authedFunc) handlerFunc {
	return s.withUser(func(w http.ResponseWriter, r *http.Request, c *credentials) error {
		if err := s.checkPermission(r, c, perm); err != nil {
			return err
		}
		return h(w, r, c)
	})
}
