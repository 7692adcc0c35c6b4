package httpapi_test

import (
	"testing"

	"github.com/gatehouse/gatehouse"
)

// TestBasicWithTwoFactorConfirmsNoPassword: Basic credentials of a user
// with a second factor are refused like a wrong password, and they count
// like one too: were the right password not counted, the name's wait
// would start one guess later after it, and the 429 would confirm which
// guess was the password.
func TestBasicWithTwoFactorConfirmsNoPassword(t *testing.T) {
	e := newEnv(t, func(h *httpapiConfig, _ *accountConfig, _ *sessionConfig) { h.BasicAuth.Enabled = true })
	b, csrfTok, _ := e.userBrowser("bea")
	e.enrolTOTP(b, csrfTok)
	guess := func() *browser {
		g := e.browser()
		g.https = true
		return g
	}
	for range 4 {
		wantProblem(t, guess().do("GET", "/auth/sessions", "", basicHeader("bea", "a wrong guess")), 401, gatehouse.CodeInvalidCredentials)
	}
	wantProblem(t, guess().do("GET", "/auth/sessions", "", basicHeader("bea", pwOf("bea"))), 401, gatehouse.CodeInvalidCredentials)
	// Five refusals: the name waits, whichever of them was the password.
	wantProblem(t, guess().do("GET", "/auth/sessions", "", basicHeader("bea", "another guess")), 429, gatehouse.CodeTooManyAttempts)
}
