package httpapi_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// The admin console's users part (web, through the whole server): GET
// BASE/ui/admin/users and a user's page, and their forms.

const adminUsersPath = "/auth/ui/admin/users"

// adminPage is GET path in b, which must answer a strict page with status
// 200 containing contains; it returns the page and its forms' CSRF token.
func (b *browser) adminPage(path string, contains ...string) (string, string) {
	b.e.t.Helper()
	w := b.do("GET", path, "")
	wantStrictPage(b.e.t, w, 200, contains...)
	return w.Body.String(), formCSRF(b.e.t, w.Body.String())
}

// adminBrowser is a browser with the administrator logged in on the login
// page, and the users page's CSRF token.
func (e *env) adminBrowser() (*browser, string) {
	e.t.Helper()
	b := e.browser()
	b.pageLogin("admin", adminPassword)
	_, tok := b.adminPage(adminUsersPath)
	return b, tok
}

// fillUsers writes n users straight into the store: user000…, every
// third invited and every fifth disabled (invited wins), names "Person i".
func (e *env) fillUsers(n int) {
	e.t.Helper()
	now := e.clock.Now().UTC()
	var users []*gatehouse.User
	for i := range n {
		state := gatehouse.StateActive
		switch {
		case i%3 == 0:
			state = gatehouse.StateInvited
		case i%5 == 0:
			state = gatehouse.StateDisabled
		}
		users = append(users, &gatehouse.User{
			ID: gatehouse.NewID(), Username: fmt.Sprintf("user%03d", i), Email: fmt.Sprintf("user%03d@example.com", i),
			Name: fmt.Sprintf("Person %d", i), State: state, SecurityStamp: "s", Groups: []string{}, CreatedAt: now, UpdatedAt: now,
		})
	}
	for _, err := range e.store.CreateUsers(context.Background(), users) {
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

// userPath is the page of the user named name.
func (e *env) userPath(name string) string { return adminUsersPath + "/" + e.userID(name) }

var userLinks = regexp.MustCompile(`<td><a href="/auth/ui/admin/users/([^"]+)">([^<]+)</a></td>`)

// TestAdminUsersList: 121 users page by 50 in username order with
// Previous/Next links and the counts; the search and the state filter
// narrow the list (and its paging); no match says so; a bad filter or
// page is a 400 problem.
func TestAdminUsersList(t *testing.T) {
	e := newEnv(t)
	e.fillUsers(120)
	b, _ := e.adminBrowser()

	page, _ := b.adminPage(adminUsersPath, "<title>Users — Admin console</title>", "121 users, showing 1–50",
		`href="/auth/ui/admin/users?page=2" rel="next">Next page`, `aria-current="page">Users`)
	if strings.Contains(page, `rel="prev"`) {
		t.Error("the first page links a previous one")
	}
	rows := userLinks.FindAllStringSubmatch(page, -1)
	if len(rows) != 50 || rows[0][2] != "admin" || rows[1][2] != "user000" || rows[49][2] != "user048" {
		t.Fatalf("first page rows: %d, %v … %v", len(rows), rows[0], rows[len(rows)-1])
	}
	// The username links to the user's page.
	b.adminPage(adminUsersPath+"/"+rows[1][1], "<h1>User user000</h1>", "user000@example.com", "Person 0", "invited")

	page, _ = b.adminPage(adminUsersPath+"?page=3", "121 users, showing 101–121", `href="/auth/ui/admin/users?page=2" rel="prev"`)
	if strings.Contains(page, `rel="next"`) || len(userLinks.FindAllString(page, -1)) != 21 {
		t.Error("the last page links a next one, or does not show the last 21 users")
	}
	// Beyond the last page: nothing, and the way back.
	b.adminPage(adminUsersPath+"?page=9", "No users on this page", `href="/auth/ui/admin/users">Go to the first page`)

	// A search: username, email or name, any case; its paging keeps it.
	page, _ = b.adminPage(adminUsersPath+"?q=PERSON+1", "31 users, showing 1–31", `value="PERSON 1"`)
	if strings.Contains(page, "user002") || !strings.Contains(page, "user119") {
		t.Error("the search shows a user it does not match, or misses one")
	}
	b.adminPage(adminUsersPath+"?q=example.com", "121 users, showing 1–50", `href="/auth/ui/admin/users?page=2&amp;q=example.com" rel="next"`)
	// The state filter, with the search.
	page, _ = b.adminPage(adminUsersPath+"?state=invited", "40 users, showing 1–40", `<option value="invited" selected>`)
	for _, m := range userLinks.FindAllStringSubmatch(page, -1) {
		if i, err := strconv.Atoi(strings.TrimPrefix(m[2], "user")); err != nil || i%3 != 0 {
			t.Errorf("state=invited lists %s", m[2])
		}
	}
	// Of user010…user019, user010 is disabled (user015 is invited).
	page, _ = b.adminPage(adminUsersPath+"?state=disabled&q=user01", "1 user, showing 1–1")
	if m := userLinks.FindAllStringSubmatch(page, -1); len(m) != 1 || m[0][2] != "user010" {
		t.Errorf("disabled users matching user01: %v", m)
	}
	b.adminPage(adminUsersPath+"?state=disabled&q=nobody", "0 users", "No users match “nobody” in the state disabled.")
	b.adminPage(adminUsersPath+"?q=%3Cscript%3E", "No users match “&lt;script&gt;”.")

	wantProblem(t, b.do("GET", adminUsersPath+"?state=gone", ""), 400, gatehouse.CodeBadRequest)
	wantProblem(t, b.do("GET", adminUsersPath+"?page=0", ""), 400, gatehouse.CodeBadRequest)
	wantProblem(t, b.do("GET", adminUsersPath+"?page=x", ""), 400, gatehouse.CodeBadRequest)
}
