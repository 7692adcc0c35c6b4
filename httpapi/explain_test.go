package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/session"
)

// TestExplainBuiltin: policy explain answers for gatehouse's own endpoints
// from the requirements the server registers them with, with and without
// a route table (which gates the management API on top).
func TestExplainBuiltin(t *testing.T) {
	table, err := policy.Compile([]policy.Rule{
		{Path: "/auth/management/**", Access: policy.Permission, Permission: "section:users", Networks: []string{"192.0.2.0/24"}},
		{Path: "/auth/management/**", Access: policy.Deny},
		{Path: "/app/**", Access: policy.Authenticated},
	})
	if err != nil {
		t.Fatal(err)
	}
	type explained struct {
		Decision string
		Status   int
		Reason   string
		Rule     *struct{ Index int }
		BuiltIn  *struct {
			Method, Path, Access, Permission, Decision string
			Status                                     int
		}
	}
	type tc struct {
		name, user, method, path, addr string
		decision, access, perm         string
		rule                           int // -1: none
		reason                         []string
	}
	users := "/auth/management/api/v1/users"
	common := []tc{
		{"users allowed", "uadmin", "GET", users, "", "allow", "permission", "section:users", -1,
			[]string{"built-in: GET " + users + " requires section:users, which uadmin holds."}},
		{"users forbidden", "viewer", "GET", users, "", "forbidden", "permission", "section:users", -1,
			[]string{"built-in: GET " + users + " requires section:users, which viewer lacks."}},
		{"users anonymous", "", "GET", users, "", "unauthenticated", "permission", "section:users", -1,
			[]string{"not authenticated"}},
		{"user by id", "viewer", "DELETE", users + "/u123", "", "forbidden", "permission", "section:users", -1,
			[]string{"/auth/management/api/v1/users/{id} requires section:users"}},
		{"login is public", "", "POST", "/auth/session", "", "allow", "public", "", -1,
			[]string{"built-in: POST /auth/session is public."}},
		{"own sessions anonymous", "", "GET", "/auth/sessions", "", "unauthenticated", "person", "", -1,
			[]string{"built-in: GET /auth/sessions requires a signed-in user", "not authenticated"}},
		{"own sessions", "viewer", "GET", "/auth/sessions", "", "allow", "person", "", -1,
			[]string{"requires a signed-in user (session or Basic, not an API token)"}},
	}
	withTable := []tc{
		{"users from the office", "uadmin", "GET", users, "192.0.2.7", "allow", "permission", "section:users", 0,
			[]string{"holds", "gates this endpoint too", "routes[0]"}},
		{"users from elsewhere", "uadmin", "GET", users, "203.0.113.9", "forbidden", "permission", "section:users", 1,
			[]string{"which uadmin holds", "routes[1] denies"}},
		{"users forbidden by the endpoint", "viewer", "GET", users, "192.0.2.7", "forbidden", "permission", "section:users", 0,
			[]string{"which viewer lacks"}},
		{"own sessions: the table does not apply", "", "GET", "/auth/sessions", "", "unauthenticated", "person", "", -1,
			[]string{"does not apply"}},
	}
	for _, mode := range []struct {
		name  string
		table *policy.Table
		cases []tc
	}{{"no table", nil, common}, {"table", table, append(append([]tc{}, common[4:]...), withTable...)}} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, func(h *httpapi.Config, _ *account.Config, _ *session.Config) { h.Routes = mode.table })
			e.group("useradmins", "section:users")
			e.group("viewers", "section:content")
			e.createUser("uadmin", "uadmin@example.com", pwOf("uadmin"), "useradmins")
			e.createUser("viewer", "viewer@example.com", pwOf("viewer"), "viewers")
			admin, _ := e.loggedIn()
			if mode.table != nil {
				admin.addr = "192.0.2.10:40000"
			}
			for _, c := range mode.cases {
				t.Run(c.name, func(t *testing.T) {
					q := url.Values{"user": {c.user}, "method": {c.method}, "path": {c.path}, "addr": {c.addr}}
					w := admin.do("GET", mgmt+"/policy/explain?"+q.Encode(), "")
					if w.Code != http.StatusOK {
						t.Fatalf("explain = %d %s", w.Code, w.Body)
					}
					var ex explained
					decode(t, w, &ex)
					if ex.Decision != c.decision || ex.BuiltIn == nil || ex.BuiltIn.Access != c.access || ex.BuiltIn.Permission != c.perm {
						t.Errorf("explain = %s", w.Body)
					}
					if (c.rule < 0) != (ex.Rule == nil) || ex.Rule != nil && ex.Rule.Index != c.rule {
						t.Errorf("rule: want %d: %s", c.rule, w.Body)
					}
					for _, r := range c.reason {
						if !strings.Contains(ex.Reason, r) {
							t.Errorf("reason lacks %q: %s", r, ex.Reason)
						}
					}
				})
			}
		})
	}
	// A path outside the base path without a table still needs one.
	e := newEnv(t)
	admin, _ := e.loggedIn()
	w := admin.do("GET", mgmt+"/policy/explain?method=GET&path=/app/x", "")
	if w.Code != 422 || !strings.Contains(w.Body.String(), "no route table is configured") {
		t.Errorf("outside base without a table = %d %s", w.Code, w.Body)
	}
}

