package httpapi_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/internal/testop"
	"github.com/gatehouse/gatehouse/otp"
	"github.com/gatehouse/gatehouse/session"
)

// TestAccountPagePassword: a wrong current password or a new one the
// policy refuses is shown next to its field (aria-invalid, described by
// the message); a right change ends the other sessions and the new
// password logs in.
func TestAccountPagePassword(t *testing.T) {
	e := newEnv(t)
	e.createUser("lena", "lena@example.com", pwOf("lena"))
	b, other := e.browser(), e.browser()
	b.pageLogin("lena", pwOf("lena"))
	other.pageLogin("lena", pwOf("lena"))
	_, csrfTok := b.accountPage(`<label for="current_password">`, `<label for="new_password">`)
	const newPassword = "a whole new passphrase 77"

	w := b.postForm(accountPath+"/password", csrfTok, url.Values{"current_password": {"not my password"}, "new_password": {newPassword}})
	wantStrictPage(t, w, 401, `id="current_password" name="current_password" type="password" required autocomplete="current-password" aria-invalid="true" aria-describedby="current_password-error"`,
		`<p id="current_password-error" class="err" role="alert">The current password is not correct.</p>`)
	w = b.postForm(accountPath+"/password", csrfTok, url.Values{"current_password": {pwOf("lena")}, "new_password": {"short"}})
	wantStrictPage(t, w, 422, `aria-describedby="new_password-hint new_password-policy new_password-error" aria-invalid="true"`, `<p id="new_password-error" class="err" role="alert">Password must be at least 12 characters.</p>`)
	if strings.Contains(w.Body.String(), `current_password" type="password" required autocomplete="current-password" aria-invalid`) {
		t.Error("the current password is marked wrong too")
	}
	w = b.postForm(accountPath+"/password", csrfTok, url.Values{"current_password": {pwOf("lena")}})
	wantStrictPage(t, w, 422, `<p id="new_password-error" class="err" role="alert">New password is required.</p>`)
	// Nothing changed yet.
	other.accountPage()

	wantSeeOther(t, b.postForm(accountPath+"/password", csrfTok, url.Values{"current_password": {pwOf("lena")}, "new_password": {newPassword}}), accountPath+"?done=password")
	b.accountPageAt("?done=password", "Your password was changed.")
	wantSeeOther(t, other.do("GET", accountPath, ""), loginAgain)
	e.browser().pageLogin("lena", newPassword)
	if w := e.browser().postLogin(url.Values{"username": {"lena"}, "password": {pwOf("lena")}}); w.Code != 401 {
		t.Fatalf("the old password: %d", w.Code)
	}
}

var tokenSecret = regexp.MustCompile(`<input id="secret" readonly value="([^"]+)"`)

