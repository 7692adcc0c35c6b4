package web

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/policy"
)

// The console's route table (section:settings): the configured rules and
// gatehouse's own endpoints with what each requires, and the explain tool
// of the management API's /policy/explain as a GET form — method, path,
// host, user and client address in, the decision, the rule that made it
// (its row marked) and why out.

// explainMethods are the methods the explain form offers.
var explainMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// adminRoutesData is the routes page.
type adminRoutesData struct {
	adminPage
	// HasTable says a route table is configured; Rules are its rules.
	HasTable bool
	Rules    []ruleRow
	Builtin  []builtinRow
	Methods  []string
	// Form is the explain form as sent (Method GET by default).
	Form account.ExplainRequest
	// Result is the explanation, when the form was sent and could be
	// answered.
	Result *explainResult
}

// ruleRow is a rule of the route table as the page shows it.
type ruleRow struct {
	Index                                   int
	Anchor, Methods, Paths, Hosts, Networks string
	Access, Permissions                     string
	CORS                                    bool
	// Decided marks the rule that decided the explained request.
	Decided bool
}

// builtinRow is one of gatehouse's own endpoints.
type builtinRow struct {
	Method, Path, Requirement string
	Gated                     bool
	// Decided marks the endpoint the explained request reaches.
	Decided bool
}

// explainResult is an explanation as the page shows it.
type explainResult struct {
	Decision      string // Allowed, Not authenticated, Forbidden
	Status        int
	Allowed       bool
	Request, User string
	Why           string
	// Rule is the deciding rule's number and RuleURL its row ("" when no
	// rule decided).
	Rule    int
	RuleURL string
	// BuiltIn is gatehouse's own endpoint that answers and what it
	// requires ("" for none); Why has its reason.
	BuiltIn string
}

// ruleAnchor is the id of rule i's row.
func ruleAnchor(i int) string { return fmt.Sprintf("rule-%d", i) }

// orAny is list joined, or what an empty list means.
func orAny(list []string, empty string) string {
	if len(list) == 0 {
		return empty
	}
	return strings.Join(list, ", ")
}

// newRuleRow is rule i of a table for the page.
func newRuleRow(i int, rule policy.Rule) ruleRow {
	paths := slices.Clone(rule.Paths)
	if rule.Path != "" {
		paths = append([]string{rule.Path}, paths...)
	}
	var perms []string
	if rule.Permission != "" {
		perms = append(perms, rule.Permission)
	}
	perms = append(perms, rule.Permissions...)
	return ruleRow{
		Index: i, Anchor: ruleAnchor(i), Methods: orAny(rule.Methods, "Every method"), Paths: orAny(paths, "—"),
		Hosts: orAny(rule.Hosts, "Any host"), Networks: orAny(rule.Networks, "Any client"),
		Access: string(rule.Access), Permissions: strings.Join(perms, " or "), CORS: rule.CORS,
	}
}

// handleAdminRoutes is GET BASE/ui/admin/routes?method=&path=&host=&user=&addr=:
// the route table, gatehouse's own routes, and, when the explain form was
// sent (a method or path in the query), its answer. Input Explain cannot
// use is the page with the errors next to the fields: 422, or 404 for an
// unknown user.
func (p *Pages) handleAdminRoutes(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	table, own := p.browser.RouteTable()
	d := &adminRoutesData{adminPage: page.current("routes"), HasTable: table != nil, Methods: explainMethods}
	if table != nil {
		for i, rule := range table.Rules() {
			d.Rules = append(d.Rules, newRuleRow(i, rule))
		}
	}
	for _, b := range own {
		d.Builtin = append(d.Builtin, builtinRow{Method: b.Method, Path: b.Path, Requirement: b.Describe(), Gated: b.Gated})
	}
	q := r.URL.Query()
	d.Form = account.ExplainRequest{
		Method: strings.ToUpper(strings.TrimSpace(q.Get("method"))), Path: strings.TrimSpace(q.Get("path")),
		Host: strings.TrimSpace(q.Get("host")), User: strings.TrimSpace(q.Get("user")), Addr: strings.TrimSpace(q.Get("addr")),
	}
	sent := q.Has("method") || q.Has("path")
	if d.Form.Method == "" {
		d.Form.Method = "GET"
	}
	if !sent {
		return render(w, http.StatusOK, p.views.adminRoutes, d)
	}
	if !slices.Contains(explainMethods, d.Form.Method) {
		d.FieldErrors["method"] = "Choose one of the methods offered."
		return render(w, http.StatusUnprocessableEntity, p.views.adminRoutes, d)
	}
	out, err := p.browser.Explain(r.Context(), d.Form)
	if err != nil {
		return p.explainRefused(w, d, err)
	}
	d.Result = p.newExplainResult(out)
	if out.Rule != nil && out.Rule.Index < len(d.Rules) {
		d.Rules[out.Rule.Index].Decided = true
	}
	if out.BuiltIn != nil {
		for i := range d.Builtin {
			if d.Builtin[i].Method == out.BuiltIn.Method && d.Builtin[i].Path == out.BuiltIn.Path {
				d.Builtin[i].Decided = true
			}
		}
	}
	return render(w, http.StatusOK, p.views.adminRoutes, d)
}

// explainRefused shows why Explain could not answer: each field's error
// next to it (a missing route table at the top), 422; an unknown user
// next to the user field, 404.
func (p *Pages) explainRefused(w http.ResponseWriter, d *adminRoutesData, err error) error {
	ge, status, ok := refusal(err)
	if !ok {
		return err
	}
	switch ge.Code {
	case gatehouse.CodeNotFound:
		d.FieldErrors["user"] = "No user has this username or email."
	case gatehouse.CodeValidation:
		for k, v := range ge.Fields {
			if k == "routes" {
				d.Errors = append(d.Errors, "There is nothing to explain this request against: "+v+", and no endpoint of gatehouse answers it.")
				continue
			}
			// Explain's messages complete the field's name.
			d.FieldErrors[k] = explainFieldNames[k] + " " + v + "."
		}
	default:
		d.Errors = append(d.Errors, ge.Message)
	}
	return render(w, status, p.views.adminRoutes, d)
}

// explainFieldNames name the explain form's fields in its errors.
var explainFieldNames = map[string]string{
	"method": "The method", "path": "The path", "host": "The host", "addr": "The client address", "user": "The user",
}

// newExplainResult is out for the page.
func (p *Pages) newExplainResult(out *account.Explanation) *explainResult {
	res := &explainResult{Status: out.Status, Why: out.Why, Rule: -1, Allowed: out.Decision == "allow"}
	switch out.Decision {
	case "allow":
		res.Decision = "Allowed"
	case "unauthenticated":
		res.Decision = "Not authenticated"
	default:
		res.Decision = "Forbidden"
	}
	res.Request = out.Method + " " + out.Path
	if out.Host != "" {
		res.Request += " on " + out.Host
	}
	res.User = "An anonymous caller"
	if u := out.User; u != nil {
		res.User = fmt.Sprintf("%s (%s), with permissions: %s", u.Username, u.State, orAny(u.Permissions, "none"))
	}
	if out.Rule != nil {
		res.Rule, res.RuleURL = out.Rule.Index, "#"+ruleAnchor(out.Rule.Index)
	}
	if b := out.BuiltIn; b != nil {
		res.BuiltIn = b.Method + " " + b.Path + " requires " + b.Describe()
	}
	return res
}