// TestBuiltinRoutesStated: every route the server registers states what
// it requires, and BuiltinRoutes lists exactly the routes served.
func TestBuiltinRoutesStated(t *testing.T) {
	e := newEnv(t)
	own := e.api.BuiltinRoutes()
	served := e.api.Routes()
	if len(own) != len(served) || len(own) == 0 {
		t.Fatalf("%d built-in routes, %d served", len(own), len(served))
	}
	known := map[string]bool{account.NeedPublic: true, account.NeedUser: true, account.NeedPerson: true, account.NeedSession: true, account.NeedPermission: true}
	for i, r := range own {
		if r.Method+" "+strings.TrimPrefix(r.Path, "/auth") != served[i] {
			t.Errorf("built-in %s %s, served %s", r.Method, r.Path, served[i])
		}
		if !known[r.Access] || (r.Access == account.NeedPermission) != (r.Permission != "") {
			t.Errorf("%s %s: requirement %+v", r.Method, r.Path, r.Requirement)
		}
		if got := account.BuiltinFor(own, r.Method, strings.ReplaceAll(strings.ReplaceAll(r.Path, "{id}", "x1"), "{name}", "n1")); got == nil || got.Path != r.Path {
			t.Errorf("%s %s matches %+v", r.Method, r.Path, got)
		}
	}
	// As the mux matches: exactly, HEAD reaching GET.
	for _, c := range []struct {
		method, path, want string
	}{
		{"GET", "/auth/sessions", "/auth/sessions"},
		{"HEAD", "/auth/sessions", "/auth/sessions"},
		{"GET", "/auth/sessions/", ""},
		{"GET", "/AUTH/sessions", ""},
		{"PUT", "/auth/sessions", ""},
		{"POST", "/auth/management/api/v1/users/invite", "/auth/management/api/v1/users/invite"},
		{"POST", "/auth/management/api/v1/users/u1/invite", "/auth/management/api/v1/users/{id}/invite"},
		{"GET", "/app/x", ""},
	} {
		got := ""
		if r := account.BuiltinFor(own, c.method, c.path); r != nil {
			got = r.Path
		}
		if got != c.want {
			t.Errorf("BuiltinFor(%s %s) = %q, want %q", c.method, c.path, got, c.want)
		}
	}
	cli, err := httpapi.BuiltinRoutes("/auth")
	if err != nil || len(cli) != len(own) {
		t.Errorf("BuiltinRoutes(/auth): %d routes, %v", len(cli), err)
	}
}
