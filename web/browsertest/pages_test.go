package browsertest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/otp"
)

// TestPagesInChromium visits every page in each of its states — setup,
// login (with an error, and its second step), forgot password, reset,
// invitation, the account page (plain, with errors, with two-factor on),
// the TOTP enrolment, the recovery codes, re-authentication, the
// external-login error page, and every part of the admin console that
// exists, with its 403 page — and checks each (see pageChecker.check):
// a title and one h1, no sideways scrolling at 360 px, no serious or
// critical axe-core violation in light and dark mode (with
// GATEHOUSE_TEST_AXE), and the README's screenshots (with
// GATEHOUSE_SCREENSHOTS).
func TestPagesInChromium(t *testing.T) {
	t.Parallel()
	s := startGatehouse(t)
	c := newPageChecker(t)
	b := newTab(t)

	b.open(s.gh.SetupURL(), "#username")
	c.check(b, "setup", "setup")
	b.submit("create the administrator", [][2]string{
		{"#username", adminName}, {"#email", adminName + "@example.com"}, {"#name", "Ada Admin"}, {"#password", adminPassword},
	}, `form button[type="submit"]`, "p.ok")
	c.check(b, "setup done", "")

	b.open(s.base+"/ui/login", "#username")
	c.check(b, "login", "login")
	b.submit("log in with a wrong password", [][2]string{{"#username", adminName}, {"#password", "not the password"}},
		`form button[type="submit"]`, ".err")
	c.check(b, "login with an error", "")

	b.open(s.base+"/ui/forgot", "#email")
	c.check(b, "forgot password", "")
	b.submit("ask for a reset link", [][2]string{{"#email", adminName + "@example.com"}}, `form button[type="submit"]`, ".ok")
	c.check(b, "forgot password, sent", "")
	b.open(mailLink(t, s.mail.waitTo(t, adminName+"@example.com"), s.base, "reset"), "#password")
	c.check(b, "reset password", "")
	b.open(s.base+"/ui/reset?userId=X&token=used", "h1")
	c.check(b, "reset password, invalid link", "")

	b.open(s.base+"/ui/login", "#username")
	b.submit("log in", [][2]string{{"#username", adminName}, {"#password", adminPassword}}, `form button[type="submit"]`, "#profile")
	c.check(b, "account", "account")
	b.submit("change the password with a wrong one", [][2]string{{"#current_password", "wrong"}, {"#new_password", "short"}},
		`form[action$="/ui/account/password"] button`, "#current_password-error")
	c.check(b, "account with errors", "")

	b.click("set up an authenticator app", `form[action$="/ui/account/2fa/totp"] button`)
	b.waitFor("the key", "code.secret")
	c.check(b, "TOTP enrolment", "totp-enrolment")
	key := keyShown(t, b)
	b.submit("enter a wrong code", [][2]string{{"#code", "000000"}}, `form[action$="/2fa/totp/confirm"] button`, "#code-error")
	c.check(b, "TOTP enrolment with an error", "")
	b.submit("confirm the code", [][2]string{{"#code", otp.TOTP{Key: key}.At(time.Now())}}, `form[action$="/2fa/totp/confirm"] button`, "pre.codes")
	c.check(b, "recovery codes after enrolment", "")
	b.open(s.base+"/ui/account", "#profile")
	c.check(b, "account with two-factor on", "")
	b.submit("make new recovery codes", [][2]string{{"#rc_password", adminPassword}},
		`form[action$="/ui/account/2fa/recovery-codes"] button`, "textarea.codes")
	c.check(b, "new recovery codes", "")

	// A sensitive change after reauthenticate_after (ten minutes) asks
	// to confirm it is you.
	s.advance(11 * time.Minute)
	b.open(s.base+"/ui/account", "#profile")
	b.submit("create a token with a stale login", [][2]string{{"#token_name", "ci"}},
		`form[action$="/ui/account/tokens"] button[type="submit"]`, "h1")
	if h1 := b.text("h1"); h1 != "Confirm it is you" {
		t.Fatalf("a stale login creating a token sees %q, want the re-authentication page", h1)
	}
	c.check(b, "re-authentication", "")

	// The console, with a few more people in it: an invitee (whose pages
	// come next) and another user.
	apiCall(t, b, s, "POST", "/management/api/v1/users/invite",
		map[string]any{"username": inviteeName, "email": inviteeEmail, "name": "Ivy Invited", "groups": []string{auditorsGroup}}, http.StatusCreated, nil)
	apiCall(t, b, s, "POST", "/management/api/v1/users",
		map[string]any{"username": "bo", "email": "bo@example.com", "name": "Bo Builder", "password": "bo's long pass phrase", "groups": []string{auditorsGroup}}, http.StatusCreated, nil)
	checkConsole(t, s, b, c)

	// The invitee's pages: the invitation, and the console's 403 page.
	invitee := newTab(t)
	invitee.open(mailLink(t, s.mail.waitTo(t, inviteeEmail), s.base, "invite"), "#password")
	c.check(invitee, "invitation", "")
	invitee.submit("choose a password", [][2]string{{"#password", inviteePass}}, `form button[type="submit"]`, "p.ok")
	c.check(invitee, "invitation accepted", "")
	invitee.open(s.base+"/ui/admin/users", "h1")
	if st := invitee.status(); st != http.StatusForbidden {
		t.Errorf("an auditor at the users part: %d, want 403", st)
	}
	c.check(invitee, "console, not allowed", "")

	invitee.open(s.base+"/external/nobody/callback?state=x&code=y", "h1")
	c.check(invitee, "external login error", "")

	b.open(s.base+"/ui/account", "#profile")
	b.click("log out", `form[action$="/ui/account/logout"] button`)
	b.waitFor("the login page", "#username")
	b.submit("log in", [][2]string{{"#username", adminName}, {"#password", adminPassword}}, `form button[type="submit"]`, "#code")
	c.check(b, "login, second step", "login-second-step")

	t.Logf("checked %d pages: %s", len(c.checked), strings.Join(c.checked, "; "))
}

