package httpapi_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// The admin console's groups (web/admingroups.go), through the whole
// server.

const groupsPath = "/auth/ui/admin/groups"

// consolePage is GET path in b, which must answer status with the strict
// CSP and contain contains; it returns the page.
func (b *browser) consolePage(path string, status int, contains ...string) string {
	b.e.t.Helper()
	w := b.do("GET", path, "")
	wantStrictPage(b.e.t, w, status, contains...)
	return w.Body.String()
}

// consoleLogin logs a user in with the login page and returns the
// browser and its session's CSRF token.
func (e *env) consoleLogin(username, pw string) (*browser, string) {
	e.t.Helper()
	b := e.browser()
	b.pageLogin(username, pw)
	_, csrfTok := b.accountPage()
	return b, csrfTok
}

// fieldError is the markup of field id's error: tied to the field and
// announced.
func fieldError(id, msg string) string {
	return `<p id="` + id + `-error" class="err" role="alert">` + msg
}

// TestAdminGroupsCreate: the list shows every group with its permissions
// and members; the create form makes a group of the ticked and typed
// permissions, and shows a bad or taken name, or a bad permission, next
// to its field with the form as sent.
func TestAdminGroupsCreate(t *testing.T) {
	e := newEnv(t)
	b, csrfTok := e.consoleLogin("admin", adminPassword)
	b.consolePage(groupsPath, 200, "<title>Groups · Admin console</title>", `<a href="/auth/ui/admin/groups/administrators">administrators</a>`,
		"<td>*</td>\n<td>1</td>", "Create a group", `value="section:users"`, `value="section:settings"`, `value="section:audit"`,
		`<a href="/auth/ui/admin/groups" aria-current="page">Groups</a>`)

	form := url.Values{"name": {"helpdesk"}, "description": {"First line"}, "permission": {"section:audit"}, "other_permissions": {"orders:read, tickets:write"}, "require_two_factor": {"1"}}
	wantSeeOther(t, b.postForm(groupsPath, csrfTok, cloneValues(form)), groupsPath+"?done=group_created")
	b.consolePage(groupsPath+"?done=group_created", 200, `role="status">The group was created.`,
		`<a href="/auth/ui/admin/groups/helpdesk">helpdesk</a>`, "<td>orders:read, section:audit, tickets:write</td>\n<td>0</td>\n<td>Required</td>\n<td>First line</td>")
	g, err := e.accounts.Group(context.Background(), "helpdesk")
	if err != nil || !slices.Equal(g.Permissions, []string{"orders:read", "section:audit", "tickets:write"}) || !g.RequireTwoFactor || g.Description != "First line" {
		t.Fatalf("created group %+v, %v", g, err)
	}
	// The new permissions are offered as checkboxes from now on.
	b.consolePage(groupsPath, 200, `value="orders:read"`, `value="tickets:write"`)

	for _, tc := range []struct {
		name     string
		change   url.Values
		status   int
		field    string
		contains []string
	}{
		{"bad name", url.Values{"name": {"Help Desk"}}, 422, "group_name", []string{`value="Help Desk"`, "Name must be 1–64 lower-case letters"}},
		{"taken name", url.Values{}, 409, "group_name", []string{"A group with that name already exists."}},
		{"bad permission", url.Values{"name": {"ops"}, "other_permissions": {"deploy:prod rm -rf /"}}, 422, "group_other_permissions", []string{`&#34;/&#34; is not a valid permission`, `value="deploy:prod rm -rf /"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := cloneValues(form)
			for k, v := range tc.change {
				f[k] = v
			}
			w := b.postForm(groupsPath, csrfTok, f)
			wantStrictPage(t, w, tc.status, append(tc.contains, `aria-invalid="true"`, tc.field+`-error`, `value="First line"`)...)
			page := w.Body.String()
			if !strings.Contains(page, `<p id="`+tc.field+`-error" class="err" role="alert">`) {
				t.Errorf("no announced error next to %s:\n%s", tc.field, page)
			}
			// The form comes back as sent: the ticked box stays ticked.
			if !strings.Contains(page, `value="section:audit" checked>`) || !strings.Contains(page, `name="require_two_factor" value="1" checked>`) {
				t.Errorf("the form lost what was ticked:\n%s", page)
			}
		})
	}
	if _, err := e.accounts.Group(context.Background(), "ops"); gatehouse.ErrorCode(err) != gatehouse.CodeNotFound {
		t.Errorf("a refused group was created: %v", err)
	}
	// Without the CSRF token, nothing is created.
	f := cloneValues(form)
	f.Set("name", "sneaky")
	wantProblem(t, b.postForm(groupsPath, "", f), 403, gatehouse.CodeCSRFFailed)
	wantProblem(t, b.postForm(groupsPath, csrfTok, f, header("Sec-Fetch-Site", "cross-site")), 403, gatehouse.CodeCSRFFailed)
	if _, err := e.accounts.Group(context.Background(), "sneaky"); gatehouse.ErrorCode(err) != gatehouse.CodeNotFound {
		t.Errorf("a group was created without the CSRF token: %v", err)
	}
}

// TestAdminGroupEditAndDelete: a group's page lists its members (linked
// to their page) and changes its permissions, which its members have
// from their next request; deleting needs the confirm box, and the last
// administrators' group cannot be deleted or lose "*".
func TestAdminGroupEditAndDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.accounts.CreateGroup(ctx, accountActor(), &gatehouse.Group{Name: "auditors", Permissions: []string{"section:audit"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.accounts.CreateGroup(ctx, accountActor(), &gatehouse.Group{Name: "empty", Permissions: []string{"reports:read"}}); err != nil {
		t.Fatal(err)
	}
	helen := e.createUser("helen", "helen@example.com", pwOf("helen"), "auditors")
	member, _ := e.consoleLogin("helen", pwOf("helen"))
	member.consolePage("/auth/ui/admin/audit", 200, "Audit log")

	b, csrfTok := e.consoleLogin("admin", adminPassword)
	page := groupsPath + "/auditors"
	b.consolePage(page, 200, "<h1>Group auditors</h1>", `<a href="/auth/ui/admin/users/`+helen.ID+`">helen</a>`,
		`value="section:audit" checked>`, `action="/auth/ui/admin/groups/auditors/delete"`)
	b.consolePage(groupsPath+"/empty", 200, "Nobody is in this group.", `value="reports:read" checked>`)
	wantProblem(t, b.do("GET", groupsPath+"/nosuchgroup", ""), 404, gatehouse.CodeNotFound)

	// The member loses section:audit at their next request.
	member.consolePage("/auth/ui/admin/routes", 403, "Not allowed")
	wantSeeOther(t, b.postForm(page, csrfTok, url.Values{"permission": {"section:settings"}, "description": {"Helpdesk now"}}), page+"?done=group_updated")
	b.consolePage(page+"?done=group_updated", 200, "The group was changed.", `value="section:settings" checked>`, `value="Helpdesk now"`)
	member.consolePage("/auth/ui/admin/audit", 403, "Not allowed")
	member.consolePage("/auth/ui/admin/routes", 200)

	// A bad permission is shown next to its field, and changes nothing.
	w := b.postForm(page, csrfTok, url.Values{"other_permissions": {"good:one b@d"}})
	wantStrictPage(t, w, 422, fieldError("group_other_permissions", "&#34;b@d&#34; is not a valid permission"), `value="good:one b@d"`)
	if g, _ := e.accounts.Group(ctx, "auditors"); !slices.Equal(g.Permissions, []string{"section:settings"}) {
		t.Errorf("a refused change changed the group: %v", g.Permissions)
	}

	// The only administrators' group keeps "*" and stays.
	admins := groupsPath + "/administrators"
	wantStrictPage(t, b.postForm(admins, csrfTok, url.Values{"permission": {"section:users"}}), 409, `role="alert">This would leave no active administrator.`)
	wantStrictPage(t, b.postForm(admins+"/delete", csrfTok, url.Values{"confirm": {"1"}}), 409, `role="alert">This would leave no active administrator.`)
	if g, err := e.accounts.Group(ctx, gatehouse.GroupAdministrators); err != nil || !slices.Equal(g.Permissions, []string{"*"}) {
		t.Fatalf("administrators after the refused changes: %+v %v", g, err)
	}

	// Deleting needs the box ticked.
	wantStrictPage(t, b.postForm(page+"/delete", csrfTok, nil), 422, fieldError("group_confirm", "Tick the box"), `aria-describedby="group_confirm-error"`)
	wantProblem(t, b.postForm(page+"/delete", "", url.Values{"confirm": {"1"}}), 403, gatehouse.CodeCSRFFailed)
	if _, err := e.accounts.Group(ctx, "auditors"); err != nil {
		t.Fatalf("the group went without the confirmation: %v", err)
	}
	wantSeeOther(t, b.postForm(page+"/delete", csrfTok, url.Values{"confirm": {"1"}}), groupsPath+"?done=group_deleted")
	listed := b.consolePage(groupsPath+"?done=group_deleted", 200, "The group was deleted.")
	if strings.Contains(listed, "/admin/groups/auditors") {
		t.Error("the deleted group is still listed")
	}
	member.consolePage("/auth/ui/admin/routes", 403, "Not allowed")
}

// TestAdminGroupsNoEscalation: someone who may manage groups but is no
// administrator cannot make a group with, or take away, permissions they
// lack; the page says so.
func TestAdminGroupsNoEscalation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.accounts.CreateGroup(ctx, accountActor(), &gatehouse.Group{Name: "settings", Permissions: []string{"section:settings"}}); err != nil {
		t.Fatal(err)
	}
	e.createUser("sam", "sam@example.com", pwOf("sam"), "settings")
	b, csrfTok := e.consoleLogin("sam", pwOf("sam"))
	w := b.postForm(groupsPath, csrfTok, url.Values{"name": {"root2"}, "permission": {"*"}})
	wantStrictPage(t, w, 403, `role="alert">You cannot create this group`)
	w = b.postForm(groupsPath+"/administrators/delete", csrfTok, url.Values{"confirm": {"1"}})
	wantStrictPage(t, w, 403, `role="alert">You cannot delete this group`)
	if _, err := e.accounts.Group(ctx, "root2"); gatehouse.ErrorCode(err) != gatehouse.CodeNotFound {
		t.Errorf("an escalating group was created: %v", err)
	}
}
