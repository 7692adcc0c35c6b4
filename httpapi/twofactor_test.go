package httpapi_test

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/otp"
	"github.com/gatehouse/gatehouse/session"
)

// enrolTOTP turns two-factor on for the user logged in in b and returns the
// TOTP key and the recovery codes.
func (e *env) enrolTOTP(b *browser, csrfTok string) ([]byte, []string) {
	e.t.Helper()
	w := b.do("POST", "/auth/2fa/totp", "", header("X-CSRF-Token", csrfTok))
	if w.Code != 200 {
		e.t.Fatalf("enrol: %d %s", w.Code, w.Body)
	}
	var en struct{ Secret, OtpauthURL, QRPNG string }
	decode(e.t, w, &en)
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(en.Secret)
	if err != nil || len(key) < 16 || !strings.HasPrefix(en.OtpauthURL, "otpauth://totp/") || len(en.QRPNG) < 100 {
		e.t.Fatalf("enrolment %+v: %v", en, err)
	}
	code := otp.TOTP{Key: key}.At(e.clock.Now())
	w = b.do("POST", "/auth/2fa/totp/confirm", `{"code":"`+code+`"}`, header("X-CSRF-Token", csrfTok))
	if w.Code != 200 {
		e.t.Fatalf("confirm: %d %s", w.Code, w.Body)
	}
	var res struct{ RecoveryCodes []string }
	decode(e.t, w, &res)
	if len(res.RecoveryCodes) != 10 {
		e.t.Fatalf("recovery codes %v", res.RecoveryCodes)
	}
	return key, res.RecoveryCodes
}

// passwordStep logs in with a password and expects the second step.
func (e *env) passwordStep(name, pw string) (*browser, []string) {
	e.t.Helper()
	b := e.browser()
	w := b.login(name, pw)
	var res struct {
		State     string
		Providers []string
	}
	decode(e.t, w, &res)
	if w.Code != 200 || res.State != "two_factor_required" {
		e.t.Fatalf("password step: %d %s", w.Code, w.Body)
	}
	if b.cookies["gh_session"] != nil || b.cookies["gh_pending"] == nil {
		e.t.Fatalf("cookies after the password step: %v", b.cookies)
	}
	return b, res.Providers
}

func verifyBody(provider, code string) string {
	b, _ := json.Marshal(map[string]any{"provider": provider, "code": code})
	return string(b)
}

