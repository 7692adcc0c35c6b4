package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
)

// routes registers every endpoint gatehouse serves. Each path also gets a
// method-less fallback answering 405 with Allow, and everything else under
// the base path answers 404, both as problem+json.
func (s *Server) routes(mux *http.ServeMux) {
	s.patterns = map[string]bool{}
	s.builtin = nil
	r := router{mux: mux, s: s, base: s.base}

	// GET /session and /csrf also answer a guest session (session.guest).
	guestToo := account.Requirement{Access: account.NeedSession, Note: "A guest session is answered too."}
	r.public("POST", "/session", s.handleLogin)
	r.add("GET", "/session", guestToo, s.handle(s.orGuest(s.guard(guestToo, s.handleCurrentSession), s.handleGuestSession)))
	r.public("DELETE", "/session", s.handleLogout)
	r.public("GET", "/session/remaining", s.handleRemaining)
	r.public("GET", "/session/authenticated", s.handleAuthenticated)
	r.add("GET", "/csrf", guestToo, s.handle(s.orGuest(s.guard(guestToo, s.handleCSRF), s.handleGuestCSRF)))
	r.need("POST", "/session/reauthenticate", account.Requirement{Access: account.NeedSession, Enrolment: true}, s.handleReauthenticate)

	r.need("POST", "/password", account.Requirement{Access: account.NeedPerson}, s.handleChangePassword)
	r.public("GET", "/password/policy", s.handlePasswordPolicy)

	r.public("POST", "/password/forgot", s.handleForgot)
	r.public("POST", "/password/reset", s.handleReset)
	r.public("POST", "/invite/verify", s.handleVerifyInvite)
	r.public("GET", "/invite", s.handleInvite)
	r.public("POST", "/invite/password", s.handleInvitePassword)

	r.need("GET", "/2fa", account.Requirement{Access: account.NeedPerson}, s.handleTwoFactorStatus)
	r.public("GET", "/2fa/providers", s.handleProviders)
	r.public("POST", "/2fa/send", s.handleSendCode)
	r.public("POST", "/2fa/verify", s.handleVerifyCode)
	// Changes of second factors need a recent authentication (or, where
	// the body has one, the password): see withRecentAuth.
	r.need("POST", "/2fa/totp", account.Requirement{Access: account.NeedPerson, RecentAuth: true, Enrolment: true}, s.handleBeginTOTP)
	r.need("POST", "/2fa/totp/confirm", account.Requirement{Access: account.NeedPerson, RecentAuth: true, Enrolment: true}, s.handleConfirmTOTP)
	r.need("DELETE", "/2fa/totp", account.Requirement{Access: account.NeedPerson}, s.handleDisableTOTP)
	r.need("POST", "/2fa/recovery-codes", account.Requirement{Access: account.NeedPerson}, s.handleRecoveryCodes)
	r.need("PUT", "/2fa/phone", account.Requirement{Access: account.NeedPerson}, s.handleSetPhone)

	r.public("POST", "/setup", s.handleSetup)

	r.add("GET", "/verify", account.Requirement{Access: account.NeedPublic, Note: "It answers for the route table (forward auth)."}, http.HandlerFunc(s.gw.serveVerify))
	// Any other method of BASE/verify is refused as nginx's auth_request
	// can take it: a 403 method_not_allowed, never a 405 (see verifyStatus).
	r.mux.Handle(r.base+"/verify", http.HandlerFunc(s.gw.serveVerify))
	r.s.patterns[r.base+"/verify"] = false
	r.add("GET", "/verify/preflight", account.Requirement{Access: account.NeedPublic, Note: "It answers CORS preflights for a proxy (forward auth)."}, http.HandlerFunc(s.gw.servePreflight))
	r.mux.Handle(r.base+"/verify/preflight", http.HandlerFunc(s.gw.servePreflight))
	r.s.patterns[r.base+"/verify/preflight"] = false

	// The pages people see (package web, given by Deps.Pages): their
	// routes are listed here, with every other route, so the middlewares,
	// the metrics, the 405 fallbacks and policy explain know them.
	for _, pr := range pageRoutes {
		method, path, _ := strings.Cut(pr.route, " ")
		r.add(method, path, pr.need, s.pageHandler(pr))
	}

	// External logins (external.go). Linking needs a recent
	// authentication, as every change of how one logs in does.
	r.public("GET", "/external", s.handleExternalList)
	r.public("GET", "/external/{provider}/login", s.handleExternalLogin)
	r.public("GET", "/external/{provider}/callback", s.handleExternalCallback)
	r.need("POST", "/external/{provider}/link", account.Requirement{Access: account.NeedPerson, RecentAuth: true}, s.handleExternalLink)
	r.need("GET", "/logins", account.Requirement{Access: account.NeedPerson}, s.handleMyLogins)
	r.need("DELETE", "/logins/{provider}", account.Requirement{Access: account.NeedPerson}, s.handleUnlinkMyLogin)

	r.public("GET", "/healthz", s.handleHealthz)
	r.public("GET", "/readyz", s.handleReadyz)
	r.add("GET", "/metrics", account.Requirement{Access: account.NeedPublic, Note: "It is served only to metrics.networks (loopback by default)."}, s.handle(s.handleMetrics))
	r.public("GET", "/openapi.json", s.handleOpenAPI)

	// The caller's own sessions and tokens. Another user's id answers 404.
	r.need("GET", "/sessions", account.Requirement{Access: account.NeedPerson}, s.handleMySessions)
	r.need("DELETE", "/sessions", account.Requirement{Access: account.NeedPerson}, s.handleEndOtherSessions)
	r.need("DELETE", "/sessions/{id}", account.Requirement{Access: account.NeedPerson}, s.handleEndMySession)
	r.need("GET", "/tokens", account.Requirement{Access: account.NeedUser}, s.handleMyTokens)
	r.need("POST", "/tokens", account.Requirement{Access: account.NeedUser, RecentAuth: true}, s.handleCreateToken)
	r.need("DELETE", "/tokens/{id}", account.Requirement{Access: account.NeedPerson}, s.handleRevokeMyToken)

	// The management API: every endpoint needs a permission.
	m := func(method, path, perm string, h authedFunc) {
		r.need(method, ManagementPrefix+path, account.Requirement{Access: account.NeedPermission, Permission: perm}, h)
	}
	m("GET", "/users", PermUsers, s.handleListUsers)
	m("POST", "/users", PermUsers, s.handleCreateUser)
	m("POST", "/users/invite", PermUsers, s.handleInviteUser)
	m("POST", "/users/{id}/invite", PermUsers, s.handleResendInvite)
	m("DELETE", "/users/{id}/invite", PermUsers, s.handleRevokeInvite)
	m("POST", "/users/{id}/reset-password", PermUsers, s.handleSendReset)
	m("POST", "/users/{id}/reset-two-factor", PermUsers, s.handleResetTwoFactor)
	m("PUT", "/users/{id}/phone", PermUsers, s.handleAdminSetPhone)
	m("GET", "/users/{id}", PermUsers, s.handleGetUser)
	m("PATCH", "/users/{id}", PermUsers, s.handleUpdateUser)
	m("DELETE", "/users/{id}", PermUsers, s.handleDeleteUser)
	m("POST", "/users/{id}/disable", PermUsers, s.handleDisableUser)
	m("POST", "/users/{id}/enable", PermUsers, s.handleEnableUser)
	m("POST", "/users/{id}/unlock", PermUsers, s.handleUnlockUser)
	m("GET", "/users/{id}/sessions", PermUsers, s.handleUserSessions)
	m("DELETE", "/users/{id}/sessions", PermUsers, s.handleEndUserSessions)
	m("GET", "/users/{id}/tokens", PermUsers, s.handleUserTokens)
	m("GET", "/users/{id}/logins", PermUsers, s.handleUserLogins)
	m("DELETE", "/users/{id}/logins/{provider}", PermUsers, s.handleUnlinkUserLogin)
	m("GET", "/groups", PermSettings, s.handleListGroups)
	m("POST", "/groups", PermSettings, s.handleCreateGroup)
	m("GET", "/groups/{name}", PermSettings, s.handleGetGroup)
	m("PATCH", "/groups/{name}", PermSettings, s.handleUpdateGroup)
	m("PUT", "/groups/{name}", PermSettings, s.handleUpdateGroup)
	m("DELETE", "/groups/{name}", PermSettings, s.handleDeleteGroup)
	m("GET", "/sessions", PermUsers, s.handleListSessions)
	m("DELETE", "/sessions/{id}", PermUsers, s.handleEndSession)
	m("GET", "/tokens", PermUsers, s.handleListTokens)
	m("DELETE", "/tokens/{id}", PermUsers, s.handleRevokeToken)
	m("GET", "/audit", PermAudit, s.handleAudit)
	m("GET", "/policy/explain", PermSettings, s.handleExplain)

	r.fallbacks()
}

