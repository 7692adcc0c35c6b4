package httpapi_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/session"
)

// linkParts returns the userId and token of a mailed link, checking it
// points at the configured base and page.
func linkParts(t *testing.T, link, page string) (string, string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || !strings.HasSuffix(u.Path, "/auth/ui/"+page) || !strings.HasPrefix(link, "http://localhost:8080/") {
		t.Fatalf("link %q", link)
	}
	return u.Query().Get("userId"), u.Query().Get("token")
}

func (e *env) forgot(email string) *httptestRecorder {
	e.t.Helper()
	w := e.browser().do("POST", "/auth/password/forgot", `{"email":"`+email+`"}`)
	e.accounts.WaitBackground()
	return w
}

func resetBody(userID, token, pw string) string {
	b, _ := json.Marshal(map[string]string{"userId": userID, "token": token, "password": pw})
	return string(b)
}

func TestForgotPasswordLooksTheSame(t *testing.T) {
	e := newEnv(t)
	u := e.createUser("fay", "fay@example.com", "yaf velvet sandal crayon")
	dis := e.createUser("dan", "dan@example.com", "nad velvet sandal crayon")
	e.accounts.DisableUser(context.Background(), account.Actor{}, dis.ID)

	known, unknown, disabled := e.forgot("Fay@Example.com"), e.forgot("nobody@example.com"), e.forgot("dan@example.com")
	for _, w := range []*httptestRecorder{known, unknown, disabled} {
		if w.Code != 202 || w.Body.String() != known.Body.String() {
			t.Fatalf("forgot answered %d %s; known answered %d %s", w.Code, w.Body, known.Code, known.Body)
		}
	}
	if n := e.mailer.count("fay@example.com", "reset"); n != 1 {
		t.Errorf("%d reset mails to fay", n)
	}
	if n := e.mailer.count("dan@example.com", "reset"); n != 0 {
		t.Errorf("a disabled user got %d reset mails", n)
	}
	m := e.mailer.last(t, "fay@example.com", "reset")
	if id, tok := linkParts(t, m.Data.Link, "reset"); id != u.ID || len(tok) < 22 {
		t.Errorf("link %s", m.Data.Link)
	}
	// Bad input, and the per-address limit, which unknown addresses share.
	wantProblem(t, e.browser().do("POST", "/auth/password/forgot", `{"email":"not an address"}`), 422, gatehouse.CodeValidation)
	wantProblem(t, e.browser().do("POST", "/auth/password/forgot", `{"email":1}`), 400, gatehouse.CodeBadRequest)
	for _, addr := range []string{"fay@example.com", "ghost@example.com"} {
		for range 4 {
			e.forgot(addr)
		}
		w := e.browser().do("POST", "/auth/password/forgot", `{"email":"`+addr+`"}`)
		wantProblem(t, w, 429, gatehouse.CodeTooManyAttempts)
	}
}

