package httpapi_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/session"
)

const forgotPath = "/auth/ui/forgot"

// TestForgotPage: the login page links to the forgot-password page; its
// form answers the same for a known and an unknown address and mails the
// link only to the known one; a bad address is shown next to the field.
func TestForgotPage(t *testing.T) {
	e := newEnv(t)
	e.createUser("fay", "fay@example.com", pwOf("fay"))
	wantStrictPage(t, e.browser().do("GET", "/auth/ui/login", ""), 200, `<a href="/auth/ui/forgot">Forgot your password?</a>`)
	wantStrictPage(t, e.browser().do("GET", forgotPath, ""), 200, "<title>Forgot your password</title>", `<label for="email">Email</label>`)

	post := func(email string) *httptestRecorder {
		w := e.browser().postForm(forgotPath, "", url.Values{"email": {email}})
		e.accounts.WaitBackground()
		return w
	}
	known, unknown := post("fay@example.com"), post("nobody@example.com")
	wantStrictPage(t, known, 200, "If an account has this address, a link to choose a new password is on its way.")
	if known.Body.String() != unknown.Body.String() {
		t.Error("the page tells a known address from an unknown one")
	}
	if n := e.mailer.count("fay@example.com", "reset"); n != 1 {
		t.Errorf("%d reset mails to fay", n)
	}
	wantStrictPage(t, post("not an address"), 422, `aria-invalid="true" aria-describedby="email-error"`, `<p id="email-error" class="err" role="alert">`)
	wantProblem(t, e.browser().postForm(forgotPath, "", url.Values{"email": {"fay@example.com"}}, header("Sec-Fetch-Site", "cross-site")), 403, "csrf_failed")
}

// TestForgotPageOff: with password reset off, the page says so (403) and
// the login page does not link to it.
func TestForgotPageOff(t *testing.T) {
	e := newEnv(t, func(_ *httpapi.Config, a *account.Config, _ *session.Config) { a.AllowPasswordReset = false })
	e.createUser("fay", "fay@example.com", pwOf("fay"))
	w := e.browser().do("GET", "/auth/ui/login", "")
	wantStrictPage(t, w, 200)
	if strings.Contains(w.Body.String(), "Forgot your password?") {
		t.Error("the login page links to a reset that is off")
	}
	wantStrictPage(t, e.browser().do("GET", forgotPath, ""), 403, "Passwords cannot be reset here.")
	wantStrictPage(t, e.browser().postForm(forgotPath, "", url.Values{"email": {"fay@example.com"}}), 403, "Passwords cannot be reset here.")
	e.accounts.WaitBackground()
	if n := e.mailer.count("fay@example.com", "reset"); n != 0 {
		t.Errorf("%d reset mails with reset off", n)
	}
}
