package httpapi_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/mail"
	"github.com/gatehouse/gatehouse/otp"
)

// postLogin posts the login page's form.
func (b *browser) postLogin(v url.Values, opts ...reqOpt) *httptest.ResponseRecorder {
	b.e.t.Helper()
	return b.do("POST", "/auth/ui/login", v.Encode(), append([]reqOpt{header("Content-Type", "application/x-www-form-urlencoded")}, opts...)...)
}

func wantPage(t *testing.T, w *httptest.ResponseRecorder, status int, contains ...string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("Content-Type = %q", ct)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") && !scriptFile.MatchString(w.Body.String()) {
		t.Errorf("CSP = %q", csp)
	}
	for _, c := range contains {
		if !strings.Contains(w.Body.String(), c) {
			t.Errorf("page lacks %q:\n%s", c, w.Body)
		}
	}
}

func TestLoginPageRedirectTargets(t *testing.T) {
	e := newEnv(t, withGateway(nil, nil))
	b := e.browser()
	for _, rd := range []string{
		"/app/x", "/app/x?tab=2", "/%09/x", "https://example.com/", "https://deep.sub.example.com/x", "http://app.example.com:8080/x",
	} {
		w := b.do("GET", "/auth/ui/login?rd="+url.QueryEscape(rd), "")
		wantPage(t, w, 200, `name="rd" value="`+rd+`"`, `action="/auth/ui/login"`, `name="username"`, `type="password"`)
	}
	for _, rd := range []string{
		"https://evil.com/", "//evil.com/x", "/\\evil.com", "/\t/evil.com", "https://example.com.evil.com/",
		"https://notexample.com/", "javascript:alert(1)", "https://u@app.example.com/", "ftp://app.example.com/",
		"app/x", "https://app.example.com\\@evil.com/", " /app/x", "/app/\nx",
	} {
		w := b.do("GET", "/auth/ui/login?rd="+url.QueryEscape(rd), "")
		wantPage(t, w, 200)
		if strings.Contains(w.Body.String(), `name="rd"`) {
			t.Errorf("rd %q kept", rd)
		}
		// A login with it goes to the account page.
		w = e.browser().postLogin(url.Values{"username": {"admin"}, "password": {adminPassword}, "rd": {rd}})
		if w.Code != 303 || w.Header().Get("Location") != "/auth/ui/account" {
			t.Errorf("rd %q: %d %q", rd, w.Code, w.Header().Get("Location"))
		}
	}
}

