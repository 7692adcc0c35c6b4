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

// staleAfter is a little more than the default session.reauthenticate_after
// (10m) and well within the idle timeout (20m): the session is alive, but
// its password proof is not recent.
const staleAfter = 11 * time.Minute

// sessionAnswer is the answer of GET /auth/session and of re-authenticating.
type sessionAnswer struct {
	CSRFToken string `json:"csrfToken"`
	Session   struct {
		ID               string     `json:"id"`
		ReauthenticateAt *time.Time `json:"reauthenticateAt"`
	} `json:"session"`
}

// sessionOf reads GET /auth/session of b.
func sessionOf(t *testing.T, b *browser) sessionAnswer {
	t.Helper()
	w := b.do("GET", "/auth/session", "")
	if w.Code != 200 {
		t.Fatalf("GET session: %d %s", w.Code, w.Body)
	}
	var s sessionAnswer
	decode(t, w, &s)
	return s
}

// clone returns a second browser with b's cookies: a thief's copy.
func (b *browser) clone() *browser {
	c := b.e.browser()
	for k, v := range b.cookies {
		cp := *v
		c.cookies[k] = &cp
	}
	return c
}

func reauthBody(pw string) string {
	b, _ := json.Marshal(map[string]string{"password": pw})
	return string(b)
}

// sensitive lists the sensitive changes of a user with two-factor on, as
// requests without a password in the body.
func sensitive() []struct{ method, path, body string } {
	return []struct{ method, path, body string }{
		{"POST", "/auth/2fa/totp", ""},
		{"POST", "/auth/2fa/totp/confirm", `{"code":"123456"}`},
		{"DELETE", "/auth/2fa/totp", `{}`},
		{"POST", "/auth/2fa/recovery-codes", `{}`},
		{"PUT", "/auth/2fa/phone", `{"phone":"+4915123456789"}`},
		{"POST", "/auth/tokens", `{"name":"thief"}`},
	}
}

