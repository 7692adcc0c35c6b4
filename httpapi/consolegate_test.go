package httpapi_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/session"
)

// The admin console is the management API in pages: the README's table
// that keeps the management API to an office network keeps the console
// there too. From outside, an administrator's session can neither read a
// console page nor act through one (decided as the page's management API
// twin, audited); from inside, both work. A rule for the console's own
// path applies as well.
func TestConsoleFollowsManagementRules(t *testing.T) {
	table, err := policy.Compile([]policy.Rule{
		{Path: "/auth/management/**", Access: policy.Authenticated, Networks: []string{"198.51.100.0/24"}},
		{Path: "/auth/management/**", Access: policy.Deny},
		{Path: "/auth/ui/admin/audit", Access: policy.Deny},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(h *httpapi.Config, _ *account.Config, _ *session.Config) { h.Routes = table })
	oz := e.createUser("oz", "oz@example.com", pwOf("oz"))
	ctx := context.Background()

	outside := e.browser() // 192.0.2.10
	outside.pageLogin("admin", adminPassword)
	_, tok := outside.accountPage()
	for _, path := range []string{"/auth/ui/admin/users", "/auth/ui/admin/users/" + oz.ID, "/auth/ui/admin/groups/administrators", "/auth/ui/admin/sessions"} {
		wantProblem(t, outside.do("GET", path, ""), 403, gatehouse.CodePermissionDenied)
	}
	for path, form := range map[string]url.Values{
		"/auth/ui/admin/users/" + oz.ID + "/disable": nil,
		"/auth/ui/admin/users/" + oz.ID + "/update":  {"username": {"oz2"}, "email": {"oz@example.com"}},
		"/auth/ui/admin/sessions/end":                {"id": {"whatever"}},
	} {
		wantProblem(t, outside.postForm(path, tok, form), 403, gatehouse.CodePermissionDenied)
	}
	if u, err := e.accounts.User(ctx, oz.ID); err != nil || u.State != gatehouse.StateActive || u.Username != "oz" {
		t.Fatalf("oz after refused console forms from outside: %+v, %v", u, err)
	}
	// Without a session nothing is decided yet: the page sends the
	// browser to the login page.
	wantSeeOther(t, e.browser().do("GET", "/auth/ui/admin/users", ""), "/auth/ui/login?rd=%2Fauth%2Fui%2Fadmin%2Fusers")

	inside := e.browser()
	inside.addr = "198.51.100.7:40000"
	inside.pageLogin("admin", adminPassword)
	_, tok = inside.accountPage()
	wantStrictPage(t, inside.do("GET", "/auth/ui/admin/users", ""), 200, "oz@example.com")
	if w := inside.postForm("/auth/ui/admin/users/"+oz.ID+"/disable", tok, nil); w.Code != 303 {
		t.Fatalf("disable from inside: %d %s", w.Code, w.Body)
	}
	if u, _ := e.accounts.User(ctx, oz.ID); u.State != gatehouse.StateDisabled {
		t.Errorf("oz after the disable from inside: %s", u.State)
	}
	// The console's own path: a rule for it applies, from anywhere.
	wantProblem(t, inside.do("GET", "/auth/ui/admin/audit", ""), 403, gatehouse.CodePermissionDenied)

	events, _, err := e.accounts.ListAudit(ctx, accountAuditKind(string(gatehouse.AuditPermissionDenied)))
	if err != nil {
		t.Fatal(err)
	}
	denied := map[string]bool{}
	for _, ev := range events {
		denied[ev.Detail["method"]+" "+ev.Detail["path"]] = true
	}
	if !denied["POST /auth/ui/admin/users/"+oz.ID+"/disable"] {
		t.Errorf("the refused console form was not audited: %v", denied)
	}
}