func TestTwoFactorTOTP(t *testing.T) {
	e := newEnv(t)
	b, csrfTok, _ := e.userBrowser("tara")
	// Confirming needs a right code.
	b.do("POST", "/auth/2fa/totp", "", header("X-CSRF-Token", csrfTok))
	wantProblem(t, b.do("POST", "/auth/2fa/totp/confirm", `{"code":"000000"}`, header("X-CSRF-Token", csrfTok)), 401, gatehouse.CodeInvalidCode)
	wantProblem(t, b.do("POST", "/auth/2fa/totp", ""), 403, gatehouse.CodeCSRFFailed)
	key, recovery := e.enrolTOTP(b, csrfTok)
	if w := b.do("GET", "/auth/session", ""); !strings.Contains(w.Body.String(), `"twoFactorEnabled":true`) {
		t.Errorf("session after enrolment: %s", w.Body)
	}
	wantProblem(t, b.do("POST", "/auth/2fa/totp", "", header("X-CSRF-Token", csrfTok)), 409, gatehouse.CodeConflict)
	if e.mailer.count("tara@example.com", "two_factor_added") != 1 {
		t.Error("no mail about the new factor")
	}
	// The secret is sealed at rest.
	tf, err := e.store.TwoFactor(context.Background(), e.userID("tara"))
	if err != nil || len(tf.TOTPSecret) == 0 || strings.Contains(string(tf.TOTPSecret), string(key)) {
		t.Fatalf("stored 2FA %v %v", tf, err)
	}

	e.clock.Advance(time.Minute) // the enrolment used the current step
	p, providers := e.passwordStep("tara", pwOf("tara"))
	if strings.Join(providers, ",") != "totp,email,recovery_code" {
		t.Errorf("providers = %v", providers)
	}
	var listed []string
	decode(t, p.do("GET", "/auth/2fa/providers", ""), &listed)
	if strings.Join(listed, ",") != strings.Join(providers, ",") {
		t.Errorf("GET providers = %v", listed)
	}
	wantProblem(t, e.browser().do("GET", "/auth/2fa/providers", ""), 404, gatehouse.CodeNoPendingLogin)
	// The pending login is not a session.
	wantProblem(t, p.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
	code := otp.TOTP{Key: key}.At(e.clock.Now())
	wantProblem(t, p.do("POST", "/auth/2fa/verify", verifyBody("totp", "123456")), 401, gatehouse.CodeInvalidCode)
	pendingCopy := p.clone() // a copy of the pending cookie, taken before the second factor
	pending, err := e.store.PendingLoginByTokenHash(context.Background(), session.HashToken(p.cookies["gh_pending"].Value))
	if err != nil {
		t.Fatalf("pending login: %v", err)
	}
	w := p.do("POST", "/auth/2fa/verify", verifyBody("totp", code))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"twoFactor":true`) {
		t.Fatalf("verify: %d %s", w.Code, w.Body)
	}
	if p.cookies["gh_session"] == nil || p.cookies["gh_pending"] != nil {
		t.Errorf("cookies after verify: %v", p.cookies)
	}
	// Proving the second factor starts a brand-new session: its id and
	// secret are none of the pending login's, and the pending cookie is
	// worth nothing after (no session fixation across the second step).
	var verified struct {
		Session struct{ ID string }
	}
	decode(t, w, &verified)
	if verified.Session.ID == "" || verified.Session.ID == pending.ID ||
		p.cookies["gh_session"].Value == pendingCopy.cookies["gh_pending"].Value {
		t.Errorf("session after verify (id %q) reuses the pending login %q or its secret", verified.Session.ID, pending.ID)
	}
	wantProblem(t, pendingCopy.do("GET", "/auth/2fa/providers", ""), 404, gatehouse.CodeNoPendingLogin)
	wantProblem(t, pendingCopy.do("POST", "/auth/2fa/verify", verifyBody("recovery_code", recovery[1])), 404, gatehouse.CodeNoPendingLogin)
	wantProblem(t, pendingCopy.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
	// The same code again, in a new login within its period, is a replay.
	p2, _ := e.passwordStep("tara", pwOf("tara"))
	wantProblem(t, p2.do("POST", "/auth/2fa/verify", verifyBody("totp", code)), 401, gatehouse.CodeInvalidCode)
	// A recovery code works once.
	if w := p2.do("POST", "/auth/2fa/verify", verifyBody("recovery_code", strings.ToUpper(recovery[0]))); w.Code != 200 {
		t.Fatalf("recovery code: %d %s", w.Code, w.Body)
	}
	p3, _ := e.passwordStep("tara", pwOf("tara"))
	wantProblem(t, p3.do("POST", "/auth/2fa/verify", verifyBody("recovery_code", recovery[0])), 401, gatehouse.CodeInvalidCode)
	events, _, _ := e.accounts.ListAudit(context.Background(), accountAuditKind("two_factor.replay"))
	if len(events) == 0 {
		t.Error("the replay was not audited")
	}
	// Basic auth is refused for a user with two-factor, like a wrong password.
	wantProblem(t, p3.do("POST", "/auth/2fa/verify", verifyBody("nope", "1")), 422, gatehouse.CodeValidation)
}

func TestTwoFactorBoundToItsUser(t *testing.T) {
	e := newEnv(t)
	ab, aCSRF, _ := e.userBrowser("abel")
	bb, bCSRF, _ := e.userBrowser("bryn")
	e.enrolTOTP(ab, aCSRF)
	bKey, _ := e.enrolTOTP(bb, bCSRF)
	e.clock.Advance(time.Minute)
	p, _ := e.passwordStep("abel", pwOf("abel"))
	// Abel's pending login with Bryn's valid code fails.
	wantProblem(t, p.do("POST", "/auth/2fa/verify", verifyBody("totp", otp.TOTP{Key: bKey}.At(e.clock.Now()))), 401, gatehouse.CodeInvalidCode)
	// The pending login expires after five minutes.
	e.clock.Advance(5*time.Minute + time.Second)
	wantProblem(t, p.do("POST", "/auth/2fa/verify", verifyBody("totp", "000000")), 404, gatehouse.CodeNoPendingLogin)
}

func TestTwoFactorWrongCodesLock(t *testing.T) {
	e := newEnv(t)
	b, csrfTok, _ := e.userBrowser("lars")
	key, _ := e.enrolTOTP(b, csrfTok)
	e.clock.Advance(time.Minute)
	p, _ := e.passwordStep("lars", pwOf("lars"))
	for range 4 {
		wantProblem(t, p.do("POST", "/auth/2fa/verify", verifyBody("totp", "000000")), 401, gatehouse.CodeInvalidCode)
	}
	// The fifth wrong code ends the pending login and spends the account's
	// budget for codes from unknown browsers: the next second step waits.
	wantProblem(t, p.do("POST", "/auth/2fa/verify", verifyBody("totp", "000000")), 401, gatehouse.CodeInvalidCode)
	wantProblem(t, p.do("POST", "/auth/2fa/verify", verifyBody("totp", otp.TOTP{Key: key}.At(e.clock.Now()))), 404, gatehouse.CodeNoPendingLogin)
	p, _ = e.passwordStep("lars", pwOf("lars"))
	wantProblem(t, p.do("POST", "/auth/2fa/verify", verifyBody("totp", otp.TOTP{Key: key}.At(e.clock.Now()))), 429, gatehouse.CodeTooManyAttempts)
	// The browser Lars enrolled from is known: it is not refused.
	b.login("lars", pwOf("lars"))
	w := b.do("POST", "/auth/2fa/verify", verifyBody("totp", otp.TOTP{Key: key}.At(e.clock.Now().Add(30*time.Second))))
	if w.Code != 200 {
		t.Errorf("second step from the known browser: %d %s", w.Code, w.Body)
	}
}

func TestTwoFactorEmailAndSMS(t *testing.T) {
	e := newEnv(t)
	b, csrfTok, _ := e.userBrowser("edda")
	e.enrolTOTP(b, csrfTok)
	wantProblem(t, b.do("PUT", "/auth/2fa/phone", `{"phone":"+49 151 2345 6789","password":"wrong"}`, header("X-CSRF-Token", csrfTok)), 401, gatehouse.CodeInvalidCredentials)
	wantProblem(t, b.do("PUT", "/auth/2fa/phone", `{"phone":"12","password":"`+pwOf("edda")+`"}`, header("X-CSRF-Token", csrfTok)), 422, gatehouse.CodeValidation)
	if w := b.do("PUT", "/auth/2fa/phone", `{"phone":"+49 151 2345 6789","password":"`+pwOf("edda")+`"}`, header("X-CSRF-Token", csrfTok)); w.Code != 204 {
		t.Fatalf("set phone: %d %s", w.Code, w.Body)
	}

	p, providers := e.passwordStep("edda", pwOf("edda"))
	if strings.Join(providers, ",") != "totp,email,sms,recovery_code" {
		t.Errorf("providers = %v", providers)
	}
	if w := p.do("POST", "/auth/2fa/send", `{"provider":"email"}`); w.Code != 204 {
		t.Fatalf("send email: %d %s", w.Code, w.Body)
	}
	code := e.mailer.last(t, "edda@example.com", "two_factor_code").Data.Code
	if len(code) != 6 {
		t.Fatalf("code %q", code)
	}
	// Too soon for another code.
	wantProblem(t, p.do("POST", "/auth/2fa/send", `{"provider":"email"}`), 429, gatehouse.CodeTooManyAttempts)
	// An email code is not an SMS code.
	wantProblem(t, p.do("POST", "/auth/2fa/verify", verifyBody("sms", code)), 401, gatehouse.CodeInvalidCode)
	if w := p.do("POST", "/auth/2fa/verify", verifyBody("email", code)); w.Code != 200 {
		t.Fatalf("verify email code: %d %s", w.Code, w.Body)
	}

	p, _ = e.passwordStep("edda", pwOf("edda"))
	if w := p.do("POST", "/auth/2fa/send", `{"provider":"sms"}`); w.Code != 204 {
		t.Fatalf("send sms: %d %s", w.Code, w.Body)
	}
	msg := e.sms.last(t)
	if msg.To != "+4915123456789" {
		t.Errorf("SMS to %q", msg.To)
	}
	smsCode := ""
	for _, f := range strings.Fields(msg.Body) {
		if len(f) == 6 && strings.Trim(f, "0123456789") == "" {
			smsCode = f
		}
	}
	// Codes expire after ten minutes.
	e.clock.Advance(4 * time.Minute)
	if w := p.do("POST", "/auth/2fa/verify", verifyBody("sms", smsCode)); w.Code != 200 {
		t.Fatalf("verify sms code: %d %s", w.Code, w.Body)
	}
	wantProblem(t, e.browser().do("POST", "/auth/2fa/send", `{"provider":"sms"}`), 404, gatehouse.CodeNoPendingLogin)
}

func TestTwoFactorOffAndReset(t *testing.T) {
	e := newEnv(t)
	b, csrfTok, u := e.userBrowser("olaf")
	_, recovery := e.enrolTOTP(b, csrfTok)
	// New recovery codes void the old ones.
	wantProblem(t, b.do("POST", "/auth/2fa/recovery-codes", `{"password":"nope"}`, header("X-CSRF-Token", csrfTok)), 401, gatehouse.CodeInvalidCredentials)
	w := b.do("POST", "/auth/2fa/recovery-codes", `{"password":"`+pwOf("olaf")+`"}`, header("X-CSRF-Token", csrfTok))
	var res struct{ RecoveryCodes []string }
	decode(t, w, &res)
	if w.Code != 200 || len(res.RecoveryCodes) != 10 {
		t.Fatalf("new codes: %d %s", w.Code, w.Body)
	}
	p, _ := e.passwordStep("olaf", pwOf("olaf"))
	wantProblem(t, p.do("POST", "/auth/2fa/verify", verifyBody("recovery_code", recovery[1])), 401, gatehouse.CodeInvalidCode)
	if w := p.do("POST", "/auth/2fa/verify", verifyBody("recovery_code", res.RecoveryCodes[1])); w.Code != 200 {
		t.Fatalf("new recovery code: %d", w.Code)
	}

	// A password reset does not bypass the second factor.
	link, _ := e.accounts.IssueResetLink(context.Background(), u, "")
	id, tok := linkParts(t, link, "reset")
	if w := e.browser().do("POST", "/auth/password/reset", resetBody(id, tok, "a reset pass phrase here")); w.Code != 204 {
		t.Fatalf("reset: %d", w.Code)
	}
	e.passwordStep("olaf", "a reset pass phrase here")

	// Turning it off needs the password.
	b, csrfTok = e.userLogin("olaf", "a reset pass phrase here", res.RecoveryCodes[2])
	wantProblem(t, b.do("DELETE", "/auth/2fa/totp", `{"password":"wrong"}`, header("X-CSRF-Token", csrfTok)), 401, gatehouse.CodeInvalidCredentials)
	if w := b.do("DELETE", "/auth/2fa/totp", `{"password":"a reset pass phrase here"}`, header("X-CSRF-Token", csrfTok)); w.Code != 204 {
		t.Fatalf("disable: %d %s", w.Code, w.Body)
	}
	if w := e.browser().login("olaf", "a reset pass phrase here"); !strings.Contains(w.Body.String(), `"state":"authenticated"`) {
		t.Errorf("login after disabling: %s", w.Body)
	}
	// An administrator can reset a user's two-factor.
	b2, c2, _ := e.userBrowser("greta")
	e.enrolTOTP(b2, c2)
	admin, aCSRF := e.loggedIn()
	if w := admin.do("POST", mgmt+"/users/"+e.userID("greta")+"/reset-two-factor", "", header("X-CSRF-Token", aCSRF)); w.Code != 204 {
		t.Fatalf("admin reset: %d", w.Code)
	}
	if w := e.browser().login("greta", pwOf("greta")); !strings.Contains(w.Body.String(), `"state":"authenticated"`) {
		t.Errorf("login after admin reset: %s", w.Body)
	}
	if e.mailer.count("greta@example.com", "two_factor_removed") != 1 {
		t.Error("no mail about the removed factor")
	}
}

func TestBasicRefusedWithTwoFactor(t *testing.T) {
	e := newEnv(t, func(h *httpapiConfig, _ *accountConfig, _ *sessionConfig) { h.BasicAuth.Enabled = true })
	b, csrfTok, _ := e.userBrowser("bea")
	b2 := e.browser()
	b2.https = true
	if w := b2.do("GET", "/auth/sessions", "", basicHeader("bea", pwOf("bea"))); w.Code != 200 {
		t.Fatalf("basic before 2FA: %d", w.Code)
	}
	e.enrolTOTP(b, csrfTok)
	b3 := e.browser()
	b3.https = true
	wantProblem(t, b3.do("GET", "/auth/sessions", "", basicHeader("bea", pwOf("bea"))), 401, gatehouse.CodeInvalidCredentials)
}

func TestGroupRequiresTwoFactor(t *testing.T) {
	e := newEnv(t)
	admin, aCSRF := e.loggedIn()
	if w := admin.do("POST", mgmt+"/groups", `{"name":"ops","permissions":["section:users"],"requireTwoFactor":true}`, header("X-CSRF-Token", aCSRF)); w.Code != 201 || !strings.Contains(w.Body.String(), `"requireTwoFactor":true`) {
		t.Fatalf("group: %d %s", w.Code, w.Body)
	}
	e.createUser("nina", "nina@example.com", pwOf("nina"), "ops")
	b := e.browser()
	w := b.login("nina", pwOf("nina"))
	var res struct{ State, CSRFToken string }
	decode(t, w, &res)
	if w.Code != 200 || res.State != "two_factor_enrollment_required" || res.CSRFToken == "" {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	// The partial session allows enrolment and logout only.
	wantProblem(t, b.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
	wantProblem(t, b.do("GET", mgmt+"/users", ""), 401, gatehouse.CodeUnauthenticated)
	wantProblem(t, b.do("POST", "/auth/2fa/totp", ""), 403, gatehouse.CodeCSRFFailed)
	e.enrolTOTP(b, res.CSRFToken)
	// Confirming turned the partial session into a full, two-factor one.
	w = b.do("GET", "/auth/session", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"twoFactor":true`) {
		t.Fatalf("after enrolment: %d %s", w.Code, w.Body)
	}
	if w := b.do("GET", mgmt+"/users", ""); w.Code != 200 {
		t.Errorf("management after enrolment: %d", w.Code)
	}
	// It cannot be turned off while the group requires it.
	var cur struct{ CSRFToken string }
	decode(t, b.do("GET", "/auth/session", ""), &cur)
	wantProblem(t, b.do("DELETE", "/auth/2fa/totp", `{"password":"`+pwOf("nina")+`"}`, header("X-CSRF-Token", cur.CSRFToken)), 409, gatehouse.CodeConflict)
	// The next login asks for the second factor, not enrolment.
	e.passwordStep("nina", pwOf("nina"))
	// Logout ends a partial session too.
	e.createUser("omar", "omar@example.com", pwOf("omar"), "ops")
	o := e.browser()
	decode(t, o.login("omar", pwOf("omar")), &res)
	if w := o.do("DELETE", "/auth/session", "", header("X-CSRF-Token", res.CSRFToken)); w.Code != 204 {
		t.Fatalf("logout of a partial session: %d", w.Code)
	}
	wantProblem(t, o.do("POST", "/auth/2fa/totp", "", header("X-CSRF-Token", res.CSRFToken)), 401, gatehouse.CodeUnauthenticated)
}

