package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/otp"
)

// passwordless returns a signed-in browser of a new user who has no local
// password (as an external login or a passkey will make), with TOTP
// enrolled when totp is set: the user is made with a password, signs in,
// enrols, and then loses the password in the store. It also returns the
// CSRF token, the TOTP key and the recovery codes.
func (e *env) passwordless(name string, totp bool) (*browser, string, *gatehouse.User, []byte, []string) {
	e.t.Helper()
	b, csrfTok, u := e.userBrowser(name)
	var key []byte
	var codes []string
	if totp {
		key, codes = e.enrolTOTP(b, csrfTok)
	}
	if err := e.store.SetPasswordHash(context.Background(), u.ID, u.PasswordHash, ""); err != nil {
		e.t.Fatal(err)
	}
	return b, csrfTok, u, key, codes
}

// reauthCodeBody is a re-authentication by a second factor's code.
func reauthCodeBody(provider, code string) string { return verifyBody(provider, code) }

// TestReauthenticateWithoutPassword: a user without a local password
// re-authenticates with a TOTP code or a recovery code, checked as at
// login: the session is rekeyed and sensitive changes work; the same TOTP
// code (its time step) and the same recovery code work once; a wrong code
// is a failed login, counted until 429 and audited.
func TestReauthenticateWithoutPassword(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b, csrfTok, u, key, codes := e.passwordless("pia", true)
	e.clock.Advance(staleAfter)
	before := sessionOf(t, b)
	csrf := header("X-CSRF-Token", csrfTok)
	wantProblem(t, b.do("POST", "/auth/tokens", `{"name":"ci"}`, csrf), 403, gatehouse.CodeReauthenticationRequired)

	// The right TOTP code: a new cookie, id and CSRF token, recent now.
	code := otp.TOTP{Key: key}.At(e.clock.Now())
	oldCookie := b.cookies["gh_session"].Value
	w := b.do("POST", "/auth/session/reauthenticate", reauthCodeBody("totp", code), csrf)
	if w.Code != 200 {
		t.Fatalf("reauthenticate with TOTP: %d %s", w.Code, w.Body)
	}
	var re sessionAnswer
	decode(t, w, &re)
	if b.cookies["gh_session"].Value == oldCookie || re.Session.ID == before.Session.ID || re.CSRFToken == csrfTok {
		t.Fatalf("re-authenticating with TOTP did not rekey the session: %s", w.Body)
	}
	if !strings.Contains(w.Body.String(), `"username":"pia"`) {
		t.Errorf("answer is not like GET /session: %s", w.Body)
	}
	csrf = header("X-CSRF-Token", re.CSRFToken)
	if w := b.do("POST", "/auth/tokens", `{"name":"ci"}`, csrf); w.Code != 201 {
		t.Fatalf("token after re-authenticating with TOTP: %d %s", w.Code, w.Body)
	}
	events, _, _ := e.accounts.ListAudit(ctx, accountAuditKind("session.reauthenticated"))
	if len(events) != 1 || events[0].TargetID != re.Session.ID || events[0].Detail["provider"] != "totp" {
		t.Errorf("session.reauthenticated events = %+v, want one on %q with provider totp", events, re.Session.ID)
	}

	// The same code again, within its step: a replay, refused and counted.
	e.clock.Advance(staleAfter)
	wantProblem(t, b.do("POST", "/auth/tokens", `{"name":"later"}`, csrf), 403, gatehouse.CodeReauthenticationRequired)
	stepCode := func() string { return otp.TOTP{Key: key}.At(e.clock.Now()) }
	fresh := stepCode()
	w = b.do("POST", "/auth/session/reauthenticate", reauthCodeBody("totp", fresh), csrf)
	if w.Code != 200 {
		t.Fatalf("reauthenticate with a later TOTP code: %d %s", w.Code, w.Body)
	}
	decode(t, w, &re)
	csrf = header("X-CSRF-Token", re.CSRFToken)
	wantProblem(t, b.do("POST", "/auth/session/reauthenticate", reauthCodeBody("totp", fresh), csrf), 401, gatehouse.CodeInvalidCredentials)
	if replays, _, _ := e.accounts.ListAudit(ctx, accountAuditKind("two_factor.replay")); len(replays) != 1 {
		t.Errorf("%d two_factor.replay events, want 1", len(replays))
	}

	// A recovery code works once.
	w = b.do("POST", "/auth/session/reauthenticate", reauthCodeBody("recovery_code", codes[0]), csrf)
	if w.Code != 200 {
		t.Fatalf("reauthenticate with a recovery code: %d %s", w.Code, w.Body)
	}
	decode(t, w, &re)
	csrf = header("X-CSRF-Token", re.CSRFToken)
	if tf, err := e.store.TwoFactor(ctx, u.ID); err != nil || len(tf.RecoveryCodes) != 9 {
		t.Fatalf("recovery codes left: %v, %v; want 9", tf, err)
	}
	wantProblem(t, b.do("POST", "/auth/session/reauthenticate", reauthCodeBody("recovery_code", codes[0]), csrf), 401, gatehouse.CodeInvalidCredentials)

	// The recovery code's success forgot the replay; five wrong codes
	// (the used recovery code was one) lock the account's budget: then
	// even the right code waits.
	for range 4 {
		wantProblem(t, b.do("POST", "/auth/session/reauthenticate", reauthCodeBody("totp", "wrong!"), csrf), 401, gatehouse.CodeInvalidCredentials)
	}
	e.clock.Advance(30 * time.Second) // the next TOTP step
	w = b.do("POST", "/auth/session/reauthenticate", reauthCodeBody("totp", stepCode()), csrf)
	wantProblem(t, w, 429, gatehouse.CodeTooManyAttempts)
	if w.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	failed, _, _ := e.accounts.ListAudit(ctx, accountAuditKind("login.failed"))
	n := 0
	for _, ev := range failed {
		if ev.TargetID == u.ID && ev.Detail["reason"] == "code_confirmation" {
			n++
		}
	}
	if n != 6 {
		t.Errorf("%d login.failed events with reason code_confirmation for pia, want 6", n)
	}
	// The session is untouched by the failures.
	if w := b.do("GET", "/auth/session", ""); w.Code != 200 {
		t.Errorf("session after failed re-authentications: %d", w.Code)
	}
}

