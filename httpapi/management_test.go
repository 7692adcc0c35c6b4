package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/session"
)

const mgmt = "/auth/management/api/v1"

// userBrowser logs a new user with the given groups in.
func (e *env) userBrowser(name string, groups ...string) (*browser, string, *gatehouse.User) {
	e.t.Helper()
	u := e.createUser(name, name+"@example.com", pwOf(name), groups...)
	b := e.browser()
	w := b.login(name, pwOf(name))
	if w.Code != 200 {
		e.t.Fatalf("login %s: %d %s", name, w.Code, w.Body)
	}
	var res struct{ CSRFToken string }
	decode(e.t, w, &res)
	return b, res.CSRFToken, u
}

func (e *env) group(name string, perms ...string) {
	e.t.Helper()
	if err := e.accounts.CreateGroup(context.Background(), account.Actor{}, &gatehouse.Group{Name: name, Permissions: perms}); err != nil {
		e.t.Fatal(err)
	}
}

// TestManagementAccess checks 401 vs 403 on every management endpoint for an
// anonymous caller, a user without the permission and one with it.
func TestManagementAccess(t *testing.T) {
	e := newEnv(t)
	e.group("viewers", "section:content")
	e.group("useradmins", "section:users")
	e.group("settingsadmins", "section:settings", "a.b", "a.c", "a.d")
	e.group("auditors", "section:audit")
	nobody, nobodyCSRF, _ := e.userBrowser("nobody", "viewers")
	endpoints := []struct {
		method, path, perm, group, body string
	}{
		{"GET", "/users", "section:users", "useradmins", ""},
		{"POST", "/users", "section:users", "useradmins", `{"username":"x","email":"x@example.com","password":"x velvet sandal crayon"}`},
		{"GET", "/users/ID", "section:users", "useradmins", ""},
		{"PATCH", "/users/ID", "section:users", "useradmins", `{"name":"N"}`},
		{"POST", "/users/ID/disable", "section:users", "useradmins", ""},
		{"POST", "/users/ID/enable", "section:users", "useradmins", ""},
		{"POST", "/users/ID/unlock", "section:users", "useradmins", ""},
		{"GET", "/users/ID/sessions", "section:users", "useradmins", ""},
		{"DELETE", "/users/ID/sessions", "section:users", "useradmins", ""},
		{"GET", "/users/ID/tokens", "section:users", "useradmins", ""},
		{"DELETE", "/users/ID", "section:users", "useradmins", ""},
		{"GET", "/groups", "section:settings", "settingsadmins", ""},
		{"POST", "/groups", "section:settings", "settingsadmins", `{"name":"g1","permissions":["a.b"]}`},
		{"GET", "/groups/g1", "section:settings", "settingsadmins", ""},
		{"PATCH", "/groups/g1", "section:settings", "settingsadmins", `{"permissions":["a.c"]}`},
		{"PUT", "/groups/g1", "section:settings", "settingsadmins", `{"permissions":["a.d"]}`},
		{"DELETE", "/groups/g1", "section:settings", "settingsadmins", ""},
		{"GET", "/sessions", "section:users", "useradmins", ""},
		{"DELETE", "/sessions/nope", "section:users", "useradmins", ""},
		{"GET", "/tokens", "section:users", "useradmins", ""},
		{"DELETE", "/tokens/nope", "section:users", "useradmins", ""},
		{"GET", "/audit", "section:audit", "auditors", ""},
		{"GET", "/policy/explain?method=GET&path=/x", "section:settings", "settingsadmins", ""},
	}
	target := e.createUser("target", "target@example.com", "tegrat velvet sandal crayon")
	for _, ep := range endpoints {
		path := mgmt + strings.ReplaceAll(ep.path, "ID", target.ID)
		t.Run(ep.method+" "+ep.path, func(t *testing.T) {
			w := e.browser().do(ep.method, path, ep.body)
			wantProblem(t, w, 401, gatehouse.CodeUnauthenticated)
			w = nobody.do(ep.method, path, ep.body, header("X-CSRF-Token", nobodyCSRF))
			p := wantProblem(t, w, 403, gatehouse.CodePermissionDenied)
			if !strings.Contains(p.Detail, ep.perm) {
				t.Errorf("403 detail %q does not name %s", p.Detail, ep.perm)
			}
			priv, csrfTok, _ := e.userBrowser("p"+gatehouse.NewID()[:10], ep.group)
			w = priv.do(ep.method, path, ep.body, header("X-CSRF-Token", csrfTok))
			if w.Code == 401 || w.Code == 403 || w.Code >= 500 {
				t.Errorf("privileged caller: %d %s", w.Code, w.Body)
			}
			// The same privileged caller without the CSRF token is refused
			// on unsafe methods.
			if ep.method != "GET" {
				wantProblem(t, priv.do(ep.method, path, ep.body), 403, gatehouse.CodeCSRFFailed)
			}
		})
	}
	// Denials reach the audit log.
	events, _, err := e.accounts.ListAudit(context.Background(), account.AuditFilter{Kind: gatehouse.AuditPermissionDenied})
	if err != nil || len(events) < len(endpoints) {
		t.Errorf("%d denials audited, want ≥ %d (%v)", len(events), len(endpoints), err)
	}
}

