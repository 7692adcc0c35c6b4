package httpapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// The admin console's gate (web/admin.go): every part needs the
// permission of its management API twin; a browser without a session
// goes to the login page and comes back; a part one may not use is a 403
// page, audited; the front page and the account page link only the parts
// one may use.
func TestAdminConsoleGate(t *testing.T) {
	e := newEnv(t)
	anon := e.browser()
	wantSeeOther(t, anon.do("GET", "/auth/ui/admin/users?q=x", ""), "/auth/ui/login?rd=%2Fauth%2Fui%2Fadmin%2Fusers%3Fq%3Dx")
	wantSeeOther(t, anon.postForm("/auth/ui/admin/users/u1/disable", "", nil), "/auth/ui/login?rd=%2Fauth%2Fui%2Fadmin")

	ctx := context.Background()
	if err := e.accounts.CreateGroup(ctx, accountActor(), &gatehouse.Group{Name: "auditors", Permissions: []string{"section:audit"}}); err != nil {
		t.Fatal(err)
	}
	e.createUser("nobody", "nobody@example.com", pwOf("nobody"))
	e.createUser("auditor", "auditor@example.com", pwOf("auditor"), "auditors")

	nobody := e.browser()
	nobody.pageLogin("nobody", pwOf("nobody"))
	if page, _ := nobody.accountPage(); strings.Contains(page, "Admin console") {
		t.Errorf("the account page links the console for a user who may use none of it")
	}
	wantStrictPage(t, nobody.do("GET", "/auth/ui/admin", ""), 403, "Not allowed")

	auditor := e.browser()
	auditor.pageLogin("auditor", pwOf("auditor"))
	auditor.accountPage("Admin console")
	w := auditor.do("GET", "/auth/ui/admin", "")
	wantStrictPage(t, w, 200, "Audit log")
	if strings.Contains(w.Body.String(), "/auth/ui/admin/users") || strings.Contains(w.Body.String(), "/auth/ui/admin/groups") {
		t.Errorf("the console offers an auditor parts they may not use:\n%s", w.Body)
	}
	for _, path := range []string{"/auth/ui/admin/users", "/auth/ui/admin/sessions", "/auth/ui/admin/groups", "/auth/ui/admin/routes", "/auth/ui/admin/users/" + e.admin.ID} {
		wantStrictPage(t, auditor.do("GET", path, ""), 403, "Not allowed")
	}
	_, csrfTok := auditor.accountPage()
	w = auditor.postForm("/auth/ui/admin/users/"+e.admin.ID+"/disable", csrfTok, nil)
	wantStrictPage(t, w, 403, "Not allowed")
	if u, err := e.accounts.User(ctx, e.admin.ID); err != nil || u.State != gatehouse.StateActive {
		t.Fatalf("the administrator after the auditor's refused disable: %+v, %v", u, err)
	}
	// A form without its CSRF token is refused before the permission.
	wantProblem(t, auditor.postForm("/auth/ui/admin/users/"+e.admin.ID+"/disable", "", nil), 403, gatehouse.CodeCSRFFailed)

	events, _, err := e.accounts.ListAudit(ctx, accountAuditKind(string(gatehouse.AuditPermissionDenied)))
	if err != nil {
		t.Fatal(err)
	}
	denied := map[string]bool{}
	for _, ev := range events {
		denied[ev.Detail["method"]+" "+ev.Detail["path"]] = true
	}
	for _, want := range []string{"GET /auth/ui/admin", "GET /auth/ui/admin/users", "POST /auth/ui/admin/users/" + e.admin.ID + "/disable"} {
		if !denied[want] {
			t.Errorf("no permission.denied audited for %s (have %v)", want, denied)
		}
	}
}
