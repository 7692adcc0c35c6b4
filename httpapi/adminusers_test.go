package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpapi"
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
	page, _ = b.adminPage(adminUsersPath+"?page=9", "No users on this page", `href="/auth/ui/admin/users">Go to the first page`)
	if strings.Contains(page, `rel="prev"`) || strings.Contains(page, `rel="next"`) {
		t.Error("past the last page, the page links another empty page")
	}

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
	// A page whose offset would not fit an int is refused, not wrapped
	// around to another page.
	wantProblem(t, b.do("GET", adminUsersPath+"?page=9223372036854775807", ""), 400, gatehouse.CodeBadRequest)
	wantProblem(t, b.do("GET", adminUsersPath+"?page=368934881474191034", ""), 400, gatehouse.CodeBadRequest)
}

// wantFieldError checks that page shows msg next to the field with id,
// tied to it and announced.
func wantFieldError(t *testing.T, page, id, msg string) {
	t.Helper()
	field := regexp.MustCompile(`<input id="` + id + `"[^>]* aria-invalid="true" aria-describedby="` + id + `-error"`)
	if !field.MatchString(page) {
		t.Errorf("the field %s is not marked invalid and tied to its error", id)
	}
	if !strings.Contains(page, `<p id="`+id+`-error" class="err" role="alert">`+msg) {
		t.Errorf("no error %q next to %s", msg, id)
	}
}

// TestAdminCreateUser: the create form makes an active user who can log
// in, and goes to their page; a taken username (409), a bad email or a
// missing or weak password (422) are shown next to their field, with the
// form as it was sent (never the password).
func TestAdminCreateUser(t *testing.T) {
	e := newEnv(t)
	e.group("support", "app:tickets")
	b, tok := e.adminBrowser()
	form := url.Values{"username": {"carla"}, "email": {"carla@example.com"}, "name": {"Carla Maria"},
		"password": {pwOf("carla")}, "group": {"support"}}

	w := b.postForm(adminUsersPath, tok, cloneValues(form))
	id := e.userID("carla")
	wantSeeOther(t, w, adminUsersPath+"/"+id+"?done=created")
	b.adminPage(adminUsersPath+"/"+id+"?done=created", `role="status">The user was created.`, "Carla Maria", "<dt>State</dt><dd>active</dd>",
		"<dt>Groups</dt><dd>support</dd>", `value="support" checked`)
	if w := e.browser().login("carla", pwOf("carla")); w.Code != 200 {
		t.Fatalf("the new user cannot log in: %d %s", w.Code, w.Body)
	}

	dup := cloneValues(form)
	dup.Set("username", "CARLA")
	dup.Set("email", "other@example.com")
	w = b.postForm(adminUsersPath, tok, dup)
	wantStrictPage(t, w, 409, `value="CARLA"`, `value="other@example.com"`, `value="support" checked`)
	wantFieldError(t, w.Body.String(), "create_username", "A user with that username or email already exists.")
	if strings.Contains(w.Body.String(), pwOf("carla")) {
		t.Error("the page shows the password sent")
	}

	bad := cloneValues(form)
	bad.Set("username", "dora")
	bad.Set("email", "not an email")
	bad.Del("password")
	w = b.postForm(adminUsersPath, tok, bad)
	wantStrictPage(t, w, 422, `value="dora"`)
	wantFieldError(t, w.Body.String(), "create_email", "")
	wantFieldError(t, w.Body.String(), "create_password", "Password is required.")

	weak := cloneValues(form)
	weak.Set("username", "dora")
	weak.Set("email", "dora@example.com")
	weak.Set("password", "dora")
	w = b.postForm(adminUsersPath, tok, weak)
	wantStrictPage(t, w, 422)
	wantFieldError(t, w.Body.String(), "create_password", "")
	if _, err := e.store.UserByLogin(context.Background(), "dora"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("a refused form created the user: %v", err)
	}
}

