package account

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/policy"
)

// ExplainRequest is a request to explain: who (a username or email, ""
// for an anonymous caller), what, from where, and to which host (as the
// Host header gives it; "" matches only rules without hosts).
type ExplainRequest struct {
	User   string `json:"user"`
	Method string `json:"method"`
	Host   string `json:"host"`
	Path   string `json:"path"`
	Addr   string `json:"addr"`
}

// Explanation is the route table's decision for a request and why.
type Explanation struct {
	// Decision is "allow", "unauthenticated" (401) or "forbidden" (403).
	Decision string `json:"decision"`
	Status   int    `json:"status"`
	Method   string `json:"method"`
	// Host is the host the request was explained for, "" for none.
	Host string `json:"host,omitempty"`
	// Path is the path as matched, after cleaning.
	Path string         `json:"path"`
	User *ExplainedUser `json:"user"`
	Rule *ExplainedRule `json:"rule"`
	Why  string         `json:"reason"`
	// BuiltIn is gatehouse's own endpoint the request reaches, if any, and
	// what it requires; Decision is then its decision combined with the
	// route table's, where the table applies to it.
	BuiltIn *ExplainedBuiltin `json:"builtIn,omitempty"`
}

// ExplainedUser is the caller of an explained request.
type ExplainedUser struct {
	ID          string   `json:"id"`
	Username    string   `json:"username"`
	State       string   `json:"state"`
	Permissions []string `json:"permissions"`
}

// ExplainedRule is the rule that decided, with its place in the table.
type ExplainedRule struct {
	Index int `json:"index"`
	policy.Rule
}

// Explain decides req against table as a real request would be decided,
// and says which rule made the decision. own are gatehouse's own
// endpoints: a request one of them serves is explained by its built-in
// requirement first, then by the table where the table gates it (a rule
// that matches must allow it too). An unknown user is ErrNotFound.
func (s *Service) Explain(ctx context.Context, table *policy.Table, own []BuiltinRoute, req ExplainRequest) (*Explanation, error) {
	fields := map[string]string{}
	if req.Method == "" {
		fields["method"] = "is required"
	}
	if req.Path == "" {
		fields["path"] = "is required"
	}
	var addr netip.Addr
	if req.Addr != "" {
		a, err := netip.ParseAddr(req.Addr)
		if err != nil {
			fields["addr"] = "is not an IP address"
		}
		addr = a.Unmap()
	}
	if req.Host != "" && !validExplainHost(req.Host) {
		fields["host"] = "is not a host name such as admin.example.com (a port is allowed)"
	}
	p, pathErr := policy.CleanPath(req.Path)
	var builtin *BuiltinRoute
	if pathErr == nil && req.Method != "" {
		builtin = matchBuiltin(own, req.Method, muxPath(p, req.Path))
	}
	if table == nil && builtin == nil {
		fields["routes"] = "no route table is configured"
	}
	if len(fields) > 0 {
		return nil, &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The request to explain is not valid.", Fields: fields}
	}
	out := &Explanation{Method: req.Method, Host: req.Host, Path: req.Path}
	var perms []string
	if req.User != "" {
		u, err := s.stores.Users.UserByLogin(ctx, req.User)
		if err != nil {
			u, err = s.stores.Users.UserByID(ctx, req.User)
		}
		if err != nil {
			return nil, err
		}
		if perms, err = s.Permissions(ctx, u); err != nil {
			return nil, err
		}
		out.User = &ExplainedUser{ID: u.ID, Username: u.Username, State: string(u.State), Permissions: perms}
	}
	authenticated := out.User != nil && out.User.State == string(gatehouse.StateActive)

	if pathErr != nil {
		out.Decision, out.Status = "forbidden", 403
		out.Why = "The path is malformed or ambiguous (dot segments, //, an encoded slash or a control character); such requests are always denied."
		return out, nil
	}
	out.Path = p
	if builtin != nil {
		return explainOwn(out, builtin, table, addr, authenticated, perms), nil
	}
	d := table.Decide(req.Method, req.Host, p, addr)
	switch d.Authorize(authenticated, perms) {
	case policy.Allow:
		out.Decision, out.Status = "allow", 200
	case policy.Unauthenticated:
		out.Decision, out.Status = "unauthenticated", 401
	default:
		out.Decision, out.Status = "forbidden", 403
	}
	if d.Rule < 0 {
		out.Why = "No rule matches; a request no rule matches is denied."
		return out, nil
	}
	out.Rule = &ExplainedRule{Index: d.Rule, Rule: table.Rule(d.Rule)}
	out.Why = explainWhy(out, d)
	return out, nil
}

// explainOwn explains a request to gatehouse's own endpoint r: the
// route table, where it gates r and a rule matches, runs first (so its
// refusal is the answer), then r's own requirement.
func explainOwn(out *Explanation, r *BuiltinRoute, table *policy.Table, addr netip.Addr, authenticated bool, perms []string) *Explanation {
	b := explainBuiltin(r, out, authenticated, perms)
	out.BuiltIn = b
	out.Decision, out.Status = b.Decision, b.Status
	switch {
	case table == nil:
		out.Why = joinWhy(b.Why, "No route table is configured.")
		return out
	case !r.Gated:
		out.Why = joinWhy(b.Why, "The route table does not apply to this endpoint.")
		return out
	}
	d := table.Decide(out.Method, out.Host, out.Path, addr)
	if d.Rule < 0 {
		out.Why = joinWhy(b.Why, "No rule of the route table matches, so the endpoint's own requirement alone decides.")
		return out
	}
	out.Rule = &ExplainedRule{Index: d.Rule, Rule: table.Rule(d.Rule)}
	gate := &Explanation{User: out.User, Decision: "allow", Status: 200}
	switch d.Authorize(authenticated, perms) {
	case policy.Allow:
	case policy.Unauthenticated:
		gate.Decision, gate.Status = "unauthenticated", 401
	default:
		gate.Decision, gate.Status = "forbidden", 403
	}
	if gate.Status != 200 {
		// The gate runs before the endpoint: its refusal is the answer.
		out.Decision, out.Status = gate.Decision, gate.Status
	}
	rule := explainWhy(gate, d)
	out.Why = joinWhy(b.Why, "The route table gates this endpoint too:", rule)
	return out
}

func explainWhy(out *Explanation, d policy.Decision) string {
	rule := fmt.Sprintf("routes[%d]", d.Rule)
	who := explainedWho(out)
	switch d.Access {
	case policy.Public:
		return rule + " makes the path public."
	case policy.Deny:
		return rule + " denies the path to everyone."
	case policy.Session:
		if out.Decision == "allow" {
			return rule + " requires a session (a guest session would do), and " + who + " has one."
		}
		return rule + " requires a session (a guest session would do); " + who + " has none."
	case policy.Authenticated:
		if out.Decision == "allow" {
			return rule + " requires an authenticated user, and " + who + " is one."
		}
		return rule + " requires an authenticated user; " + who + " is not."
	default:
		need := strings.Join(d.Permissions, " or ")
		switch out.Decision {
		case "allow":
			return rule + " requires " + need + ", which " + who + " holds."
		case "unauthenticated":
			return rule + " requires " + need + " of an authenticated user; " + who + " is not authenticated."
		default:
			return rule + " requires " + need + ", which " + who + " lacks."
		}
	}
}

// validExplainHost accepts what a Host header could hold: a name or an
// address, optionally with a port; no scheme, path, space or control
// character.
func validExplainHost(h string) bool {
	if len(h) > 261 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._:[]", c) >= 0) {
			return false
		}
	}
	return true
}