func TestResetPassword(t *testing.T) {
	e := newEnv(t)
	u := e.createUser("rita", "rita@example.com", "atir velvet sandal crayon")
	old := e.browser()
	old.login("rita", "atir velvet sandal crayon")
	e.forgot("rita@example.com")
	id, tok := linkParts(t, e.mailer.last(t, "rita@example.com", "reset").Data.Link, "reset")

	// Opening the link's page (as a mail scanner would) does not use it up.
	if w := e.browser().do("GET", "/auth/ui/reset?userId="+id+"&token="+tok, ""); w.Code != 200 || !strings.Contains(w.Body.String(), "<form") {
		t.Fatalf("reset page: %d", w.Code)
	}
	other := e.createUser("otis", "otis@example.com", "sito velvet sandal crayon")
	wantProblem(t, e.browser().do("POST", "/auth/password/reset", resetBody(other.ID, tok, "a fresh passphrase")), 400, gatehouse.CodeInvalidToken)
	wantProblem(t, e.browser().do("POST", "/auth/password/reset", resetBody(id, tok+"x", "a fresh passphrase")), 400, gatehouse.CodeInvalidToken)
	wantProblem(t, e.browser().do("POST", "/auth/password/reset", resetBody(id, "", "a fresh passphrase")), 400, gatehouse.CodeInvalidToken)
	p := wantProblem(t, e.browser().do("POST", "/auth/password/reset", resetBody(id, tok, "short")), 422, gatehouse.CodePasswordPolicy)
	if !strings.Contains(string(p.Errors), "min_length") {
		t.Errorf("errors = %s", p.Errors)
	}
	// A refused password leaves the link working.
	if w := e.browser().do("POST", "/auth/password/reset", resetBody(id, tok, "a fresh passphrase")); w.Code != 204 {
		t.Fatalf("reset: %d %s", w.Code, w.Body)
	}
	wantProblem(t, e.browser().do("POST", "/auth/password/reset", resetBody(id, tok, "another passphrase")), 400, gatehouse.CodeInvalidToken)
	wantProblem(t, old.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
	wantProblem(t, e.browser().login("rita", "atir velvet sandal crayon"), 401, gatehouse.CodeInvalidCredentials)
	if w := e.browser().login("rita", "a fresh passphrase"); w.Code != 200 {
		t.Fatalf("login with the new password: %d", w.Code)
	}
	got, _ := e.store.UserByID(context.Background(), u.ID)
	if !got.EmailConfirmed {
		t.Error("reset did not confirm the email address")
	}
	if e.mailer.count("rita@example.com", "password_changed") != 1 {
		t.Error("no password_changed notice")
	}

	t.Run("expired", func(t *testing.T) {
		e.forgot("otis@example.com")
		id, tok := linkParts(t, e.mailer.last(t, "otis@example.com", "reset").Data.Link, "reset")
		e.clock.Advance(time.Hour + time.Second)
		wantProblem(t, e.browser().do("POST", "/auth/password/reset", resetBody(id, tok, "a fresh passphrase")), 400, gatehouse.CodeInvalidToken)
	})
	t.Run("voided by a later password change", func(t *testing.T) {
		e.clock.Advance(time.Hour) // a new throttle window
		e.forgot("otis@example.com")
		id, tok := linkParts(t, e.mailer.last(t, "otis@example.com", "reset").Data.Link, "reset")
		b := e.browser()
		w := b.login("otis", "sito velvet sandal crayon")
		var res struct{ CSRFToken string }
		decode(t, w, &res)
		if w := b.do("POST", "/auth/password", `{"currentPassword":"sito velvet sandal crayon","newPassword":"a changed phrase here"}`, header("X-CSRF-Token", res.CSRFToken)); w.Code != 204 {
			t.Fatalf("change: %d", w.Code)
		}
		wantProblem(t, e.browser().do("POST", "/auth/password/reset", resetBody(id, tok, "a fresh passphrase")), 400, gatehouse.CodeInvalidToken)
	})
	t.Run("unlocks, and keeps a disabled user disabled", func(t *testing.T) {
		v := e.createUser("vic", "vic@example.com", "civ velvet sandal crayon")
		for range 5 {
			e.browser().login("vic", "wrong")
		}
		wantProblem(t, e.browser().login("vic", "civ velvet sandal crayon"), 429, gatehouse.CodeTooManyAttempts)
		if e.mailer.count("vic@example.com", "account_locked") != 1 {
			t.Error("no account_locked notice")
		}
		link, err := e.accounts.IssueResetLink(context.Background(), v, "")
		if err != nil {
			t.Fatal(err)
		}
		id, tok := linkParts(t, link, "reset")
		if w := e.browser().do("POST", "/auth/password/reset", resetBody(id, tok, "vic's new passphrase")); w.Code != 204 {
			t.Fatalf("reset: %d", w.Code)
		}
		if w := e.browser().login("vic", "vic's new passphrase"); w.Code != 200 {
			t.Errorf("login after reset of a locked account: %d", w.Code)
		}
		link, _ = e.accounts.IssueResetLink(context.Background(), v, "")
		e.accounts.DisableUser(context.Background(), account.Actor{}, v.ID)
		id, tok = linkParts(t, link, "reset")
		e.browser().do("POST", "/auth/password/reset", resetBody(id, tok, "vic's third passphrase"))
		got, _ := e.store.UserByID(context.Background(), v.ID)
		if got.State != gatehouse.StateDisabled {
			t.Errorf("reset enabled a disabled user: %s", got.State)
		}
		wantProblem(t, e.browser().login("vic", "vic's third passphrase"), 401, gatehouse.CodeInvalidCredentials)
	})
}

func TestResetDisabled(t *testing.T) {
	e := newEnv(t, func(_ *httpapi.Config, a *account.Config, _ *session.Config) { a.AllowPasswordReset = false })
	wantProblem(t, e.browser().do("POST", "/auth/password/forgot", `{"email":"admin@example.com"}`), 403, gatehouse.CodePasswordResetDisabled)
	var p struct{ AllowPasswordReset bool }
	decode(t, e.browser().do("GET", "/auth/password/policy", ""), &p)
	if p.AllowPasswordReset {
		t.Error("policy says reset is allowed")
	}
	// A link the operator issued still works: the switch stops only the
	// self-service request, so a locked-out administrator can be recovered.
	link, err := e.accounts.IssueResetLink(context.Background(), e.admin, "")
	if err != nil {
		t.Fatal(err)
	}
	id, tok := linkParts(t, link, "reset")
	if w := e.browser().do("POST", "/auth/password/reset", resetBody(id, tok, "an operator-issued phrase")); w.Code != 204 {
		t.Fatalf("reset with an issued link: %d %s", w.Code, w.Body)
	}
}

func TestResetPage(t *testing.T) {
	e := newEnv(t)
	e.forgot("admin@example.com")
	id, tok := linkParts(t, e.mailer.last(t, "admin@example.com", "reset").Data.Link, "reset")
	b := e.browser()
	form := url.Values{"userId": {id}, "token": {tok}, "password": {"short"}}
	post := func() *httptestRecorder {
		return b.do("POST", "/auth/ui/reset", form.Encode(), header("Content-Type", "application/x-www-form-urlencoded"))
	}
	if w := post(); w.Code != 422 || !strings.Contains(w.Body.String(), "at least 12") {
		t.Errorf("short: %d %s", w.Code, w.Body)
	}
	form.Set("password", "a page-set passphrase")
	if w := post(); w.Code != 200 || !strings.Contains(w.Body.String(), "was changed") {
		t.Fatalf("reset page post: %d %s", w.Code, w.Body)
	}
	if w := post(); w.Code != 400 || !strings.Contains(w.Body.String(), "not valid") {
		t.Errorf("reuse: %d", w.Code)
	}
	if w := e.browser().login("admin", "a page-set passphrase"); w.Code != 200 {
		t.Errorf("login: %d", w.Code)
	}
}

func TestInvitation(t *testing.T) {
	e := newEnv(t)
	admin, csrfTok := e.loggedIn()
	w := admin.do("POST", mgmt+"/users/invite", `{"email":"ian@example.com","name":"Ian","groups":["administrators"]}`, header("X-CSRF-Token", csrfTok))
	if w.Code != 201 || !strings.Contains(w.Body.String(), `"state":"invited"`) {
		t.Fatalf("invite: %d %s", w.Code, w.Body)
	}
	var ian struct{ ID, Username string }
	decode(t, w, &ian)
	if ian.Username != "ian@example.com" {
		t.Errorf("username defaults to the email: %q", ian.Username)
	}
	wantProblem(t, admin.do("POST", mgmt+"/users/invite", `{"email":"IAN@example.com"}`, header("X-CSRF-Token", csrfTok)), 409, gatehouse.CodeConflict)
	wantProblem(t, admin.do("POST", mgmt+"/users/invite", `{"email":"nope"}`, header("X-CSRF-Token", csrfTok)), 422, gatehouse.CodeValidation)
	m := e.mailer.last(t, "ian@example.com", "invite")
	id, tok := linkParts(t, m.Data.Link, "invite")
	if id != ian.ID || m.Data.ExpiresIn != 72*time.Hour {
		t.Errorf("invite mail %+v", m)
	}
	// An invited user cannot log in with a password.
	wantProblem(t, e.browser().login("ian@example.com", "anything at all"), 401, gatehouse.CodeInvalidCredentials)

	// The link's page does not use the token up.
	if w := e.browser().do("GET", "/auth/ui/invite?userId="+id+"&token="+tok, ""); w.Code != 200 {
		t.Fatalf("invite page: %d", w.Code)
	}
	b := e.browser()
	b.login("admin", adminPassword) // the session the invitation must end
	verify := func(b *browser, userID, token string) *httptestRecorder {
		body, _ := json.Marshal(map[string]string{"userId": userID, "token": token})
		return b.do("POST", "/auth/invite/verify", string(body))
	}
	wantProblem(t, verify(e.browser(), e.admin.ID, tok), 400, gatehouse.CodeInvalidToken)
	adminCookie := b.cookies["gh_session"].Value
	w = verify(b, id, tok)
	if w.Code != 200 {
		t.Fatalf("verify: %d %s", w.Code, w.Body)
	}
	var vres struct {
		User      struct{ State string }
		CSRFToken string
	}
	decode(t, w, &vres)
	if vres.User.State != "invited" || vres.CSRFToken == "" {
		t.Errorf("verify = %s", w.Body)
	}
	// The browser's previous session ended, and the token works once.
	stale := e.browser()
	stale.cookies["gh_session"] = &httpCookie{Name: "gh_session", Value: adminCookie}
	wantProblem(t, stale.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
	wantProblem(t, verify(e.browser(), id, tok), 400, gatehouse.CodeInvalidToken)

	// The partial session allows only the invitation endpoints and logout.
	wantProblem(t, b.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
	wantProblem(t, b.do("GET", "/auth/sessions", ""), 401, gatehouse.CodeUnauthenticated)
	wantProblem(t, b.do("GET", mgmt+"/users", ""), 401, gatehouse.CodeUnauthenticated)
	var auth struct{ Authenticated bool }
	decode(t, b.do("GET", "/auth/session/authenticated", ""), &auth)
	if auth.Authenticated {
		t.Error("a partial session counts as authenticated")
	}
	if w := b.do("GET", "/auth/invite", ""); w.Code != 200 || !strings.Contains(w.Body.String(), "ian@example.com") {
		t.Fatalf("GET invite: %d %s", w.Code, w.Body)
	}
	wantProblem(t, b.do("POST", "/auth/invite/password", `{"password":"ian's chosen passphrase"}`), 403, gatehouse.CodeCSRFFailed)
	wantProblem(t, b.do("POST", "/auth/invite/password", `{"password":"short"}`, header("X-CSRF-Token", vres.CSRFToken)), 422, gatehouse.CodePasswordPolicy)
	w = b.do("POST", "/auth/invite/password", `{"password":"ian's chosen passphrase"}`, header("X-CSRF-Token", vres.CSRFToken))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"state":"authenticated"`) || !strings.Contains(w.Body.String(), `"state":"active"`) {
		t.Fatalf("set password: %d %s", w.Code, w.Body)
	}
	if w := b.do("GET", mgmt+"/users", ""); w.Code != 200 {
		t.Errorf("the new administrator's full session: %d", w.Code)
	}
	wantProblem(t, b.do("GET", "/auth/invite", ""), 403, gatehouse.CodeNotInvited)
	if w := e.browser().login("ian@example.com", "ian's chosen passphrase"); w.Code != 200 {
		t.Errorf("login: %d", w.Code)
	}
	wantProblem(t, e.browser().do("GET", "/auth/invite", ""), 401, gatehouse.CodeUnauthenticated)
}

func TestInvitationResendRevokeExpire(t *testing.T) {
	e := newEnv(t)
	admin, csrfTok := e.loggedIn()
	w := admin.do("POST", mgmt+"/users/invite", `{"email":"jo@example.com","username":"jo"}`, header("X-CSRF-Token", csrfTok))
	var jo struct{ ID string }
	decode(t, w, &jo)
	_, first := linkParts(t, e.mailer.last(t, "jo@example.com", "invite").Data.Link, "invite")
	if w := admin.do("POST", mgmt+"/users/"+jo.ID+"/invite", "", header("X-CSRF-Token", csrfTok)); w.Code != 204 {
		t.Fatalf("resend: %d", w.Code)
	}
	_, second := linkParts(t, e.mailer.last(t, "jo@example.com", "invite").Data.Link, "invite")
	verify := func(token string) *httptestRecorder {
		return e.browser().do("POST", "/auth/invite/verify", `{"userId":"`+jo.ID+`","token":"`+token+`"}`)
	}
	wantProblem(t, verify(first), 400, gatehouse.CodeInvalidToken)
	if w := admin.do("DELETE", mgmt+"/users/"+jo.ID+"/invite", "", header("X-CSRF-Token", csrfTok)); w.Code != 204 {
		t.Fatalf("revoke: %d", w.Code)
	}
	wantProblem(t, verify(second), 400, gatehouse.CodeInvalidToken)
	admin.do("POST", mgmt+"/users/"+jo.ID+"/invite", "", header("X-CSRF-Token", csrfTok))
	_, third := linkParts(t, e.mailer.last(t, "jo@example.com", "invite").Data.Link, "invite")
	e.clock.Advance(72*time.Hour + time.Second)
	wantProblem(t, verify(third), 400, gatehouse.CodeInvalidToken)
	admin, csrfTok = e.loggedIn()
	wantProblem(t, admin.do("POST", mgmt+"/users/"+e.admin.ID+"/invite", "", header("X-CSRF-Token", csrfTok)), 409, gatehouse.CodeConflict)
}

func TestInvitePage(t *testing.T) {
	e := newEnv(t)
	u, err := e.accounts.Invite(context.Background(), account.NewInvite{Email: "kim@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	id, tok := linkParts(t, e.mailer.last(t, "kim@example.com", "invite").Data.Link, "invite")
	b := e.browser()
	form := url.Values{"userId": {id}, "token": {tok}, "password": {"short"}}
	post := func() *httptestRecorder {
		return b.do("POST", "/auth/ui/invite", form.Encode(), header("Content-Type", "application/x-www-form-urlencoded"))
	}
	if w := post(); w.Code != 422 {
		t.Errorf("short: %d", w.Code)
	}
	form.Set("password", "kim's page passphrase")
	if w := post(); w.Code != 200 || !strings.Contains(w.Body.String(), "logged in") {
		t.Fatalf("accept: %d %s", w.Code, w.Body)
	}
	if w := b.do("GET", "/auth/session", ""); w.Code != 200 {
		t.Errorf("session after accepting: %d", w.Code)
	}
	got, _ := e.store.UserByID(context.Background(), u.ID)
	if got.State != gatehouse.StateActive || !got.EmailConfirmed {
		t.Errorf("user = %+v", got)
	}
	if w := post(); w.Code != 400 {
		t.Errorf("reuse: %d", w.Code)
	}
}

func TestAdminStartsReset(t *testing.T) {
	e := newEnv(t)
	admin, csrfTok := e.loggedIn()
	u := e.createUser("lea", "lea@example.com", "ael velvet sandal crayon")
	if w := admin.do("POST", mgmt+"/users/"+u.ID+"/reset-password", "", header("X-CSRF-Token", csrfTok)); w.Code != 204 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	e.mailer.last(t, "lea@example.com", "reset")
	// An email change notifies the old address.
	if w := admin.do("PATCH", mgmt+"/users/"+u.ID, `{"email":"lea.new@example.com"}`, header("X-CSRF-Token", csrfTok)); w.Code != 200 {
		t.Fatalf("update: %d", w.Code)
	}
	if m := e.mailer.last(t, "lea@example.com", "email_changed"); m.Data.Email != "lea.new@example.com" {
		t.Errorf("email_changed data %+v", m.Data)
	}
}