// TestAdminInviteUser: the invite form makes an invited user (username:
// the email) and mails them the link; a bad email is shown next to its
// field. The invited user's page resends the invitation, which mails a
// fresh link.
func TestAdminInviteUser(t *testing.T) {
	e := newEnv(t)
	b, tok := e.adminBrowser()
	w := b.postForm(adminUsersPath+"/invite", tok, url.Values{"email": {"ines@example.com"}, "name": {"Ines"}})
	wantSeeOther(t, w, adminUsersPath+"?done=invited")
	b.adminPage(adminUsersPath+"?done=invited", `role="status">The invitation was sent.`, ">ines@example.com</a>", "<td>invited</td>")
	mail := e.mailer.last(t, "ines@example.com", "invite")
	if !strings.Contains(mail.Data.Link, "/auth/ui/invite?") {
		t.Errorf("invitation link %q", mail.Data.Link)
	}

	page, _ := b.adminPage(e.userPath("ines@example.com"), "<dt>State</dt><dd>invited</dd>", "Resend the invitation")
	if strings.Contains(page, "Mail a password reset link") {
		t.Error("an invited user's page offers a password reset")
	}
	w = b.postForm(e.userPath("ines@example.com")+"/invite", tok, nil)
	wantSeeOther(t, w, e.userPath("ines@example.com")+"?done=invitation_resent")
	if n := e.mailer.count("ines@example.com", "invite"); n != 2 {
		t.Errorf("%d invitation mails, want 2", n)
	}

	w = b.postForm(adminUsersPath+"/invite", tok, url.Values{"email": {"nope"}, "username": {"jan"}})
	wantStrictPage(t, w, 422, `id="invite_username" name="username" autocomplete="off" maxlength="100" value="jan"`)
	wantFieldError(t, w.Body.String(), "invite_email", "")
	w = b.postForm(adminUsersPath+"/invite", tok, url.Values{"email": {"ines@example.com"}})
	wantStrictPage(t, w, 409)
	wantFieldError(t, w.Body.String(), "invite_username", "A user with that username or email already exists.")

	// Only an invited user has an invitation to resend.
	w = b.postForm(e.userPath("admin")+"/invite", tok, nil)
	wantStrictPage(t, w, 409, `role="alert">The user is not invited`)
}

// TestAdminUpdateUserGroups: the edit form saves the fields and the
// ticked groups, and a group change takes effect on the user's very next
// request: they gain the console's users part, then lose it.
func TestAdminUpdateUserGroups(t *testing.T) {
	e := newEnv(t)
	e.group("helpdesk", httpapi.PermUsers)
	ed, _, _ := e.userBrowser("ed")
	b, tok := e.adminBrowser()
	path := e.userPath("ed")
	if w := ed.do("GET", adminUsersPath, ""); w.Code != 403 {
		t.Fatalf("ed without the group: %d", w.Code)
	}
	w := b.postForm(path+"/update", tok, url.Values{"username": {"ed"}, "email": {"ed@example.com"}, "name": {"Ed Wood"}, "group": {"helpdesk"}})
	wantSeeOther(t, w, path+"?done=updated")
	b.adminPage(path+"?done=updated", "The user was saved.", "<dt>Name</dt><dd>Ed Wood</dd>", "<dt>Groups</dt><dd>helpdesk</dd>")
	wantStrictPage(t, ed.do("GET", adminUsersPath, ""), 200, "<h1>Users</h1>")

	w = b.postForm(path+"/update", tok, url.Values{"username": {"ed"}, "email": {"ed@example.com"}, "name": {"Ed Wood"}})
	wantSeeOther(t, w, path+"?done=updated")
	if w := ed.do("GET", adminUsersPath, ""); w.Code != 403 {
		t.Fatalf("ed after losing the group: %d", w.Code)
	}

	// Wrong or taken fields are shown next to them, as sent.
	w = b.postForm(path+"/update", tok, url.Values{"username": {"admin"}, "email": {"ed@example.com"}, "group": {"helpdesk"}})
	wantStrictPage(t, w, 409, `id="edit_username" name="username" required maxlength="100" autocomplete="off" value="admin"`, `value="helpdesk" checked`)
	wantFieldError(t, w.Body.String(), "edit_username", "A user with that username or email already exists.")
	w = b.postForm(path+"/update", tok, url.Values{"username": {"ed"}, "email": {"@"}})
	wantStrictPage(t, w, 422)
	wantFieldError(t, w.Body.String(), "edit_email", "")

	// The last administrator cannot leave the administrators.
	w = b.postForm(e.userPath("admin")+"/update", tok, url.Values{"username": {"admin"}, "email": {"admin@example.com"}})
	wantStrictPage(t, w, 409, `role="alert">This would leave no active administrator.`)
}

