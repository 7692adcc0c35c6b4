package httpapi_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/sqlite"
	"github.com/gatehouse/gatehouse/web"
)

// The account page's states (issue 14): what it offers follows what the
// server and the user's groups allow, and each empty section says so.

// newEnvWithoutTwoFactor is newEnv with an account service that never had
// UseTwoFactor called, as an embedder who leaves second factors off: the
// JSON API's POST BASE/2fa/totp answers 404.
func newEnvWithoutTwoFactor(t *testing.T) *env {
	t.Helper()
	var store *sqlite.Store
	over := func(s *sqlite.Store) (account.Stores, gatehouse.SessionStore, []httpapi.ReadyCheck) {
		store = s
		return account.StoresOf(s), s, nil
	}
	e := newEnvDeps(t, over, func(d *httpapi.Deps) {
		accounts := account.New(account.StoresOf(store), password.NewHasher(cheapParams, 0, 0), d.Sessions, account.DefaultConfig, d.Now, nil, &fakeMailer{})
		d.Accounts, d.Pages = accounts, web.Constructor(accounts)
	})
	return e
}

// TestAccountPageWithoutTwoFactor: on a server without second factors the
// page offers no enrolment (whose POST would be a 404), and says so.
func TestAccountPageWithoutTwoFactor(t *testing.T) {
	e := newEnvWithoutTwoFactor(t)
	e.createUser("lena", "lena@example.com", pwOf("lena"))
	b := e.browser()
	b.pageLogin("lena", pwOf("lena"))
	page, csrfTok := b.accountPage("Two-factor authentication is not offered on this server.", "Two-factor authentication</dt><dd>Off")
	if strings.Contains(page, "/2fa/totp") || strings.Contains(page, "Set up an authenticator app") {
		t.Errorf("the page offers an enrolment the server does not have:\n%s", page)
	}
	// The reason it must not: the form would post to a 404.
	wantProblem(t, b.postForm(accountPath+"/2fa/totp", csrfTok, nil), 404, gatehouse.CodeNotFound)

	// With second factors on (newEnv), the same user is offered one.
	e2 := newEnv(t)
	e2.createUser("lena", "lena@example.com", pwOf("lena"))
	b2 := e2.browser()
	b2.pageLogin("lena", pwOf("lena"))
	page, _ = b2.accountPage("Set up an authenticator app", `action="/auth/ui/account/2fa/totp"`)
	if strings.Contains(page, "not offered on this server") {
		t.Error("a server with second factors says it has none")
	}
}

