package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse"
)

func TestChangePassword(t *testing.T) {
	e := newEnv(t)
	const newPassword = "a brand new passphrase"
	body := `{"currentPassword":"` + adminPassword + `","newPassword":"` + newPassword + `"}`

	b, token := e.loggedIn()
	other, _ := e.loggedIn()

	wantProblem(t, e.browser().do("POST", "/auth/password", body), 401, gatehouse.CodeUnauthenticated)
	wantProblem(t, b.do("POST", "/auth/password", body), 403, gatehouse.CodeCSRFFailed)
	wantProblem(t, b.do("POST", "/auth/password", body, header("X-CSRF-Token", "nope")), 403, gatehouse.CodeCSRFFailed)
	wantProblem(t, b.do("POST", "/auth/password", `{"currentPassword":"wrong","newPassword":"`+newPassword+`"}`, header("X-CSRF", token)), 401, gatehouse.CodeInvalidCredentials)
	p := wantProblem(t, b.do("POST", "/auth/password", `{"currentPassword":"`+adminPassword+`","newPassword":"short"}`, header("X-CSRF", token)), 422, gatehouse.CodePasswordPolicy)
	var rules []gatehouse.RuleViolation
	if err := json.Unmarshal(p.Errors, &rules); err != nil || len(rules) != 1 || rules[0].Rule != "min_length" || rules[0].Message == "" {
		t.Errorf("errors = %s", p.Errors)
	}
	// Long enough and on no list, but guessable: the strength rule says
	// why without repeating the password.
	p = wantProblem(t, b.do("POST", "/auth/password", `{"currentPassword":"`+adminPassword+`","newPassword":"Summer2024!!"}`, header("X-CSRF", token)), 422, gatehouse.CodePasswordPolicy)
	rules = nil
	if err := json.Unmarshal(p.Errors, &rules); err != nil || len(rules) != 1 || rules[0].Rule != "strength" ||
		rules[0].Message != "This is similar to a commonly used password; add another word or two. Uncommon words are better." {
		t.Errorf("errors = %s", p.Errors)
	}
	wantProblem(t, b.do("POST", "/auth/password", `{"currentPassword":"`+adminPassword+`"}`, header("X-CSRF", token)), 422, gatehouse.CodeValidation)
	// None of the refusals changed the password.
	if w := e.browser().login("admin", adminPassword); w.Code != 200 {
		t.Fatalf("password changed by a refused request: %d", w.Code)
	}

	if w := b.do("POST", "/auth/password", body, header("X-XSRF-TOKEN", token)); w.Code != 204 {
		t.Fatalf("change: %d %s", w.Code, w.Body)
	}
	if w := b.do("GET", "/auth/session", ""); w.Code != 200 {
		t.Errorf("the session that changed the password ended: %d", w.Code)
	}
	wantProblem(t, other.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
	wantProblem(t, e.browser().login("admin", adminPassword), 401, gatehouse.CodeInvalidCredentials)
	if w := e.browser().login("admin", newPassword); w.Code != 200 {
		t.Errorf("login with the new password: %d", w.Code)
	}
}

func TestPasswordPolicyEndpoint(t *testing.T) {
	e := newEnv(t)
	w := e.browser().do("GET", "/auth/password/policy", "")
	var p struct {
		MinLength, MaxLength int
		Blocklist            bool
		MinStrength          *int
	}
	decode(t, w, &p)
	if w.Code != 200 || p.MinLength != 12 || p.MaxLength != 1024 || p.MinStrength == nil || *p.MinStrength != 3 {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}

func TestPasswordsTakenExactly(t *testing.T) {
	e := newEnv(t)
	for _, pw := range []string{
		"  leading and trailing  ",
		"ünïcödé pässwörd ✓",
		"パスワードは長いほうがいい",
		string(make([]byte, 0)) + "tab\tinside a velvet sandal",
		func() string {
			b := make([]byte, 1024)
			for i := range b {
				b[i] = "abcdefghijklmnopqrstuvwxyz"[(i*7+i/26)%26]
			}
			return string(b)
		}(),
	} {
		name := pw
		if len(name) > 20 {
			name = name[:20]
		}
		t.Run(name, func(t *testing.T) {
			u := e.createUser("u"+gatehouse.NewID()[:8], gatehouse.NewID()[:8]+"@example.com", pw)
			b := e.browser()
			body, _ := json.Marshal(map[string]string{"username": u.Username, "password": pw})
			if w := b.do("POST", "/auth/session", string(body)); w.Code != 200 {
				t.Fatalf("login: %d %s", w.Code, w.Body)
			}
			body, _ = json.Marshal(map[string]string{"username": u.Username, "password": pw[:len(pw)-1]})
			if w := e.browser().do("POST", "/auth/session", string(body)); w.Code != http.StatusUnauthorized {
				t.Fatalf("login with a prefix: %d", w.Code)
			}
		})
	}
}