// TestReauthenticateCodeNeedsNoPassword: a second factor's code never
// stands in for a password the user has (a stolen session and a phished
// TOTP code must not do what the password does): 422 validation, the code
// not looked at (its step still unused), nothing counted, the session not
// refreshed. Malformed requests are 422 too; a user with neither a
// password nor a second factor cannot re-authenticate at all.
func TestReauthenticateCodeNeedsNoPassword(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b, csrfTok, u := e.userBrowser("tara")
	key, codes := e.enrolTOTP(b, csrfTok)
	e.clock.Advance(staleAfter)
	csrf := header("X-CSRF-Token", csrfTok)
	tfBefore, err := e.store.TwoFactor(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	code := otp.TOTP{Key: key}.At(e.clock.Now())
	for range 6 {
		p := wantProblem(t, b.do("POST", "/auth/session/reauthenticate", reauthCodeBody("totp", code), csrf), 422, gatehouse.CodeValidation)
		if !strings.Contains(string(p.Errors), `"password"`) {
			t.Fatalf("errors = %s, want the password asked for", p.Errors)
		}
		wantProblem(t, b.do("POST", "/auth/session/reauthenticate", reauthCodeBody("recovery_code", codes[0]), csrf), 422, gatehouse.CodeValidation)
	}
	tfAfter, err := e.store.TwoFactor(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tfAfter.TOTPLastStep != tfBefore.TOTPLastStep || len(tfAfter.RecoveryCodes) != 10 {
		t.Errorf("a refused code was used: last step %d → %d, %d recovery codes", tfBefore.TOTPLastStep, tfAfter.TOTPLastStep, len(tfAfter.RecoveryCodes))
	}
	wantProblem(t, b.do("POST", "/auth/tokens", `{"name":"thief"}`, csrf), 403, gatehouse.CodeReauthenticationRequired)
	if failed, _, _ := e.accounts.ListAudit(ctx, accountAuditKind("login.failed")); len(failed) != 0 {
		t.Errorf("refused codes audited as failures: %+v", failed)
	}

	// The shape: exactly one of a password or a provider with its code,
	// and a provider that needs no sending step.
	both, _ := json.Marshal(map[string]string{"password": pwOf("tara"), "provider": "totp", "code": code})
	for _, body := range []string{
		string(both),
		`{"password":"` + pwOf("tara") + `","code":"` + code + `"}`,
		`{}`,
		`{"provider":"totp"}`,
		`{"code":"` + code + `"}`,
		reauthCodeBody("email", "123456"),
		reauthCodeBody("sms", "123456"),
		reauthCodeBody("carrier pigeon", "123456"),
	} {
		wantProblem(t, b.do("POST", "/auth/session/reauthenticate", body, csrf), 422, gatehouse.CodeValidation)
	}
	// Six refused codes and eight malformed requests counted nothing: the
	// password still works (no 429), and the code's step is still unused
	// for the login's second step.
	w := b.do("POST", "/auth/session/reauthenticate", reauthBody(pwOf("tara")), csrf)
	if w.Code != 200 {
		t.Fatalf("reauthenticate with the password: %d %s", w.Code, w.Body)
	}
	p, _ := e.passwordStep("tara", pwOf("tara"))
	if w := p.do("POST", "/auth/2fa/verify", verifyBody("totp", code)); w.Code != 200 {
		t.Errorf("login with the code refused at re-authentication: %d %s", w.Code, w.Body)
	}

	// Neither a password nor a second factor: nothing can prove it.
	nobody, nCSRF, _, _, _ := e.passwordless("nora", false)
	for _, body := range []string{reauthCodeBody("totp", "123456"), reauthCodeBody("recovery_code", "abcd-efgh"), reauthBody("anything")} {
		wantProblem(t, nobody.do("POST", "/auth/session/reauthenticate", body, header("X-CSRF-Token", nCSRF)), 401, gatehouse.CodeInvalidCredentials)
	}
}