// TestAdminDisableEnableUser: disabling ends the user's sessions (their
// next click on the account page goes to the login page) and stops their
// logins; enabling lets them log in again. The page offers the button
// the state calls for.
func TestAdminDisableEnableUser(t *testing.T) {
	e := newEnv(t)
	e.createUser("fay", "fay@example.com", pwOf("fay"))
	fay := e.browser()
	fay.pageLogin("fay", pwOf("fay"))
	fay.accountPage("fay@example.com")
	b, tok := e.adminBrowser()
	path := e.userPath("fay")
	b.adminPage(path, "<h2 id=\"sessions\">Sessions</h2>", "<td>192.0.2.10</td>", "Disable the user")

	wantSeeOther(t, b.postForm(path+"/disable", tok, nil), path+"?done=disabled")
	page, _ := b.adminPage(path+"?done=disabled", "The user was disabled", "<dt>State</dt><dd>disabled</dd>", "Enable the user", "The user has no active session.")
	if strings.Contains(page, "Disable the user") {
		t.Error("a disabled user's page offers to disable them")
	}
	wantSeeOther(t, fay.do("GET", accountPath, ""), loginAgain)
	if w := e.browser().login("fay", pwOf("fay")); w.Code == 200 {
		t.Fatal("a disabled user logged in")
	}

	wantSeeOther(t, b.postForm(path+"/enable", tok, nil), path+"?done=enabled")
	b.adminPage(path+"?done=enabled", "The user was enabled.", "<dt>State</dt><dd>active</dd>", "Disable the user")
	fay.pageLogin("fay", pwOf("fay"))
	fay.accountPage("fay@example.com")
}

// TestAdminUnlockUser: after too many wrong passwords the user's page
// says the login is locked; unlocking clears it and the user logs in.
func TestAdminUnlockUser(t *testing.T) {
	e := newEnv(t)
	e.createUser("gus", "gus@example.com", pwOf("gus"))
	for range 5 {
		e.browser().login("gus", "not the password at all")
	}
	if w := e.browser().login("gus", pwOf("gus")); w.Code != 429 {
		t.Fatalf("login while locked: %d, want 429", w.Code)
	}
	b, tok := e.adminBrowser()
	path := e.userPath("gus")
	b.adminPage(path, "<dt>Login lockout</dt><dd>Locked until 2026-03-01 09:")
	wantSeeOther(t, b.postForm(path+"/unlock", tok, nil), path+"?done=unlocked")
	b.adminPage(path+"?done=unlocked", "login lockout was cleared", "<dt>Login lockout</dt><dd>Not locked</dd>")
	if w := e.browser().login("gus", pwOf("gus")); w.Code != 200 {
		t.Fatalf("login after unlock: %d %s", w.Code, w.Body)
	}
}

// TestAdminResetTwoFactorAndPassword: the reset button shows only while
// two-factor is on and removes it (the user then logs in with the
// password alone); the password reset button mails the user a link.
func TestAdminResetTwoFactorAndPassword(t *testing.T) {
	e := newEnv(t)
	hb, htok, _ := e.userBrowser("hana")
	e.enrolTOTP(hb, htok)
	b, tok := e.adminBrowser()
	path := e.userPath("hana")
	b.adminPage(path, "<dt>Two-factor authentication</dt><dd>On</dd>", "Reset two-factor authentication", "Mail a password reset link")
	wantSeeOther(t, b.postForm(path+"/reset-two-factor", tok, nil), path+"?done=two_factor_reset")
	page, _ := b.adminPage(path+"?done=two_factor_reset", "two-factor authentication was removed", "<dt>Two-factor authentication</dt><dd>Off</dd>")
	if strings.Contains(page, "Reset two-factor authentication") {
		t.Error("the reset button shows with two-factor off")
	}
	if w := e.browser().login("hana", pwOf("hana")); !strings.Contains(w.Body.String(), `"state":"authenticated"`) {
		t.Errorf("login after the reset: %s", w.Body)
	}

	wantSeeOther(t, b.postForm(path+"/reset-password", tok, nil), path+"?done=reset_sent")
	if m := e.mailer.last(t, "hana@example.com", "reset"); !strings.Contains(m.Data.Link, "/auth/ui/reset?") {
		t.Errorf("reset link %q", m.Data.Link)
	}
}