func TestManageUsers(t *testing.T) {
	e := newEnv(t)
	admin, csrfTok := e.loggedIn()
	do := func(method, path, body string) *httptestRecorder {
		return admin.do(method, mgmt+path, body, header("X-CSRF-Token", csrfTok))
	}
	w := do("POST", "/users", `{"username":"alice","email":"alice@example.com","name":"Alice","password":"ecila velvet sandal crayon","groups":["administrators"]}`)
	if w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var alice struct {
		ID          string
		Username    string
		Permissions []string
	}
	decode(t, w, &alice)
	if alice.Username != "alice" || len(alice.Permissions) != 1 {
		t.Errorf("created %+v", alice)
	}
	wantProblem(t, do("POST", "/users", `{"username":"ALICE","email":"a2@example.com","password":"ecila velvet sandal crayon"}`), 409, gatehouse.CodeConflict)
	p := wantProblem(t, do("POST", "/users", `{"username":"b c","email":"nope","password":"x"}`), 422, gatehouse.CodeValidation)
	var fields map[string]string
	json.Unmarshal(p.Errors, &fields)
	if fields["username"] == "" || fields["email"] == "" {
		t.Errorf("errors = %s", p.Errors)
	}
	wantProblem(t, do("POST", "/users", `{"username":"bob","email":"bob@example.com","password":"bob velvet sandal crayon","groups":["nope"]}`), 422, gatehouse.CodeValidation)
	wantProblem(t, do("GET", "/users/NOPE", ""), 404, gatehouse.CodeNotFound)
	wantProblem(t, do("PATCH", "/users/NOPE", `{"name":"x"}`), 404, gatehouse.CodeNotFound)
	wantProblem(t, do("PATCH", "/users/"+alice.ID, `{"password":"set by admin"}`), 400, gatehouse.CodeBadRequest)

	// List, search and paging.
	for _, n := range []string{"carol", "dave", "erin"} {
		e.createUser(n, n+"@example.com", pwOf(n))
	}
	var list struct {
		Items []struct{ Username string }
		Total int
	}
	decode(t, do("GET", "/users?limit=2&offset=1", ""), &list)
	if list.Total != 5 || len(list.Items) != 2 || list.Items[0].Username != "alice" {
		t.Errorf("page = %+v", list)
	}
	decode(t, do("GET", "/users?search=AROL", ""), &list)
	if list.Total != 1 || list.Items[0].Username != "carol" {
		t.Errorf("search = %+v", list)
	}
	wantProblem(t, do("GET", "/users?limit=0", ""), 422, gatehouse.CodeValidation)
	wantProblem(t, do("GET", "/users?state=weird", ""), 422, gatehouse.CodeValidation)

	// Disabling ends the user's sessions and tokens at once.
	ab := e.browser()
	ab.login("alice", "ecila velvet sandal crayon")
	secret, _, err := e.accounts.CreateToken(context.Background(), account.Actor{}, mustUser(t, e, alice.ID), account.NewToken{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	if w := e.browser().do("GET", "/auth/tokens", "", header("Authorization", "Bearer "+secret)); w.Code != 200 {
		t.Fatalf("token before disable: %d", w.Code)
	}
	if w := do("POST", "/users/"+alice.ID+"/disable", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"state":"disabled"`) {
		t.Fatalf("disable: %d %s", w.Code, w.Body)
	}
	wantProblem(t, ab.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
	wantProblem(t, e.browser().do("GET", "/auth/tokens", "", header("Authorization", "Bearer "+secret)), 401, gatehouse.CodeUnauthenticated)
	if toks, _ := e.store.UserTokens(context.Background(), alice.ID); len(toks) != 0 {
		t.Errorf("%d tokens left after disable", len(toks))
	}
	if w := do("POST", "/users/"+alice.ID+"/enable", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"state":"active"`) {
		t.Fatalf("enable: %d %s", w.Code, w.Body)
	}
	if w := ab.login("alice", "ecila velvet sandal crayon"); w.Code != 200 {
		t.Errorf("login after enable: %d", w.Code)
	}

	// Update: groups change the permissions the next request sees.
	w = do("PATCH", "/users/"+alice.ID, `{"name":"Alice A.","groups":[]}`)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"permissions":[]`) {
		t.Fatalf("update: %d %s", w.Code, w.Body)
	}
	wantProblem(t, ab.do("GET", mgmt+"/users", ""), 403, gatehouse.CodePermissionDenied)

	// Sessions of a user, and ending them.
	var sess struct{ Items []struct{ ID string } }
	decode(t, do("GET", "/users/"+alice.ID+"/sessions", ""), &sess)
	if len(sess.Items) != 1 {
		t.Fatalf("alice's sessions = %+v", sess)
	}
	if w := do("DELETE", "/users/"+alice.ID+"/sessions", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"ended":1`) {
		t.Errorf("end sessions: %d %s", w.Code, w.Body)
	}
	wantProblem(t, ab.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)

	// Unlock clears a lockout, under the username and the email alike.
	for _, name := range []string{"carol", "Carol@Example.com"} {
		for range 5 {
			e.browser().login(name, "wrong")
		}
		wantProblem(t, e.browser().login(name, "lorac velvet sandal crayon"), 429, gatehouse.CodeTooManyAttempts)
	}
	var carol struct{ Items []struct{ ID string } }
	decode(t, do("GET", "/users?search=carol", ""), &carol)
	if w := do("POST", "/users/"+carol.Items[0].ID+"/unlock", ""); w.Code != 204 {
		t.Fatalf("unlock: %d", w.Code)
	}
	for _, name := range []string{"carol", "carol@example.com"} {
		if w := e.browser().login(name, "lorac velvet sandal crayon"); w.Code != 200 {
			t.Errorf("login as %s after unlock: %d", name, w.Code)
		}
	}

	// Delete.
	if w := do("DELETE", "/users/"+carol.Items[0].ID, ""); w.Code != 204 {
		t.Fatalf("delete: %d", w.Code)
	}
	wantProblem(t, do("GET", "/users/"+carol.Items[0].ID, ""), 404, gatehouse.CodeNotFound)

	// The last administrator cannot be removed, disabled or demoted.
	wantProblem(t, do("DELETE", "/users/"+e.admin.ID, ""), 409, gatehouse.CodeConflict)
	wantProblem(t, do("POST", "/users/"+e.admin.ID+"/disable", ""), 409, gatehouse.CodeConflict)
	wantProblem(t, do("PATCH", "/users/"+e.admin.ID, `{"groups":[]}`), 409, gatehouse.CodeConflict)
	wantProblem(t, do("PATCH", "/groups/administrators", `{"permissions":["section:users"]}`), 409, gatehouse.CodeConflict)
	wantProblem(t, do("DELETE", "/groups/administrators", ""), 409, gatehouse.CodeConflict)
}

func mustUser(t *testing.T, e *env, id string) *gatehouse.User {
	t.Helper()
	u, err := e.store.UserByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestManageGroupsAndPermissionChangeIsImmediate(t *testing.T) {
	e := newEnv(t)
	admin, csrfTok := e.loggedIn()
	do := func(method, path, body string) *httptestRecorder {
		return admin.do(method, mgmt+path, body, header("X-CSRF-Token", csrfTok))
	}
	if w := do("POST", "/groups", `{"name":"ops","description":"Operators","permissions":["section:users","section:users"]}`); w.Code != 201 || !strings.Contains(w.Body.String(), `"permissions":["section:users"]`) {
		t.Fatalf("create group: %d %s", w.Code, w.Body)
	}
	wantProblem(t, do("POST", "/groups", `{"name":"ops"}`), 409, gatehouse.CodeConflict)
	wantProblem(t, do("POST", "/groups", `{"name":"Bad Name"}`), 422, gatehouse.CodeValidation)
	wantProblem(t, do("POST", "/groups", `{"name":"x","permissions":["has space"]}`), 422, gatehouse.CodeValidation)
	wantProblem(t, do("GET", "/groups/none", ""), 404, gatehouse.CodeNotFound)
	wantProblem(t, do("PATCH", "/groups/ops", `{"name":"renamed"}`), 422, gatehouse.CodeValidation)

	ops, _, opsUser := e.userBrowser("oscar", "ops")
	if w := ops.do("GET", mgmt+"/users", ""); w.Code != 200 {
		t.Fatalf("ops member: %d", w.Code)
	}
	var g struct{ Members []string }
	decode(t, do("GET", "/groups/ops", ""), &g)
	if len(g.Members) != 1 || g.Members[0] != opsUser.ID {
		t.Errorf("members = %v", g.Members)
	}
	// Taking the permission away applies to the member's very next request.
	if w := do("PATCH", "/groups/ops", `{"permissions":["section:content"]}`); w.Code != 200 {
		t.Fatalf("update group: %d %s", w.Code, w.Body)
	}
	wantProblem(t, ops.do("GET", mgmt+"/users", ""), 403, gatehouse.CodePermissionDenied)
	do("PUT", "/groups/ops", `{"permissions":["section:users"]}`)
	if w := ops.do("GET", mgmt+"/users", ""); w.Code != 200 {
		t.Fatalf("permission given back: %d", w.Code)
	}
	// Deleting the group takes it away too.
	if w := do("DELETE", "/groups/ops", ""); w.Code != 204 {
		t.Fatalf("delete group: %d", w.Code)
	}
	wantProblem(t, ops.do("GET", mgmt+"/users", ""), 403, gatehouse.CodePermissionDenied)
	var list struct{ Items []struct{ Name string } }
	decode(t, do("GET", "/groups", ""), &list)
	if len(list.Items) != 1 || list.Items[0].Name != "administrators" {
		t.Errorf("groups = %+v", list)
	}
}

func TestSelfServiceSessionsAndIDOR(t *testing.T) {
	e := newEnv(t)
	a1, a1csrf, _ := e.userBrowser("amy")
	a2 := e.browser()
	a2.login("amy", "yma velvet sandal crayon")
	bob, bobCSRF, _ := e.userBrowser("bob")

	var mine struct {
		Items []struct {
			ID      string
			Current bool
		}
	}
	decode(t, a1.do("GET", "/auth/sessions", ""), &mine)
	if len(mine.Items) != 2 {
		t.Fatalf("amy's sessions = %+v", mine)
	}
	var current, other string
	for _, it := range mine.Items {
		if it.Current {
			current = it.ID
		} else {
			other = it.ID
		}
	}
	if current == "" || other == "" {
		t.Fatalf("current session not marked: %+v", mine)
	}
	// Bob cannot end Amy's session: 404, as if it did not exist.
	wantProblem(t, bob.do("DELETE", "/auth/sessions/"+other, "", header("X-CSRF-Token", bobCSRF)), 404, gatehouse.CodeNotFound)
	if w := a2.do("GET", "/auth/session", ""); w.Code != 200 {
		t.Fatal("bob ended amy's session")
	}
	wantProblem(t, a1.do("DELETE", "/auth/sessions/"+other, ""), 403, gatehouse.CodeCSRFFailed)
	if w := a1.do("DELETE", "/auth/sessions/"+other, "", header("X-CSRF-Token", a1csrf)); w.Code != 204 {
		t.Fatalf("end own session: %d", w.Code)
	}
	wantProblem(t, a2.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)

	// "All others".
	a3 := e.browser()
	a3.login("amy", "yma velvet sandal crayon")
	w := a1.do("DELETE", "/auth/sessions", "", header("X-CSRF-Token", a1csrf))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"ended":1`) {
		t.Fatalf("end others: %d %s", w.Code, w.Body)
	}
	wantProblem(t, a3.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
	if w := a1.do("GET", "/auth/session", ""); w.Code != 200 {
		t.Error("ending the others ended the current session")
	}
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	admin, csrfTok := e.loggedIn()
	create := func(body string) (int, string, string) {
		w := admin.do("POST", "/auth/tokens", body, header("X-CSRF-Token", csrfTok))
		var res struct {
			Token  struct{ ID, Hint string }
			Secret string
		}
		json.Unmarshal(w.Body.Bytes(), &res)
		return w.Code, res.Token.ID, res.Secret
	}
	code, id, secret := create(`{"name":"deploy script","permissions":["section:users"]}`)
	if code != 201 || !strings.HasPrefix(secret, "gat_") || len(secret) < 40 {
		t.Fatalf("create: %d %q", code, secret)
	}
	bearer := header("Authorization", "Bearer "+secret)
	// The secret is shown once: never in a list, never stored.
	w := admin.do("GET", "/auth/tokens", "")
	if w.Code != 200 || strings.Contains(w.Body.String(), secret) || !strings.Contains(w.Body.String(), id) {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	stored, _ := e.store.TokenByID(context.Background(), id)
	if stored == nil || string(stored.Hash) == secret {
		t.Fatal("token stored in clear or missing")
	}

	// Scope: the token may list users, not groups, though its owner may.
	if w := e.browser().do("GET", mgmt+"/users", "", bearer); w.Code != 200 {
		t.Fatalf("bearer GET users: %d %s", w.Code, w.Body)
	}
	wantProblem(t, e.browser().do("GET", mgmt+"/groups", "", bearer), 403, gatehouse.CodePermissionDenied)
	// Bearer requests need no CSRF token.
	if w := e.browser().do("POST", mgmt+"/users", `{"username":"zed","email":"zed@example.com","password":"dez velvet sandal crayon"}`, bearer); w.Code != 201 {
		t.Errorf("bearer POST: %d %s", w.Code, w.Body)
	}
	// A token cannot create tokens.
	wantProblem(t, e.browser().do("POST", "/auth/tokens", `{"name":"x"}`, bearer), 403, gatehouse.CodePermissionDenied)
	// Nor exceed its owner.
	e.userBrowser("plain")
	plain := e.browser()
	plain.login("plain", "nialp velvet sandal crayon")
	var pres struct{ CSRFToken string }
	decode(t, plain.do("GET", "/auth/session", ""), &pres)
	wantProblem(t, plain.do("POST", "/auth/tokens", `{"name":"x","permissions":["section:users"]}`, header("X-CSRF-Token", pres.CSRFToken)), 422, gatehouse.CodeValidation)
	wantProblem(t, admin.do("POST", "/auth/tokens", `{"name":""}`, header("X-CSRF-Token", csrfTok)), 422, gatehouse.CodeValidation)
	wantProblem(t, admin.do("POST", "/auth/tokens", `{"name":"old","expiresAt":"2000-01-01T00:00:00Z"}`, header("X-CSRF-Token", csrfTok)), 422, gatehouse.CodeValidation)

	// Bad tokens are 401, never anonymous.
	for _, bad := range []string{"Bearer ", "Bearer nope", "Bearer " + secret + "x", "Bearer gat_" + strings.Repeat("A", 43)} {
		w := e.browser().do("GET", mgmt+"/users", "", header("Authorization", bad))
		wantProblem(t, w, 401, gatehouse.CodeUnauthenticated)
	}

	// Expiry.
	_, _, expiring := create(`{"name":"short","expiresAt":"` + e.clock.Now().Add(time.Hour).Format(time.RFC3339) + `"}`)
	if w := e.browser().do("GET", "/auth/tokens", "", header("Authorization", "Bearer "+expiring)); w.Code != 200 {
		t.Fatalf("fresh token: %d", w.Code)
	}
	e.clock.Advance(time.Hour)
	wantProblem(t, e.browser().do("GET", "/auth/tokens", "", header("Authorization", "Bearer "+expiring)), 401, gatehouse.CodeUnauthenticated)
	admin, csrfTok = e.loggedIn() // the hour ended the admin's idle session too

	// The token follows its owner's permissions down.
	e.group("ops", "section:users")
	ob, oCSRF, _ := e.userBrowser("olga", "ops")
	w = ob.do("POST", "/auth/tokens", `{"name":"olga's"}`, header("X-CSRF-Token", oCSRF))
	var ores struct{ Secret string }
	decode(t, w, &ores)
	ob2 := header("Authorization", "Bearer "+ores.Secret)
	if w := e.browser().do("GET", mgmt+"/users", "", ob2); w.Code != 200 {
		t.Fatalf("olga's token: %d", w.Code)
	}
	if err := e.accounts.UpdateGroup(context.Background(), account.Actor{}, &gatehouse.Group{Name: "ops"}); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, e.browser().do("GET", mgmt+"/users", "", ob2), 403, gatehouse.CodePermissionDenied)

	// Revocation: another user's token is 404; the owner's revoke is immediate.
	wantProblem(t, ob.do("DELETE", "/auth/tokens/"+id, "", header("X-CSRF-Token", oCSRF)), 404, gatehouse.CodeNotFound)
	if w := e.browser().do("GET", "/auth/tokens", "", bearer); w.Code != 200 {
		t.Fatal("olga revoked admin's token")
	}
	if w := admin.do("DELETE", "/auth/tokens/"+id, "", header("X-CSRF-Token", csrfTok)); w.Code != 204 {
		t.Fatalf("revoke: %d", w.Code)
	}
	wantProblem(t, e.browser().do("GET", "/auth/tokens", "", bearer), 401, gatehouse.CodeUnauthenticated)

	// Management list and revoke.
	var all struct{ Total int }
	decode(t, admin.do("GET", mgmt+"/tokens", ""), &all)
	if all.Total != 2 {
		t.Errorf("tokens total = %d", all.Total)
	}
}

func basicHeader(user, pw string) reqOpt {
	return header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pw)))
}

func TestBasicAuth(t *testing.T) {
	t.Run("off by default", func(t *testing.T) {
		e := newEnv(t)
		w := e.browser().do("GET", "/auth/sessions", "", basicHeader("admin", adminPassword))
		wantProblem(t, w, 401, gatehouse.CodeUnauthenticated)
		if got := w.Header().Values("WWW-Authenticate"); len(got) != 1 || !strings.HasPrefix(got[0], "Bearer") {
			t.Errorf("WWW-Authenticate = %q", got)
		}
	})
	e := newEnv(t, func(h *httpapi.Config, a *account.Config, _ *session.Config) {
		h.BasicAuth.Enabled = true
		h.TrustedProxies = []netipPrefix{mustPrefix("10.0.0.0/8")}
	})
	t.Run("plain HTTP refused without checking the password", func(t *testing.T) {
		for range 8 { // more than the lockout threshold: none is counted
			wantProblem(t, e.browser().do("GET", "/auth/sessions", "", basicHeader("admin", "wrong")), 403, gatehouse.CodeInsecureBasicAuth)
		}
		wantProblem(t, e.browser().do("GET", "/auth/sessions", "", basicHeader("admin", adminPassword)), 403, gatehouse.CodeInsecureBasicAuth)
		if w := e.browser().login("admin", adminPassword); w.Code != 200 {
			t.Errorf("refused Basic attempts were counted: login %d", w.Code)
		}
	})
	t.Run("HTTPS accepted", func(t *testing.T) {
		b := e.browser()
		b.https = true
		if w := b.do("GET", mgmt+"/users", "", basicHeader("ADMIN", adminPassword)); w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		// No CSRF token needed, and no session cookie is set.
		w := b.do("POST", mgmt+"/groups", `{"name":"viabasic"}`, basicHeader("admin", adminPassword))
		if w.Code != 201 || len(w.Result().Cookies()) != 0 {
			t.Errorf("POST over Basic: %d, cookies %v", w.Code, w.Result().Cookies())
		}
		// Passwords with colons work.
		e.createUser("colon", "colon@example.com", "pa:ss:wi:th:semi::!")
		if w := b.do("GET", "/auth/sessions", "", basicHeader("colon", "pa:ss:wi:th:semi::!")); w.Code != 200 {
			t.Errorf("colon password: %d", w.Code)
		}
	})
	t.Run("trusted proxy says https", func(t *testing.T) {
		b := e.browser()
		b.addr = "10.0.0.5:1234"
		if w := b.do("GET", "/auth/sessions", "", basicHeader("admin", adminPassword), header("X-Forwarded-Proto", "https")); w.Code != 200 {
			t.Errorf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("untrusted proxy header ignored", func(t *testing.T) {
		wantProblem(t, e.browser().do("GET", "/auth/sessions", "", basicHeader("admin", adminPassword), header("X-Forwarded-Proto", "https")), 403, gatehouse.CodeInsecureBasicAuth)
	})
	t.Run("wrong password, malformed, lockout", func(t *testing.T) {
		b := e.browser()
		b.https = true
		e.createUser("basil", "basil@example.com", "lisab velvet sandal crayon")
		for _, h := range []string{"Basic !!!", "Basic " + base64.StdEncoding.EncodeToString([]byte("nocolon")), "Basic " + base64.StdEncoding.EncodeToString([]byte(":pw"))} {
			wantProblem(t, b.do("GET", "/auth/sessions", "", header("Authorization", h)), 401, gatehouse.CodeInvalidCredentials)
		}
		for range 5 {
			wantProblem(t, b.do("GET", "/auth/sessions", "", basicHeader("basil", "wrong")), 401, gatehouse.CodeInvalidCredentials)
		}
		w := b.do("GET", "/auth/sessions", "", basicHeader("basil", "lisab velvet sandal crayon"))
		wantProblem(t, w, 429, gatehouse.CodeTooManyAttempts)
		if w.Header().Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
	})
	t.Run("challenge over HTTPS, not for scripts", func(t *testing.T) {
		b := e.browser()
		b.https = true
		w := b.do("GET", "/auth/sessions", "")
		if got := strings.Join(w.Header().Values("WWW-Authenticate"), "; "); !strings.Contains(got, "Basic") {
			t.Errorf("WWW-Authenticate = %q, want a Basic challenge", got)
		}
		w = b.do("GET", "/auth/sessions", "", header("Sec-Fetch-Mode", "cors"))
		if got := strings.Join(w.Header().Values("WWW-Authenticate"), "; "); strings.Contains(got, "Basic") {
			t.Errorf("fetch() got a Basic challenge: %q", got)
		}
		w = e.browser().do("GET", "/auth/sessions", "")
		if got := strings.Join(w.Header().Values("WWW-Authenticate"), "; "); strings.Contains(got, "Basic") {
			t.Errorf("plain HTTP got a Basic challenge: %q", got)
		}
	})
	t.Run("password change voids cached credentials", func(t *testing.T) {
		b := e.browser()
		b.https = true
		e.createUser("cass", "cass@example.com", "ssac velvet sandal crayon")
		if w := b.do("GET", "/auth/sessions", "", basicHeader("cass", "ssac velvet sandal crayon")); w.Code != 200 {
			t.Fatal(w.Code)
		}
		cb := e.browser()
		cb.https = true
		cb.login("cass", "ssac velvet sandal crayon")
		var res struct{ CSRFToken string }
		decode(t, cb.do("GET", "/auth/session", ""), &res)
		if w := cb.do("POST", "/auth/password", `{"currentPassword":"ssac velvet sandal crayon","newPassword":"a brand new secret phrase"}`, header("X-CSRF-Token", res.CSRFToken)); w.Code != 204 {
			t.Fatalf("change: %d %s", w.Code, w.Body)
		}
		wantProblem(t, b.do("GET", "/auth/sessions", "", basicHeader("cass", "ssac velvet sandal crayon")), 401, gatehouse.CodeInvalidCredentials)
		if w := b.do("GET", "/auth/sessions", "", basicHeader("cass", "a brand new secret phrase")); w.Code != 200 {
			t.Errorf("new password over Basic: %d", w.Code)
		}
	})
}

func TestAuditLog(t *testing.T) {
	e := newEnv(t)
	e.browser().login("admin", "a wrong password here")
	admin, csrfTok := e.loggedIn()
	admin.do("POST", mgmt+"/users", `{"username":"una","email":"una@example.com","password":"anu velvet sandal crayon"}`, header("X-CSRF-Token", csrfTok))
	var res struct {
		Items []struct {
			Kind, ActorName, TargetID, ClientAddr, UserAgent string
			Detail                                           map[string]string
		}
		Total int
	}
	w := admin.do("GET", mgmt+"/audit", "")
	decode(t, w, &res)
	kinds := map[string]bool{}
	for _, it := range res.Items {
		kinds[it.Kind] = true
		// Only the test's own setup (like the command line) acts without a client.
		if it.ClientAddr == "" && it.ActorName != "" {
			t.Errorf("event %s by %s without client address", it.Kind, it.ActorName)
		}
	}
	for _, k := range []string{"login.failed", "login.succeeded", "user.created"} {
		if !kinds[k] {
			t.Errorf("no %s event in %s", k, w.Body)
		}
	}
	if strings.Contains(w.Body.String(), "a wrong password here") || strings.Contains(w.Body.String(), "anu velvet sandal crayon") || strings.Contains(w.Body.String(), adminPassword) {
		t.Fatal("a password reached the audit log")
	}
	res.Items = nil
	decode(t, admin.do("GET", mgmt+"/audit?kind=login.failed", ""), &res)
	if res.Total != 1 || res.Items[0].TargetID != e.admin.ID || res.Items[0].Detail["username"] != "" {
		t.Errorf("filtered = %+v (a failed login is recorded by user id, never by the submitted name)", res)
	}
	decode(t, admin.do("GET", mgmt+"/audit?user="+e.admin.ID+"&limit=1", ""), &res)
	if len(res.Items) != 1 || res.Total < 2 {
		t.Errorf("by user = %+v", res)
	}
	decode(t, admin.do("GET", mgmt+"/audit?since="+e.clock.Now().Add(time.Minute).Format(time.RFC3339), ""), &res)
	if res.Total != 0 {
		t.Errorf("since the future = %+v", res)
	}
	wantProblem(t, admin.do("GET", mgmt+"/audit?since=yesterday", ""), 422, gatehouse.CodeValidation)
}

func TestRouteTable(t *testing.T) {
	table, err := policy.Compile([]policy.Rule{
		{Path: "/auth/management/**", Access: policy.Permission, Permission: "section:users", Networks: []string{"192.0.2.0/24"}},
		{Path: "/auth/management/**", Access: policy.Deny},
		{Path: "/app/health", Access: policy.Public},
		{Path: "/app/servers/{id}", Methods: []string{"PATCH"}, Access: policy.Permission, Permission: "servers.write"},
		{Path: "/app/**", Access: policy.Authenticated},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(h *httpapi.Config, _ *account.Config, _ *session.Config) { h.Routes = table })
	admin, csrfTok := e.loggedIn()
	// The management API from the office network works; from elsewhere the
	// table's deny applies even to an administrator.
	if w := admin.do("GET", mgmt+"/users", ""); w.Code != 200 {
		t.Fatalf("from the office: %d %s", w.Code, w.Body)
	}
	admin.addr = "203.0.113.9:5000"
	wantProblem(t, admin.do("GET", mgmt+"/users", ""), 403, gatehouse.CodePermissionDenied)
	admin.addr = "192.0.2.10:40000"
	// Gatehouse's own login is not subject to the management rules.
	if w := e.browser().login("admin", adminPassword); w.Code != 200 {
		t.Fatalf("login: %d", w.Code)
	}

	// Protect applies the table to an embedding program's handlers.
	h := e.api.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) }))
	serve := func(b *browser, method, path string, opts ...reqOpt) int {
		r := newRequest(b, method, path)
		for _, o := range opts {
			o(r)
		}
		w := newRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	anon := e.browser()
	_, _, _ = e.userBrowser("viewer")
	viewer := e.browser()
	viewer.login("viewer", "reweiv velvet sandal crayon")
	var vres struct{ CSRFToken string }
	decode(t, viewer.do("GET", "/auth/session", ""), &vres)
	cases := []struct {
		who    *browser
		method string
		path   string
		opts   []reqOpt
		want   int
	}{
		{anon, "GET", "/app/health", nil, 299},
		{anon, "GET", "/app/servers/1", nil, 401},
		{viewer, "GET", "/app/servers/1", nil, 299},
		{viewer, "PATCH", "/app/servers/1", []reqOpt{header("X-CSRF-Token", vres.CSRFToken)}, 403},
		{admin, "PATCH", "/app/servers/1", []reqOpt{header("X-CSRF-Token", csrfTok)}, 299},
		{admin, "PATCH", "/app/servers/1", nil, 403}, // no CSRF token
		{admin, "GET", "/elsewhere", nil, 403},       // nothing matches: deny
		{admin, "GET", "/app/%2e%2e/elsewhere", nil, 400},
		{admin, "GET", "/APP/SERVERS/1", nil, 299},
	}
	for _, c := range cases {
		if got := serve(c.who, c.method, c.path, c.opts...); got != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, got, c.want)
		}
	}

	// Explain over HTTP.
	w := admin.do("GET", mgmt+"/policy/explain?user=viewer&method=PATCH&path=/app/servers/7", "")
	var ex struct {
		Decision string
		Status   int
		Rule     struct {
			Index int
			Path  string
		}
		Reason string
	}
	decode(t, w, &ex)
	if w.Code != 200 || ex.Decision != "forbidden" || ex.Status != 403 || ex.Rule.Index != 3 || ex.Rule.Path != "/app/servers/{id}" || !strings.Contains(ex.Reason, "servers.write") {
		t.Errorf("explain = %d %s", w.Code, w.Body)
	}
	decode(t, admin.do("GET", mgmt+"/policy/explain?method=GET&path=/app/x", ""), &ex)
	if ex.Decision != "unauthenticated" || ex.Rule.Index != 4 {
		t.Errorf("anonymous explain = %+v", ex)
	}
	wantProblem(t, admin.do("GET", mgmt+"/policy/explain?user=ghost&method=GET&path=/app/x", ""), 404, gatehouse.CodeNotFound)
	wantProblem(t, admin.do("GET", mgmt+"/policy/explain?method=GET", ""), 422, gatehouse.CodeValidation)
}

// TestNoEscalation: a user who manages users or groups cannot hand out
// permissions they do not hold, nor take over a more powerful account.
func TestNoEscalation(t *testing.T) {
	e := newEnv(t)
	e.group("helpdesk", "section:users")
	e.group("settings", "section:settings")
	h, hCSRF, hu := e.userBrowser("hank", "helpdesk")
	do := func(method, path, body string) *httptestRecorder {
		return h.do(method, mgmt+path, body, header("X-CSRF-Token", hCSRF))
	}
	wantProblem(t, do("PATCH", "/users/"+hu.ID, `{"groups":["helpdesk","administrators"]}`), 403, gatehouse.CodePermissionDenied)
	wantProblem(t, do("POST", "/users", `{"username":"mallory","email":"m@example.com","password":"`+pwOf("mallory")+`","groups":["administrators"]}`), 403, gatehouse.CodePermissionDenied)
	wantProblem(t, do("POST", "/users/invite", `{"email":"m2@example.com","groups":["settings"]}`), 403, gatehouse.CodePermissionDenied)
	wantProblem(t, do("PATCH", "/users/"+e.admin.ID, `{"email":"hank.owned@example.com"}`), 403, gatehouse.CodePermissionDenied)
	wantProblem(t, do("POST", "/users/"+e.admin.ID+"/reset-password", ""), 403, gatehouse.CodePermissionDenied)
	wantProblem(t, do("POST", "/users/"+e.admin.ID+"/disable", ""), 403, gatehouse.CodePermissionDenied)
	// Within their own reach they work as before.
	if w := do("POST", "/users", `{"username":"newbie","email":"n@example.com","password":"`+pwOf("newbie")+`","groups":["helpdesk"]}`); w.Code != 201 {
		t.Errorf("create within reach: %d %s", w.Code, w.Body)
	}
	// A settings manager cannot give a group permissions they lack.
	s, sCSRF, _ := e.userBrowser("sid", "settings")
	wantProblem(t, s.do("PATCH", mgmt+"/groups/settings", `{"permissions":["section:settings","*"]}`, header("X-CSRF-Token", sCSRF)), 403, gatehouse.CodePermissionDenied)
	wantProblem(t, s.do("POST", mgmt+"/groups", `{"name":"root2","permissions":["*"]}`, header("X-CSRF-Token", sCSRF)), 403, gatehouse.CodePermissionDenied)
}

// TestRevokedInvitationStaysRevoked: an invited user cannot use the
// forgot-password flow to get around a revoked invitation.
func TestRevokedInvitationStaysRevoked(t *testing.T) {
	e := newEnv(t)
	u, err := e.accounts.Invite(context.Background(), account.NewInvite{Email: "ivo@example.com", Groups: []string{"administrators"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.accounts.RevokeInvite(context.Background(), account.Actor{}, u.ID); err != nil {
		t.Fatal(err)
	}
	e.forgot("ivo@example.com")
	if n := e.mailer.count("ivo@example.com", "reset"); n != 0 {
		t.Errorf("an invited user got %d reset mails", n)
	}
}

// TestTokensCannotManageTheAccount: a token, however scoped, cannot list or
// end sessions, change the password or revoke other tokens.
func TestTokensCannotManageTheAccount(t *testing.T) {
	e := newEnv(t)
	secret, _, err := e.accounts.CreateToken(context.Background(), account.Actor{}, e.admin, account.NewToken{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	bearer := header("Authorization", "Bearer "+secret)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/auth/sessions", ""},
		{"DELETE", "/auth/sessions", ""},
		{"DELETE", "/auth/sessions/x", ""},
		{"DELETE", "/auth/tokens/x", ""},
		{"POST", "/auth/password", `{"currentPassword":"` + adminPassword + `","newPassword":"a token's new phrase"}`},
		{"POST", "/auth/2fa/totp", ""},
	} {
		wantProblem(t, e.browser().do(c.method, c.path, c.body, bearer), 403, gatehouse.CodePermissionDenied)
	}
}

// TestForwardedProtoAppended: only the value the trusted proxy set counts,
// not one the client sent ahead of it.
func TestForwardedProtoAppended(t *testing.T) {
	e := newEnv(t, func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
		h.TrustedProxies = []netipPrefix{mustPrefix("10.0.0.0/8")}
		h.BasicAuth.Enabled = true
	})
	b := e.browser()
	b.addr = "10.0.0.7:1234"
	spoofed := func(r *http.Request) {
		r.Header.Add("X-Forwarded-Proto", "https")
		r.Header.Add("X-Forwarded-Proto", "http")
	}
	wantProblem(t, b.do("GET", "/auth/tokens", "", basicHeader("admin", adminPassword), spoofed), 403, gatehouse.CodeInsecureBasicAuth)
	if w := b.do("GET", "/auth/tokens", "", basicHeader("admin", adminPassword), header("X-Forwarded-Proto", "http, https")); w.Code != 200 {
		t.Errorf("proxy-set https: %d", w.Code)
	}
}