// pageRoute is a route of the pages (package web), relative to the base
// path, with what it requires: the same as its JSON twin, so that policy
// explain and the route list tell operators the truth. The pages check it
// themselves (a page sends a browser without a session to the login page
// rather than answering 401), so here it is only recorded.
type pageRoute struct {
	route string
	need  account.Requirement
	// twin is the management API endpoint an admin console page stands
	// for, relative to the base path ("" for none).
	twin string
}

// pageRoutes are the routes of the pages: the setup, reset and invitation
// links, the login and forgot-password pages, the pages' assets, and the
// account page and its forms.
var pageRoutes = func() []pageRoute {
	public := account.Requirement{Access: account.NeedPublic}
	own := "The page checks it itself: without a session it sends the browser to the login page."
	person := account.Requirement{Access: account.NeedPerson, Note: own}
	enrolToo := account.Requirement{Access: account.NeedPerson, Enrolment: true, Note: own}
	recent := account.Requirement{Access: account.NeedPerson, RecentAuth: true, Note: own}
	var routes []pageRoute
	add := func(need account.Requirement, rs ...string) {
		for _, r := range rs {
			routes = append(routes, pageRoute{route: r, need: need})
		}
	}
	add(public, "GET /ui/setup", "POST /ui/setup", "GET /ui/reset", "POST /ui/reset",
		"GET /ui/forgot", "POST /ui/forgot", "GET /ui/invite", "POST /ui/invite",
		"GET /ui/login", "POST /ui/login", "GET /ui/assets/{file}")
	// A partial session of a user who must enrol sees the enrolment.
	add(enrolToo, "GET /ui/account", "POST /ui/account/logout")
	add(account.Requirement{Access: account.NeedSession, Enrolment: true, Note: own}, "POST /ui/account/reauthenticate")
	add(person, "POST /ui/account/sessions/end", "POST /ui/account/sessions/end-others",
		"POST /ui/account/password", "POST /ui/account/logins/unlink", "POST /ui/account/tokens/revoke",
		"POST /ui/account/2fa/disable", "POST /ui/account/2fa/recovery-codes")
	add(recent, "POST /ui/account/logins/link")
	add(account.Requirement{Access: account.NeedUser, RecentAuth: true, Note: own}, "POST /ui/account/tokens")
	add(account.Requirement{Access: account.NeedPerson, RecentAuth: true, Enrolment: true, Note: own},
		"POST /ui/account/2fa/totp", "POST /ui/account/2fa/totp/confirm")
	// The admin console: each part needs the permission of its JSON twin
	// in the management API, and the route table's rules for that twin
	// apply to it too (consolegate.go); its front page lists the parts one
	// may see.
	add(person, "GET /ui/admin")
	for _, c := range consoleRoutes {
		need := account.Requirement{Access: account.NeedPermission, Permission: c.perm,
			Note: own + " The route table's rules for " + c.twin + " apply to it too."}
		routes = append(routes, pageRoute{route: c.route, need: need, twin: c.twin})
	}
	return routes
}()