// checkConsole checks every page of the admin console, with its states
// (empty, with errors, an explained request), b logged in as the
// administrator.
func checkConsole(t *testing.T, s *gatehouseServer, b *tab, c *pageChecker) {
	t.Helper()
	var users struct {
		Items []struct{ ID, Username string }
	}
	apiCall(t, b, s, "GET", "/management/api/v1/users", nil, http.StatusOK, &users)
	ids := map[string]string{}
	for _, u := range users.Items {
		ids[u.Username] = u.ID
	}
	if ids[adminName] == "" || ids[inviteeName] == "" {
		t.Fatalf("users listed: %+v", users.Items)
	}
	b.open(s.base+"/ui/admin", "h1")
	c.check(b, "console", "")
	for _, p := range []struct {
		path, name, shot string
		errorShown       bool   // a page showing what is wrong with its query
		shows            string // what else the page must show, if anything
	}{
		{"/users", "console: users", "admin-users", false, ""},
		{"/users?q=nobody-at-all", "console: users, none match", "", false, ""},
		{"/users/" + ids[adminName], "console: a user", "admin-user", false, ""},
		{"/users/" + ids[inviteeName], "console: an invited user", "", false, ""},
		{"/sessions", "console: sessions", "", false, "main table"},
		{"/groups", "console: groups", "admin-groups", false, ""},
		{"/groups/administrators", "console: a group", "", false, ""},
		{"/audit", "console: audit log", "admin-audit", false, ""},
		{"/audit?since=yesterday", "console: audit log, a wrong filter", "", true, ""},
		{"/routes?method=GET&path=%2Fauth%2Fmanagement%2Fapi%2Fv1%2Fusers&user=" + adminName + "&addr=192.0.2.10", "console: routes, a request explained", "admin-routes", false, "#decision"},
		{"/routes?method=GET&path=no-slash&addr=not-an-address", "console: routes, a wrong request", "", true, ""},
	} {
		b.open(s.base+"/ui/admin"+p.path, "main h1")
		st := b.status()
		if !p.errorShown && st != http.StatusOK || p.errorShown && (st < 400 || st >= 500) {
			t.Errorf("%s: %d", p.name, st)
		}
		if p.errorShown {
			b.waitFor("the error", `[aria-invalid="true"]`)
		}
		if p.shows != "" {
			b.waitFor(p.name, p.shows)
		}
		c.check(b, p.name, p.shot)
	}
	b.open(s.base+"/ui/admin/users", "#invite_username")
	b.submit("invite a user whose username is taken", [][2]string{{"#invite_username", adminName}, {"#invite_email", "another@example.com"}},
		`form[action$="/ui/admin/users/invite"] button[type="submit"]`, "#invite_username-error")
	c.check(b, "console: users, with an error", "")
	b.open(s.base+"/ui/admin/groups", "#group_name")
	b.submit("create a group with a wrong name", [][2]string{{"#group_name", "Not A Name"}},
		`form[action$="/ui/admin/groups"] button[type="submit"]`, "#group_name-error")
	c.check(b, "console: groups, with an error", "")
}

// keyShown is the TOTP key the enrolment page shows.
func keyShown(t *testing.T, b *tab) []byte {
	t.Helper()
	shown := b.text("code.secret")
	key, err := otpKey(shown)
	if err != nil {
		t.Fatalf("the key shown, %q: %v", shown, err)
	}
	return key
}
