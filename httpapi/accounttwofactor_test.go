package httpapi_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/otp"
)

var shownCodes = regexp.MustCompile(`(?s)<textarea id="codes" class="codes" readonly rows="10" autocomplete="off">([^<]+)</textarea>`)

// TestAccountPageTwoFactor: a full session sets up an authenticator app
// from the account page (re-authenticating first when stale; the key only
// in the POST's answer), makes new recovery codes with its password
// (shown once, or as a text file to download) and turns two-factor off;
// a wrong password is shown next to its field and changes nothing.
func TestAccountPageTwoFactor(t *testing.T) {
	e := newEnv(t)
	e.createUser("lena", "lena@example.com", pwOf("lena"))
	b := e.browser()
	b.pageLogin("lena", pwOf("lena"))
	_, csrfTok := b.accountPage("Two-factor authentication is off.", "Set up an authenticator app")

	// Stale: confirm the password first, which then shows the key.
	e.clock.Advance(staleAfter)
	w := b.postForm(accountPath+"/2fa/totp", csrfTok, nil)
	wantStrictPage(t, w, 200, "Confirm it is you", `name="then" value="totp"`)
	w = b.postForm(accountPath+"/reauthenticate", csrfTok, url.Values{"then": {"totp"}, "password": {pwOf("lena")}})
	wantStrictPage(t, w, 200, `<table class="qr" role="img"`, "Back to your account")
	if strings.Contains(w.Body.String(), ">Log out<") {
		t.Error("a full session's enrolment offers the partial session's log-out")
	}
	m := enrolSecret.FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("no key on the page:\n%s", w.Body)
	}
	key, err := otp.DecodeKey(m[1])
	if err != nil {
		t.Fatal(err)
	}
	csrfTok = formCSRF(t, w.Body.String())
	w = b.postForm(accountPath+"/2fa/totp/confirm", csrfTok, url.Values{"code": {otp.TOTP{Key: key}.At(e.clock.Now())}})
	wantStrictPage(t, w, 200, "Two-factor authentication is on.", `<pre class="codes">`)
	_, csrfTok = b.accountPage("Two-factor authentication</dt><dd>On", "You have 10 unused recovery codes.",
		`<label for="rc_password">`, `<label for="off_password">`)

	// A wrong password: next to its field, nothing changed.
	w = b.postForm(accountPath+"/2fa/recovery-codes", csrfTok, url.Values{"rc_password": {"not it"}})
	wantStrictPage(t, w, 401, `aria-invalid="true" aria-describedby="rc_password-error"`, `<p id="rc_password-error" class="err" role="alert">`)
	w = b.postForm(accountPath+"/2fa/disable", csrfTok, nil)
	wantStrictPage(t, w, 422, `<p id="off_password-error" class="err" role="alert">Enter your password.</p>`)

	// New codes, shown once in the POST's answer.
	w = b.postForm(accountPath+"/2fa/recovery-codes", csrfTok, url.Values{"rc_password": {pwOf("lena")}})
	wantStrictPage(t, w, 200, "<title>Your new recovery codes</title>")
	cm := shownCodes.FindStringSubmatch(w.Body.String())
	if cm == nil || len(strings.Fields(cm[1])) != 10 {
		t.Fatalf("no ten codes on the page:\n%s", w.Body)
	}
	// Or as a text file, the same POST's answer.
	w = b.postForm(accountPath+"/2fa/recovery-codes", csrfTok, url.Values{"rc_password": {pwOf("lena")}, "download": {"1"}})
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" ||
		w.Header().Get("Content-Disposition") != `attachment; filename="gatehouse-recovery-codes.txt"` ||
		w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("download: %d %v", w.Code, w.Header())
	}
	downloaded := strings.Fields(w.Body.String())
	if len(downloaded) != 10 || downloaded[0] == strings.Fields(cm[1])[0] {
		t.Fatalf("downloaded codes %q", downloaded)
	}

	// Off, with the password.
	wantSeeOther(t, b.postForm(accountPath+"/2fa/disable", csrfTok, url.Values{"off_password": {pwOf("lena")}}), accountPath+"?done=two_factor_off")
	b.accountPageAt("?done=two_factor_off", "Two-factor authentication is off.", "Set up an authenticator app")
}

// TestAccountPageTwoFactorWithCode: a user without a password proves the
// two-factor forms with a code instead.
func TestAccountPageTwoFactorWithCode(t *testing.T) {
	e := newEnv(t)
	b, _, _, key, _ := e.passwordless("pia", true)
	page, csrfTok := b.accountPage(`<label for="off_code">`, `<option value="recovery_code">`)
	if strings.Contains(page, `for="off_password"`) {
		t.Error("a user without a password is asked for one")
	}
	w := b.postForm(accountPath+"/2fa/disable", csrfTok, url.Values{"off_provider": {"totp"}, "off_code": {"000000"}})
	wantStrictPage(t, w, 401, `aria-describedby="off_code-error"`)
	e.clock.Advance(staleAfter)
	code := otp.TOTP{Key: key}.At(e.clock.Now())
	wantSeeOther(t, b.postForm(accountPath+"/2fa/disable", csrfTok, url.Values{"off_provider": {"totp"}, "off_code": {code}}), accountPath+"?done=two_factor_off")
	b.accountPage("Two-factor authentication is off.")
}

var timeoutScript = regexp.MustCompile(`<script src="(/auth/ui/assets/timeout\.[0-9a-f]{10}\.js)" defer></script>`)

// TestAccountPageTimeoutWarning: the account page carries the hidden
// warning and its script file, served as JavaScript and allowed by its
// CSP alone; the pages without it keep a CSP that allows no script.
func TestAccountPageTimeoutWarning(t *testing.T) {
	e := newEnv(t)
	e.createUser("lena", "lena@example.com", pwOf("lena"))
	b := e.browser()
	b.pageLogin("lena", pwOf("lena"))
	page, _ := b.accountPage(`<div id="timeout-warning" class="timeout-warning" role="alert" hidden data-remaining="/auth/session/remaining" data-extend="/auth/session">`,
		`<button type="button" id="stay-logged-in">Stay logged in</button>`)
	m := timeoutScript.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no timeout script on the account page:\n%s", page)
	}
	w := b.do("GET", m[1], "")
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/javascript; charset=utf-8" || !strings.Contains(w.Body.String(), `getAttribute("data-remaining")`) {
		t.Fatalf("script: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	if strings.Contains(w.Body.String(), "eval(") {
		t.Error("the script uses eval")
	}
	// Pages without the script keep no script-src.
	for _, path := range []string{"/auth/ui/login", forgotPath} {
		w := e.browser().do("GET", path, "")
		if csp := w.Header().Get("Content-Security-Policy"); csp != strictCSP {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
	// The enrolment page of a full session has no script either.
	w = b.postForm(accountPath+"/2fa/totp", formCSRF(t, page), nil)
	if csp := w.Header().Get("Content-Security-Policy"); w.Code != 200 || csp != strictCSP {
		t.Errorf("enrolment: %d CSP %q", w.Code, csp)
	}
	// The page asked for seconds left does not extend the session.
	before := b.do("GET", "/auth/session/remaining", "").Body.String()
	e.clock.Advance(time.Minute)
	after := b.do("GET", "/auth/session/remaining", "").Body.String()
	if before == after {
		t.Errorf("remaining did not go down: %s then %s", before, after)
	}
}
