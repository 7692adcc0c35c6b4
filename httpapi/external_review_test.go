package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/internal/testop"
	"github.com/gatehouse/gatehouse/session"
)

// Anyone can hit the callback: without a flow this server started, the
// hits fill no audit log (they are only logged); a flow cookie of another
// provider, which this server did seal, is audited.
func TestExternalCallbackWithoutFlowIsNotAudited(t *testing.T) {
	op := testop.Start(t)
	e := newExternalEnv(t, op, nil)
	b := e.browser()
	for i := 0; i < 50; i++ {
		w := b.do("GET", "/auth/external/corp/callback?state=x&code=y", "")
		if w.Code != http.StatusBadRequest {
			t.Fatalf("callback without a flow: %d %s", w.Code, w.Body)
		}
		b.cookies["gh_oidc"] = &http.Cookie{Name: "gh_oidc", Value: "forged"}
		if w := b.do("GET", "/auth/external/corp/callback?state=x&code=y", ""); w.Code != http.StatusBadRequest {
			t.Fatalf("callback with a forged flow: %d %s", w.Code, w.Body)
		}
	}
	events, _, err := e.accounts.ListAudit(context.Background(), account.AuditFilter{Kind: gatehouse.AuditExternalLoginFailed, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 0 {
		t.Errorf("%d audit events for callbacks without a flow of this server", len(events))
	}
}

// An allowed rd whose sealed form outgrows a cookie is dropped, not a
// failed login: JSON writes each "&" as six bytes.
func TestExternalLongRDDoesNotBreakTheLogin(t *testing.T) {
	op := testop.Start(t)
	e := newExternalEnv(t, op, nil, func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
		h.RedirectDomains = []string{"app.example.com"}
	})
	ada := e.createUser("ada", "ada@example.org", pwOf("ada"))
	e.link("corp", testop.DefaultUser.Subject, ada)
	var q []string
	for i := 0; len(strings.Join(q, "&")) < 1900; i++ {
		q = append(q, fmt.Sprintf("a%d=", i%10))
	}
	rd := "https://app.example.com/?" + strings.Join(q, "&")
	b := e.browser()
	authURL := startExternal(t, b, "corp", "?rd="+url.QueryEscape(rd))
	if n := len(b.cookies["gh_oidc"].Value); n > 3800 {
		t.Fatalf("flow cookie of %d bytes", n)
	}
	w := callback(t, b, op.Authorize(t, nil, authURL))
	if w.Code != http.StatusSeeOther {
		t.Fatalf("login with an allowed %d-byte rd: %d %s", len(rd), w.Code, w.Body)
	}
	if got, _ := currentUser(t, b); got != "ada" {
		t.Errorf("logged in as %q", got)
	}
}

// Odd input at the external endpoints: never a 500, nothing reflected.
func TestExternalOddInput(t *testing.T) {
	op := testop.Start(t)
	e := newExternalEnv(t, op, nil)
	b := e.browser()
	authURL := startExternal(t, b, "corp", "")
	st := mustQuery(t, authURL).Get("state")
	for _, c := range []struct{ method, path string }{
		{"GET", "/auth/external/corp/callback?state=" + st + "&state=" + st + "&code=a&code=b"},
		{"GET", "/auth/external/corp/callback?state=" + strings.Repeat("A", 6000)},
		{"GET", "/auth/external/corp/callback?iss=a&iss=b&state=x"},
		{"GET", "/auth/external/corp/callback?error=%3Cscript%3E&state=x"},
		{"POST", "/auth/external/corp/callback"},
		{"GET", "/auth/external/%3Cb%3E/login"},
		{"GET", "/auth/external/corp/login?rd=%2F%2Fevil.example&remember=on"},
		{"GET", "/auth/external/corp/login?rd=%5C%5Cevil.example"},
		{"GET", "/auth/external/corp/login?rd=https:%2Fevil.example"},
		{"GET", "/auth/external/corp/login?rd=%2F%09%2Fevil.example"},
	} {
		startExternal(t, b, "corp", "")
		w := b.do(c.method, c.path, "")
		if w.Code >= 500 || strings.Contains(w.Body.String(), "<script>") || strings.Contains(w.Body.String(), "<b>") || strings.Contains(w.Body.String(), "evil.example") {
			t.Errorf("%s %s: %d %s", c.method, c.path, w.Code, w.Body)
		}
	}
}

// deny_local_login: the password uses beyond the main table — Basic at
// forward auth, re-authentication and the changes a password confirms.
func TestDenyLocalLoginElsewhere(t *testing.T) {
	op := testop.Start(t)
	e := newExternalEnv(t, op, []extProvider{{id: "corp", rules: account.ExternalProvider{DenyLocalLogin: true, AutoLinkVerifiedEmail: true}}},
		withGateway(nil, nil),
		func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
			h.BasicAuth = httpapi.BasicAuth{Enabled: true, AllowInsecure: true}
		})
	e.createUser("ada", "ada@example.org", pwOf("ada"))
	anon := e.browser()
	if w := anon.verify(with(traefikAuth("GET", "/x"), basicHeader("ada", pwOf("ada")))...); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "local_login_disabled") {
		t.Errorf("verify with Basic: %d %s", w.Code, w.Body)
	}
	b := e.browser()
	if w := externalLogin(t, op, b, "corp", ""); w.Code != http.StatusSeeOther {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	tok := csrfOf(b)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/auth/session/reauthenticate", `{"password":"` + pwOf("ada") + `"}`},
		{"POST", "/auth/2fa/recovery-codes", `{"password":"` + pwOf("ada") + `"}`},
		{"DELETE", "/auth/2fa/totp", `{"password":"` + pwOf("ada") + `"}`},
	} {
		w := b.do(c.method, c.path, c.body, header("X-CSRF-Token", tok))
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "local_login_disabled") {
			t.Errorf("%s %s: %d %s", c.method, c.path, w.Code, w.Body)
		}
	}
}