// TestAccountPageTokens: a token is created with a name, an expiry and a
// subset of the user's permissions, its secret shown once in the POST's
// own answer; a bad form is shown with its errors; a stale session must
// re-authenticate first; a token is revoked.
func TestAccountPageTokens(t *testing.T) {
	e := newEnv(t)
	// An administrator may limit a token to any permission gatehouse knows.
	ab := e.browser()
	ab.pageLogin("admin", adminPassword)
	ab.accountPage(`value="*"`, `value="`+httpapi.PermUsers+`"`, `value="`+httpapi.PermAudit+`"`)

	e.group("auditors", httpapi.PermAudit, "reports.read")
	lena := e.createUser("lena", "lena@example.com", pwOf("lena"), "auditors")
	b := e.browser()
	b.pageLogin("lena", pwOf("lena"))
	page, csrfTok := b.accountPage("You have no API tokens.", `value="`+httpapi.PermAudit+`"`, `value="reports.read"`)
	if strings.Contains(page, `value="`+httpapi.PermUsers+`"`) || strings.Contains(page, `value="*"`) {
		t.Error("lena is offered permissions she does not have")
	}

	// Errors tied to their fields, the form kept.
	w := b.postForm(accountPath+"/tokens", csrfTok, url.Values{"name": {""}, "expiry": {"30"}, "permission": {httpapi.PermAudit}})
	wantStrictPage(t, w, 422, `aria-invalid="true" aria-describedby="token_name-error"`, `<p id="token_name-error" class="err" role="alert">`,
		`value="`+httpapi.PermAudit+`" checked`)
	w = b.postForm(accountPath+"/tokens", csrfTok, url.Values{"name": {"ci"}, "expiry": {"12"}})
	wantStrictPage(t, w, 422, `aria-describedby="token_expiry-error"`, "Choose one of the expiries offered.", `value="ci"`)
	w = b.postForm(accountPath+"/tokens", csrfTok, url.Values{"name": {"ci"}, "expiry": {"30"}, "permission": {httpapi.PermUsers}})
	wantStrictPage(t, w, 422, `<p id="token_permission-error" class="err" role="alert">`)

	w = b.postForm(accountPath+"/tokens", csrfTok, url.Values{"name": {"ci"}, "expiry": {"30"}, "permission": {httpapi.PermAudit}})
	wantStrictPage(t, w, 201, "<title>Your new API token</title>", "shown only once", httpapi.PermAudit, "2026-03-31")
	m := tokenSecret.FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("no secret on the page:\n%s", w.Body)
	}
	secret := m[1]
	if w.Header().Get("Location") != "" {
		t.Error("the token page redirects")
	}
	// The token works, with only what was ticked.
	api := e.browser()
	if w := api.do("GET", mgmt+"/audit", "", header("Authorization", "Bearer "+secret)); w.Code != 200 {
		t.Fatalf("token on the audit log: %d %s", w.Code, w.Body)
	}
	if list := tokensOf(t, e, lena.ID); len(list) != 1 || strings.Join(list[0].Permissions, ",") != httpapi.PermAudit {
		t.Errorf("the token's permissions: %+v", list)
	}
	// Listed without its secret.
	page, _ = b.accountPage(`<th scope="row">ci</th>`, "<td>"+httpapi.PermAudit+"</td>", "2026-03-31")
	if strings.Contains(page, secret) {
		t.Fatal("the account page shows the secret again")
	}

	// A stale session confirms the password first, then creates.
	e.clock.Advance(11 * time.Minute)
	b.accountPage()
	e.clock.Advance(11 * time.Minute)
	w = b.postForm(accountPath+"/tokens", csrfTok, url.Values{"name": {"late"}, "expiry": {"never"}})
	wantStrictPage(t, w, 200, "<title>Confirm it is you</title>", `<label for="password">`)
	if n := len(tokensOf(t, e, lena.ID)); n != 1 {
		t.Fatalf("%d tokens after a stale create", n)
	}
	w = b.postForm(accountPath+"/reauthenticate", csrfTok, url.Values{"password": {"wrong"}})
	wantStrictPage(t, w, 401, `aria-invalid="true" aria-describedby="password-error"`)
	wantSeeOther(t, b.postForm(accountPath+"/reauthenticate", csrfTok, url.Values{"password": {pwOf("lena")}}), accountPath+"?done=reauthenticated")
	// The session has a new CSRF token; the old one is refused.
	wantProblem(t, b.postForm(accountPath+"/tokens", csrfTok, url.Values{"name": {"late"}, "expiry": {"never"}}), 403, gatehouse.CodeCSRFFailed)
	_, csrfTok = b.accountPage()
	w = b.postForm(accountPath+"/tokens", csrfTok, url.Values{"name": {"late"}, "expiry": {"never"}})
	wantStrictPage(t, w, 201, "<dd>All of yours</dd>", "<dt>Expires</dt><dd>never</dd>")

	// Revoke.
	tokens := tokensOf(t, e, lena.ID)
	if len(tokens) != 2 {
		t.Fatalf("%d tokens", len(tokens))
	}
	for _, tok := range tokens {
		wantSeeOther(t, b.postForm(accountPath+"/tokens/revoke", csrfTok, url.Values{"id": {tok.ID}}), accountPath+"?done=token_revoked")
	}
	b.accountPageAt("?done=token_revoked", "The token was revoked.", "You have no API tokens.")
	wantProblem(t, api.do("GET", mgmt+"/audit", "", header("Authorization", "Bearer "+secret)), 401, gatehouse.CodeUnauthenticated)
	wantProblem(t, b.postForm(accountPath+"/tokens/revoke", csrfTok, url.Values{"id": {tokens[0].ID}}), 404, gatehouse.CodeNotFound)
}

