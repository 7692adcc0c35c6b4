package account

import (
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/policy"
)

// The accesses one of gatehouse's own endpoints can require.
const (
	// NeedPublic: anyone, signed in or not.
	NeedPublic = "public"
	// NeedUser: an authenticated user, by session, Basic or API token.
	NeedUser = "authenticated"
	// NeedPerson: a signed-in user, by session or Basic, never an API token.
	NeedPerson = "person"
	// NeedSession: the browser session cookie itself.
	NeedSession = "session"
	// NeedPermission: an authenticated user holding Permission.
	NeedPermission = "permission"
)

// Requirement is what one of gatehouse's own endpoints asks of its caller.
// The HTTP server guards each endpoint from its Requirement, so what
// Explain says is what the server does.
type Requirement struct {
	// Access is one of the Need constants.
	Access     string `json:"access"`
	Permission string `json:"permission,omitempty"`
	// RecentAuth: the caller must also have authenticated recently.
	RecentAuth bool `json:"recentAuth,omitempty"`
	// Enrolment: the partial session of a user who must enrol a second
	// factor is accepted too.
	Enrolment bool `json:"enrolment,omitempty"`
	// Note says what else the endpoint checks itself, if anything.
	Note string `json:"note,omitempty"`
}

// Describe says the requirement in words, for "… requires <Describe>".
func (q Requirement) Describe() string {
	var s string
	switch q.Access {
	case NeedPublic:
		s = "nothing (public)"
	case NeedUser:
		s = "a signed-in user (session, Basic or API token)"
	case NeedPerson:
		s = "a signed-in user (session or Basic, not an API token)"
	case NeedSession:
		s = "a session (the session cookie)"
	case NeedPermission:
		s = q.Permission
	default:
		s = "an unknown requirement " + q.Access
	}
	if q.RecentAuth {
		s += " and a recent authentication"
	}
	if q.Enrolment {
		s += ", or the partial session of a user who must enrol"
	}
	return s
}

// BuiltinRoute is one of gatehouse's own endpoints, as the HTTP server
// registers it.
type BuiltinRoute struct {
	Method string `json:"method"`
	// Path is the pattern under the base path, base included, with
	// {param} segments.
	Path string `json:"path"`
	Requirement
	// Gated: the route table, where a rule matches, must allow the request
	// as well (the management API and BASE/metrics).
	Gated bool `json:"gated,omitempty"`
}

// ExplainedBuiltin is the built-in endpoint an explained request reaches,
// and what it alone decides.
type ExplainedBuiltin struct {
	BuiltinRoute
	Decision string `json:"decision"`
	Status   int    `json:"status"`
	Why      string `json:"reason"`
}

// BuiltinFor returns the route of own that serves method and rawPath (as
// sent, percent-encoded), or nil when none does or the path is malformed.
func BuiltinFor(own []BuiltinRoute, method, rawPath string) *BuiltinRoute {
	p, err := policy.CleanPath(rawPath)
	if err != nil {
		return nil
	}
	return matchBuiltin(own, method, muxPath(p, rawPath))
}

// muxPath is cleaned path p with the trailing slash of rawPath that
// CleanPath drops: the server's mux tells the two apart.
func muxPath(p, rawPath string) string {
	if len(rawPath) > 1 && strings.HasSuffix(rawPath, "/") && !strings.HasSuffix(p, "/") {
		return p + "/"
	}
	return p
}

// matchBuiltin returns the route of own that serves method and path (a
// CleanPath result), or nil. It matches as the server's mux does: exactly,
// case and trailing slash included, a {param} being any one segment, the
// route with the fewest parameters winning; HEAD reaches a GET route.
func matchBuiltin(own []BuiltinRoute, method, path string) *BuiltinRoute {
	if method == "HEAD" {
		method = "GET"
	}
	segs := strings.Split(path, "/")
	var best *BuiltinRoute
	bestParams := 0
	for i := range own {
		r := &own[i]
		if r.Method != method {
			continue
		}
		pat := strings.Split(r.Path, "/")
		if len(pat) != len(segs) {
			continue
		}
		params, ok := 0, true
		for j, p := range pat {
			switch {
			case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") && segs[j] != "":
				params++
			case p != segs[j]:
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok && (best == nil || params < bestParams) {
			best, bestParams = r, params
		}
	}
	return best
}

// explainBuiltin decides a request to route r for the explained user.
func explainBuiltin(r *BuiltinRoute, out *Explanation, authenticated bool, perms []string) *ExplainedBuiltin {
	b := &ExplainedBuiltin{BuiltinRoute: *r, Decision: "allow", Status: 200}
	who := explainedWho(out)
	head := "built-in: " + r.Method + " " + r.Path + " requires " + r.Describe()
	switch {
	case r.Access == NeedPublic:
		b.Why = "built-in: " + r.Method + " " + r.Path + " is public."
	case !authenticated:
		b.Decision, b.Status = "unauthenticated", 401
		b.Why = head + "; " + who + " is not authenticated."
	case r.Access == NeedPermission && !gatehouse.HasPermission(perms, r.Permission):
		b.Decision, b.Status = "forbidden", 403
		b.Why = head + ", which " + who + " lacks."
	case r.Access == NeedPermission:
		b.Why = head + ", which " + who + " holds."
	default:
		b.Why = head + ", and " + who + " is one."
	}
	if r.Note != "" {
		b.Why += " " + r.Note
	}
	return b
}

func explainedWho(out *Explanation) string {
	if out.User == nil {
		return "an anonymous caller"
	}
	who := out.User.Username
	if out.User.State != string(gatehouse.StateActive) {
		who += " (" + out.User.State + ", so not authenticated)"
	}
	return who
}

// joinWhy joins reasons into one.
func joinWhy(parts ...string) string { return strings.Join(parts, " ") }
