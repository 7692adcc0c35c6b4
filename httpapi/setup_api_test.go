package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sqlite"
	"github.com/gatehouse/gatehouse/web"
)

// emptyEnv is an env without any user, as at first start.
func emptyEnv(t *testing.T) (*env, string) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clk := &clock{}
	sm := session.NewManager(store, session.DefaultConfig, clk.Now, nil)
	accounts := account.New(account.StoresOf(store), password.NewHasher(cheapParams, 0, 0), sm, account.DefaultConfig, clk.Now, nil, nil)
	api, err := httpapi.New(httpapi.Config{}, httpapi.Deps{Accounts: accounts, Sessions: sm, Now: clk.Now, Pages: web.Constructor(accounts)})
	if err != nil {
		t.Fatal(err)
	}
	token, err := accounts.StartSetup(ctx)
	if err != nil || token == "" {
		t.Fatalf("StartSetup = %q, %v", token, err)
	}
	return &env{t: t, clock: clk, store: store, accounts: accounts, api: api}, token
}

func TestSetup(t *testing.T) {
	e, token := emptyEnv(t)
	b := e.browser()
	body := func(tok, user string) string {
		return `{"token":"` + tok + `","username":"` + user + `","email":"` + user + `@example.com","password":"` + adminPassword + `"}`
	}
	wantProblem(t, b.do("POST", "/auth/setup", body("wrong", "root")), 400, gatehouse.CodeInvalidToken)
	wantProblem(t, b.do("POST", "/auth/setup", body("", "root")), 400, gatehouse.CodeInvalidToken)
	p := wantProblem(t, b.do("POST", "/auth/setup", `{"token":"`+token+`","username":"root","email":"not an email","password":"short"}`), 422, gatehouse.CodeValidation)
	if !strings.Contains(string(p.Errors), "email") {
		t.Errorf("errors = %s", p.Errors)
	}
	wantProblem(t, b.do("POST", "/auth/setup", `{"token":"`+token+`","username":"root","email":"root@example.com","password":"short"}`), 422, gatehouse.CodePasswordPolicy)

	w := b.do("POST", "/auth/setup", body(token, "root"))
	if w.Code != 201 {
		t.Fatalf("setup: %d %s", w.Code, w.Body)
	}
	var res struct{ User map[string]any }
	decode(t, w, &res)
	if res.User["username"] != "root" || res.User["state"] != "active" {
		t.Errorf("user = %v", res.User)
	}
	if g, _ := res.User["groups"].([]any); len(g) != 1 || g[0] != gatehouse.GroupAdministrators {
		t.Errorf("groups = %v", res.User["groups"])
	}
	// The token dies.
	wantProblem(t, b.do("POST", "/auth/setup", body(token, "root2")), 400, gatehouse.CodeInvalidToken)
	if n, _ := e.store.CountUsers(context.Background()); n != 1 {
		t.Errorf("%d users", n)
	}
	// A later StartSetup gives no token, since a user exists.
	if tok, err := e.accounts.StartSetup(context.Background()); tok != "" || err != nil {
		t.Errorf("StartSetup with a user = %q, %v", tok, err)
	}
	if w := b.login("root", adminPassword); w.Code != 200 {
		t.Errorf("login as the new administrator: %d", w.Code)
	}
}

func TestSetupPage(t *testing.T) {
	e, token := emptyEnv(t)
	b := e.browser()
	w := b.do("GET", "/auth/ui/setup?token="+token, "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `<form method="post"`) || !strings.Contains(w.Body.String(), token) {
		t.Fatalf("setup page: %d %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q", ct)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	// Opening the page (as a mail scanner would) does not use the token up.
	b.do("GET", "/auth/ui/setup?token="+token, "")

	form := url.Values{"token": {token}, "username": {"root"}, "email": {"root@example.com"}, "password": {"short"}}
	post := func(v url.Values, opts ...reqOpt) *httptestRecorder {
		opts = append([]reqOpt{header("Content-Type", "application/x-www-form-urlencoded")}, opts...)
		return b.do("POST", "/auth/ui/setup", v.Encode(), opts...)
	}
	if w := post(form); w.Code != 422 || !strings.Contains(w.Body.String(), "at least 12") {
		t.Errorf("short password: %d %s", w.Code, w.Body)
	}
	form.Set("password", "<script>alert(1)</script> long enough")
	form.Set("username", `"><script>x</script>`)
	if w := post(form); w.Code != 422 || strings.Contains(w.Body.String(), "<script>x") {
		t.Errorf("bad username: %d, escaped? %s", w.Code, w.Body)
	}
	form.Set("username", "root")
	// A cross-site form post is refused.
	if w := post(form, header("Sec-Fetch-Site", "cross-site")); w.Code != http.StatusForbidden {
		t.Errorf("cross-site setup form: %d", w.Code)
	}
	if w := post(form); w.Code != 201 || !strings.Contains(w.Body.String(), "was created") {
		t.Fatalf("setup form: %d %s", w.Code, w.Body)
	}
	if w := post(form); w.Code != 400 || !strings.Contains(w.Body.String(), "not valid") {
		t.Errorf("second use: %d", w.Code)
	}
	if w := b.do("GET", "/auth/ui/setup?token="+token, ""); !strings.Contains(w.Body.String(), "not valid") {
		t.Errorf("page after setup: %s", w.Body)
	}
}