func tokensOf(t *testing.T, e *env, userID string) []*gatehouse.Token {
	t.Helper()
	list, err := e.accounts.UserTokens(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestAccountPageLogins: linked external logins are listed; a provider
// the user may link has a button that goes to the provider (after
// re-authenticating a stale session) and comes back to the page; a login
// is removed, but never the last way in.
func TestAccountPageLogins(t *testing.T) {
	op := testop.Start(t)
	e := newExternalEnv(t, op, []extProvider{
		{id: "corp", rules: account.ExternalProvider{AllowManualLinking: true, AutoCreate: true}},
		{id: "locked", rules: account.ExternalProvider{}},
	})
	e.createUser("bob", "bob@example.com", pwOf("bob"))
	b := e.browser()
	b.pageLogin("bob", pwOf("bob"))
	page, csrfTok := b.accountPage("Linked logins", "No external login is linked", "Link Corp SSO")
	if strings.Contains(page, "Link LOCKED") {
		t.Error("a provider without manual linking has a link button")
	}

	op.NextUser(testop.User{Subject: "bob-at-corp", Email: "bob@corp.example", EmailVerified: true})
	w := b.postForm(accountPath+"/logins/link", csrfTok, url.Values{"provider": {"corp"}})
	if w.Code != 303 || !strings.HasPrefix(w.Header().Get("Location"), op.Issuer()) {
		t.Fatalf("link: %d %v %s", w.Code, w.Header(), w.Body)
	}
	wantSeeOther(t, callback(t, b, op.Authorize(t, nil, w.Header().Get("Location"))), accountPath+"?done=linked")
	page, _ = b.accountPageAt("?done=linked", "The external login was linked.", `<th scope="row">Corp SSO</th><td>bob@corp.example</td>`, "Remove Corp SSO")
	if strings.Contains(page, "Link Corp SSO") {
		t.Error("a linked provider still has a link button")
	}

	// A provider that forbids manual linking: the page says so.
	wantStrictPage(t, b.postForm(accountPath+"/logins/link", csrfTok, url.Values{"provider": {"locked"}}), 400, `class="err" role="alert"`)
	wantStrictPage(t, b.postForm(accountPath+"/logins/link", csrfTok, url.Values{"provider": {"nobody"}}), 404, "No such identity provider.")

	wantSeeOther(t, b.postForm(accountPath+"/logins/unlink", csrfTok, url.Values{"provider": {"corp"}}), accountPath+"?done=unlinked")
	b.accountPageAt("?done=unlinked", "The external login was removed.", "No external login is linked")
	wantStrictPage(t, b.postForm(accountPath+"/logins/unlink", csrfTok, url.Values{"provider": {"corp"}}), 404, `role="alert"`)

	// A stale session re-authenticates, then goes on to the provider.
	e.clock.Advance(11 * time.Minute)
	b.accountPage()
	e.clock.Advance(11 * time.Minute)
	w = b.postForm(accountPath+"/logins/link", csrfTok, url.Values{"provider": {"corp"}})
	wantStrictPage(t, w, 200, "Confirm it is you", `name="then" value="link:corp"`)
	w = b.postForm(accountPath+"/reauthenticate", csrfTok, url.Values{"password": {pwOf("bob")}, "then": {"link:corp"}})
	if w.Code != 303 || !strings.HasPrefix(w.Header().Get("Location"), op.Issuer()) {
		t.Fatalf("link after re-authenticating: %d %v %s", w.Code, w.Header(), w.Body)
	}

	// An external-only user: no password form, and the last way in stays.
	op.NextUser(testop.User{Subject: "carol-at-corp", Email: "carol@corp.example", EmailVerified: true, PreferredUsername: "carol"})
	cb := e.browser()
	if w := externalLogin(t, op, cb, "corp", ""); w.Code != 303 {
		t.Fatalf("carol: %d %s", w.Code, w.Body)
	}
	page, cCSRF := cb.accountPage("carol", `<th scope="row">Corp SSO</th>`)
	if strings.Contains(page, "Change password") {
		t.Error("a user without a password has the password form")
	}
	w = cb.postForm(accountPath+"/logins/unlink", cCSRF, url.Values{"provider": {"corp"}})
	wantStrictPage(t, w, 409, `<p class="err" role="alert">This is the last way left to log in; set a password or link another login first.</p>`, `<th scope="row">Corp SSO</th>`)

	// Stale, with neither a password nor a second factor, carol confirms
	// it is her by logging in at her provider again, which lands her on
	// her account page with a fresh first factor.
	e.clock.Advance(11 * time.Minute)
	cb.accountPage("carol")
	e.clock.Advance(11 * time.Minute)
	w = cb.postForm(accountPath+"/tokens", cCSRF, url.Values{"name": {"ci"}, "expiry": {"30"}})
	again := `href="/auth/external/corp/login?rd=%2Fauth%2Fui%2Faccount"`
	wantStrictPage(t, w, 200, "Confirm it is you", "Or log in again with Corp SSO", again)
	if w := externalLogin(t, op, cb, "corp", "?rd=%2Fauth%2Fui%2Faccount"); w.Code != 303 || w.Header().Get("Location") != accountPath {
		t.Fatalf("logging in again: %d %v", w.Code, w.Header())
	}
	_, cCSRF = cb.accountPage("carol")
	w = cb.postForm(accountPath+"/tokens", cCSRF, url.Values{"name": {"ci"}, "expiry": {"30"}})
	if w.Code != 201 {
		t.Fatalf("token after logging in again: %d %s", w.Code, w.Body)
	}
}

// TestAccountPageDenyLocalLogin: with deny_local_login there is no
// password form.
func TestAccountPageDenyLocalLogin(t *testing.T) {
	op := testop.Start(t)
	e := newExternalEnv(t, op, []extProvider{{id: "corp", rules: account.ExternalProvider{DenyLocalLogin: true, AutoLinkVerifiedEmail: true}}},
		func(*httpapi.Config, *account.Config, *session.Config) {})
	e.createUser("ada", "ada@example.org", pwOf("ada"))
	op.NextUser(testop.User{Subject: "ada-at-corp", Email: "ada@example.org", EmailVerified: true})
	b := e.browser()
	if w := externalLogin(t, op, b, "corp", ""); w.Code != 303 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	page, csrfTok := b.accountPage("ada@example.org")
	if strings.Contains(page, "Change password") || strings.Contains(page, "current_password") {
		t.Error("the password form is shown with deny_local_login")
	}
	wantProblem(t, b.postForm(accountPath+"/password", csrfTok, url.Values{"current_password": {pwOf("ada")}, "new_password": {"a whole new passphrase 77"}}), 403, gatehouse.CodeLocalLoginDisabled)
}

// TestAccountPageReauthenticateWithCode: a user without a password
// confirms a stale session with a TOTP code instead, then goes on.
func TestAccountPageReauthenticateWithCode(t *testing.T) {
	e := newEnv(t)
	b, _, _, key, _ := e.passwordless("pia", true)
	page, csrfTok := b.accountPage("Two-factor authentication</dt><dd>On")
	if strings.Contains(page, "Change password") {
		t.Error("a user without a password has the password form")
	}
	e.clock.Advance(staleAfter)
	w := b.postForm(accountPath+"/tokens", csrfTok, url.Values{"name": {"ci"}, "expiry": {"7"}})
	wantStrictPage(t, w, 200, "Confirm it is you", `<label for="code">`, `<option value="totp">`)
	if strings.Contains(w.Body.String(), `<label for="password">`) {
		t.Error("a user without a password is asked for one")
	}
	w = b.postForm(accountPath+"/reauthenticate", csrfTok, url.Values{"provider": {"totp"}, "code": {"000000"}})
	wantStrictPage(t, w, 401, `aria-invalid="true" aria-describedby="code-error"`, `<p id="code-error" class="err" role="alert">`)
	code := otp.TOTP{Key: key}.At(e.clock.Now())
	wantSeeOther(t, b.postForm(accountPath+"/reauthenticate", csrfTok, url.Values{"provider": {"totp"}, "code": {code}}), accountPath+"?done=reauthenticated")
	_, csrfTok = b.accountPage()
	wantStrictPage(t, b.postForm(accountPath+"/tokens", csrfTok, url.Values{"name": {"ci"}, "expiry": {"7"}}), 201, "2026-03-")
}

// TestAccountPageLogoutSignsOutAtProvider: the log-out button of a
// session an external login started (its provider with an
// end_session_endpoint) ends the session, then sends the browser to the
// provider's sign-out.
func TestAccountPageLogoutSignsOutAtProvider(t *testing.T) {
	op := testop.Start(t)
	op.EndSessionEndpoint(true)
	e := newExternalEnv(t, op, nil)
	ada := e.createUser("ada", "ada@example.org", pwOf("ada"))
	e.link("corp", testop.DefaultUser.Subject, ada)
	b := e.browser()
	if w := externalLogin(t, op, b, "corp", ""); w.Code != 303 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	_, csrfTok := b.accountPage("ada@example.org")
	w := b.postForm(accountPath+"/logout", csrfTok, nil)
	loc := w.Header().Get("Location")
	if w.Code != 303 || !strings.HasPrefix(loc, op.Issuer()) || mustQuery(t, loc).Get("id_token_hint") == "" {
		t.Fatalf("logout: %d to %q", w.Code, loc)
	}
	if b.cookies["gh_session"] != nil {
		t.Error("the session cookie was not cleared")
	}
	wantSeeOther(t, b.do("GET", accountPath, ""), loginAgain)
}

var enrolSecret = regexp.MustCompile(`<code class="secret">([A-Z2-7=]+)</code>`)

// TestAccountPageEnrolment: a user who must enrol gets, with the partial
// session their password gave, only the enrolment: the key as a QR code
// and as text in the POST's own answer, the app's code, the recovery
// codes once, and a full session afterwards.
func TestAccountPageEnrolment(t *testing.T) {
	e := newEnv(t)
	if err := e.accounts.CreateGroup(context.Background(), accountActor(), &gatehouse.Group{Name: "ops", RequireTwoFactor: true}); err != nil {
		t.Fatal(err)
	}
	e.createUser("olga", "olga@example.com", pwOf("olga"), "ops")
	b := e.browser()
	if w := b.login("olga", pwOf("olga")); w.Code != 200 || !strings.Contains(w.Body.String(), "two_factor_enrollment_required") {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	w := b.do("GET", accountPath, "")
	wantStrictPage(t, w, 200, "<title>Set up two-factor authentication</title>", "Set up an authenticator app", "Log out")
	if strings.Contains(w.Body.String(), "Active sessions") || strings.Contains(w.Body.String(), "API tokens") {
		t.Fatal("a partial session sees the whole account page")
	}
	csrfTok := formCSRF(t, w.Body.String())
	// The rest of the account stays closed to it.
	wantSeeOther(t, b.postForm(accountPath+"/tokens", csrfTok, url.Values{"name": {"x"}, "expiry": {"7"}}), loginAgain)
	wantProblem(t, b.postForm(accountPath+"/2fa/totp", "", nil), 403, gatehouse.CodeCSRFFailed)
	wantProblem(t, b.postForm(accountPath+"/2fa/totp", csrfTok, nil, header("Sec-Fetch-Site", "cross-site")), 403, gatehouse.CodeCSRFFailed)

	w = b.postForm(accountPath+"/2fa/totp", csrfTok, nil)
	wantStrictPage(t, w, 200, `<table class="qr" role="img"`, `<td class="on">`, `<label for="code">Code from the app</label>`)
	m := enrolSecret.FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("no key on the page:\n%s", w.Body)
	}
	key, err := otp.DecodeKey(m[1])
	if err != nil {
		t.Fatal(err)
	}
	w = b.postForm(accountPath+"/2fa/totp/confirm", csrfTok, url.Values{"code": {"000000"}})
	wantStrictPage(t, w, 422, `aria-invalid="true" aria-describedby="code-error"`)
	if strings.Contains(w.Body.String(), m[1]) {
		t.Error("the key is shown again after a wrong code")
	}
	w = b.postForm(accountPath+"/2fa/totp/confirm", csrfTok, url.Values{"code": {otp.TOTP{Key: key}.At(e.clock.Now())}})
	wantStrictPage(t, w, 200, "Two-factor authentication is on.", `<pre class="codes">`, "Continue to your account")
	// A full session now, in a new cookie.
	b.accountPage("olga", "Two-factor authentication</dt><dd>On", "Active sessions")
	st, err := e.accounts.TwoFactorStatusOf(context.Background(), &gatehouse.User{ID: userID(t, e, "olga")})
	if err != nil || !st.Enabled || st.RecoveryCodesRemaining == 0 {
		t.Fatalf("two-factor status %+v %v", st, err)
	}

	// A partial session logs out from the enrolment page too.
	e.createUser("oleg", "oleg@example.com", pwOf("oleg"), "ops")
	ob := e.browser()
	if w := ob.login("oleg", pwOf("oleg")); w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	_, oCSRF := ob.accountPageAt("", "Set up an authenticator app")
	wantSeeOther(t, ob.postForm(accountPath+"/logout", oCSRF, nil), "/auth/ui/login")
	wantSeeOther(t, ob.do("GET", accountPath, ""), loginAgain)
	wantSeeOther(t, ob.postForm(accountPath+"/2fa/totp", oCSRF, nil), loginAgain)
}