func TestLoginPage(t *testing.T) {
	e := newEnv(t, withGateway(gatewayTable(t), nil))
	e.createUser("lena", "lena@example.com", pwOf("lena"))

	// A wrong password and an unknown user read the same.
	b := e.browser()
	wrong := b.postLogin(url.Values{"username": {"lena"}, "password": {"not it at all"}})
	wantPage(t, wrong, 401, "Invalid username or password.", `value="lena"`)
	if wrong.Header().Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	ghost := b.postLogin(url.Values{"username": {"ghost"}, "password": {"not it at all"}})
	wantPage(t, ghost, 401, "Invalid username or password.")
	if strings.ReplaceAll(ghost.Body.String(), "ghost", "lena") != wrong.Body.String() {
		t.Error("an unknown user's page differs from a wrong password's")
	}
	if b.cookies["gh_session"] != nil {
		t.Fatal("a session after failed logins")
	}
	wantPage(t, b.postLogin(url.Values{"username": {"lena"}}), 422, "Password is required.")

	// A right one: the session cookie, and 303 to rd.
	w := b.postLogin(url.Values{"username": {"LENA@example.com"}, "password": {pwOf("lena")}, "rd": {"https://app.example.com/app/x?tab=2"}})
	if w.Code != 303 || w.Header().Get("Location") != "https://app.example.com/app/x?tab=2" || w.Body.Len() != 0 {
		t.Fatalf("login: %d %q %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	if b.cookies["gh_session"] == nil || b.cookies["XSRF-TOKEN"] == nil {
		t.Fatalf("cookies after login: %v", b.cookies)
	}
	if w := b.do("GET", "/auth/session", ""); w.Code != 200 {
		t.Fatalf("session after the login page: %d", w.Code)
	}
	// …and forward auth knows the browser now.
	wantAllowed(t, b.verify(traefikAuth("GET", "/app/x")...), "lena", "")
	// A new login ends the previous session.
	old := b.cookies["gh_session"].Value
	b.postLogin(url.Values{"username": {"lena"}, "password": {pwOf("lena")}})
	if b.cookies["gh_session"].Value == old {
		t.Error("the session id was not renewed")
	}
	b.cookies["gh_session"].Value = old
	wantProblem(t, b.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)

	// Cross-origin posts are refused (login CSRF); same-origin ones need no token.
	wantProblem(t, e.browser().postLogin(url.Values{"username": {"lena"}, "password": {pwOf("lena")}}, header("Sec-Fetch-Site", "cross-site")), 403, gatehouse.CodeCSRFFailed)
	wantProblem(t, e.browser().postLogin(url.Values{"username": {"lena"}, "password": {pwOf("lena")}}, header("Origin", "https://evil.example")), 403, gatehouse.CodeCSRFFailed)
	if w := e.browser().postLogin(url.Values{"username": {"lena"}, "password": {pwOf("lena")}}, header("Sec-Fetch-Site", "same-origin")); w.Code != 303 {
		t.Errorf("same-origin login: %d", w.Code)
	}
	wantProblem(t, e.browser().postLogin(url.Values{"step": {"9"}}), 400, gatehouse.CodeBadRequest)

	// Made to wait (3¾ minutes after five failures): the page says for how
	// long, the same for an unknown name.
	for _, name := range []string{"lena", "nobody"} {
		l := e.browser()
		for range 5 {
			l.postLogin(url.Values{"username": {name}, "password": {"wrong password here"}})
		}
		w := l.postLogin(url.Values{"username": {name}, "password": {pwOf(name)}})
		wantPage(t, w, 429, "Too many failed attempts. Try again in about 4 minutes.")
		if w.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	e.clock.Advance(16 * time.Minute)
	if w := e.browser().postLogin(url.Values{"username": {"lena"}, "password": {pwOf("lena")}}); w.Code != 303 {
		t.Errorf("after the lockout: %d", w.Code)
	}
}

func TestLoginPageTwoFactor(t *testing.T) {
	e := newEnv(t, withGateway(gatewayTable(t), nil))
	tb, tCSRF, _ := e.userBrowser("tara")
	key, recovery := e.enrolTOTP(tb, tCSRF)
	e.clock.Advance(time.Minute)

	p := e.browser()
	w := p.postLogin(url.Values{"username": {"tara"}, "password": {pwOf("tara")}, "rd": {"/app/x"}, "remember": {"on"}})
	wantPage(t, w, 200, `name="step" value="2"`, `value="totp"`, `value="recovery_code"`, `name="rd" value="/app/x"`, `name="remember" value="on"`, "Send me a code by email")
	if p.cookies["gh_pending"] == nil || p.cookies["gh_session"] != nil {
		t.Fatalf("cookies after the password: %v", p.cookies)
	}
	// Not logged in yet.
	wantProblem(t, p.verify(traefikAuth("GET", "/app/x")...), 401, gatehouse.CodeUnauthenticated)

	second := func(b *browser, provider, code string) *httptest.ResponseRecorder {
		return b.postLogin(url.Values{"step": {"2"}, "provider": {provider}, "code": {code}, "rd": {"/app/x"}, "remember": {"on"}})
	}
	w = second(p, "totp", "000000")
	wantPage(t, w, 401, "The code is not right.", `name="step" value="2"`)
	w = second(p, "totp", otp.TOTP{Key: key}.At(e.clock.Now()))
	if w.Code != 303 || w.Header().Get("Location") != "/app/x" {
		t.Fatalf("second step: %d %q %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	if p.cookies["gh_session"] == nil || p.cookies["gh_pending"] != nil {
		t.Fatalf("cookies after the second step: %v", p.cookies)
	}
	if p.cookies["gh_session"].MaxAge <= 0 {
		t.Error("remember was lost on the way")
	}
	wantAllowed(t, p.verify(traefikAuth("GET", "/app/x")...), "tara", "")

	// A recovery code; rd not allowed → the account page.
	r := e.browser()
	r.postLogin(url.Values{"username": {"tara"}, "password": {pwOf("tara")}})
	w = r.postLogin(url.Values{"step": {"2"}, "provider": {"recovery_code"}, "code": {recovery[0]}, "rd": {"https://evil.com/"}})
	if w.Code != 303 || w.Header().Get("Location") != "/auth/ui/account" {
		t.Fatalf("recovery code: %d %q", w.Code, w.Header().Get("Location"))
	}

	// A code by email.
	m := e.browser()
	m.postLogin(url.Values{"username": {"tara"}, "password": {pwOf("tara")}})
	w = m.postLogin(url.Values{"step": {"send"}, "provider": {"email"}})
	wantPage(t, w, 200, "A code was sent", `value="email" selected`)
	sent := e.mailer.last(t, "tara@example.com", mail.KindTwoFactorCode)
	w = m.postLogin(url.Values{"step": {"2"}, "provider": {"email"}, "code": {sent.Data.Code}})
	if w.Code != 303 {
		t.Fatalf("email code: %d %s", w.Code, w.Body)
	}

	// Without a pending login, the password form again.
	w = e.browser().postLogin(url.Values{"step": {"2"}, "provider": {"totp"}, "code": {"123456"}})
	wantPage(t, w, 200, "Your login has expired", `name="password"`)
	w = e.browser().postLogin(url.Values{"step": {"send"}, "provider": {"email"}})
	wantPage(t, w, 200, "Your login has expired")

	// A user whose group requires a second factor they have not set up
	// gets the partial session (as from POST /session) and is sent to the
	// account page, which for that session is the enrolment.
	if err := e.accounts.CreateGroup(context.Background(), accountActor(), &gatehouse.Group{Name: "ops", RequireTwoFactor: true}); err != nil {
		t.Fatal(err)
	}
	e.createUser("olga", "olga@example.com", pwOf("olga"), "ops")
	o := e.browser()
	if w := o.postLogin(url.Values{"username": {"olga"}, "password": {pwOf("olga")}, "rd": {"/app/x"}}); w.Code != 303 || w.Header().Get("Location") != "/auth/ui/account" {
		t.Fatalf("enrolment required: %d %q", w.Code, w.Header().Get("Location"))
	}
	if o.cookies["gh_session"] == nil {
		t.Error("no partial session")
	}
	wantPage(t, o.do("GET", "/auth/ui/account", ""), 200, "authenticator")
	wantProblem(t, o.verify(traefikAuth("GET", "/app/x")...), 401, gatehouse.CodeUnauthenticated)

	// Wrong codes end the pending login.
	x := e.browser()
	x.postLogin(url.Values{"username": {"tara"}, "password": {pwOf("tara")}})
	for range 10 {
		w = second(x, "totp", "000000")
		if strings.Contains(w.Body.String(), "Your login has expired") {
			break
		}
	}
	wantPage(t, w, 200, "Your login has expired", `name="password"`)
	if x.cookies["gh_pending"] != nil {
		t.Error("the pending cookie survived the end of the pending login")
	}
}