// TestStolenCookieNeedsReauthentication is the scenario of issue 10: a
// session cookie copied from a browser cannot change the account's second
// factors, phone or tokens once the session's password proof is older than
// session.reauthenticate_after, and nothing changes; after the owner
// re-authenticates, the same requests work, and the copied cookie is dead.
func TestStolenCookieNeedsReauthentication(t *testing.T) {
	e := newEnv(t)
	owner, csrfTok, u := e.userBrowser("tara")
	e.enrolTOTP(owner, csrfTok)
	thief := owner.clone()
	before := sessionOf(t, owner)
	if before.Session.ReauthenticateAt == nil || !before.Session.ReauthenticateAt.Equal(e.clock.Now().Add(10*time.Minute)) {
		t.Errorf("reauthenticateAt after login = %v, want login + 10m", before.Session.ReauthenticateAt)
	}

	e.clock.Advance(staleAfter)
	ctx := context.Background()
	tfBefore, err := e.store.TwoFactor(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range sensitive() {
		for name, b := range map[string]*browser{"thief": thief, "owner": owner} {
			w := b.do(r.method, r.path, r.body, header("X-CSRF-Token", csrfTok))
			p := wantProblem(t, w, 403, gatehouse.CodeReauthenticationRequired)
			if p.Type != "https://tools.ietf.org/html/rfc9110#section-15.5.4" {
				t.Errorf("%s %s %s: type %q", name, r.method, r.path, p.Type)
			}
		}
	}
	// Nothing changed: the same secret, no pending one, the same recovery
	// codes, no phone, no token.
	tfAfter, err := e.store.TwoFactor(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(tfAfter.TOTPSecret) != string(tfBefore.TOTPSecret) || len(tfAfter.TOTPPending) != 0 ||
		len(tfAfter.RecoveryCodes) != 10 || tfAfter.Phone != "" {
		t.Fatalf("two-factor settings changed by refused requests: %+v", tfAfter)
	}
	if toks, err := e.store.UserTokens(ctx, u.ID); err != nil || len(toks) != 0 {
		t.Fatalf("tokens after refused requests: %v, %v", toks, err)
	}
	// Reading stays allowed.
	if w := thief.do("GET", "/auth/2fa", ""); w.Code != 200 {
		t.Errorf("GET 2fa: %d", w.Code)
	}

	// The owner proves the password again: a new cookie and CSRF token,
	// a new public id, recent from now.
	wantProblem(t, owner.do("POST", "/auth/session/reauthenticate", reauthBody(pwOf("tara"))), 403, gatehouse.CodeCSRFFailed)
	wantProblem(t, owner.do("POST", "/auth/session/reauthenticate", reauthBody("wrong password"), header("X-CSRF-Token", csrfTok)), 401, gatehouse.CodeInvalidCredentials)
	oldCookie := owner.cookies["gh_session"].Value
	w := owner.do("POST", "/auth/session/reauthenticate", reauthBody(pwOf("tara")), header("X-CSRF-Token", csrfTok))
	if w.Code != 200 {
		t.Fatalf("reauthenticate: %d %s", w.Code, w.Body)
	}
	var re sessionAnswer
	decode(t, w, &re)
	if owner.cookies["gh_session"].Value == oldCookie {
		t.Fatal("re-authenticating kept the session cookie")
	}
	if re.CSRFToken == "" || re.CSRFToken == csrfTok {
		t.Fatalf("csrfToken after re-authenticating = %q, want a new one", re.CSRFToken)
	}
	if owner.cookies["XSRF-TOKEN"] == nil || owner.cookies["XSRF-TOKEN"].Value != re.CSRFToken {
		t.Errorf("XSRF-TOKEN cookie = %v, want %q", owner.cookies["XSRF-TOKEN"], re.CSRFToken)
	}
	if re.Session.ID == "" || re.Session.ID == before.Session.ID {
		t.Errorf("public session id after re-authenticating = %q, want a new one, not %q", re.Session.ID, before.Session.ID)
	}
	if now := sessionOf(t, owner); now.Session.ID != re.Session.ID {
		t.Errorf("GET session id = %q, want the new %q", now.Session.ID, re.Session.ID)
	}
	// The session list knows the new id as the current session, and the
	// old id no more: ending it is 404, and the session lives on.
	var mine struct {
		Items []struct {
			ID      string
			Current bool
		}
	}
	decode(t, owner.do("GET", "/auth/sessions", ""), &mine)
	if len(mine.Items) != 1 || mine.Items[0].ID != re.Session.ID || !mine.Items[0].Current {
		t.Errorf("GET sessions after re-authenticating = %+v, want only the new id %q, current", mine.Items, re.Session.ID)
	}
	wantProblem(t, owner.do("DELETE", "/auth/sessions/"+before.Session.ID, "", header("X-CSRF-Token", re.CSRFToken)), 404, gatehouse.CodeNotFound)
	if re.Session.ReauthenticateAt == nil || !re.Session.ReauthenticateAt.Equal(e.clock.Now().Add(10*time.Minute)) {
		t.Errorf("reauthenticateAt = %v, want now + 10m", re.Session.ReauthenticateAt)
	}
	if !strings.Contains(w.Body.String(), `"username":"tara"`) {
		t.Errorf("answer is not like GET /session: %s", w.Body)
	}
	// The old cookie (the thief's copy) no longer authenticates, nor does
	// the old CSRF token go with the new cookie.
	wantProblem(t, thief.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
	wantProblem(t, thief.do("POST", "/auth/2fa/recovery-codes", `{}`, header("X-CSRF-Token", csrfTok)), 401, gatehouse.CodeUnauthenticated)
	wantProblem(t, owner.do("POST", "/auth/2fa/recovery-codes", `{}`, header("X-CSRF-Token", csrfTok)), 403, gatehouse.CodeCSRFFailed)
	events, _, _ := e.accounts.ListAudit(ctx, accountAuditKind("session.reauthenticated"))
	if len(events) != 1 || events[0].ActorID != u.ID || events[0].TargetID != re.Session.ID ||
		events[0].Detail["previousSession"] != before.Session.ID {
		for _, ev := range events {
			t.Logf("event: %+v", *ev)
		}
		t.Errorf("session.reauthenticated events: want one by tara on the new session %q, from %q", re.Session.ID, before.Session.ID)
	}

	// Now the sensitive changes work without a password in the body.
	csrfTok = re.CSRFToken
	if w := owner.do("POST", "/auth/2fa/recovery-codes", `{}`, header("X-CSRF-Token", csrfTok)); w.Code != 200 {
		t.Fatalf("recovery codes: %d %s", w.Code, w.Body)
	}
	if w := owner.do("PUT", "/auth/2fa/phone", `{"phone":"+4915123456789"}`, header("X-CSRF-Token", csrfTok)); w.Code != 204 {
		t.Fatalf("phone: %d %s", w.Code, w.Body)
	}
	if w := owner.do("POST", "/auth/tokens", `{"name":"ci"}`, header("X-CSRF-Token", csrfTok)); w.Code != 201 {
		t.Fatalf("token: %d %s", w.Code, w.Body)
	}
	if w := owner.do("DELETE", "/auth/2fa/totp", `{}`, header("X-CSRF-Token", csrfTok)); w.Code != 204 {
		t.Fatalf("disable: %d %s", w.Code, w.Body)
	}
	e.clock.Advance(time.Minute)
	e.enrolTOTP(owner, csrfTok)

	// Ten minutes later it is due again.
	e.clock.Advance(10 * time.Minute)
	wantProblem(t, owner.do("POST", "/auth/tokens", `{"name":"later"}`, header("X-CSRF-Token", csrfTok)), 403, gatehouse.CodeReauthenticationRequired)
}

// TestPasswordInBodyStillWorks: the endpoints that take {"password"} keep
// accepting it from a session whose proof is old, and a wrong one is still
// 401 even from a recent session.
func TestPasswordInBodyStillWorks(t *testing.T) {
	e := newEnv(t)
	b, csrfTok, _ := e.userBrowser("olaf")
	e.enrolTOTP(b, csrfTok)
	wantProblem(t, b.do("POST", "/auth/2fa/recovery-codes", `{"password":"wrong"}`, header("X-CSRF-Token", csrfTok)), 401, gatehouse.CodeInvalidCredentials)
	e.clock.Advance(staleAfter)
	pw := `"password":"` + pwOf("olaf") + `"`
	if w := b.do("POST", "/auth/2fa/recovery-codes", `{`+pw+`}`, header("X-CSRF-Token", csrfTok)); w.Code != 200 {
		t.Fatalf("recovery codes with the password: %d %s", w.Code, w.Body)
	}
	if w := b.do("PUT", "/auth/2fa/phone", `{"phone":"+4915123456789",`+pw+`}`, header("X-CSRF-Token", csrfTok)); w.Code != 204 {
		t.Fatalf("phone with the password: %d %s", w.Code, w.Body)
	}
	if w := b.do("DELETE", "/auth/2fa/totp", `{`+pw+`}`, header("X-CSRF-Token", csrfTok)); w.Code != 204 {
		t.Fatalf("disable with the password: %d %s", w.Code, w.Body)
	}
}

// TestReauthenticateThrottled: a wrong password at re-authentication is a
// failed login: audited, and counted against the account until 429.
func TestReauthenticateThrottled(t *testing.T) {
	e := newEnv(t)
	b, csrfTok, u := e.userBrowser("tara")
	for i := range 5 {
		w := b.do("POST", "/auth/session/reauthenticate", reauthBody("wrong password"), header("X-CSRF-Token", csrfTok))
		wantProblem(t, w, 401, gatehouse.CodeInvalidCredentials)
		if i == 0 && !strings.Contains(w.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without WWW-Authenticate")
		}
	}
	w := b.do("POST", "/auth/session/reauthenticate", reauthBody(pwOf("tara")), header("X-CSRF-Token", csrfTok))
	wantProblem(t, w, 429, gatehouse.CodeTooManyAttempts)
	if w.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// The wait is the account's own budget (guesses made through a
	// signed-in session), not the name's: a thief guessing at
	// re-authentication cannot keep the owner from logging in.
	if w := e.browser().login("tara", pwOf("tara")); w.Code != 200 {
		t.Errorf("login after failed re-authentications: %d %s", w.Code, w.Body)
	}
	events, _, _ := e.accounts.ListAudit(context.Background(), accountAuditKind("login.failed"))
	n := 0
	for _, ev := range events {
		if ev.TargetID == u.ID {
			n++
		}
	}
	if n < 5 {
		t.Errorf("%d login.failed events for tara, want at least 5", n)
	}
	// The session itself is untouched by the failures.
	if w := b.do("GET", "/auth/session", ""); w.Code != 200 {
		t.Errorf("session after failed re-authentication: %d", w.Code)
	}
}

// TestReauthenticateOnlyTheSessionCookie: re-authentication is about a
// browser session; API tokens never manage the account (permission_denied,
// which re-authenticating would not change); Basic credentials carry the
// password in each request and count as recent.
func TestReauthenticateOnlyTheSessionCookie(t *testing.T) {
	e := newEnv(t, func(h *httpapiConfig, _ *accountConfig, _ *sessionConfig) { h.BasicAuth.Enabled = true })
	admin, aCSRF := e.loggedIn()
	w := admin.do("POST", "/auth/tokens", `{"name":"ci"}`, header("X-CSRF-Token", aCSRF))
	var created struct{ Secret string }
	decode(t, w, &created)
	bearer := header("Authorization", "Bearer "+created.Secret)

	nobody := e.browser()
	wantProblem(t, nobody.do("POST", "/auth/session/reauthenticate", reauthBody(adminPassword), bearer), 401, gatehouse.CodeUnauthenticated)
	wantProblem(t, nobody.do("POST", "/auth/session/reauthenticate", reauthBody(adminPassword)), 401, gatehouse.CodeUnauthenticated)
	for _, r := range sensitive() {
		wantProblem(t, nobody.do(r.method, r.path, r.body, bearer), 403, gatehouse.CodePermissionDenied)
	}
	e.clock.Advance(staleAfter)
	basic := e.browser()
	basic.https = true
	if w := basic.do("POST", "/auth/tokens", `{"name":"from basic"}`, basicHeader("admin", adminPassword)); w.Code != 201 {
		t.Fatalf("token with Basic: %d %s", w.Code, w.Body)
	}
	if w := basic.do("POST", "/auth/2fa/totp", "", basicHeader("admin", adminPassword)); w.Code != 200 {
		t.Fatalf("enrol with Basic: %d %s", w.Code, w.Body)
	}
	// A stale session alongside a Bearer header: the header decides.
	wantProblem(t, admin.do("POST", "/auth/tokens", `{"name":"x"}`, bearer), 403, gatehouse.CodePermissionDenied)
}

// TestOwnEmailAndPhoneThroughManagement: an administrator's own email
// address, SMS number and second factor are as sensitive through the management API as
// through the self-service endpoints; other changes and other users are
// not affected.
func TestOwnEmailAndPhoneThroughManagement(t *testing.T) {
	e := newEnv(t)
	admin, aCSRF := e.loggedIn()
	other := e.createUser("olga", "olga@example.com", pwOf("olga"))
	e.clock.Advance(staleAfter)
	self := mgmt + "/users/" + e.admin.ID
	csrf := header("X-CSRF-Token", aCSRF)
	wantProblem(t, admin.do("PATCH", self, `{"email":"thief@example.net"}`, csrf), 403, gatehouse.CodeReauthenticationRequired)
	wantProblem(t, admin.do("PUT", self+"/phone", `{"phone":"+4915123456789"}`, csrf), 403, gatehouse.CodeReauthenticationRequired)
	wantProblem(t, admin.do("POST", self+"/reset-two-factor", "", csrf), 403, gatehouse.CodeReauthenticationRequired)
	if u, _ := e.store.UserByID(context.Background(), e.admin.ID); u.Email != "admin@example.com" {
		t.Fatalf("email changed to %q", u.Email)
	}
	for _, r := range []struct{ method, path, body string }{
		{"PATCH", self, `{"name":"The Admin"}`},
		{"PATCH", self, `{"email":"admin@example.com"}`}, // unchanged
		{"PATCH", mgmt + "/users/" + other.ID, `{"email":"olga@example.org"}`},
	} {
		if w := admin.do(r.method, r.path, r.body, csrf); w.Code != 200 {
			t.Errorf("%s %s %s: %d %s", r.method, r.path, r.body, w.Code, w.Body)
		}
	}
	var re sessionAnswer
	decode(t, admin.do("POST", "/auth/session/reauthenticate", reauthBody(adminPassword), csrf), &re)
	if w := admin.do("PATCH", self, `{"email":"new@example.com"}`, header("X-CSRF-Token", re.CSRFToken)); w.Code != 200 {
		t.Errorf("own email after re-authenticating: %d %s", w.Code, w.Body)
	}
}

// TestEnrolmentSessionNeedsRecentPassword: the partial session of a user
// who must enrol has just proved the password and may enrol; one left
// lying around past session.reauthenticate_after may not. The full session
// enrolment starts keeps the time of that password proof.
func TestEnrolmentSessionNeedsRecentPassword(t *testing.T) {
	e := newEnv(t, func(_ *httpapiConfig, _ *accountConfig, s *sessionConfig) { s.ReauthenticateAfter = 5 * time.Minute })
	ctx := context.Background()
	if err := e.accounts.CreateGroup(ctx, accountActor(), &gatehouse.Group{Name: "ops", RequireTwoFactor: true}); err != nil {
		t.Fatal(err)
	}
	e.createUser("nina", "nina@example.com", pwOf("nina"), "ops")
	e.createUser("nils", "nils@example.com", pwOf("nils"), "ops")
	login := func(name string) (*browser, string) {
		b := e.browser()
		var res struct{ State, CSRFToken string }
		decode(t, b.login(name, pwOf(name)), &res)
		if res.State != "two_factor_enrollment_required" {
			t.Fatalf("login state %q", res.State)
		}
		return b, res.CSRFToken
	}
	stale, sCSRF := login("nils")
	e.clock.Advance(6 * time.Minute)
	wantProblem(t, stale.do("POST", "/auth/2fa/totp", "", header("X-CSRF-Token", sCSRF)), 403, gatehouse.CodeReauthenticationRequired)
	// It can prove the password again and enrol then; the answer is the
	// login's for an enrolment, with a new cookie and CSRF token.
	w := stale.do("POST", "/auth/session/reauthenticate", reauthBody(pwOf("nils")), header("X-CSRF-Token", sCSRF))
	var re struct{ State, CSRFToken string }
	decode(t, w, &re)
	if w.Code != 200 || re.State != "two_factor_enrollment_required" || re.CSRFToken == "" || re.CSRFToken == sCSRF {
		t.Fatalf("re-authenticating the enrolment session: %d %s", w.Code, w.Body)
	}
	wantProblem(t, stale.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated) // still partial
	e.enrolTOTP(stale, re.CSRFToken)

	loginAt := e.clock.Now()
	b, csrfTok := login("nina")
	e.clock.Advance(2 * time.Minute)
	e.enrolTOTP(b, csrfTok)
	s := sessionOf(t, b)
	if s.Session.ReauthenticateAt == nil || !s.Session.ReauthenticateAt.Equal(loginAt.Add(5*time.Minute)) {
		t.Errorf("reauthenticateAt after enrolment = %v, want the login + 5m (%v)", s.Session.ReauthenticateAt, loginAt.Add(5*time.Minute))
	}
}

// TestInviteAcceptedSessionIsRecent: setting one's password from an
// invitation proves it, like a login.
func TestInviteAcceptedSessionIsRecent(t *testing.T) {
	e := newEnv(t)
	u, err := e.accounts.Invite(context.Background(), accountInvite("ivy@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	link := e.mailer.last(t, "ivy@example.com", "invite").Data.Link
	id, tok := linkParts(t, link, "invite")
	b := e.browser()
	var inv struct{ CSRFToken string }
	decode(t, b.do("POST", "/auth/invite/verify", `{"userId":"`+id+`","token":"`+tok+`"}`), &inv)
	// The invitation's partial session proved no password.
	wantProblem(t, b.do("POST", "/auth/2fa/totp", "", header("X-CSRF-Token", inv.CSRFToken)), 401, gatehouse.CodeUnauthenticated)
	w := b.do("POST", "/auth/invite/password", reauthBody("a new pass phrase for ivy"), header("X-CSRF-Token", inv.CSRFToken))
	if w.Code != 200 {
		t.Fatalf("accept: %d %s", w.Code, w.Body)
	}
	var res sessionAnswer
	decode(t, w, &res)
	if w := b.do("POST", "/auth/tokens", `{"name":"ivy's"}`, header("X-CSRF-Token", res.CSRFToken)); w.Code != 201 {
		t.Errorf("token right after accepting the invitation: %d %s (user %s)", w.Code, w.Body, u.ID)
	}
}

// TestReauthenticateMovesRememberedDevice: a device remembered with a
// session follows the session to its new id when it re-authenticates, so
// ending the session by that id from another browser still forgets the
// device.
func TestReauthenticateMovesRememberedDevice(t *testing.T) {
	e := newEnv(t)
	b, csrfTok, _ := e.userBrowser("vera")
	key, _ := e.enrolTOTP(b, csrfTok)
	e.clock.Advance(time.Minute)
	p, _ := e.passwordStep("vera", pwOf("vera"))
	body, _ := json.Marshal(map[string]any{"provider": "totp", "code": otp.TOTP{Key: key}.At(e.clock.Now()), "rememberDevice": true})
	w := p.do("POST", "/auth/2fa/verify", string(body))
	if w.Code != 200 || p.cookies["gh_device"] == nil {
		t.Fatalf("verify with rememberDevice: %d %s", w.Code, w.Body)
	}
	var first sessionAnswer
	decode(t, w, &first)

	w = p.do("POST", "/auth/session/reauthenticate", reauthBody(pwOf("vera")), header("X-CSRF-Token", first.CSRFToken))
	if w.Code != 200 {
		t.Fatalf("reauthenticate: %d %s", w.Code, w.Body)
	}
	var re sessionAnswer
	decode(t, w, &re)
	if re.Session.ID == first.Session.ID {
		t.Fatalf("re-authenticating kept the session id %q", re.Session.ID)
	}

	e.clock.Advance(time.Minute)
	q, _ := e.passwordStep("vera", pwOf("vera"))
	w = q.do("POST", "/auth/2fa/verify", verifyBody("totp", otp.TOTP{Key: key}.At(e.clock.Now())))
	var qres sessionAnswer
	decode(t, w, &qres)
	wantProblem(t, q.do("DELETE", "/auth/sessions/"+first.Session.ID, "", header("X-CSRF-Token", qres.CSRFToken)), 404, gatehouse.CodeNotFound)
	if w := q.do("DELETE", "/auth/sessions/"+re.Session.ID, "", header("X-CSRF-Token", qres.CSRFToken)); w.Code != 204 {
		t.Fatalf("end the re-authenticated session: %d %s", w.Code, w.Body)
	}
	if w := p.login("vera", pwOf("vera")); !strings.Contains(w.Body.String(), `"state":"two_factor_required"`) {
		t.Errorf("device still remembered after its re-authenticated session was ended: %s", w.Body)
	}
}
