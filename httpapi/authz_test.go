package httpapi_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
)

// actsOnCase is a management endpoint that acts on another user's account,
// sessions, tokens, invitation or factors.
type actsOnCase struct {
	method, path, body string // path: {id} is the target's id, {sid} a session, {tid} a token of theirs
	// invited and disabled put the target in that state first.
	invited, disabled bool
	// prepare readies the target and returns what fills the path and a
	// report of whether the endpoint changed anything.
	prepare func(t *testing.T, e *env, u *gatehouse.User) (vars map[string]string, changed func() bool)
}

// actsOnCases lists every management endpoint that acts on an account; a
// test below keeps it complete.
var actsOnCases = []actsOnCase{
	{method: "PATCH", path: "/users/{id}", body: `{"name":"Owned"}`, prepare: func(t *testing.T, e *env, u *gatehouse.User) (map[string]string, func() bool) {
		return nil, func() bool { return mustUser(t, e, u.ID).Name == "Owned" }
	}},
	{method: "DELETE", path: "/users/{id}", prepare: func(t *testing.T, e *env, u *gatehouse.User) (map[string]string, func() bool) {
		return nil, func() bool {
			_, err := e.store.UserByID(context.Background(), u.ID)
			return errors.Is(err, gatehouse.ErrNotFound)
		}
	}},
	{method: "POST", path: "/users/{id}/disable", prepare: func(t *testing.T, e *env, u *gatehouse.User) (map[string]string, func() bool) {
		return nil, func() bool { return mustUser(t, e, u.ID).State != gatehouse.StateActive }
	}},
	{method: "POST", path: "/users/{id}/enable", disabled: true, prepare: func(t *testing.T, e *env, u *gatehouse.User) (map[string]string, func() bool) {
		return nil, func() bool { return mustUser(t, e, u.ID).State != gatehouse.StateDisabled }
	}},
	{method: "POST", path: "/users/{id}/unlock", prepare: func(t *testing.T, e *env, u *gatehouse.User) (map[string]string, func() bool) {
		b := e.browser()
		b.addr = "198.51.100.7:1000" // not the other browsers' address
		for range 5 {
			b.login(u.Username, "not the password at all")
		}
		if w := b.login(u.Username, pwOf(u.Username)); w.Code != 429 {
			t.Fatalf("not locked: %d %s", w.Code, w.Body)
		}
		return nil, func() bool { return b.login(u.Username, pwOf(u.Username)).Code == 200 }
	}},
	{method: "DELETE", path: "/users/{id}/sessions", prepare: func(t *testing.T, e *env, u *gatehouse.User) (map[string]string, func() bool) {
		b := loginAs(t, e, u)
		return nil, func() bool { return b.do("GET", "/auth/session", "").Code != 200 }
	}},
	{method: "POST", path: "/users/{id}/reset-password", prepare: func(t *testing.T, e *env, u *gatehouse.User) (map[string]string, func() bool) {
		return nil, func() bool { return e.mailer.count(u.Email, "reset") > 0 }
	}},
	{method: "POST", path: "/users/{id}/reset-two-factor", prepare: func(t *testing.T, e *env, u *gatehouse.User) (map[string]string, func() bool) {
		ctx := context.Background()
		if err := e.store.PutTwoFactor(ctx, &gatehouse.TwoFactor{UserID: u.ID, TOTPSecret: []byte("sealed key"), UpdatedAt: e.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		return nil, func() bool {
			tf, err := e.store.TwoFactor(ctx, u.ID)
			return errors.Is(err, gatehouse.ErrNotFound) || !tf.Enabled()
		}
	}},
	{method: "PUT", path: "/users/{id}/phone", body: `{"phone":"+4915112345678"}`, prepare: func(t *testing.T, e *env, u *gatehouse.User) (map[string]string, func() bool) {
		return nil, func() bool {
			tf, err := e.store.TwoFactor(context.Background(), u.ID)
			return err == nil && tf.Phone != ""
		}
	}},
	{method: "POST", path: "/users/{id}/invite", invited: true, prepare: func(t *testing.T, e *env, u *gatehouse.User) (map[string]string, func() bool) {
		return nil, func() bool { return e.mailer.count(u.Email, "invite") != 1 }
	}},
	{method: "DELETE", path: "/users/{id}/invite", invited: true, prepare: func(t *testing.T, e *env, u *gatehouse.User) (map[string]string, func() bool) {
		_, secret := linkParts(t, e.mailer.last(t, u.Email, "invite").Data.Link, "invite")
		return nil, func() bool {
			return e.browser().do("POST", "/auth/invite/verify", `{"userId":"`+u.ID+`","token":"`+secret+`"}`).Code != 200
		}
	}},
	{method: "DELETE", path: "/sessions/{sid}", prepare: func(t *testing.T, e *env, u *gatehouse.User) (map[string]string, func() bool) {
		b := loginAs(t, e, u)
		list, err := e.accounts.UserSessions(context.Background(), u.ID)
		if err != nil || len(list) != 1 {
			t.Fatalf("sessions %v %v", list, err)
		}
		return map[string]string{"{sid}": list[0].ID}, func() bool { return b.do("GET", "/auth/session", "").Code != 200 }
	}},
	{method: "DELETE", path: "/users/{id}/logins/{provider}", prepare: func(t *testing.T, e *env, u *gatehouse.User) (map[string]string, func() bool) {
		e.link("corp", "subject-of-"+u.ID, u)
		return map[string]string{"{provider}": "corp"}, func() bool {
			list, err := e.store.UserIdentities(context.Background(), u.ID)
			return err == nil && len(list) == 0
		}
	}},
	{method: "DELETE", path: "/tokens/{tid}", prepare: func(t *testing.T, e *env, u *gatehouse.User) (map[string]string, func() bool) {
		secret, tok, err := e.accounts.CreateToken(context.Background(), account.Actor{}, u, account.NewToken{Name: "theirs"})
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"{tid}": tok.ID}, func() bool {
			return e.browser().do("GET", "/auth/tokens", "", header("Authorization", "Bearer "+secret)).Code != 200
		}
	}},
}

// loginAs logs u in (their password is pwOf(username)) in a new browser.
func loginAs(t *testing.T, e *env, u *gatehouse.User) *browser {
	t.Helper()
	b := e.browser()
	if w := b.login(u.Username, pwOf(u.Username)); w.Code != 200 {
		t.Fatalf("login %s: %d %s", u.Username, w.Code, w.Body)
	}
	return b
}

// mgmtCaller makes management requests as one credential.
type mgmtCaller struct {
	name string
	do   func(method, path, body string) *httptestRecorder
}

// narrowCallers returns a user holding only section:users (helpdesk), and
// an administrator's API token limited to section:users.
func narrowCallers(t *testing.T, e *env) []mgmtCaller {
	t.Helper()
	e.group("helpdesk", "section:users")
	h, hCSRF, _ := e.userBrowser("hank", "helpdesk")
	secret, _, err := e.accounts.CreateToken(context.Background(), account.Actor{}, e.admin, account.NewToken{Name: "narrow", Permissions: []string{"section:users"}})
	if err != nil {
		t.Fatal(err)
	}
	return []mgmtCaller{
		{"narrow user", func(method, path, body string) *httptestRecorder {
			return h.do(method, mgmt+path, body, header("X-CSRF-Token", hCSRF))
		}},
		{"narrow token of an administrator", func(method, path, body string) *httptestRecorder {
			return e.browser().do(method, mgmt+path, body, header("Authorization", "Bearer "+secret))
		}},
	}
}

// TestNobodyActsOnAMorePowerfulAccount: every management endpoint that
// acts on an account refuses, and changes nothing, when the target holds a
// permission the caller's credential does not — a user with section:users
// only, or an administrator's token limited to section:users, against an
// administrator — and works when the caller holds all the target does.
func TestNobodyActsOnAMorePowerfulAccount(t *testing.T) {
	// With a provider, for the linked logins (never reached: unlinking
	// needs no provider).
	e := newProvidersEnv(t, "https://sso.example.com", "gatehouse", "", nil)
	callers := narrowCallers(t, e)
	n := 0
	target := func(t *testing.T, c actsOnCase, group string) *gatehouse.User {
		t.Helper()
		n++
		name := "target" + strconv.Itoa(n)
		ctx := context.Background()
		if c.invited {
			u, err := e.accounts.Invite(ctx, account.NewInvite{Email: name + "@example.com", Username: name, Groups: []string{group}})
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		u := e.createUser(name, name+"@example.com", pwOf(name), group)
		if c.disabled {
			if _, err := e.accounts.DisableUser(ctx, account.Actor{}, u.ID); err != nil {
				t.Fatal(err)
			}
		}
		return u
	}
	run := func(t *testing.T, caller mgmtCaller, c actsOnCase, u *gatehouse.User) (*httptestRecorder, func() bool) {
		t.Helper()
		vars, changed := c.prepare(t, e, u)
		path := strings.ReplaceAll(c.path, "{id}", u.ID)
		for k, v := range vars {
			path = strings.ReplaceAll(path, k, v)
		}
		return caller.do(c.method, path, c.body), changed
	}
	for _, c := range actsOnCases {
		for _, caller := range callers {
			t.Run(c.method+" "+c.path+"/"+caller.name, func(t *testing.T) {
				u := target(t, c, gatehouse.GroupAdministrators)
				w, changed := run(t, caller, c, u)
				wantProblem(t, w, 403, gatehouse.CodePermissionDenied)
				if changed() {
					t.Errorf("refused, yet the administrator's account changed")
				}
				// The control: a target holding no more than the caller.
				peer := target(t, c, "helpdesk")
				w, changed = run(t, caller, c, peer)
				if w.Code < 200 || w.Code > 299 {
					t.Fatalf("peer: %d %s", w.Code, w.Body)
				}
				if !changed() {
					t.Errorf("peer: answered %d, yet nothing changed", w.Code)
				}
			})
		}
	}
}

// TestActsOnCasesComplete keeps actsOnCases complete: every management
// endpoint that changes something is either in it or known not to act on
// an existing account (those are covered by TestDelegatedCredentialsStayInScope).
func TestActsOnCasesComplete(t *testing.T) {
	notActing := []string{
		"POST /users", "POST /users/invite", // create: checked by what they grant
		"POST /groups", "PATCH /groups/{name}", "PUT /groups/{name}", "DELETE /groups/{name}",
	}
	covered := map[string]bool{}
	for _, c := range actsOnCases {
		p := strings.NewReplacer("{sid}", "{id}", "{tid}", "{id}").Replace(c.path)
		covered[c.method+" "+p] = true
	}
	e := newEnv(t)
	for _, r := range e.api.Routes() {
		method, path, _ := strings.Cut(r, " ")
		rest, ok := strings.CutPrefix(path, "/management/api/v1")
		if !ok || method == "GET" || method == "HEAD" {
			continue
		}
		key := method + " " + rest
		if !covered[key] && !slices.Contains(notActing, key) {
			t.Errorf("%s %s: a management endpoint that changes something is not in actsOnCases", method, path)
		}
	}
}

// TestDelegatedCredentialsStayInScope: what a request may grant is decided
// by the credential that authenticated it, not by its owner: an
// administrator's token limited to section:users cannot make anybody an
// administrator, nor act on its own owner; one limited to
// section:settings cannot give a group "*" nor delete one that has it.
func TestDelegatedCredentialsStayInScope(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	token := func(perms ...string) reqOpt {
		secret, _, err := e.accounts.CreateToken(ctx, account.Actor{}, e.admin, account.NewToken{Name: "narrow", Permissions: perms})
		if err != nil {
			t.Fatal(err)
		}
		return header("Authorization", "Bearer "+secret)
	}
	users, settings := token("section:users"), token("section:settings")
	plain := e.createUser("plain", "plain@example.com", pwOf("plain"))
	e.group("ops", "section:users")
	refused := []struct {
		name, method, path, body string
		as                       reqOpt
		unchanged                func() bool
	}{
		{"create an administrator", "POST", "/users", `{"username":"mallory","email":"m@example.com","password":"` + pwOf("mallory") + `","groups":["administrators"]}`, users,
			func() bool {
				_, err := e.store.UserByLogin(ctx, "mallory")
				return errors.Is(err, gatehouse.ErrNotFound)
			}},
		{"invite an administrator", "POST", "/users/invite", `{"email":"m2@example.com","groups":["administrators"]}`, users,
			func() bool {
				_, err := e.store.UserByLogin(ctx, "m2@example.com")
				return errors.Is(err, gatehouse.ErrNotFound)
			}},
		{"make a user an administrator", "PATCH", "/users/" + plain.ID, `{"groups":["administrators"]}`, users,
			func() bool { return len(mustUser(t, e, plain.ID).Groups) == 0 }},
		{"disable its own owner", "POST", "/users/" + e.admin.ID + "/disable", "", users,
			func() bool { return mustUser(t, e, e.admin.ID).State == gatehouse.StateActive }},
		{"create a group with *", "POST", "/groups", `{"name":"root2","permissions":["*"]}`, settings,
			func() bool { _, err := e.store.Group(ctx, "root2"); return errors.Is(err, gatehouse.ErrNotFound) }},
		{"give a group *", "PATCH", "/groups/ops", `{"permissions":["section:users","*"]}`, settings,
			func() bool { g, _ := e.store.Group(ctx, "ops"); return !slices.Contains(g.Permissions, "*") }},
		{"replace a group with *", "PUT", "/groups/ops", `{"permissions":["*"]}`, settings,
			func() bool { g, _ := e.store.Group(ctx, "ops"); return !slices.Contains(g.Permissions, "*") }},
		{"take section:users from a group", "PATCH", "/groups/ops", `{"permissions":[]}`, settings,
			func() bool { g, _ := e.store.Group(ctx, "ops"); return len(g.Permissions) == 1 }},
		{"delete a group with permissions it lacks", "DELETE", "/groups/ops", "", settings,
			func() bool { _, err := e.store.Group(ctx, "ops"); return err == nil }},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			wantProblem(t, e.browser().do(c.method, mgmt+c.path, c.body, c.as), 403, gatehouse.CodePermissionDenied)
			if !c.unchanged() {
				t.Error("refused, yet changed")
			}
		})
	}
	// Within the token's own scope the same endpoints work.
	if w := e.browser().do("POST", mgmt+"/groups", `{"name":"cfg","permissions":["section:settings"]}`, settings); w.Code != 201 {
		t.Errorf("create within scope: %d %s", w.Code, w.Body)
	}
	if w := e.browser().do("DELETE", mgmt+"/groups/cfg", "", settings); w.Code != 204 {
		t.Errorf("delete within scope: %d %s", w.Code, w.Body)
	}
	if w := e.browser().do("PATCH", mgmt+"/users/"+plain.ID, `{"groups":["ops"]}`, users); w.Code != 200 {
		t.Errorf("grant within scope: %d %s", w.Code, w.Body)
	}
}