// TestAdminResetPasswordOff: with the forgot-password flow off the page
// offers no reset link, and the form is refused (403) at the top.
func TestAdminResetPasswordOff(t *testing.T) {
	e := newEnv(t, func(_ *httpapiConfig, a *accountConfig, _ *sessionConfig) { a.AllowPasswordReset = false })
	e.createUser("ivy", "ivy@example.com", pwOf("ivy"))
	b, tok := e.adminBrowser()
	path := e.userPath("ivy")
	page, _ := b.adminPage(path)
	if strings.Contains(page, "Mail a password reset link") {
		t.Error("the page offers a reset link with resets off")
	}
	wantStrictPage(t, b.postForm(path+"/reset-password", tok, nil), 403, `role="alert">Password reset is turned off.`)
	if e.mailer.count("ivy@example.com", "reset") != 0 {
		t.Error("a reset link was mailed with resets off")
	}
}

// TestAdminEndUserSessions: the user's page lists their sessions (device,
// address, last activity); the button ends them all.
func TestAdminEndUserSessions(t *testing.T) {
	e := newEnv(t)
	jo, _, _ := e.userBrowser("jo")
	jo2, _, _ := e.userBrowser2("jo")
	b, tok := e.adminBrowser()
	path := e.userPath("jo")
	page, _ := b.adminPage(path, "<th scope=\"col\">Device</th>", "End all sessions of the user")
	if n := strings.Count(page, "<td>192.0.2.10</td>"); n != 2 {
		t.Errorf("%d sessions listed, want 2", n)
	}
	wantSeeOther(t, b.postForm(path+"/sessions/end", tok, nil), path+"?done=sessions_ended")
	b.adminPage(path+"?done=sessions_ended", "sessions were ended", "The user has no active session.")
	for _, jb := range []*browser{jo, jo2} {
		if w := jb.do("GET", "/auth/session", ""); w.Code != 401 {
			t.Errorf("jo's session after the end: %d", w.Code)
		}
	}
	// The administrator's own session lives on.
	b.adminPage(adminUsersPath)
}