// servePage serves a page route: the pages, or 404 for a server built
// without them.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	if s.pages == nil {
		s.writeError(w, r, errNoPages)
		return
	}
	s.pages.ServeHTTP(w, r)
}

var errNoPages = gatehouse.Errorf(gatehouse.CodeNotFound, "No such endpoint.")

// ManagementPrefix is where the management API lives under the base path.
const ManagementPrefix = "/management/api/v1"

type router struct {
	mux  *http.ServeMux
	s    *Server
	base string
}

// add registers h, which must check need itself.
func (r *router) add(method, path string, need account.Requirement, h http.Handler) {
	pattern := method + " " + r.base + path
	r.mux.Handle(pattern, h)
	r.s.patterns[pattern] = true
	r.s.served = append(r.s.served, method+" "+path)
	r.s.builtin = append(r.s.builtin, account.BuiltinRoute{Method: method, Path: r.base + path, Requirement: need, Gated: r.s.gated(r.base + path)})
}

// public registers an endpoint anyone may call.
func (r *router) public(method, path string, h handlerFunc) {
	r.add(method, path, account.Requirement{Access: account.NeedPublic}, r.s.handle(h))
}

// need registers an endpoint guarded by need (see guard).
func (r *router) need(method, path string, need account.Requirement, h authedFunc) {
	r.add(method, path, need, r.s.handle(r.s.guard(need, h)))
}

