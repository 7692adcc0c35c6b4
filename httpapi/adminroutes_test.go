package httpapi_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/policy"
)

// The admin console's route table and explain tool (web/adminpolicy.go),
// through the whole server.

const routesPath = "/auth/ui/admin/routes"

// decidedRule finds the row the page marks as the deciding rule.
var decidedRule = regexp.MustCompile(`<tr id="rule-(\d+)" class="decided">`)

// TestAdminRoutesExplain: the page lists the configured rules and
// gatehouse's own routes; the explain form answers allowed, 401 and 403,
// naming and marking the rule that decided, and the built-in endpoint
// that answers.
func TestAdminRoutesExplain(t *testing.T) {
	table, err := policy.Compile([]policy.Rule{
		{Path: "/app/public/**", Access: policy.Public},
		{Path: "/app/admin/**", Methods: []string{"GET", "POST"}, Access: policy.Permission, Permissions: []string{"reports:read", "section:settings"}, Hosts: []string{"admin.example.com"}},
		{Path: "/app/**", Access: policy.Authenticated, Networks: []string{"192.0.2.0/24"}, CORS: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withGateway(table, nil), withCORS(credentialedCORS))
	e.createUser("viewer", "viewer@example.com", pwOf("viewer"))
	b, _ := e.consoleLogin("admin", adminPassword)

	page := b.consolePage(routesPath, 200, "<title>Routes · Admin console</title>",
		`<tr id="rule-1">`, "<td>GET, POST</td>", "<code>/app/admin/**</code>", "<td>admin.example.com</td>", "<td>reports:read or section:settings</td>",
		"<td>192.0.2.0/24</td>", "<td>Every method</td>", "<td>Any host</td>", "<td>Yes</td>",
		"<code>/auth/management/api/v1/users</code>", "<td>section:users</td>", `<option selected>GET</option>`)
	if strings.Contains(page, "Deciding rule") || decidedRule.MatchString(page) {
		t.Error("the page explains a request nobody asked about")
	}

	for _, tc := range []struct {
		name     string
		query    url.Values
		decision string
		rule     string // "" for none
		contains []string
	}{
		{"allowed", url.Values{"method": {"get"}, "path": {"/app/admin/x"}, "host": {"admin.example.com"}, "user": {"admin"}},
			"Allowed (200)", "1", []string{"routes[1] requires reports:read or section:settings, which admin holds.", "admin (active), with permissions: *"}},
		{"forbidden", url.Values{"method": {"POST"}, "path": {"/app/admin/x"}, "host": {"admin.example.com"}, "user": {"viewer@example.com"}},
			"Forbidden (403)", "1", []string{"which viewer lacks", "POST /app/admin/x on admin.example.com", "with permissions: none"}},
		{"unauthenticated", url.Values{"method": {"GET"}, "path": {"/app/orders/7"}, "addr": {"192.0.2.44"}},
			"Not authenticated (401)", "2", []string{"An anonymous caller", "routes[2] requires an authenticated user"}},
		{"no rule", url.Values{"method": {"GET"}, "path": {"/elsewhere"}},
			"Forbidden (403)", "", []string{"None of the route table", "No rule matches"}},
		{"built-in", url.Values{"method": {"DELETE"}, "path": {"/auth/management/api/v1/users/u1"}, "user": {"viewer"}},
			"Forbidden (403)", "", []string{"DELETE /auth/management/api/v1/users/{id} requires section:users", "<code>/auth/management/api/v1/users/{id}</code> <strong>(answers)</strong>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := b.consolePage(routesPath+"?"+tc.query.Encode(), 200, append(tc.contains, `<h3 id="decision">`+tc.decision+`</h3>`)...)
			m := decidedRule.FindAllStringSubmatch(page, -1)
			switch {
			case tc.rule == "" && len(m) > 0:
				t.Errorf("rule %s marked, want none", m[0][1])
			case tc.rule != "" && (len(m) != 1 || m[0][1] != tc.rule):
				t.Errorf("marked %v, want rule %s", m, tc.rule)
			case tc.rule != "" && !strings.Contains(page, `<a href="#rule-`+tc.rule+`">Rule `+tc.rule+`</a>`):
				t.Errorf("the explanation does not link rule %s", tc.rule)
			}
			// The form shows the request as sent.
			if !strings.Contains(page, `value="`+tc.query.Get("path")+`"`) {
				t.Error("the form lost the path")
			}
		})
	}
}

// TestAdminRoutesExplainBadInput: input the explain tool cannot use is
// the page with the errors next to the fields — 422, or 404 for an
// unknown user — never a 500; without a route table, the page says so.
func TestAdminRoutesExplainBadInput(t *testing.T) {
	table, err := policy.Compile([]policy.Rule{{Path: "/app/**", Access: policy.Authenticated}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withGateway(table, nil))
	b, _ := e.consoleLogin("admin", adminPassword)
	for _, tc := range []struct {
		name, query string
		status      int
		fields      map[string]string
	}{
		{"no path", "method=GET&path=", 422, map[string]string{"explain_path": "The path is required."}},
		{"bad address and host", "method=GET&path=/app/x&addr=300.1.1.1&host=evil.com/x", 422,
			map[string]string{"explain_addr": "The client address is not an IP address.", "explain_host": "The host is not a host name"}},
		{"method not offered", "method=BREW&path=/app/x", 422, map[string]string{"explain_method": "Choose one of the methods offered."}},
		{"unknown user", "method=GET&path=/app/x&user=ghost", 404, map[string]string{"explain_user": "No user has this username or email."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := b.do("GET", routesPath+"?"+tc.query, "")
			var want []string
			for id, msg := range tc.fields {
				want = append(want, fieldError(id, msg), `aria-describedby="`+id)
			}
			wantStrictPage(t, w, tc.status, want...)
			if strings.Contains(w.Body.String(), `id="decision"`) {
				t.Error("a decision shown for input that was refused")
			}
		})
	}

	// Without a route table: the page says so; the explain tool still
	// answers for gatehouse's own endpoints, and says what it cannot.
	e = newEnv(t)
	b, _ = e.consoleLogin("admin", adminPassword)
	b.consolePage(routesPath, 200, "No route table is configured", "<code>/auth/management/api/v1/groups</code>")
	b.consolePage(routesPath+"?method=GET&path=/auth/management/api/v1/groups&user=admin", 200, `<h3 id="decision">Allowed (200)</h3>`, "No route table is configured.")
	wantStrictPage(t, b.do("GET", routesPath+"?method=GET&path=/app/x", ""), 422, `role="alert">There is nothing to explain this request against`)
}

// TestAdminConsolePartsNeedPermission: each part of the console is the
// 403 page, audited, for someone whose groups lack its permission, and
// served to someone whose groups have it; every form needs the CSRF
// token first.
func TestAdminConsolePartsNeedPermission(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for name, perm := range map[string]string{"users": "section:users", "settings": "section:settings", "audit": "section:audit"} {
		if err := e.accounts.CreateGroup(ctx, accountActor(), &gatehouse.Group{Name: name, Permissions: []string{perm}}); err != nil {
			t.Fatal(err)
		}
		e.createUser(name+"-user", name+"@example.com", pwOf(name+"-user"), name)
	}
	e.createUser("nobody", "nobody@example.com", pwOf("nobody"))
	nobody, nobodyCSRF := e.consoleLogin("nobody", pwOf("nobody"))
	parts := []struct{ path, group, title string }{
		{groupsPath, "settings", "Groups"},
		{groupsPath + "/administrators", "settings", "Group administrators"},
		{routesPath, "settings", "Routes"},
		{sessionsPath, "users", "Sessions"},
		{auditPath, "audit", "Audit log"},
	}
	for _, p := range parts {
		nobody.consolePage(p.path, 403, "Not allowed")
		allowed, _ := e.consoleLogin(p.group+"-user", pwOf(p.group+"-user"))
		allowed.consolePage(p.path, 200, "<h1>"+p.title+"</h1>")
	}
	forms := []string{groupsPath, groupsPath + "/administrators", groupsPath + "/administrators/delete", sessionsPath + "/end"}
	for _, path := range forms {
		wantStrictPage(t, nobody.postForm(path, nobodyCSRF, url.Values{"confirm": {"1"}, "id": {"x"}, "name": {"x"}}), 403, "Not allowed")
		wantProblem(t, nobody.postForm(path, "", nil), 403, gatehouse.CodeCSRFFailed)
	}
	events, _, err := e.accounts.ListAudit(ctx, accountAuditKind(string(gatehouse.AuditPermissionDenied)))
	if err != nil {
		t.Fatal(err)
	}
	denied := map[string]bool{}
	for _, ev := range events {
		denied[ev.Detail["method"]+" "+ev.Detail["path"]] = true
	}
	for _, p := range parts {
		if !denied["GET "+p.path] {
			t.Errorf("no permission.denied audited for GET %s", p.path)
		}
	}
	for _, path := range forms {
		if !denied["POST "+path] {
			t.Errorf("no permission.denied audited for POST %s", path)
		}
	}
	if g, err := e.accounts.Group(ctx, gatehouse.GroupAdministrators); err != nil || g.Name == "" {
		t.Fatalf("the administrators' group after the refused forms: %v", err)
	}
}
