package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/internal/testop"
	"github.com/gatehouse/gatehouse/oidclogin"
	"github.com/gatehouse/gatehouse/session"
)

// The external-login endpoints against a real OpenID provider (testop,
// on loopback): the browser's requests go to the server in the process,
// the authorization request to the OP, whose redirect to the callback the
// browser then follows here.

// gatehouseURL is the public URL the providers' redirect URLs are built
// from; the browser sends only the path and query of the OP's redirect.
const gatehouseURL = "https://gatehouse.test"

// extProvider is a provider of an external env: its id, and the account
// rules its logins follow.
type extProvider struct {
	id    string
	rules account.ExternalProvider
	// groupsClaim names the OP's groups claim ("" reads none).
	groupsClaim string
}

// newExternalEnv is newEnv with providers at op (corp, "Corp SSO", when
// none is given).
func newExternalEnv(t *testing.T, op *testop.OP, providers []extProvider, opts ...envOption) *env {
	t.Helper()
	return newProvidersEnv(t, op.Issuer(), op.ClientID(), op.ClientSecret(), providers, opts...)
}

// newProvidersEnv is newExternalEnv with the providers at the issuer
// given, which is not reached until a login starts.
func newProvidersEnv(t *testing.T, issuer, clientID, clientSecret string, providers []extProvider, opts ...envOption) *env {
	t.Helper()
	if len(providers) == 0 {
		providers = []extProvider{{id: "corp", rules: account.ExternalProvider{AllowManualLinking: true}}}
	}
	var ps []*oidclogin.Provider
	var rules []account.ExternalProvider
	for _, p := range providers {
		name := map[string]string{"corp": "Corp SSO"}[p.id]
		if name == "" {
			name = strings.ToUpper(p.id)
		}
		op, err := oidclogin.New(oidclogin.Config{
			ID: p.id, Name: name, Issuer: issuer, ClientID: clientID, ClientSecret: clientSecret,
			GroupsClaim:           p.groupsClaim,
			RedirectURL:           gatehouseURL + "/auth/external/" + p.id + "/callback",
			PostLogoutRedirectURL: gatehouseURL + "/auth/ui/login",
		})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, op)
		r := p.rules
		r.ID, r.Name = p.id, name
		rules = append(rules, r)
	}
	sealer, err := oidclogin.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, func(_ *httpapi.Config, a *account.Config, _ *session.Config) { a.ExternalProviders = rules })
	return newEnvDeps(t, nil, func(d *httpapi.Deps) { d.External, d.FlowSealer = ps, sealer }, opts...)
}

// startExternal is GET BASE/external/{id}/login?query in b: the flow
// cookie and a 302 to the OP's authorization endpoint.
func startExternal(t *testing.T, b *browser, id, query string) string {
	t.Helper()
	w := b.do("GET", "/auth/external/"+id+"/login"+query, "")
	if w.Code != http.StatusFound || b.cookies["gh_oidc"] == nil {
		t.Fatalf("start: %d %v %s", w.Code, w.Header(), w.Body)
	}
	c := b.cookies["gh_oidc"]
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("flow cookie %+v: want HttpOnly, SameSite=Lax, Path=/", c)
	}
	return w.Header().Get("Location")
}

// callback follows the OP's redirect to the callback in b.
func callback(t *testing.T, b *browser, callbackURL string, opts ...reqOpt) *httptest.ResponseRecorder {
	t.Helper()
	u, err := url.Parse(callbackURL)
	if err != nil || !strings.HasPrefix(callbackURL, gatehouseURL+"/auth/external/") {
		t.Fatalf("callback URL %q", callbackURL)
	}
	return b.do("GET", u.RequestURI(), "", opts...)
}

// externalLogin runs a whole login with provider id in b and returns the
// callback's answer.
func externalLogin(t *testing.T, op *testop.OP, b *browser, id, query string) *httptest.ResponseRecorder {
	t.Helper()
	return callback(t, b, op.Authorize(t, nil, startExternal(t, b, id, query)))
}

// link links the account subject at provider to u in the store.
func (e *env) link(provider, subject string, u *gatehouse.User) {
	e.t.Helper()
	now := e.clock.Now()
	if err := e.store.CreateIdentity(context.Background(), &gatehouse.Identity{Provider: provider, Subject: subject, UserID: u.ID, Email: u.Email, EmailVerified: true, LinkedAt: now, LastUsedAt: now}); err != nil {
		e.t.Fatal(err)
	}
}