// userBrowser2 logs the existing user name in again in a new browser.
func (e *env) userBrowser2(name string) (*browser, string, *gatehouse.User) {
	e.t.Helper()
	b := e.browser()
	if w := b.login(name, pwOf(name)); w.Code != 200 {
		e.t.Fatalf("login %s: %d %s", name, w.Code, w.Body)
	}
	u, err := e.store.UserByLogin(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return b, "", u
}

// TestAdminDeleteUser: deleting needs the "I understand" box (without
// it: 422, the error next to the box, the user kept); with it the user is
// gone (their page is 404) and the list says so.
func TestAdminDeleteUser(t *testing.T) {
	e := newEnv(t)
	e.createUser("kim", "kim@example.com", pwOf("kim"))
	b, tok := e.adminBrowser()
	path := e.userPath("kim")
	w := b.postForm(path+"/delete", tok, nil)
	wantStrictPage(t, w, 422, "<h1>User kim</h1>")
	wantFieldError(t, w.Body.String(), "delete_confirm", "Tick “I understand” to delete the user.")
	e.userID("kim")

	wantSeeOther(t, b.postForm(path+"/delete", tok, url.Values{"confirm": {"yes"}}), adminUsersPath+"?done=deleted")
	b.adminPage(adminUsersPath+"?done=deleted", "The user was deleted.", "1 user,")
	wantProblem(t, b.do("GET", path, ""), 404, gatehouse.CodeNotFound)
	// The last administrator cannot be deleted.
	w = b.postForm(e.userPath("admin")+"/delete", tok, url.Values{"confirm": {"yes"}})
	wantStrictPage(t, w, 409, `role="alert">This would leave no active administrator.`)
}

// adminUserForms are the forms of the users part, below the users page
// ({id}: a user's id).
var adminUserForms = []string{
	"", "/invite", "/{id}/update", "/{id}/disable", "/{id}/enable", "/{id}/unlock", "/{id}/reset-two-factor",
	"/{id}/reset-password", "/{id}/invite", "/{id}/sessions/end", "/{id}/delete",
}

// TestAdminUserFormsNeedCSRF: every form of the users part, posted
// without csrf_token, with a wrong one or cross-origin, is refused 403
// and changes nothing.
func TestAdminUserFormsNeedCSRF(t *testing.T) {
	e := newEnv(t)
	e.createUser("lou", "lou@example.com", pwOf("lou"))
	b, tok := e.adminBrowser()
	form := url.Values{"username": {"lou2"}, "email": {"lou2@example.com"}, "password": {pwOf("lou2")}, "confirm": {"yes"}}
	for _, f := range adminUserForms {
		path := adminUsersPath + strings.ReplaceAll(f, "{id}", e.userID("lou"))
		wantProblem(t, b.postForm(path, "", cloneValues(form)), 403, gatehouse.CodeCSRFFailed)
		wantProblem(t, b.postForm(path, "wrong", cloneValues(form)), 403, gatehouse.CodeCSRFFailed)
		wantProblem(t, b.postForm(path, tok, cloneValues(form), header("Sec-Fetch-Site", "cross-site")), 403, gatehouse.CodeCSRFFailed)
	}
	b.adminPage(e.userPath("lou"), "<dt>Username</dt><dd>lou</dd>", "<dt>State</dt><dd>active</dd>")
	b.adminPage(adminUsersPath, "2 users")
}

// TestAdminUsersNeedPermission: a user whose groups give section:audit
// but not section:users gets the 403 page on every route of the users
// part, each audited as permission.denied, and the part is not in their
// navigation; without a session, a page goes to the login page and back.
func TestAdminUsersNeedPermission(t *testing.T) {
	e := newEnv(t)
	e.group("auditors", httpapi.PermAudit)
	e.createUser("max", "max@example.com", pwOf("max"), "auditors")
	b := e.browser()
	b.pageLogin("max", pwOf("max"))
	_, tok := b.accountPage()
	home := b.do("GET", "/auth/ui/admin", "")
	wantStrictPage(t, home, 200, `href="/auth/ui/admin/audit"`)
	if strings.Contains(home.Body.String(), `href="/auth/ui/admin/users"`) {
		t.Error("the console links the users part to a user without section:users")
	}
	before := e.deniedCount()
	id := e.userID("admin")
	paths := []string{adminUsersPath, adminUsersPath + "/" + id}
	for _, path := range paths {
		w := b.do("GET", path, "")
		wantStrictPage(t, w, 403, "<h1>Not allowed</h1>")
		if strings.Contains(w.Body.String(), `href="/auth/ui/admin/users"`) {
			t.Errorf("GET %s: the 403 page links the users part", path)
		}
	}
	for _, f := range adminUserForms {
		path := adminUsersPath + strings.ReplaceAll(f, "{id}", id)
		wantStrictPage(t, b.postForm(path, tok, url.Values{"confirm": {"yes"}, "username": {"x"}}), 403, "<h1>Not allowed</h1>")
	}
	if n := e.deniedCount() - before; n != len(paths)+len(adminUserForms) {
		t.Errorf("%d permission.denied events, want %d", n, len(paths)+len(adminUserForms))
	}
	if _, err := e.store.UserByLogin(context.Background(), "admin"); err != nil {
		t.Fatal("the administrator is gone")
	}

	anon := e.browser()
	wantSeeOther(t, anon.do("GET", adminUsersPath+"?q=a", ""), "/auth/ui/login?rd=%2Fauth%2Fui%2Fadmin%2Fusers%3Fq%3Da")
	wantSeeOther(t, anon.postForm(adminUsersPath, "", nil), "/auth/ui/login?rd=%2Fauth%2Fui%2Fadmin")
}

// deniedCount counts the permission.denied events in the audit log.
func (e *env) deniedCount() int {
	e.t.Helper()
	_, n, err := e.accounts.ListAudit(context.Background(), accountAuditKind(string(gatehouse.AuditPermissionDenied)))
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestAdminUnknownUser: a user id that does not exist is 404 on the page
// and on every form.
func TestAdminUnknownUser(t *testing.T) {
	e := newEnv(t)
	b, tok := e.adminBrowser()
	wantProblem(t, b.do("GET", adminUsersPath+"/nosuchuser", ""), 404, gatehouse.CodeNotFound)
	for _, f := range adminUserForms {
		if !strings.Contains(f, "{id}") {
			continue
		}
		path := adminUsersPath + strings.ReplaceAll(f, "{id}", "nosuchuser")
		wantProblem(t, b.postForm(path, tok, url.Values{"confirm": {"yes"}, "username": {"x"}, "email": {"x@example.com"}}), 404, gatehouse.CodeNotFound)
	}
}

// TestAdminUserRefusals: what the use cases refuse is shown at the top of
// the user's page with its status: a helpdesk user (section:users) acting
// on a more powerful account (403), the last administrator disabling
// themselves (409), removing one's own second factor from a session not
// recently authenticated (403).
func TestAdminUserRefusals(t *testing.T) {
	e := newEnv(t)
	e.group("helpdesk", httpapi.PermUsers)
	e.createUser("nia", "nia@example.com", pwOf("nia"), "helpdesk")
	e.createUser("oz", "oz@example.com", pwOf("oz"))
	hb := e.browser()
	hb.pageLogin("nia", pwOf("nia"))
	_, htok := hb.adminPage(adminUsersPath)
	admin := e.userPath("admin")
	for _, action := range []string{"/disable", "/unlock", "/sessions/end", "/reset-password"} {
		w := hb.postForm(admin+action, htok, nil)
		wantStrictPage(t, w, 403, "<h1>User admin</h1>", `role="alert">You cannot `, "of a user who holds permissions you do not.")
	}
	// Not into a group with more than one holds.
	w := hb.postForm(e.userPath("oz")+"/update", htok, url.Values{"username": {"oz"}, "email": {"oz@example.com"}, "group": {gatehouse.GroupAdministrators}})
	wantStrictPage(t, w, 403, `role="alert">You cannot put the user in these groups`)
	w = hb.postForm(adminUsersPath, htok, url.Values{"username": {"pam"}, "email": {"pam@example.com"}, "password": {pwOf("pam")}, "group": {gatehouse.GroupAdministrators}})
	wantStrictPage(t, w, 403)
	wantFieldErrorText(t, w.Body.String(), "create_groups", "You cannot create a user in these groups")
	// The helpdesk acts on a plain user.
	wantSeeOther(t, hb.postForm(e.userPath("oz")+"/disable", htok, nil), e.userPath("oz")+"?done=disabled")

	b, tok := e.adminBrowser()
	w = b.postForm(admin+"/disable", tok, nil)
	wantStrictPage(t, w, 409, `role="alert">This would leave no active administrator.`, "<dt>State</dt><dd>active</dd>")

	e.enrolTOTP(b, tok)
	// Past session.reauthenticate_after, within the idle timeout.
	e.clock.Advance(15 * time.Minute)
	w = b.postForm(admin+"/reset-two-factor", tok, nil)
	wantStrictPage(t, w, 403, `role="alert">Confirm your identity first`, "<dt>Two-factor authentication</dt><dd>On</dd>")
}

// wantFieldErrorText checks that page shows msg in the error of the
// fieldset or field id.
func wantFieldErrorText(t *testing.T, page, id, msg string) {
	t.Helper()
	if !strings.Contains(page, `aria-describedby="`+id+`-error"`) || !strings.Contains(page, `<p id="`+id+`-error" class="err" role="alert">`+msg) {
		t.Errorf("no error %q tied to %s", msg, id)
	}
}

// TestAdminChangeOwnEmail: changing one's own email address (where
// password resets go) from the console needs a recently authenticated
// session, as PATCH …/users/{id} does; another's does not.
func TestAdminChangeOwnEmail(t *testing.T) {
	e := newEnv(t)
	e.createUser("pia", "pia@example.com", pwOf("pia"))
	b, tok := e.adminBrowser()
	e.clock.Advance(15 * time.Minute)
	self := e.userPath("admin")
	w := b.postForm(self+"/update", tok, url.Values{"username": {"admin"}, "email": {"boss@example.com"}, "group": {gatehouse.GroupAdministrators}})
	wantStrictPage(t, w, 403, `role="alert">Confirm your identity first`, `value="boss@example.com"`)
	if u, _ := e.accounts.User(context.Background(), e.admin.ID); u.Email != "admin@example.com" {
		t.Fatalf("the email changed without a recent authentication: %s", u.Email)
	}
	// The name alone may change.
	w = b.postForm(self+"/update", tok, url.Values{"username": {"admin"}, "email": {"admin@example.com"}, "name": {"The Admin"}, "group": {gatehouse.GroupAdministrators}})
	wantSeeOther(t, w, self+"?done=updated")
	w = b.postForm(e.userPath("pia")+"/update", tok, url.Values{"username": {"pia"}, "email": {"pia2@example.com"}})
	wantSeeOther(t, w, e.userPath("pia")+"?done=updated")
	if n := e.mailer.count("pia@example.com", "email_changed"); n != 1 {
		t.Errorf("%d mails about the change to the old address, want 1", n)
	}
}