func TestRememberDevice(t *testing.T) {
	e := newEnv(t)
	b, csrfTok, _ := e.userBrowser("rhea")
	key, _ := e.enrolTOTP(b, csrfTok)
	e.clock.Advance(time.Minute)
	p, _ := e.passwordStep("rhea", pwOf("rhea"))
	body, _ := json.Marshal(map[string]any{"provider": "totp", "code": otp.TOTP{Key: key}.At(e.clock.Now()), "rememberDevice": true})
	if w := p.do("POST", "/auth/2fa/verify", string(body)); w.Code != 200 {
		t.Fatalf("verify: %d %s", w.Code, w.Body)
	}
	dev := p.cookies["gh_device"]
	if dev == nil || !dev.HttpOnly || dev.MaxAge < 29*24*3600 {
		t.Fatalf("device cookie %+v", dev)
	}
	var cur struct {
		CSRFToken string
		Session   struct{ ID string }
	}
	decode(t, p.do("GET", "/auth/session", ""), &cur)

	// The same browser logs in with the password alone now, two-factor marked.
	w := p.login("rhea", pwOf("rhea"))
	if !strings.Contains(w.Body.String(), `"state":"authenticated"`) || !strings.Contains(w.Body.String(), `"twoFactor":true`) {
		t.Fatalf("login on a remembered device: %s", w.Body)
	}
	// Another browser still needs the second factor; a device cookie of
	// another user does not help.
	e.passwordStep("rhea", pwOf("rhea"))
	sb, sCSRF, _ := e.userBrowser("saul")
	e.enrolTOTP(sb, sCSRF)
	thief := e.browser()
	thief.cookies["gh_device"] = dev
	if w := thief.login("saul", pwOf("saul")); !strings.Contains(w.Body.String(), `"state":"two_factor_required"`) {
		t.Errorf("rhea's device cookie skipped saul's second factor: %s", w.Body)
	}

	// Ending the session the device is bound to, from another browser's
	// session list, forgets the device.
	var mine struct {
		Session struct{ ID string }
	}
	decode(t, p.do("GET", "/auth/session", ""), &mine)
	e.clock.Advance(time.Minute)
	q, _ := e.passwordStep("rhea", pwOf("rhea"))
	w = q.do("POST", "/auth/2fa/verify", verifyBody("totp", otp.TOTP{Key: key}.At(e.clock.Now())))
	var qres struct{ CSRFToken string }
	decode(t, w, &qres)
	if w := q.do("DELETE", "/auth/sessions/"+mine.Session.ID, "", header("X-CSRF-Token", qres.CSRFToken)); w.Code != 204 {
		t.Fatalf("end the device's session: %d %s", w.Code, w.Body)
	}
	if w := p.login("rhea", pwOf("rhea")); !strings.Contains(w.Body.String(), `"state":"two_factor_required"`) {
		t.Errorf("device still remembered after its session was ended: %s", w.Body)
	}
}

