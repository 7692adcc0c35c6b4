package httpapi

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// routes registers every endpoint gatehouse serves. Each path also gets a
// method-less fallback answering 405 with Allow, and everything else under
// the base path answers 404, both as problem+json.
func (s *Server) routes(mux *http.ServeMux) {
	s.patterns = map[string]bool{}
	r := router{mux: mux, s: s, base: s.base}

	r.add("POST", "/session", s.handle(s.handleLogin))
	r.add("GET", "/session", s.handle(s.orGuest(s.withSession(s.handleCurrentSession), s.handleGuestSession)))
	r.add("DELETE", "/session", s.handle(s.handleLogout))
	r.add("GET", "/session/remaining", s.handle(s.handleRemaining))
	r.add("GET", "/session/authenticated", s.handle(s.handleAuthenticated))
	r.add("GET", "/csrf", s.handle(s.orGuest(s.withSession(s.handleCSRF), s.handleGuestCSRF)))
	r.add("POST", "/session/reauthenticate", s.handle(s.orEnrolment(s.withSession(s.handleReauthenticate), s.handleReauthenticate)))

	r.add("POST", "/password", s.handle(s.withPerson(s.handleChangePassword)))
	r.add("GET", "/password/policy", s.handle(s.handlePasswordPolicy))

	r.add("POST", "/password/forgot", s.handle(s.handleForgot))
	r.add("POST", "/password/reset", s.handle(s.handleReset))
	r.add("POST", "/invite/verify", s.handle(s.handleVerifyInvite))
	r.add("GET", "/invite", s.handle(s.handleInvite))
	r.add("POST", "/invite/password", s.handle(s.handleInvitePassword))

	r.add("GET", "/2fa", s.handle(s.withPerson(s.handleTwoFactorStatus)))
	r.add("GET", "/2fa/providers", s.handle(s.handleProviders))
	r.add("POST", "/2fa/send", s.handle(s.handleSendCode))
	r.add("POST", "/2fa/verify", s.handle(s.handleVerifyCode))
	// Changes of second factors need a recent authentication (or, where
	// the body has one, the password): see withRecentAuth.
	r.add("POST", "/2fa/totp", s.handle(s.withEnrolment(s.withRecentAuth(s.handleBeginTOTP))))
	r.add("POST", "/2fa/totp/confirm", s.handle(s.withEnrolment(s.withRecentAuth(s.handleConfirmTOTP))))
	r.add("DELETE", "/2fa/totp", s.handle(s.withPerson(s.handleDisableTOTP)))
	r.add("POST", "/2fa/recovery-codes", s.handle(s.withPerson(s.handleRecoveryCodes)))
	r.add("PUT", "/2fa/phone", s.handle(s.withPerson(s.handleSetPhone)))

	r.add("POST", "/setup", s.handle(s.handleSetup))
	r.add("GET", "/ui/setup", s.handle(s.handleSetupPage))
	r.add("POST", "/ui/setup", s.handle(s.handleSetupForm))
	r.add("GET", "/ui/reset", s.handle(s.handleResetPage))
	r.add("POST", "/ui/reset", s.handle(s.handleResetForm))
	r.add("GET", "/ui/invite", s.handle(s.handleInvitePage))
	r.add("POST", "/ui/invite", s.handle(s.handleInviteForm))

	r.add("GET", "/verify", http.HandlerFunc(s.serveVerify))
	// Any other method of BASE/verify is refused as nginx's auth_request
	// can take it: a 403 method_not_allowed, never a 405 (see verifyStatus).
	r.mux.Handle(r.base+"/verify", http.HandlerFunc(s.serveVerify))
	r.s.patterns[r.base+"/verify"] = false
	r.add("GET", "/ui/login", s.handle(s.handleLoginPage))
	r.add("POST", "/ui/login", s.handle(s.handleLoginForm))

	r.add("GET", "/healthz", s.handle(s.handleHealthz))
	r.add("GET", "/readyz", s.handle(s.handleReadyz))
	r.add("GET", "/metrics", s.handle(s.handleMetrics))
	r.add("GET", "/openapi.json", s.handle(s.handleOpenAPI))

	// The caller's own sessions and tokens. Another user's id answers 404.
	r.add("GET", "/sessions", s.handle(s.withPerson(s.handleMySessions)))
	r.add("DELETE", "/sessions", s.handle(s.withPerson(s.handleEndOtherSessions)))
	r.add("DELETE", "/sessions/{id}", s.handle(s.withPerson(s.handleEndMySession)))
	r.add("GET", "/tokens", s.handle(s.withUser(s.handleMyTokens)))
	r.add("POST", "/tokens", s.handle(s.withUser(s.withRecentAuth(s.handleCreateToken))))
	r.add("DELETE", "/tokens/{id}", s.handle(s.withPerson(s.handleRevokeMyToken)))

	// The management API: every endpoint needs a permission.
	m := func(method, path, perm string, h authedFunc) {
		r.add(method, ManagementPrefix+path, s.handle(s.withPermission(perm, h)))
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

// ManagementPrefix is where the management API lives under the base path.
const ManagementPrefix = "/management/api/v1"

type router struct {
	mux  *http.ServeMux
	s    *Server
	base string
}

func (r *router) add(method, path string, h http.Handler) {
	pattern := method + " " + r.base + path
	r.mux.Handle(pattern, h)
	r.s.patterns[pattern] = true
	r.s.served = append(r.s.served, method+" "+path)
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