// guard wraps h in the checks need states, so that what a route is
// registered as requiring (and policy explain reports) is what it gets.
func (s *Server) guard(need account.Requirement, h authedFunc) handlerFunc {
	if need.RecentAuth {
		h = s.withRecentAuth(h)
	}
	var g handlerFunc
	switch need.Access {
	case account.NeedUser:
		g = s.withUser(h)
	case account.NeedPerson:
		g = s.withPerson(h)
	case account.NeedSession:
		g = s.withSession(h)
	case account.NeedPermission:
		g = s.withPermission(need.Permission, h)
	default:
		// A registration mistake, caught by the tests: never serve an
		// endpoint whose requirement is not known.
		panic("httpapi: route requirement " + need.Access + " cannot guard a handler")
	}
	if need.Enrolment {
		g = s.orEnrolment(g, h)
	}
	return g
}

// gated reports whether the route table gates path (a full path), on top
// of the endpoint's own requirement: the management API, the admin
// console (which is the management API in pages) and BASE/metrics.
func (s *Server) gated(path string) bool {
	under := func(prefix string) bool { return path == prefix || strings.HasPrefix(path, prefix+"/") }
	return under(s.base+ManagementPrefix) || under(s.base+ConsolePrefix) || path == s.base+"/metrics"
}

// BuiltinRoutes returns gatehouse's own endpoints and what each requires,
// as the server registers them (for policy explain).
func (s *Server) BuiltinRoutes() []account.BuiltinRoute { return slices.Clone(s.builtin) }

// BuiltinRoutes returns the endpoints a Server with base path base
// registers and what each requires, without building one (for the CLI's
// policy explain).
func BuiltinRoutes(base string) ([]account.BuiltinRoute, error) {
	base, err := CleanBasePath(base)
	if err != nil {
		return nil, err
	}
	s := &Server{base: base}
	s.routes(http.NewServeMux())
	return s.builtin, nil
}

// fallbacks answers a path no route serves: a 405 with Allow where a
// route serves it with other methods, else a 404 — problem+json either
// way, outside the base path too (when gatehouse serves every path).
func (r *router) fallbacks() {
	notFound := r.s.handle(func(w http.ResponseWriter, req *http.Request) error {
		if allow := routeMethods(r.mux, r.s.patterns, req); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			return gatehouse.Errorf(gatehouse.CodeMethodNotAllowed, "Method %s is not allowed here.", req.Method)
		}
		return gatehouse.Errorf(gatehouse.CodeNotFound, "No such endpoint.")
	})
	// The base path, every path under it, and every other path.
	for _, p := range []string{r.base, r.base + "/", "/"} {
		r.mux.Handle(p, notFound)
		r.s.patterns[p] = false
	}
}

// probeMethods are the methods routeMethods tries.
var probeMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// routeMethods returns the methods with which req's path would reach a
// route of mux (patterns maps a route's pattern to true, a fallback's to
// false).
func routeMethods(mux *http.ServeMux, patterns map[string]bool, req *http.Request) []string {
	var methods []string
	for _, m := range probeMethods {
		probe := *req
		probe.Method = m
		if _, pattern := mux.Handler(&probe); patterns[pattern] {
			methods = append(methods, m)
		}
	}
	return methods
}