// TestAccountPageTwoFactorRequiredByGroup: a user whose group requires
// two-factor is not offered to turn it off (the POST answers 409) and is
// told which groups require it; once the group no longer does, the form
// is back and works.
func TestAccountPageTwoFactorRequiredByGroup(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, name := range []string{"ops", "finance"} {
		if err := e.accounts.CreateGroup(ctx, accountActor(), &gatehouse.Group{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	e.createUser("lena", "lena@example.com", pwOf("lena"), "ops", "finance")
	jb := e.browser()
	w := jb.login("lena", pwOf("lena"))
	if w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	var res struct{ CSRFToken string }
	decode(t, w, &res)
	_, codes := e.enrolTOTP(jb, res.CSRFToken)

	require := func(name string, on bool) {
		t.Helper()
		if err := e.accounts.UpdateGroup(ctx, accountActor(), &gatehouse.Group{Name: name, RequireTwoFactor: on}); err != nil {
			t.Fatal(err)
		}
	}
	require("ops", true)
	b, _ := e.userLogin("lena", pwOf("lena"), codes[0])
	page, csrfTok := b.accountPage("Two-factor authentication is on.",
		"<p>Your group ops requires two-factor authentication, so it cannot be turned off.</p>", "Make new recovery codes")
	if strings.Contains(page, "/2fa/disable") || strings.Contains(page, `for="off_password"`) {
		t.Errorf("the page offers to turn off what the group requires:\n%s", page)
	}
	// The server refuses it anyway (fail closed), and says why on the page.
	w = b.postForm(accountPath+"/2fa/disable", csrfTok, url.Values{"off_password": {pwOf("lena")}})
	wantStrictPage(t, w, 409, `<p class="err" role="alert">Your group requires two-factor authentication; it cannot be turned off.</p>`)

	require("finance", true)
	b.accountPage("<p>Your groups finance and ops require two-factor authentication, so it cannot be turned off.</p>")

	// No group requires it any more: the form is back, and turns it off.
	require("ops", false)
	require("finance", false)
	page, csrfTok = b.accountPage(`<label for="off_password">`, "Turn off two-factor authentication")
	if strings.Contains(page, "cannot be turned off") {
		t.Error("the page still says a group requires two-factor")
	}
	wantSeeOther(t, b.postForm(accountPath+"/2fa/disable", csrfTok, url.Values{"off_password": {pwOf("lena")}}), accountPath+"?done=two_factor_off")
}

// TestAccountPageEmptyStates: a user with one session, no token and no
// linked login is told so in each section, not shown an empty table; a
// second session brings the list and the "end all others" button.
func TestAccountPageEmptyStates(t *testing.T) {
	e := newEnv(t)
	e.createUser("lena", "lena@example.com", pwOf("lena"))
	b := e.browser()
	b.pageLogin("lena", pwOf("lena"))
	page, _ := b.accountPage("This is your only session: you are not logged in anywhere else.", "You have no API tokens.")
	for _, absent := range []string{"End all other sessions", "<th scope=\"col\">Starts with</th>"} {
		if strings.Contains(page, absent) {
			t.Errorf("an empty section shows %q", absent)
		}
	}
	// Exactly one table: the sessions, with this one.
	if n := strings.Count(page, "<table>"); n != 1 {
		t.Errorf("%d tables on the page of a user with one session and nothing else", n)
	}
	e.browser().pageLogin("lena", pwOf("lena"))
	page, _ = b.accountPage("End all other sessions")
	if strings.Contains(page, "This is your only session") {
		t.Error("the page says one session with two")
	}
}

var titleTag = regexp.MustCompile(`<title>([^<]*)</title>`)

// TestPageTitles: every page a person sees has one meaningful title and
// one h1, and no two pages share a title.
func TestPageTitles(t *testing.T) {
	e := newEnv(t)
	e.createUser("lena", "lena@example.com", pwOf("lena"))
	b := e.browser()
	b.pageLogin("lena", pwOf("lena"))
	_, csrfTok := b.accountPage()
	anon := e.browser()
	pages := map[string]string{}
	add := func(name string, body string) {
		t.Helper()
		m := titleTag.FindAllStringSubmatch(body, -1)
		if len(m) != 1 || strings.TrimSpace(m[0][1]) == "" {
			t.Errorf("%s: titles %q", name, m)
			return
		}
		if n := strings.Count(body, "<h1"); n != 1 {
			t.Errorf("%s: %d h1", name, n)
		}
		for other, title := range pages {
			if title == m[0][1] {
				t.Errorf("%s and %s share the title %q", name, other, title)
			}
		}
		pages[name] = m[0][1]
	}
	get := func(br *browser, path string) string {
		t.Helper()
		w := br.do("GET", path, "")
		if w.Code != 200 && w.Code != 403 && w.Code != 404 {
			t.Fatalf("GET %s: %d", path, w.Code)
		}
		return w.Body.String()
	}
	add("login", get(anon, "/auth/ui/login"))
	add("setup", get(anon, "/auth/ui/setup"))
	add("reset", get(anon, "/auth/ui/reset?userId=u&token=t"))
	add("invite", get(anon, "/auth/ui/invite?userId=u&token=t"))
	add("forgot", get(anon, "/auth/ui/forgot"))
	add("external error", get(anon, "/auth/external/nobody/callback?state=x&code=y"))
	add("account", get(b, accountPath))
	w := b.postForm(accountPath+"/tokens", csrfTok, url.Values{"name": {"ci"}, "expiry": {"7"}})
	add("token created", w.Body.String())
	w = b.postForm(accountPath+"/2fa/totp", csrfTok, nil)
	add("enrolment", w.Body.String())
	e.clock.Advance(staleAfter)
	w = b.postForm(accountPath+"/tokens", csrfTok, url.Values{"name": {"late"}, "expiry": {"7"}})
	add("re-authentication", w.Body.String())
	for name, title := range pages {
		if title == "gatehouse" || strings.Contains(title, "{{") {
			t.Errorf("%s: title %q says nothing", name, title)
		}
	}
}
