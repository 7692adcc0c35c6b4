package httpapi_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// The account page (web, through the whole server): GET BASE/ui/account
// and its forms.

const accountPath = "/auth/ui/account"

// pageLogin logs b in with the login page's form.
func (b *browser) pageLogin(username, pw string) {
	b.e.t.Helper()
	if w := b.postLogin(url.Values{"username": {username}, "password": {pw}}); w.Code != 303 {
		b.e.t.Fatalf("login %s: %d %s", username, w.Code, w.Body)
	}
}

// accountPage is GET BASE/ui/account in b, which must answer the page; it
// returns the page and the CSRF token its forms carry.
func (b *browser) accountPage(contains ...string) (string, string) {
	b.e.t.Helper()
	return b.accountPageAt("", contains...)
}

// accountPageAt is accountPage with query (a form's notice).
func (b *browser) accountPageAt(query string, contains ...string) (string, string) {
	b.e.t.Helper()
	w := b.do("GET", accountPath+query, "")
	wantStrictPage(b.e.t, w, 200, contains...)
	return w.Body.String(), formCSRF(b.e.t, w.Body.String())
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func formCSRF(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf_token in the page:\n%s", page)
	}
	return m[1]
}

// postForm posts form v (with csrf_token when csrfTok is not "") to path.
func (b *browser) postForm(path, csrfTok string, v url.Values, opts ...reqOpt) *httptest.ResponseRecorder {
	b.e.t.Helper()
	if v == nil {
		v = url.Values{}
	}
	if csrfTok != "" {
		v.Set("csrf_token", csrfTok)
	}
	return b.do("POST", path, v.Encode(), append([]reqOpt{header("Content-Type", "application/x-www-form-urlencoded")}, opts...)...)
}

// scriptFile is a script a page may have, a file of this origin: the
// account page's timeout warning, and the password policy's hints of the
// pages with a new password.
var scriptFile = regexp.MustCompile(`<script src="/auth/ui/assets/(timeout|passwordpolicy)\.[0-9a-f]{10}\.js" defer></script>`)

