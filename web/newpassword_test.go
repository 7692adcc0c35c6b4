package web_test

import (
	"net/url"
	"strings"
	"testing"
)

// TestNewPasswordFields: the setup, reset and invitation pages' password
// field is described by the policy's hint and by the live region the
// script fills (which knows where the policy is), the page loads that
// script, and a password the policy refuses is shown next to the field,
// announced, with the field marked invalid.
func TestNewPasswordFields(t *testing.T) {
	gh := openServer(t)
	setup, err := url.Parse(gh.SetupURL())
	if err != nil {
		t.Fatal(err)
	}
	token := setup.Query().Get("token")
	const field = `<input id="password" name="password" type="password" required autocomplete="new-password" aria-describedby="password-hint password-policy`
	for _, path := range []string{"/auth/ui/setup?token=" + token, "/auth/ui/reset?userId=u1&token=t1", "/auth/ui/invite?userId=u1&token=t1"} {
		w := do(gh, "GET", path, nil)
		body := w.Body.String()
		for _, want := range []string{
			field + `">`,
			`<p id="password-hint" class="hint">At least 12 characters. When you submit, it is checked for common passwords, your username or email and easy-to-guess patterns.</p>`,
			`<p id="password-policy" class="policy-status" aria-live="polite" data-policy="/auth/password/policy" data-for="password"></p>`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s lacks %s", path, want)
			}
		}
		if !policyScript.MatchString(body) {
			t.Errorf("GET %s: no policy script", path)
		}
	}
	w := do(gh, "POST", "/auth/ui/setup", url.Values{"token": {token}, "username": {"root"}, "email": {"root@example.com"}, "password": {"short"}})
	body := w.Body.String()
	if w.Code != 422 || !strings.Contains(body, field+` password-error" aria-invalid="true">`) ||
		!strings.Contains(body, `<p id="password-error" class="err" role="alert">Password must be at least 12 characters.</p>`) {
		t.Errorf("refused setup password: %d\n%s", w.Code, body)
	}
	// The username is kept, the password never echoed.
	if !strings.Contains(body, `value="root"`) || strings.Contains(body, `value="short"`) {
		t.Errorf("refused setup: the form is not kept as it should be:\n%s", body)
	}
}