// currentUser is GET BASE/session in b: the user's name and permissions,
// or fails.
func currentUser(t *testing.T, b *browser) (username string, perms []string) {
	t.Helper()
	w := b.do("GET", "/auth/session", "")
	if w.Code != 200 {
		t.Fatalf("GET /session: %d %s", w.Code, w.Body)
	}
	var res struct {
		User struct {
			Username    string
			Permissions []string
		}
	}
	decode(t, w, &res)
	return res.User.Username, res.User.Permissions
}

// wantErrorPage checks an external login's HTML error page: its status,
// that it says want, and that it links back to the login page.
func wantErrorPage(t *testing.T, w *httptest.ResponseRecorder, status int, want string) {
	t.Helper()
	wantPage(t, w, status, want, `href="/auth/ui/login"`)
}

func csrfOf(b *browser) string {
	if c := b.cookies["XSRF-TOKEN"]; c != nil {
		return c.Value
	}
	return ""
}

func TestExternalList(t *testing.T) {
	op := testop.Start(t)
	e := newExternalEnv(t, op, nil)
	w := e.browser().do("GET", "/auth/external", "")
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `[{"id":"corp","name":"Corp SSO","loginUrl":"/auth/external/corp/login"}]` {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	// Without providers: an empty list, and the provider paths are 404.
	e = newEnv(t)
	if w := e.browser().do("GET", "/auth/external", ""); w.Code != 200 || strings.TrimSpace(w.Body.String()) != "[]" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	wantProblem(t, e.browser().do("GET", "/auth/external/corp/login", "", header("Accept", "application/json")), 404, gatehouse.CodeNotFound)
}

func TestExternalSignIn(t *testing.T) {
	op := testop.Start(t)
	e := newExternalEnv(t, op, nil, func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
		h.RedirectDomains = []string{"app.example.com"}
	})
	ada := e.createUser("ada", "ada@example.org", pwOf("ada"))
	e.link("corp", testop.DefaultUser.Subject, ada)

	b := e.browser()
	authURL := startExternal(t, b, "corp", "?rd="+url.QueryEscape("https://app.example.com/x")+"&remember=on")
	q := mustQuery(t, authURL)
	if q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("nonce") == "" ||
		q.Get("redirect_uri") != gatehouseURL+"/auth/external/corp/callback" {
		t.Errorf("authorization URL %s", authURL)
	}
	cb := op.Authorize(t, nil, authURL)
	w := callback(t, b, cb)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "https://app.example.com/x" {
		t.Fatalf("callback: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if b.cookies["gh_oidc"] != nil {
		t.Error("the flow cookie was not cleared")
	}
	if name, _ := currentUser(t, b); name != "ada" {
		t.Fatalf("logged in as %q", name)
	}
	if c := b.cookies["gh_session"]; c == nil || c.MaxAge <= 0 {
		t.Errorf("remember=on: want a persistent session cookie, got %+v", c)
	}
	// The callback works once: replayed, its flow is gone.
	wantErrorPage(t, callback(t, b, cb), 400, "start again")

	// An rd that may not be redirected to is dropped: the default.
	b = e.browser()
	if w := externalLogin(t, op, b, "corp", "?rd="+url.QueryEscape("https://evil.example.net/")); w.Code != 303 || w.Header().Get("Location") != "/auth/ui/account" {
		t.Fatalf("foreign rd: %d %v", w.Code, w.Header())
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func TestExternalUnknownSubject(t *testing.T) {
	op := testop.Start(t)
	e := newExternalEnv(t, op, nil)
	op.NextUser(testop.User{Subject: "stranger", Email: "stranger@example.org", EmailVerified: true})
	b := e.browser()
	w := externalLogin(t, op, b, "corp", "")
	wantErrorPage(t, w, 403, "Your Corp SSO account is not linked to a user here")
	if b.cookies["gh_session"] != nil {
		t.Error("a session cookie for nobody")
	}
	// A script that asks for JSON gets the problem.
	b = e.browser()
	cb := op.Authorize(t, nil, startExternal(t, b, "corp", ""))
	wantProblem(t, callback(t, b, cb, header("Accept", "application/json")), 403, gatehouse.CodeNotLinked)
	// Audited, without any token.
	events, _, err := e.accounts.ListAudit(context.Background(), account.AuditFilter{Kind: gatehouse.AuditExternalLoginFailed})
	if err != nil || len(events) == 0 {
		t.Fatalf("no external_login.failed event: %v %v", events, err)
	}
}

func TestExternalAutoCreateMapsGroups(t *testing.T) {
	op := testop.Start(t)
	e := newExternalEnv(t, op, []extProvider{{id: "corp", groupsClaim: "groups", rules: account.ExternalProvider{
		AutoCreate: true, AutoCreateGroups: []string{"staff"},
		GroupMap: map[string][]string{"corp-admins": {"editors", "auditors"}, "corp-unused": {"unused"}},
	}}})
	e.group("staff", "app:read")
	e.group("editors", "app:write")
	e.group("auditors", "section:audit")
	e.group("unused", "app:delete")
	op.NextUser(testop.User{Subject: "new-1", Email: "grace@example.org", EmailVerified: true, Name: "Grace", PreferredUsername: "grace", Groups: []string{"corp-admins", "not-mapped"}})
	b := e.browser()
	if w := externalLogin(t, op, b, "corp", ""); w.Code != 303 {
		t.Fatalf("callback: %d %s", w.Code, w.Body)
	}
	_, perms := currentUser(t, b)
	for _, p := range []string{"app:read", "app:write", "section:audit"} {
		if !slices.Contains(perms, p) {
			t.Errorf("permissions %v lack %s", perms, p)
		}
	}
	if slices.Contains(perms, "app:delete") {
		t.Errorf("permissions %v hold a group the claim does not name", perms)
	}
}

func TestExternalFlowRefused(t *testing.T) {
	op := testop.Start(t)
	e := newExternalEnv(t, op, []extProvider{
		{id: "corp", rules: account.ExternalProvider{AllowManualLinking: true}},
		{id: "other", rules: account.ExternalProvider{AllowManualLinking: true}},
	})
	ada := e.createUser("ada", "ada@example.org", pwOf("ada"))
	e.link("corp", testop.DefaultUser.Subject, ada)

	t.Run("no cookie", func(t *testing.T) {
		b := e.browser()
		cb := op.Authorize(t, nil, startExternal(t, b, "corp", ""))
		wantErrorPage(t, callback(t, e.browser(), cb), 400, "This sign-in expired or was started elsewhere; start again.")
	})
	t.Run("another state", func(t *testing.T) {
		b := e.browser()
		first := op.Authorize(t, nil, startExternal(t, b, "corp", ""))
		startExternal(t, b, "corp", "") // a second flow replaces the first's cookie
		wantErrorPage(t, callback(t, b, first), 400, "start again")
		if b.cookies["gh_session"] != nil {
			t.Error("logged in with another flow's answer")
		}
	})
	t.Run("cookie of another provider", func(t *testing.T) {
		b := e.browser()
		cb := op.Authorize(t, nil, startExternal(t, b, "corp", ""))
		startExternal(t, b, "other", "")
		wantErrorPage(t, callback(t, b, cb), 400, "start again")
	})
	t.Run("a changed cookie", func(t *testing.T) {
		b := e.browser()
		cb := op.Authorize(t, nil, startExternal(t, b, "corp", ""))
		v := []byte(b.cookies["gh_oidc"].Value)
		v[len(v)/2] ^= 1
		b.cookies["gh_oidc"].Value = string(v)
		w := callback(t, b, cb, header("Accept", "application/json"))
		wantProblem(t, w, 400, gatehouse.CodeExternalLoginFailed)
	})
	t.Run("expired", func(t *testing.T) {
		b := e.browser()
		cb := op.Authorize(t, nil, startExternal(t, b, "corp", ""))
		e.clock.Advance(11 * time.Minute)
		wantErrorPage(t, callback(t, b, cb), 400, "start again")
	})
	t.Run("refused by the provider", func(t *testing.T) {
		b := e.browser()
		op.DenyNext("access_denied")
		w := externalLogin(t, op, b, "corp", "")
		wantErrorPage(t, w, 400, "access_denied")
	})
	t.Run("unknown provider", func(t *testing.T) {
		wantErrorPage(t, e.browser().do("GET", "/auth/external/nope/callback?code=x&state=y", ""), 404, "No such identity provider")
	})
}

func TestExternalProviderDown(t *testing.T) {
	op := testop.Start(t)
	e := newExternalEnv(t, op, nil)
	op.Down()
	w := e.browser().do("GET", "/auth/external/corp/login", "", header("Accept", "text/html,*/*;q=0.8"))
	wantErrorPage(t, w, 503, "Corp SSO cannot be reached right now; try again in a minute")
	wantProblem(t, e.browser().do("GET", "/auth/external/corp/login", "", header("Accept", "application/json")), 503, gatehouse.CodeProviderUnavailable)

	// Down between the start and the callback (the code exchange). A
	// fresh provider: the one above remembers its failed discovery for
	// a few seconds (oidclogin's retry delay).
	op.Up()
	op = testop.Start(t)
	e = newExternalEnv(t, op, nil)
	ada := e.createUser("ada", "ada@example.org", pwOf("ada"))
	e.link("corp", testop.DefaultUser.Subject, ada)
	b := e.browser()
	cb := op.Authorize(t, nil, startExternal(t, b, "corp", ""))
	op.Down()
	wantErrorPage(t, callback(t, b, cb), 503, "cannot be reached")
	op.Up()
}

func TestExternalSecondFactorStillAsked(t *testing.T) {
	op := testop.Start(t)
	e := newExternalEnv(t, op, nil)
	pb, csrfTok, tara := e.userBrowser("tara")
	_, codes := e.enrolTOTP(pb, csrfTok)
	e.link("corp", "tara-at-corp", tara)
	op.NextUser(testop.User{Subject: "tara-at-corp", Email: tara.Email, EmailVerified: true})

	b := e.browser()
	w := externalLogin(t, op, b, "corp", "?rd=/app/")
	if w.Code != 303 || w.Header().Get("Location") != "/auth/ui/login?rd=%2Fapp%2F" {
		t.Fatalf("callback: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if b.cookies["gh_session"] != nil || b.cookies["gh_pending"] == nil {
		t.Fatalf("cookies after the first factor: %v", b.cookies)
	}
	// The login page shows the second step to this browser.
	page := b.do("GET", w.Header().Get("Location"), "")
	if page.Code != 200 || !strings.Contains(page.Body.String(), `name="step" value="2"`) {
		t.Fatalf("login page: %d %s", page.Code, page.Body)
	}
	if w := b.do("GET", "/auth/session", ""); w.Code != 401 {
		t.Fatalf("a session before the second factor: %d", w.Code)
	}
	if w := b.do("POST", "/auth/2fa/verify", verifyBody("recovery_code", codes[0])); w.Code != 200 {
		t.Fatalf("verify: %d %s", w.Code, w.Body)
	}
	if name, _ := currentUser(t, b); name != "tara" {
		t.Fatalf("logged in as %q", name)
	}
}

func TestExternalSignOut(t *testing.T) {
	op := testop.Start(t)
	op.EndSessionEndpoint(true)
	e := newExternalEnv(t, op, nil)
	ada := e.createUser("ada", "ada@example.org", pwOf("ada"))
	e.link("corp", testop.DefaultUser.Subject, ada)

	b := e.browser()
	if w := externalLogin(t, op, b, "corp", ""); w.Code != 303 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	w := b.do("DELETE", "/auth/session", "", header("X-CSRF-Token", csrfOf(b)))
	if w.Code != 200 {
		t.Fatalf("logout: %d %s", w.Code, w.Body)
	}
	var res struct{ SignOutRedirectURL string }
	decode(t, w, &res)
	q := mustQuery(t, res.SignOutRedirectURL)
	if !strings.HasPrefix(res.SignOutRedirectURL, op.Issuer()) || q.Get("id_token_hint") == "" || q.Get("post_logout_redirect_uri") != gatehouseURL+"/auth/ui/login" {
		t.Errorf("sign-out URL %s", res.SignOutRedirectURL)
	}
	if b.cookies["gh_session"] != nil {
		t.Error("the session cookie was not cleared")
	}
	if w := b.do("GET", "/auth/session", ""); w.Code != 401 {
		t.Errorf("session after logout: %d", w.Code)
	}

	// A password session: 204 as ever.
	pb, csrfTok, _ := e.userBrowser("bob")
	if w := pb.do("DELETE", "/auth/session", "", header("X-CSRF-Token", csrfTok)); w.Code != 204 {
		t.Errorf("password logout: %d %s", w.Code, w.Body)
	}

	// A provider without an end_session_endpoint: 204.
	op2 := testop.Start(t)
	op2.EndSessionEndpoint(false)
	e2 := newExternalEnv(t, op2, nil)
	ada2 := e2.createUser("ada", "ada@example.org", pwOf("ada"))
	e2.link("corp", testop.DefaultUser.Subject, ada2)
	b = e2.browser()
	if w := externalLogin(t, op2, b, "corp", ""); w.Code != 303 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	if w := b.do("DELETE", "/auth/session", "", header("X-CSRF-Token", csrfOf(b))); w.Code != 204 {
		t.Errorf("logout without end_session_endpoint: %d %s", w.Code, w.Body)
	}
}

func TestExternalLinkAndUnlink(t *testing.T) {
	op := testop.Start(t)
	e := newExternalEnv(t, op, []extProvider{
		{id: "corp", rules: account.ExternalProvider{AllowManualLinking: true, AutoCreate: true}},
		{id: "locked", rules: account.ExternalProvider{}},
	})
	b, csrfTok, bob := e.userBrowser("bob")
	op.NextUser(testop.User{Subject: "bob-at-corp", Email: "bob@corp.example", EmailVerified: true})

	w := b.do("POST", "/auth/external/corp/link", `{"rd":"/done"}`, header("X-CSRF-Token", csrfTok))
	if w.Code != 200 {
		t.Fatalf("link: %d %s", w.Code, w.Body)
	}
	var started struct{ RedirectURL string }
	decode(t, w, &started)
	if w := callback(t, b, op.Authorize(t, nil, started.RedirectURL)); w.Code != 303 || w.Header().Get("Location") != "/done" {
		t.Fatalf("link callback: %d %v %s", w.Code, w.Header(), w.Body)
	}
	w = b.do("GET", "/auth/logins", "")
	var list []struct {
		Provider, Name, Email string
		EmailVerified         bool
	}
	decode(t, w, &list)
	if w.Code != 200 || len(list) != 1 || list[0].Provider != "corp" || list[0].Name != "Corp SSO" || list[0].Email != "bob@corp.example" || !list[0].EmailVerified {
		t.Fatalf("logins: %d %s", w.Code, w.Body)
	}
	// The linked account logs bob in now.
	if nb := e.browser(); externalLogin(t, op, nb, "corp", "").Code != 303 {
		t.Fatal("the linked account does not log in")
	} else if name, _ := currentUser(t, nb); name != "bob" {
		t.Fatalf("logged in as %q", name)
	}
	// Management API: an administrator sees and removes it.
	ab, aCSRF := e.loggedIn()
	if w := ab.do("GET", mgmt+"/users/"+bob.ID+"/logins", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"provider":"corp"`) {
		t.Fatalf("management list: %d %s", w.Code, w.Body)
	}
	// bob has a password: unlinking leaves him a way in.
	if w := b.do("DELETE", "/auth/logins/corp", "", header("X-CSRF-Token", csrfTok)); w.Code != 204 {
		t.Fatalf("unlink: %d %s", w.Code, w.Body)
	}
	wantProblem(t, b.do("DELETE", "/auth/logins/corp", "", header("X-CSRF-Token", csrfTok)), 404, gatehouse.CodeNotFound)
	// An administrator removes one too.
	e.link("corp", "bob-again", bob)
	if w := ab.do("DELETE", mgmt+"/users/"+bob.ID+"/logins/corp", "", header("X-CSRF-Token", aCSRF)); w.Code != 204 {
		t.Fatalf("management unlink: %d %s", w.Code, w.Body)
	}
	if ids, err := e.store.UserIdentities(context.Background(), bob.ID); err != nil || len(ids) != 0 {
		t.Fatalf("bob's logins after the administrator's removal: %v %v", ids, err)
	}
	// A provider that forbids manual linking.
	wantProblem(t, b.do("POST", "/auth/external/locked/link", "", header("X-CSRF-Token", csrfTok)), 400, gatehouse.CodeManualLinkingDisabled)
	// CSRF as every unsafe cookie request.
	wantProblem(t, b.do("POST", "/auth/external/corp/link", ""), 403, gatehouse.CodeCSRFFailed)

	// A stale session must re-authenticate first.
	e.clock.Advance(11 * time.Minute)
	b, csrfTok = e.loggedInAgain(b, csrfTok)
	e.clock.Advance(11 * time.Minute)
	wantProblem(t, b.do("POST", "/auth/external/corp/link", "", header("X-CSRF-Token", csrfTok)), 403, gatehouse.CodeReauthenticationRequired)

	// An external-only user (auto-created) cannot unlink their only way in.
	op.NextUser(testop.User{Subject: "carol-at-corp", Email: "carol@corp.example", EmailVerified: true, PreferredUsername: "carol"})
	cb := e.browser()
	if w := externalLogin(t, op, cb, "corp", ""); w.Code != 303 || w.Header().Get("Location") != "/auth/ui/account" {
		t.Fatalf("auto-create: %d %v %s", w.Code, w.Header(), w.Body)
	}
	wantProblem(t, cb.do("DELETE", "/auth/logins/corp", "", header("X-CSRF-Token", csrfOf(cb))), 409, gatehouse.CodeLastLoginMethod)
	// Nor can an administrator.
	ab, aCSRF = e.loggedIn()
	carol, err := e.store.UserByLogin(context.Background(), "carol")
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, ab.do("DELETE", mgmt+"/users/"+carol.ID+"/logins/corp", "", header("X-CSRF-Token", aCSRF)), 409, gatehouse.CodeLastLoginMethod)
}

// loggedInAgain keeps b's session alive (GET /session) and returns it.
func (e *env) loggedInAgain(b *browser, csrfTok string) (*browser, string) {
	e.t.Helper()
	if w := b.do("GET", "/auth/session", ""); w.Code != 200 {
		e.t.Fatalf("session: %d %s", w.Code, w.Body)
	}
	return b, csrfTok
}

// A link finished by another session links nothing.
func TestExternalLinkOtherSession(t *testing.T) {
	op := testop.Start(t)
	e := newExternalEnv(t, op, nil)
	b, csrfTok, _ := e.userBrowser("bob")
	w := b.do("POST", "/auth/external/corp/link", "", header("X-CSRF-Token", csrfTok))
	if w.Code != 200 {
		t.Fatalf("link: %d %s", w.Code, w.Body)
	}
	var started struct{ RedirectURL string }
	decode(t, w, &started)
	cb := op.Authorize(t, nil, started.RedirectURL)
	// Bob logs out and mallory logs in, in the same browser.
	b.do("DELETE", "/auth/session", "", header("X-CSRF-Token", csrfTok))
	e.createUser("mallory", "mallory@example.com", pwOf("mallory"))
	if w := b.login("mallory", pwOf("mallory")); w.Code != 200 {
		t.Fatal(w.Body)
	}
	wantErrorPage(t, callback(t, b, cb), 403, "another login")
	if w := b.do("GET", "/auth/logins", ""); strings.TrimSpace(w.Body.String()) != "[]" {
		t.Fatalf("mallory's logins: %s", w.Body)
	}
}

func TestExternalLoginPage(t *testing.T) {
	op := testop.Start(t)
	e := newExternalEnv(t, op, nil)
	w := e.browser().do("GET", "/auth/ui/login?rd=/app/", "")
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, `href="/auth/external/corp/login?rd=%2Fapp%2F"`) || !strings.Contains(body, "Log in with Corp SSO") || !strings.Contains(body, `name="password"`) {
		t.Fatalf("login page: %d %s", w.Code, body)
	}
}

// TestDenyLocalLogin: with a provider's deny_local_login, every password
// endpoint answers 403 local_login_disabled, the login page shows only the
// provider's button, and an operator's recovery link still logs in.
func TestDenyLocalLogin(t *testing.T) {
	op := testop.Start(t)
	e := newExternalEnv(t, op, []extProvider{{id: "corp", rules: account.ExternalProvider{DenyLocalLogin: true, AutoLinkVerifiedEmail: true}}},
		func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
			h.BasicAuth = httpapi.BasicAuth{Enabled: true, AllowInsecure: true}
		})
	ctx := context.Background()
	ada := e.createUser("ada", "ada@example.org", pwOf("ada"))
	resetLink, err := e.accounts.IssueResetLink(ctx, ada, "reset") // a mailed link, not a recovery one
	if err != nil {
		t.Fatal(err)
	}
	_, resetSecret := linkParts(t, resetLink, "reset")
	invited, err := e.accounts.Invite(ctx, account.NewInvite{Email: "ivy@example.org", Username: "ivy"})
	if err != nil {
		t.Fatal(err)
	}
	_, inviteSecret := linkParts(t, e.mailer.last(t, invited.Email, "invite").Data.Link, "invite")

	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("ada:"+pwOf("ada")))
	for _, c := range []struct {
		name, method, path, body string
		opts                     []reqOpt
	}{
		{"login", "POST", "/auth/session", `{"username":"ada","password":"` + pwOf("ada") + `"}`, nil},
		{"basic", "GET", "/auth/tokens", "", []reqOpt{header("Authorization", basic)}},
		{"forgot", "POST", "/auth/password/forgot", `{"email":"ada@example.org"}`, nil},
		{"reset", "POST", "/auth/password/reset", `{"userId":"` + ada.ID + `","token":"` + resetSecret + `","password":"a brand new passphrase 42"}`, nil},
		{"invite verify", "POST", "/auth/invite/verify", `{"userId":"` + invited.ID + `","token":"` + inviteSecret + `"}`, nil},
		{"invite password", "POST", "/auth/invite/password", `{"password":"a brand new passphrase 42"}`, nil},
		{"change password", "POST", "/auth/password", `{"currentPassword":"` + pwOf("ada") + `","newPassword":"a brand new passphrase 42"}`, []reqOpt{header("Authorization", basic)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantProblem(t, e.browser().do(c.method, c.path, c.body, c.opts...), 403, gatehouse.CodeLocalLoginDisabled)
		})
	}
	t.Run("login form", func(t *testing.T) {
		b := e.browser()
		w := b.postLogin(url.Values{"username": {"ada"}, "password": {pwOf("ada")}})
		if w.Code != 403 || strings.Contains(w.Body.String(), `name="password"`) || !strings.Contains(w.Body.String(), "Log in with Corp SSO") {
			t.Fatalf("form: %d %s", w.Code, w.Body)
		}
	})
	t.Run("login page", func(t *testing.T) {
		w := e.browser().do("GET", "/auth/ui/login", "")
		if w.Code != 200 || strings.Contains(w.Body.String(), `name="password"`) || !strings.Contains(w.Body.String(), "Log in with Corp SSO") {
			t.Fatalf("page: %d %s", w.Code, w.Body)
		}
	})
	t.Run("recovery link", func(t *testing.T) {
		link, err := e.accounts.IssueResetLink(ctx, ada, "") // as `gatehouse user reset-link`
		if err != nil {
			t.Fatal(err)
		}
		_, secret := linkParts(t, link, "reset")
		b := e.browser()
		w := b.do("POST", "/auth/password/reset", `{"userId":"`+ada.ID+`","token":"`+secret+`","password":"a brand new passphrase 42"}`)
		var res struct{ State string }
		decode(t, w, &res)
		if w.Code != 200 || res.State != "authenticated" {
			t.Fatalf("recovery: %d %s", w.Code, w.Body)
		}
		if name, _ := currentUser(t, b); name != "ada" {
			t.Fatalf("logged in as %q", name)
		}
	})
	t.Run("recovery link on the reset page", func(t *testing.T) {
		ada, err := e.store.UserByID(ctx, ada.ID) // its new security stamp
		if err != nil {
			t.Fatal(err)
		}
		link, err := e.accounts.IssueResetLink(ctx, ada, "")
		if err != nil {
			t.Fatal(err)
		}
		_, secret := linkParts(t, link, "reset")
		b := e.browser()
		form := url.Values{"userId": {ada.ID}, "token": {secret}, "password": {"another new passphrase 77"}}
		w := b.do("POST", "/auth/ui/reset", form.Encode(), header("Content-Type", "application/x-www-form-urlencoded"))
		if w.Code != 303 || w.Header().Get("Location") != "/auth/ui/account" {
			t.Fatalf("reset form: %d %v %s", w.Code, w.Header(), w.Body)
		}
		if name, _ := currentUser(t, b); name != "ada" {
			t.Fatalf("logged in as %q", name)
		}
		// A mailed reset link does not work on the page either.
		w = e.browser().do("POST", "/auth/ui/reset", url.Values{"userId": {ada.ID}, "token": {resetSecret}, "password": {"yet another passphrase 5"}}.Encode(), header("Content-Type", "application/x-www-form-urlencoded"))
		if w.Code == 303 || w.Code == 200 {
			t.Fatalf("mailed link while local login is disabled: %d %s", w.Code, w.Body)
		}
	})
	t.Run("the provider logs in", func(t *testing.T) {
		b := e.browser()
		if w := externalLogin(t, op, b, "corp", ""); w.Code != 303 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if name, _ := currentUser(t, b); name != "ada" {
			t.Fatalf("logged in as %q", name)
		}
	})
}