const (
	strictCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	// scriptCSP is strictCSP for the page with the script file.
	scriptCSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

// wantStrictPage is wantPage with the strict CSP and nothing inline; only
// a page with the script file may run it (script-src 'self').
func wantStrictPage(t *testing.T, w *httptest.ResponseRecorder, status int, contains ...string) {
	t.Helper()
	wantPage(t, w, status, contains...)
	want := strictCSP
	if scriptFile.MatchString(w.Body.String()) {
		want = scriptCSP
	}
	if csp := w.Header().Get("Content-Security-Policy"); csp != want {
		t.Errorf("CSP %q, want %q", csp, want)
	}
	body := strings.ToLower(scriptFile.ReplaceAllString(w.Body.String(), ""))
	for _, inline := range []string{"style=", "<style", "<script", " on"} {
		if inline == " on" {
			if regexp.MustCompile(` on[a-z]+=`).MatchString(body) {
				t.Errorf("the page has an inline event handler")
			}
			continue
		}
		if strings.Contains(body, inline) {
			t.Errorf("the page has %s inline", inline)
		}
	}
	if !strings.Contains(body, "<title>") {
		t.Errorf("the page has no title")
	}
}

func wantSeeOther(t *testing.T, w *httptest.ResponseRecorder, loc string) {
	t.Helper()
	if w.Code != 303 || w.Header().Get("Location") != loc {
		t.Fatalf("got %d to %q, want 303 to %q; body %s", w.Code, w.Header().Get("Location"), loc, w.Body)
	}
}

const loginAgain = "/auth/ui/login?rd=%2Fauth%2Fui%2Faccount"

// TestAccountPageProfileAndLogout: without a session the page and every
// form send the browser to the login page (and back); with one, the
// profile; the logout button ends the session, and only with the CSRF
// token from the same origin.
func TestAccountPageProfileAndLogout(t *testing.T) {
	e := newEnv(t)
	anon := e.browser()
	wantSeeOther(t, anon.do("GET", accountPath, ""), loginAgain)
	for _, path := range accountForms {
		wantSeeOther(t, anon.postForm(path, "", nil), loginAgain)
	}

	e.createUser("lena", "lena@example.com", pwOf("lena"), gatehouse.GroupAdministrators)
	b := e.browser()
	b.pageLogin("lena", pwOf("lena"))
	page, csrfTok := b.accountPage("<title>Your account</title>", "lena", "lena@example.com", gatehouse.GroupAdministrators, "Two-factor authentication</dt><dd>Off", "Log out")

	// The form must carry the session's token, and come from this origin.
	wantProblem(t, b.postForm(accountPath+"/logout", "", nil), 403, gatehouse.CodeCSRFFailed)
	wantProblem(t, b.postForm(accountPath+"/logout", "wrong", nil), 403, gatehouse.CodeCSRFFailed)
	wantProblem(t, b.postForm(accountPath+"/logout", csrfTok, nil, header("Sec-Fetch-Site", "cross-site")), 403, gatehouse.CodeCSRFFailed)
	wantProblem(t, b.postForm(accountPath+"/logout", csrfTok, nil, header("Origin", "https://evil.example")), 403, gatehouse.CodeCSRFFailed)
	b.accountPage("lena")

	if strings.Contains(page, "?csrf_token") || strings.Contains(page, "&amp;csrf_token") {
		t.Error("the CSRF token is in a URL")
	}
	w := b.postForm(accountPath+"/logout", csrfTok, nil)
	wantSeeOther(t, w, "/auth/ui/login")
	if b.cookies["gh_session"] != nil {
		t.Error("the session cookie is still set")
	}
	if sessions, err := e.accounts.UserSessions(context.Background(), userID(t, e, "lena")); err != nil || len(sessions) != 0 {
		t.Fatalf("lena's sessions after logout: %v %v", sessions, err)
	}
	wantSeeOther(t, b.do("GET", accountPath, ""), loginAgain)
}

// accountForms are the account page's forms: each refuses a post without
// the CSRF token, or from another origin.
var accountForms = []string{
	accountPath + "/logout", accountPath + "/sessions/end", accountPath + "/sessions/end-others",
	accountPath + "/password", accountPath + "/reauthenticate", accountPath + "/logins/link",
	accountPath + "/logins/unlink", accountPath + "/tokens", accountPath + "/tokens/revoke",
}

// TestAccountFormsNeedCSRF: every form of the account page, posted
// without csrf_token or cross-origin, is refused 403 and changes nothing.
func TestAccountFormsNeedCSRF(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.pageLogin("admin", adminPassword)
	_, csrfTok := b.accountPage()
	form := url.Values{"name": {"ci"}, "expiry": {"30"}, "current_password": {adminPassword}, "new_password": {"a whole new passphrase 77"}, "password": {adminPassword}}
	for _, path := range accountForms {
		wantProblem(t, b.postForm(path, "", cloneValues(form)), 403, gatehouse.CodeCSRFFailed)
		wantProblem(t, b.postForm(path, csrfTok, cloneValues(form), header("Sec-Fetch-Site", "cross-site")), 403, gatehouse.CodeCSRFFailed)
	}
	// Nothing changed: the session lives, the password and tokens are as
	// they were.
	b.accountPage("You have no API tokens.")
	nb := e.browser()
	nb.pageLogin("admin", adminPassword)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func userID(t *testing.T, e *env, name string) string {
	t.Helper()
	u, err := e.store.UserByLogin(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

var sessionIDField = regexp.MustCompile(`<button type="submit" name="id" value="([^"]+)">End session</button>`)

// TestAccountPageSessions: the page lists the user's sessions with their
// device, address and last activity, this one marked; one can be ended,
// or all others; another user's session cannot.
func TestAccountPageSessions(t *testing.T) {
	e := newEnv(t)
	e.createUser("lena", "lena@example.com", pwOf("lena"))
	phone := e.browser()
	phone.addr = "198.51.100.7:5000"
	phone.do("GET", "/auth/healthz", "") // nothing: a browser with no cookie
	loginWithAgent := func(b *browser, agent string) {
		t.Helper()
		if w := b.postLogin(url.Values{"username": {"lena"}, "password": {pwOf("lena")}}, header("User-Agent", agent)); w.Code != 303 {
			t.Fatalf("login: %d %s", w.Code, w.Body)
		}
	}
	loginWithAgent(phone, "PhoneBrowser/1.0")
	desk := e.browser()
	loginWithAgent(desk, "DeskBrowser/2.0")

	page, csrfTok := desk.accountPage("Active sessions", "PhoneBrowser/1.0", "198.51.100.7", "DeskBrowser/2.0 <strong>(this session)</strong>", "192.0.2.10", "2026-03-01 09:00 UTC", "End all other sessions")
	m := sessionIDField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no End session button for the phone:\n%s", page)
	}
	// Another user's session is not found, as one that does not exist.
	ab := e.browser()
	ab.pageLogin("admin", adminPassword)
	adminSessions, err := e.accounts.UserSessions(context.Background(), e.admin.ID)
	if err != nil || len(adminSessions) != 1 {
		t.Fatal(adminSessions, err)
	}
	wantProblem(t, desk.postForm(accountPath+"/sessions/end", csrfTok, url.Values{"id": {adminSessions[0].ID}}), 404, gatehouse.CodeNotFound)
	ab.accountPage()

	wantSeeOther(t, desk.postForm(accountPath+"/sessions/end", csrfTok, url.Values{"id": {m[1]}}), accountPath+"?done=session")
	wantSeeOther(t, phone.do("GET", accountPath, ""), loginAgain)
	page, _ = desk.accountPageAt("?done=session", "The session was ended.")
	if strings.Contains(page, "PhoneBrowser") || strings.Contains(page, "End all other sessions") {
		t.Errorf("the ended session is still listed:\n%s", page)
	}

	// All others.
	loginWithAgent(phone, "PhoneBrowser/1.0")
	third := e.browser()
	loginWithAgent(third, "Tablet/3")
	desk.accountPage("PhoneBrowser/1.0", "Tablet/3")
	wantSeeOther(t, desk.postForm(accountPath+"/sessions/end-others", csrfTok, nil), accountPath+"?done=sessions")
	wantSeeOther(t, phone.do("GET", accountPath, ""), loginAgain)
	wantSeeOther(t, third.do("GET", accountPath, ""), loginAgain)
	desk.accountPageAt("?done=sessions", "Your other sessions were ended.")

	// Ending this very session logs the browser out.
	own, err := e.accounts.UserSessions(context.Background(), userID(t, e, "lena"))
	if err != nil || len(own) != 1 {
		t.Fatal(own, err)
	}
	wantSeeOther(t, desk.postForm(accountPath+"/sessions/end", csrfTok, url.Values{"id": {own[0].ID}}), "/auth/ui/login")
	wantSeeOther(t, desk.do("GET", accountPath, ""), loginAgain)
}
