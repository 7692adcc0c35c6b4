package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/policy"
)

// ConsolePrefix is where the admin console's pages live under the base
// path.
const ConsolePrefix = "/ui/admin"

// consoleRoute is a page of the admin console with the permission it
// needs and its twin: the management API endpoint it does the work of
// (method and path relative to the base path).
type consoleRoute struct {
	route, perm, twin string
}

// consoleRoutes are the admin console's pages but its front page. An
// operator who keeps the management API to an office network with the
// route table keeps the console there too: a console request is decided
// as its twin would be (consoleGate), as well as by the rules for its own
// path (gated).
var consoleRoutes = []consoleRoute{
	{"GET /ui/admin/users", PermUsers, "GET " + ManagementPrefix + "/users"},
	{"POST /ui/admin/users", PermUsers, "POST " + ManagementPrefix + "/users"},
	{"POST /ui/admin/users/invite", PermUsers, "POST " + ManagementPrefix + "/users/invite"},
	{"GET /ui/admin/users/{id}", PermUsers, "GET " + ManagementPrefix + "/users/{id}"},
	{"POST /ui/admin/users/{id}/update", PermUsers, "PATCH " + ManagementPrefix + "/users/{id}"},
	{"POST /ui/admin/users/{id}/disable", PermUsers, "POST " + ManagementPrefix + "/users/{id}/disable"},
	{"POST /ui/admin/users/{id}/enable", PermUsers, "POST " + ManagementPrefix + "/users/{id}/enable"},
	{"POST /ui/admin/users/{id}/unlock", PermUsers, "POST " + ManagementPrefix + "/users/{id}/unlock"},
	{"POST /ui/admin/users/{id}/reset-two-factor", PermUsers, "POST " + ManagementPrefix + "/users/{id}/reset-two-factor"},
	{"POST /ui/admin/users/{id}/reset-password", PermUsers, "POST " + ManagementPrefix + "/users/{id}/reset-password"},
	{"POST /ui/admin/users/{id}/invite", PermUsers, "POST " + ManagementPrefix + "/users/{id}/invite"},
	{"POST /ui/admin/users/{id}/sessions/end", PermUsers, "DELETE " + ManagementPrefix + "/users/{id}/sessions"},
	{"POST /ui/admin/users/{id}/delete", PermUsers, "DELETE " + ManagementPrefix + "/users/{id}"},
	{"GET /ui/admin/sessions", PermUsers, "GET " + ManagementPrefix + "/sessions"},
	// The session's id is in the form, not the path: the twin's {id} is
	// decided as "_", which every rule for /sessions/{id} or a prefix
	// matches.
	{"POST /ui/admin/sessions/end", PermUsers, "DELETE " + ManagementPrefix + "/sessions/{id}"},
	{"GET /ui/admin/groups", PermSettings, "GET " + ManagementPrefix + "/groups"},
	{"POST /ui/admin/groups", PermSettings, "POST " + ManagementPrefix + "/groups"},
	{"GET /ui/admin/groups/{name}", PermSettings, "GET " + ManagementPrefix + "/groups/{name}"},
	{"POST /ui/admin/groups/{name}", PermSettings, "PATCH " + ManagementPrefix + "/groups/{name}"},
	{"POST /ui/admin/groups/{name}/delete", PermSettings, "DELETE " + ManagementPrefix + "/groups/{name}"},
	{"GET /ui/admin/routes", PermSettings, "GET " + ManagementPrefix + "/policy/explain"},
	{"GET /ui/admin/audit", PermAudit, "GET " + ManagementPrefix + "/audit"},
}

// pageHandler serves page route pr, behind the console's gate when it
// has a twin.
func (s *Server) pageHandler(pr pageRoute) http.Handler {
	if pr.twin == "" {
		return http.HandlerFunc(s.servePage)
	}
	method, pattern, _ := strings.Cut(pr.twin, " ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, err := s.consoleGate(r, method, pattern)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.servePage(w, r)
	})
}

// consoleGate decides a console request as its twin (method, pattern)
// would be decided by the route table: a rule that matches the twin must
// allow the browser's session too. Without a session nothing is decided:
// the page sends the browser to the login page, and decides after it.
// The session resolved here is handed on, so the page does not resolve
// it again.
func (s *Server) consoleGate(r *http.Request, method, pattern string) (*http.Request, error) {
	if s.cfg.Routes == nil {
		return r, nil
	}
	c, err := s.cookieSession(r, false)
	if err != nil || c == nil {
		return r, err
	}
	r = withCredentials(r, c)
	path, err := policy.CleanPath(s.base + twinPath(r, pattern))
	if err != nil {
		return r, errBadPath
	}
	in := s.in(r)
	host, err := routeHost(s.cfg.Routes, in)
	if err != nil {
		return r, err
	}
	d := s.cfg.Routes.Decide(method, host, path, in.client)
	if d.Rule < 0 {
		return r, nil
	}
	return r, s.applyDecision(r, d, c)
}

// twinPath is pattern with its {id} and {name} segments filled from r's
// path (escaped), or "_" where r's path has no such value.
func twinPath(r *http.Request, pattern string) string {
	segs := strings.Split(pattern, "/")
	for i, seg := range segs {
		name, ok := strings.CutPrefix(seg, "{")
		if !ok {
			continue
		}
		name = strings.TrimSuffix(name, "}")
		v := r.PathValue(name)
		if v == "" {
			v = "_"
		}
		segs[i] = url.PathEscape(v)
	}
	return strings.Join(segs, "/")
}