func TestRememberedDeviceVoidedByPasswordChange(t *testing.T) {
	e := newEnv(t)
	b, csrfTok, _ := e.userBrowser("ursa")
	key, _ := e.enrolTOTP(b, csrfTok)
	e.clock.Advance(time.Minute)
	p, _ := e.passwordStep("ursa", pwOf("ursa"))
	body, _ := json.Marshal(map[string]any{"provider": "totp", "code": otp.TOTP{Key: key}.At(e.clock.Now()), "rememberDevice": true})
	w := p.do("POST", "/auth/2fa/verify", string(body))
	var res struct{ CSRFToken string }
	decode(t, w, &res)
	if w := p.do("POST", "/auth/password", `{"currentPassword":"`+pwOf("ursa")+`","newPassword":"a fresh new phrase"}`, header("X-CSRF-Token", res.CSRFToken)); w.Code != 204 {
		t.Fatalf("change: %d %s", w.Code, w.Body)
	}
	if w := p.login("ursa", "a fresh new phrase"); !strings.Contains(w.Body.String(), `"state":"two_factor_required"`) {
		t.Errorf("remembered device survived a password change: %s", w.Body)
	}
}

// TestInviteIntoTwoFactorGroup: accepting an invitation into a group that
// requires two-factor gives an enrolment session, not a full one; Basic is
// refused for such a member without a second factor.
func TestInviteIntoTwoFactorGroup(t *testing.T) {
	e := newEnv(t, func(h *httpapiConfig, _ *accountConfig, _ *sessionConfig) { h.BasicAuth.Enabled = true })
	if err := e.accounts.CreateGroup(context.Background(), accountActor(), &gatehouse.Group{Name: "ops", Permissions: []string{"section:users"}, RequireTwoFactor: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.accounts.Invite(context.Background(), accountInvite("ines@example.com", "ops")); err != nil {
		t.Fatal(err)
	}
	id, tok := linkParts(t, e.mailer.last(t, "ines@example.com", "invite").Data.Link, "invite")
	b := e.browser()
	w := b.do("POST", "/auth/invite/verify", `{"userId":"`+id+`","token":"`+tok+`"}`)
	var v struct{ CSRFToken string }
	decode(t, w, &v)
	w = b.do("POST", "/auth/invite/password", `{"password":"she chose a long phrase"}`, header("X-CSRF-Token", v.CSRFToken))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"state":"two_factor_enrollment_required"`) {
		t.Fatalf("accept: %d %s", w.Code, w.Body)
	}
	wantProblem(t, b.do("GET", mgmt+"/users", ""), 401, gatehouse.CodeUnauthenticated)
	c := e.browser()
	c.https = true
	wantProblem(t, c.do("GET", "/auth/tokens", "", basicHeader("ines@example.com", "she chose a long phrase")), 401, gatehouse.CodeInvalidCredentials)
}

func TestTwoFactorStatusAndAdminPhone(t *testing.T) {
	e := newEnv(t)
	b, csrfTok, u := e.userBrowser("vera")
	var st struct {
		Enabled                bool
		Providers              []string
		RecoveryCodesRemaining int
		Phone                  string
	}
	decode(t, b.do("GET", "/auth/2fa", ""), &st)
	if st.Enabled || st.RecoveryCodesRemaining != 0 {
		t.Errorf("before: %+v", st)
	}
	_, codes := e.enrolTOTP(b, csrfTok)
	admin, aCSRF := e.loggedIn()
	if w := admin.do("PUT", mgmt+"/users/"+u.ID+"/phone", `{"phone":"0049 151 1234 5678"}`, header("X-CSRF-Token", aCSRF)); w.Code != 204 {
		t.Fatalf("admin phone: %d %s", w.Code, w.Body)
	}
	wantProblem(t, admin.do("PUT", mgmt+"/users/"+u.ID+"/phone", `{"phone":"12"}`, header("X-CSRF-Token", aCSRF)), 422, gatehouse.CodeValidation)
	p, _ := e.passwordStep("vera", pwOf("vera"))
	p.do("POST", "/auth/2fa/verify", verifyBody("recovery_code", codes[0]))
	decode(t, b.do("GET", "/auth/2fa", ""), &st)
	if !st.Enabled || st.RecoveryCodesRemaining != 9 || st.Phone != "+**********678" || !strings.Contains(strings.Join(st.Providers, ","), "sms") {
		t.Errorf("after: %+v", st)
	}
}