// TestSettingsUserCannotDeleteAMorePowerfulGroup: deleting a group takes
// its permissions away from its members, so it needs them all.
func TestSettingsUserCannotDeleteAMorePowerfulGroup(t *testing.T) {
	e := newEnv(t)
	e.group("settings", "section:settings")
	e.group("ops", "section:users")
	s, sCSRF, _ := e.userBrowser("sid", "settings")
	for _, g := range []string{"ops", gatehouse.GroupAdministrators} {
		wantProblem(t, s.do("DELETE", mgmt+"/groups/"+g, "", header("X-CSRF-Token", sCSRF)), 403, gatehouse.CodePermissionDenied)
		if _, err := e.store.Group(context.Background(), g); err != nil {
			t.Errorf("group %s: %v", g, err)
		}
	}
}

// TestLimitedTokenClaimsOnlyItsGroups: behind the gateway, a token limited
// to some of its owner's permissions does not tell the application that it
// is in the owner's more powerful groups (Remote-Groups), which the
// application may decide by.
func TestLimitedTokenClaimsOnlyItsGroups(t *testing.T) {
	e := newEnv(t, withGateway(gatewayTable(t), nil))
	ctx := context.Background()
	e.group("helpdesk", "section:users")
	owner := e.createUser("olive", "olive@example.com", pwOf("olive"), gatehouse.GroupAdministrators, "helpdesk")
	for _, c := range []struct {
		perms  []string
		groups string
	}{
		{nil, "administrators,helpdesk"},
		{[]string{"section:users"}, "helpdesk"},
		{[]string{"servers.read"}, ""},
	} {
		secret, _, err := e.accounts.CreateToken(ctx, account.Actor{}, owner, account.NewToken{Name: "t", Permissions: c.perms})
		if err != nil {
			t.Fatal(err)
		}
		w := e.browser().verify(with(nginxAuth("GET", "/app/x"), header("Authorization", "Bearer "+secret))...)
		wantAllowed(t, w, "olive", c.groups)
	}
}
