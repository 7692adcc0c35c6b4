package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/session"
)

type loginResponse struct {
	State   string `json:"state"`
	User    map[string]any
	Session struct {
		ID                  string    `json:"id"`
		CreatedAt           time.Time `json:"createdAt"`
		ExpiresAt           time.Time `json:"expiresAt"`
		IdleExpiresAt       time.Time `json:"idleExpiresAt"`
		SecondsUntilTimeout int64     `json:"secondsUntilTimeout"`
		Remember            bool      `json:"remember"`
		TwoFactor           bool      `json:"twoFactor"`
	}
	CSRFToken string `json:"csrfToken"`
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	w := b.login("admin", adminPassword)
	if w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	var res loginResponse
	decode(t, w, &res)
	if res.State != "authenticated" || res.CSRFToken == "" {
		t.Fatalf("response = %+v", res)
	}
	for _, k := range []string{"id", "username", "email", "name", "state", "groups", "permissions", "twoFactorEnabled", "createdAt", "lastLoginAt"} {
		if _, ok := res.User[k]; !ok {
			t.Errorf("user object lacks %q: %v", k, res.User)
		}
	}
	if res.User["username"] != "admin" || res.User["state"] != "active" || res.User["lastLoginAt"] == nil {
		t.Errorf("user = %v", res.User)
	}
	if perms, _ := res.User["permissions"].([]any); len(perms) != 1 || perms[0] != "*" {
		t.Errorf("permissions = %v, want [*] from administrators", res.User["permissions"])
	}
	s := res.Session
	if s.SecondsUntilTimeout != 1200 || !s.IdleExpiresAt.Equal(e.clock.Now().Add(20*time.Minute)) || !s.ExpiresAt.Equal(e.clock.Now().Add(12*time.Hour)) || s.Remember || s.TwoFactor {
		t.Errorf("session = %+v", s)
	}
	sc := b.cookies["gh_session"]
	if sc == nil {
		t.Fatalf("no session cookie in %v", w.Header()["Set-Cookie"])
	}
	if !sc.HttpOnly || sc.Secure || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.MaxAge != 0 {
		t.Errorf("session cookie = %+v", sc)
	}
	if len(sc.Value) < 43 || strings.Contains(res.Session.ID, sc.Value) || sc.Value == res.Session.ID {
		t.Errorf("cookie value %q must be a 256-bit secret distinct from the public id %q", sc.Value, res.Session.ID)
	}
	xc := b.cookies["XSRF-TOKEN"]
	if xc == nil || xc.Value != res.CSRFToken || xc.HttpOnly || xc.SameSite != http.SameSiteStrictMode {
		t.Errorf("XSRF-TOKEN cookie = %+v, want the csrf token, script-readable, Strict", xc)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	// The store keeps only a hash of the cookie secret.
	stored, err := e.store.SessionByTokenHash(context.Background(), session.HashToken(sc.Value))
	if err != nil || stored.ID != res.Session.ID {
		t.Fatalf("stored session: %v %v", stored, err)
	}
	if string(stored.TokenHash) == sc.Value {
		t.Error("token stored in clear")
	}
}

func TestLoginByEmailAnyCase(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"ADMIN", "Admin@Example.COM", "admin@example.com"} {
		if w := e.browser().login(name, adminPassword); w.Code != 200 {
			t.Errorf("login as %q: %d %s", name, w.Code, w.Body)
		}
	}
	// The password, unlike the name, is exact.
	if w := e.browser().login("admin", strings.ToUpper(adminPassword)); w.Code != 401 {
		t.Errorf("password case ignored: %d", w.Code)
	}
	if w := e.browser().login("admin", adminPassword+" "); w.Code != 401 {
		t.Errorf("trailing space ignored: %d", w.Code)
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.createUser("bob", "bob@example.com", "bob's velvet sandal crayon")
	dis := e.createUser("carol", "carol@example.com", "lorac's velvet sandal crayon")
	if _, err := e.accounts.DisableUser(ctx, account.Actor{}, dis.ID); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, user, pw string }{
		{"unknown user", "nobody", "whatever password"},
		{"wrong password", "bob", "not bob's password"},
		{"disabled user", "carol", "lorac's velvet sandal crayon"},
	}
	var bodies []string
	for _, c := range cases {
		w := e.browser().login(c.user, c.pw)
		wantProblem(t, w, 401, gatehouse.CodeInvalidCredentials)
		if _, ok := w.Result().Header["Set-Cookie"]; ok {
			t.Errorf("%s: a failed login set a cookie", c.name)
		}
		bodies = append(bodies, withoutRequestID(w.Body.String()))
	}
	for i := range bodies {
		if bodies[i] != bodies[0] {
			t.Errorf("%s answers %s, %s answers %s", cases[i].name, bodies[i], cases[0].name, bodies[0])
		}
	}
}

func TestLoginBadInput(t *testing.T) {
	e := newEnv(t)
	big := `{"username":"admin","password":"` + strings.Repeat("a", 70<<10) + `"}`
	cases := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        gatehouse.Code
	}{
		{"wrong content type", "text/plain", `{"username":"admin","password":"x"}`, 415, gatehouse.CodeUnsupportedMediaType},
		{"form content type", "application/x-www-form-urlencoded", `username=admin&password=x`, 415, gatehouse.CodeUnsupportedMediaType},
		{"no content type", "", `{"username":"admin","password":"x"}`, 415, gatehouse.CodeUnsupportedMediaType},
		{"malformed", "application/json", `{"username":"admin",`, 400, gatehouse.CodeBadRequest},
		{"not json", "application/json", `username=admin`, 400, gatehouse.CodeBadRequest},
		{"unknown field", "application/json", `{"username":"admin","password":"x","admin":true}`, 400, gatehouse.CodeBadRequest},
		{"wrong type", "application/json", `{"username":42,"password":"x"}`, 400, gatehouse.CodeBadRequest},
		// encoding/json alone would take these: the last of two keys, and a
		// name in any letter case.
		{"field twice", "application/json", `{"username":"nobody","password":"x","username":"admin"}`, 400, gatehouse.CodeBadRequest},
		{"field twice, escaped", "application/json", `{"username":"nobody","password":"x","user\u006eame":"admin"}`, 400, gatehouse.CodeBadRequest},
		{"field in other case", "application/json", `{"USERNAME":"admin","password":"x"}`, 400, gatehouse.CodeBadRequest},
		{"array", "application/json", `[1,2]`, 400, gatehouse.CodeBadRequest},
		{"two objects", "application/json", `{"username":"a","password":"b"}{}`, 400, gatehouse.CodeBadRequest},
		{"empty body", "application/json", ``, 400, gatehouse.CodeBadRequest},
		{"oversized", "application/json", big, 400, gatehouse.CodeBadRequest},
		{"missing fields", "application/json", `{}`, 422, gatehouse.CodeValidation},
		{"charset is fine but missing password", "application/json; charset=utf-8", `{"username":"admin"}`, 422, gatehouse.CodeValidation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := e.browser()
			w := b.do("POST", "/auth/session", c.body, func(r *http.Request) {
				if c.contentType == "" {
					r.Header.Del("Content-Type")
				} else {
					r.Header.Set("Content-Type", c.contentType)
				}
				if c.body == "" {
					r.Header.Set("Content-Type", c.contentType)
				}
			})
			p := wantProblem(t, w, c.status, c.code)
			if strings.Contains(p.Detail, "aaaa") {
				t.Errorf("detail echoes the body: %q", p.Detail)
			}
			if b.cookies["gh_session"] != nil {
				t.Error("session cookie set")
			}
		})
	}
	// None of this counted as a failed login.
	if w := e.browser().login("admin", adminPassword); w.Code != 200 {
		t.Errorf("login after bad requests: %d", w.Code)
	}
}

func TestLockout(t *testing.T) {
	e := newEnv(t)
	for _, target := range []string{"admin", "ghost"} { // a real account and one that does not exist
		t.Run(target, func(t *testing.T) {
			for i := range 5 {
				b := e.browser()
				b.addr = "198.51.100." + strconv.Itoa(i+1) + ":1234" // spread addresses: the username lock is what is tested
				wantProblem(t, b.login(target, "wrong password "+strconv.Itoa(i)), 401, gatehouse.CodeInvalidCredentials)
			}
			w := e.browser().login(target, adminPassword)
			wantProblem(t, w, 429, gatehouse.CodeTooManyAttempts)
			ra, err := strconv.Atoi(w.Header().Get("Retry-After"))
			if err != nil || ra < 1 || ra > 15*60 {
				t.Errorf("Retry-After = %q", w.Header().Get("Retry-After"))
			}
			// The lock covers the name in any case.
			wantProblem(t, e.browser().login(strings.ToUpper(target), adminPassword), 429, gatehouse.CodeTooManyAttempts)
		})
	}
	// Locked known and unknown names answer alike.
	a, g := e.browser().login("admin", "x"), e.browser().login("ghost", "x")
	if withoutRequestID(a.Body.String()) != withoutRequestID(g.Body.String()) || a.Code != g.Code {
		t.Errorf("locked admin %d %s vs locked ghost %d %s", a.Code, a.Body, g.Code, g.Body)
	}
	// Another user is not affected.
	e.createUser("dave", "dave@example.com", "evad's velvet sandal crayon")
	if w := e.browser().login("dave", "evad's velvet sandal crayon"); w.Code != 200 {
		t.Errorf("other user: %d %s", w.Code, w.Body)
	}
	// The lock ends after 15 minutes.
	e.clock.Advance(15*time.Minute + time.Second)
	if w := e.browser().login("admin", adminPassword); w.Code != 200 {
		t.Fatalf("after lockout: %d %s", w.Code, w.Body)
	}
	// A success resets the count: four more failures do not lock.
	for range 4 {
		e.browser().login("admin", "wrong")
	}
	if w := e.browser().login("admin", adminPassword); w.Code != 200 {
		t.Errorf("after 4 failures: %d", w.Code)
	}
	// Unlock through the service clears a lock at once.
	for range 5 {
		e.browser().login("admin", "wrong")
	}
	wantProblem(t, e.browser().login("admin", adminPassword), 429, gatehouse.CodeTooManyAttempts)
	if err := e.accounts.Unlock(context.Background(), "admin@example.com"); err != nil {
		t.Fatal(err)
	}
	if w := e.browser().login("admin", adminPassword); w.Code != 200 {
		t.Errorf("after unlock: %d %s", w.Code, w.Body)
	}
}

func TestLockoutPerAddress(t *testing.T) {
	e := newEnv(t, func(_ *httpapi.Config, a *account.Config, _ *session.Config) {
		a.AddrThrottle.MaxFailures = 10
	})
	attacker := e.browser()
	attacker.addr = "203.0.113.66:5555"
	for i := range 10 {
		wantProblem(t, attacker.login("user"+strconv.Itoa(i), "guess"), 401, gatehouse.CodeInvalidCredentials)
	}
	wantProblem(t, attacker.login("admin", adminPassword), 429, gatehouse.CodeTooManyAttempts)
	// Someone else, from another address, is not affected.
	if w := e.browser().login("admin", adminPassword); w.Code != 200 {
		t.Errorf("other address: %d", w.Code)
	}
}

func TestTrustedProxyClientAddress(t *testing.T) {
	e := newEnv(t, func(h *httpapi.Config, a *account.Config, _ *session.Config) {
		h.TrustedProxies = []netipPrefix{mustPrefix("10.0.0.0/8")}
		a.AddrThrottle.MaxFailures = 3
	})
	// Behind the trusted proxy, each X-Forwarded-For client is counted on
	// its own; a spoofed entry left of the proxy's is not believed.
	proxy := e.browser()
	proxy.addr = "10.1.2.3:4000"
	for i := range 3 {
		proxy.do("POST", "/auth/session", `{"username":"u`+strconv.Itoa(i)+`","password":"x"}`, header("X-Forwarded-For", "1.2.3.4, 203.0.113.9"))
	}
	wantProblem(t, proxy.do("POST", "/auth/session", `{"username":"admin","password":"`+adminPassword+`"}`, header("X-Forwarded-For", "5.6.7.8, 203.0.113.9")), 429, gatehouse.CodeTooManyAttempts)
	if w := proxy.do("POST", "/auth/session", `{"username":"admin","password":"`+adminPassword+`"}`, header("X-Forwarded-For", "203.0.113.10")); w.Code != 200 {
		t.Errorf("other client behind the proxy: %d %s", w.Code, w.Body)
	}
	// An untrusted peer's X-Forwarded-For is ignored: it is the peer that is locked.
	direct := e.browser()
	direct.addr = "192.0.2.99:1"
	for i := range 3 {
		direct.do("POST", "/auth/session", `{"username":"v`+strconv.Itoa(i)+`","password":"x"}`, header("X-Forwarded-For", "198.51.100."+strconv.Itoa(i)))
	}
	wantProblem(t, direct.do("POST", "/auth/session", `{"username":"admin","password":"`+adminPassword+`"}`, header("X-Forwarded-For", "198.51.100.200")), 429, gatehouse.CodeTooManyAttempts)
}

func TestSessionFixation(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	planted := session.NewToken()
	b.cookies["gh_session"] = &http.Cookie{Name: "gh_session", Value: planted}
	wantProblem(t, b.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
	if w := b.login("admin", adminPassword); w.Code != 200 {
		t.Fatal(w.Code)
	}
	if got := b.cookies["gh_session"].Value; got == planted {
		t.Fatal("login kept the planted session id")
	}
	// The planted id never becomes a session.
	attacker := e.browser()
	attacker.cookies["gh_session"] = &http.Cookie{Name: "gh_session", Value: planted}
	wantProblem(t, attacker.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)

	// A second login ends the session the browser had before.
	old := b.cookies["gh_session"].Value
	if w := b.login("admin", adminPassword); w.Code != 200 {
		t.Fatal(w.Code)
	}
	if b.cookies["gh_session"].Value == old {
		t.Fatal("second login reused the session id")
	}
	stale := e.browser()
	stale.cookies["gh_session"] = &http.Cookie{Name: "gh_session", Value: old}
	wantProblem(t, stale.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
	if w := b.do("GET", "/auth/session", ""); w.Code != 200 {
		t.Errorf("new session: %d", w.Code)
	}
}

func TestCurrentSession(t *testing.T) {
	e := newEnv(t)
	w := e.browser().do("GET", "/auth/session", "")
	wantProblem(t, w, 401, gatehouse.CodeUnauthenticated)
	if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="gatehouse"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	for _, bad := range []string{"", "garbage", strings.Repeat("A", 43), strings.Repeat("x", 5000), "../../etc/passwd", "\x00"} {
		b := e.browser()
		b.cookies["gh_session"] = &http.Cookie{Name: "gh_session", Value: bad}
		wantProblem(t, b.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
	}

	b, token := e.loggedIn()
	delete(b.cookies, "XSRF-TOKEN") // a browser restart drops it; GET session sets it again
	w = b.do("GET", "/auth/session", "")
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var res loginResponse
	decode(t, w, &res)
	if res.User["username"] != "admin" || res.CSRFToken != token || res.Session.ID == "" {
		t.Errorf("current session = %+v", res)
	}
	if b.cookies["XSRF-TOKEN"] == nil || b.cookies["XSRF-TOKEN"].Value != token {
		t.Error("GET session did not set the XSRF-TOKEN cookie again")
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}

	w = b.do("GET", "/auth/csrf", "")
	var c struct{ CSRFToken string }
	decode(t, w, &c)
	if w.Code != 200 || c.CSRFToken != token {
		t.Errorf("GET csrf = %d %s", w.Code, w.Body)
	}
	wantProblem(t, e.browser().do("GET", "/auth/csrf", ""), 401, gatehouse.CodeUnauthenticated)
}

func TestIdleTimeout(t *testing.T) {
	e := newEnv(t)
	b, _ := e.loggedIn()
	// Use slides the idle timeout: 3 × 15 minutes is past the first deadline.
	for range 3 {
		e.clock.Advance(15 * time.Minute)
		if w := b.do("GET", "/auth/session", ""); w.Code != 200 {
			t.Fatalf("within idle timeout: %d", w.Code)
		}
	}
	e.clock.Advance(20*time.Minute + time.Second)
	wantProblem(t, b.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
	// An expired session does not come back.
	e.clock.Advance(-10 * time.Minute)
	wantProblem(t, b.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
}

func TestAbsoluteTimeout(t *testing.T) {
	e := newEnv(t)
	b, _ := e.loggedIn()
	for elapsed := time.Duration(0); elapsed < 12*time.Hour-10*time.Minute; elapsed += 10 * time.Minute {
		e.clock.Advance(10 * time.Minute)
		if w := b.do("GET", "/auth/session", ""); w.Code != 200 {
			t.Fatalf("at %s: %d", elapsed+10*time.Minute, w.Code)
		}
	}
	e.clock.Advance(10 * time.Minute)
	wantProblem(t, b.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
}

func TestRemember(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	w := b.do("POST", "/auth/session", `{"username":"admin","password":"`+adminPassword+`","remember":true}`)
	var res loginResponse
	decode(t, w, &res)
	if !res.Session.Remember || !res.Session.ExpiresAt.Equal(e.clock.Now().Add(720*time.Hour)) {
		t.Errorf("session = %+v", res.Session)
	}
	c := b.cookies["gh_session"]
	if c.MaxAge != 720*3600 {
		t.Errorf("remember cookie Max-Age = %d, want %d", c.MaxAge, 720*3600)
	}
	e.clock.Advance(3 * time.Hour) // past the 20-minute idle timeout of ordinary sessions
	if w := b.do("GET", "/auth/session", ""); w.Code != 200 {
		t.Errorf("remembered session after 3h idle: %d", w.Code)
	}
}

func TestPeekEndpointsDoNotExtend(t *testing.T) {
	e := newEnv(t)
	b, _ := e.loggedIn()
	var rem struct{ Seconds int64 }
	var auth struct{ Authenticated bool }

	e.clock.Advance(10 * time.Minute)
	for range 5 {
		w := b.do("GET", "/auth/session/remaining", "")
		decode(t, w, &rem)
		if rem.Seconds != 600 {
			t.Fatalf("remaining = %d, want 600", rem.Seconds)
		}
		decode(t, b.do("GET", "/auth/session/authenticated", ""), &auth)
		if !auth.Authenticated {
			t.Fatal("not authenticated")
		}
	}
	e.clock.Advance(9*time.Minute + 59*time.Second)
	decode(t, b.do("GET", "/auth/session/remaining", ""), &rem)
	if rem.Seconds != 1 {
		t.Fatalf("remaining = %d, want 1", rem.Seconds)
	}
	e.clock.Advance(time.Second)
	decode(t, b.do("GET", "/auth/session/remaining", ""), &rem)
	decode(t, b.do("GET", "/auth/session/authenticated", ""), &auth)
	if rem.Seconds != 0 || auth.Authenticated {
		t.Fatalf("after idle timeout: remaining %d, authenticated %v", rem.Seconds, auth.Authenticated)
	}
	// Without any session: 200 with 0 / false, not 401.
	w := e.browser().do("GET", "/auth/session/remaining", "")
	decode(t, w, &rem)
	if w.Code != 200 || rem.Seconds != 0 {
		t.Errorf("remaining without session: %d %s", w.Code, w.Body)
	}
	w = e.browser().do("GET", "/auth/session/authenticated", "")
	decode(t, w, &auth)
	if w.Code != 200 || auth.Authenticated {
		t.Errorf("authenticated without session: %d %s", w.Code, w.Body)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	t.Run("without token refused", func(t *testing.T) {
		b, _ := e.loggedIn()
		wantProblem(t, b.do("DELETE", "/auth/session", ""), 403, gatehouse.CodeCSRFFailed)
		wantProblem(t, b.do("DELETE", "/auth/session", "", header("X-CSRF-Token", "wrong")), 403, gatehouse.CodeCSRFFailed)
		if w := b.do("GET", "/auth/session", ""); w.Code != 200 {
			t.Errorf("session ended by a refused logout: %d", w.Code)
		}
	})
	for _, h := range []string{"X-CSRF-Token", "X-CSRF", "X-XSRF-TOKEN"} {
		t.Run(h, func(t *testing.T) {
			b, token := e.loggedIn()
			cookie := b.cookies["gh_session"].Value
			w := b.do("DELETE", "/auth/session", "", header(h, token))
			if w.Code != 204 {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			if b.cookies["gh_session"] != nil || b.cookies["XSRF-TOKEN"] != nil {
				t.Errorf("cookies not cleared: %v", w.Header()["Set-Cookie"])
			}
			if got := w.Header().Get("Clear-Site-Data"); got != `"cache"` {
				t.Errorf("Clear-Site-Data = %q, want \"cache\"", got)
			}
			replay := e.browser()
			replay.cookies["gh_session"] = &http.Cookie{Name: "gh_session", Value: cookie}
			wantProblem(t, replay.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
		})
	}
	t.Run("token of another session refused", func(t *testing.T) {
		b, _ := e.loggedIn()
		_, other := e.loggedIn()
		wantProblem(t, b.do("DELETE", "/auth/session", "", header("X-CSRF-Token", other)), 403, gatehouse.CodeCSRFFailed)
	})
	t.Run("no session", func(t *testing.T) {
		if w := e.browser().do("DELETE", "/auth/session", ""); w.Code != 204 {
			t.Errorf("%d %s", w.Code, w.Body)
		}
	})
}

func TestRevokedSession(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := e.createUser("erin", "erin@example.com", "nire's velvet sandal crayon")
	b := e.browser()
	if w := b.login("erin", "nire's velvet sandal crayon"); w.Code != 200 {
		t.Fatal(w.Code)
	}
	if w := b.do("GET", "/auth/session", ""); w.Code != 200 {
		t.Fatal(w.Code)
	}
	if _, err := e.accounts.DisableUser(ctx, account.Actor{}, u.ID); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, b.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)

	b2, _ := e.loggedIn()
	var res loginResponse
	decode(t, b2.do("GET", "/auth/session", ""), &res)
	if err := e.accounts.Sessions().Revoke(ctx, res.Session.ID); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, b2.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
}

func TestCrossOriginRefused(t *testing.T) {
	e := newEnv(t, func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
		h.TrustedOrigins = []string{"https://app.example.com"}
	})
	login := `{"username":"admin","password":"` + adminPassword + `"}`
	cases := []struct {
		name string
		opts []reqOpt
		ok   bool
	}{
		{"cross-site fetch metadata", []reqOpt{header("Sec-Fetch-Site", "cross-site")}, false},
		{"same-site but other origin", []reqOpt{header("Sec-Fetch-Site", "same-site")}, false},
		{"foreign Origin header", []reqOpt{header("Origin", "https://evil.example")}, false},
		{"http variant of a trusted origin", []reqOpt{header("Origin", "http://app.example.com"), header("Sec-Fetch-Site", "cross-site")}, false},
		{"trusted origin", []reqOpt{header("Origin", "https://app.example.com"), header("Sec-Fetch-Site", "cross-site")}, true},
		{"same origin", []reqOpt{header("Sec-Fetch-Site", "same-origin")}, true},
		{"same Origin as Host", []reqOpt{header("Origin", "http://example.com")}, true},
		{"no browser headers (curl)", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := e.browser()
			w := b.do("POST", "/auth/session", login, c.opts...)
			if c.ok {
				if w.Code != 200 {
					t.Fatalf("%d %s", w.Code, w.Body)
				}
				return
			}
			wantProblem(t, w, 403, gatehouse.CodeCSRFFailed)
			if b.cookies["gh_session"] != nil {
				t.Error("refused login set a session")
			}
		})
	}
	// A logged-in browser is protected the same way, even with the token.
	b, token := e.loggedIn()
	wantProblem(t, b.do("DELETE", "/auth/session", "", header("X-CSRF-Token", token), header("Sec-Fetch-Site", "cross-site")), 403, gatehouse.CodeCSRFFailed)
	// Safe methods are not refused.
	if w := b.do("GET", "/auth/session", "", header("Sec-Fetch-Site", "cross-site")); w.Code != 200 {
		t.Errorf("cross-site GET: %d", w.Code)
	}
}

func TestCookiesOverHTTPS(t *testing.T) {
	e := newEnv(t, func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
		h.TrustedProxies = []netipPrefix{mustPrefix("10.0.0.0/8")}
	})
	check := func(t *testing.T, b *browser, opts ...reqOpt) {
		t.Helper()
		w := b.do("POST", "/auth/session", `{"username":"admin","password":"`+adminPassword+`"}`, opts...)
		if w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		c := b.cookies["__Host-gh_session"]
		if c == nil || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" {
			t.Fatalf("session cookie = %+v (all: %v)", c, w.Header()["Set-Cookie"])
		}
		if x := b.cookies["XSRF-TOKEN"]; x == nil || !x.Secure {
			t.Errorf("XSRF-TOKEN = %+v", x)
		}
		if hsts := w.Header().Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
			t.Errorf("HSTS = %q", hsts)
		}
		if w := b.do("GET", "/auth/session", "", opts...); w.Code != 200 {
			t.Errorf("session over https: %d", w.Code)
		}
	}
	t.Run("TLS", func(t *testing.T) {
		b := e.browser()
		b.https = true
		check(t, b)
		// Over plain HTTP the __Host- cookie is not the session cookie.
		b.https = false
		wantProblem(t, b.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
	})
	t.Run("trusted proxy", func(t *testing.T) {
		b := e.browser()
		b.addr = "10.9.9.9:443"
		check(t, b, header("X-Forwarded-Proto", "https"))
	})
	t.Run("untrusted X-Forwarded-Proto", func(t *testing.T) {
		b := e.browser()
		w := b.do("POST", "/auth/session", `{"username":"admin","password":"`+adminPassword+`"}`, header("X-Forwarded-Proto", "https"))
		if w.Code != 200 || b.cookies["gh_session"] == nil || b.cookies["gh_session"].Secure || w.Header().Get("Strict-Transport-Security") != "" {
			t.Errorf("an untrusted peer's X-Forwarded-Proto was believed: %v", w.Header())
		}
	})
	t.Run("HTTP cookie not accepted over HTTPS", func(t *testing.T) {
		b := e.browser()
		if w := b.login("admin", adminPassword); w.Code != 200 {
			t.Fatal(w.Code)
		}
		b.https = true
		wantProblem(t, b.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
	})
}

func TestSameSiteStrict(t *testing.T) {
	e := newEnv(t, func(_ *httpapi.Config, _ *account.Config, s *session.Config) {
		s.SameSite = http.SameSiteStrictMode
	})
	b := e.browser()
	b.login("admin", adminPassword)
	if c := b.cookies["gh_session"]; c == nil || c.SameSite != http.SameSiteStrictMode {
		t.Errorf("cookie = %+v", c)
	}
}

func TestHashUpgradeKeepsSessions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// A hash made with weaker parameters, as an older configuration would have.
	weak, err := passwordHasher(t, 32).Hash(ctx, adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := e.loggedIn()
	if err := e.store.SetPasswordHash(ctx, e.admin.ID, e.admin.PasswordHash, weak); err != nil {
		t.Fatal(err)
	}
	before, _ := e.store.UserByID(ctx, e.admin.ID)
	if w := e.browser().login("admin", adminPassword); w.Code != 200 {
		t.Fatalf("login with old hash: %d", w.Code)
	}
	after, _ := e.store.UserByID(ctx, e.admin.ID)
	if after.PasswordHash == weak || !strings.Contains(after.PasswordHash, "m=64,") {
		t.Errorf("hash not upgraded: %s", after.PasswordHash)
	}
	if after.SecurityStamp != before.SecurityStamp {
		t.Error("rehash changed the security stamp")
	}
	if w := b.do("GET", "/auth/session", ""); w.Code != 200 {
		t.Errorf("the earlier session ended with the rehash: %d", w.Code)
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	wantProblem(t, b.do("GET", "/auth/nope", ""), 404, gatehouse.CodeNotFound)
	wantProblem(t, b.do("GET", "/auth", ""), 404, gatehouse.CodeNotFound)
	w := b.do("PUT", "/auth/session", "")
	wantProblem(t, w, 405, gatehouse.CodeMethodNotAllowed)
	if allow := w.Header().Get("Allow"); !strings.Contains(allow, "POST") || !strings.Contains(allow, "DELETE") || !strings.Contains(allow, "GET") {
		t.Errorf("Allow = %q", allow)
	}
	p := wantProblem(t, e.browser().do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
	if p.Type != "https://tools.ietf.org/html/rfc9110#section-15.5.2" || p.Title != "Unauthorized" {
		t.Errorf("401 problem = %+v", p)
	}
	b2, _ := e.loggedIn()
	p = wantProblem(t, b2.do("DELETE", "/auth/session", ""), 403, gatehouse.CodeCSRFFailed)
	if p.Type != "https://tools.ietf.org/html/rfc9110#section-15.5.4" {
		t.Errorf("403 type = %q", p.Type)
	}
	for range 5 {
		e.browser().login("x", "y")
	}
	p = wantProblem(t, e.browser().login("x", "y"), 429, gatehouse.CodeTooManyAttempts)
	if p.Type != "https://tools.ietf.org/html/rfc6585#section-4" {
		t.Errorf("429 type = %q", p.Type)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/auth/healthz", "/auth/session", "/auth/nope", "/auth/password/policy"} {
		w := e.browser().do("GET", path, "")
		for k, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
			"Cache-Control":          "no-store",
			"X-Frame-Options":        "DENY",
		} {
			if got := w.Header().Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
		if w.Header().Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS over plain HTTP", path)
		}
	}
}

func TestHealthAndReady(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/auth/healthz", "/auth/readyz"} {
		if w := e.browser().do("GET", p, ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"ok"`) {
			t.Errorf("%s: %d %s", p, w.Code, w.Body)
		}
	}
	if w := e.browser().do("GET", "/auth/readyz", ""); !strings.Contains(w.Body.String(), `"checks":{"database":"ok"}`) {
		t.Errorf("readyz does not report its check: %s", w.Body)
	}
	e.store.Close()
	w := e.browser().do("GET", "/auth/readyz", "")
	wantProblem(t, w, 503, gatehouse.CodeStoreUnavailable)
	if !strings.Contains(w.Body.String(), `"checks":{"database":"unreachable"}`) {
		t.Errorf("readyz does not name the failing check: %s", w.Body)
	}
	if w.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if strings.Contains(w.Body.String(), "sql") {
		t.Errorf("readyz leaks internals: %s", w.Body)
	}
	if w := e.browser().do("GET", "/auth/healthz", ""); w.Code != 200 {
		t.Errorf("healthz with the store down: %d", w.Code)
	}
}

func TestBasePath(t *testing.T) {
	e := newEnv(t, func(h *httpapi.Config, _ *account.Config, _ *session.Config) { h.BasePath = "/api/" })
	b := e.browser()
	if w := b.do("POST", "/api/session", `{"username":"admin","password":"`+adminPassword+`"}`); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if w := b.do("GET", "/api/csrf", ""); w.Code != 200 {
		t.Errorf("GET /api/csrf: %d", w.Code)
	}
	if w := b.do("GET", "/auth/session", ""); w.Code != 404 {
		t.Errorf("old base still served: %d", w.Code)
	}
	for _, bad := range []string{"api", "/", "/a b", "/a/../b", "//x"} {
		if _, err := httpapi.CleanBasePath(bad); err == nil {
			t.Errorf("CleanBasePath(%q) accepted", bad)
		}
	}
}

func TestLoginExpiresRetryAfterRoundsUp(t *testing.T) {
	e := newEnv(t)
	for range 5 {
		e.browser().login("admin", "wrong")
	}
	// Five failures make the name wait a quarter of the 15-minute lockout.
	e.clock.Advance(15*time.Minute/4 - 1500*time.Millisecond)
	w := e.browser().login("admin", adminPassword)
	wantProblem(t, w, 429, gatehouse.CodeTooManyAttempts)
	if ra := w.Header().Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After = %q, want 2 (1.5 s rounded up)", ra)
	}
	e.clock.Advance(2 * time.Second)
	if w := e.browser().login("admin", adminPassword); w.Code != 200 {
		t.Errorf("after Retry-After: %d", w.Code)
	}
}

// TestParallelGuessesAreCounted sends many wrong passwords at once: the
// lockout must hold, not let every parallel guess through before any is
// counted.
func TestParallelGuessesAreCounted(t *testing.T) {
	e := newEnv(t)
	const n = 20
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := e.browser()
			b.addr = "198.51.100." + strconv.Itoa(i+1) + ":1"
			codes <- b.login("admin", "wrong guess "+strconv.Itoa(i)).Code
		}()
	}
	wg.Wait()
	close(codes)
	counted := map[int]int{}
	for c := range codes {
		counted[c]++
	}
	if counted[401] != 5 || counted[429] != n-5 {
		t.Errorf("answers = %v, want 5 × 401 and %d × 429", counted, n-5)
	}
}

// TestLockoutCoversEveryCase: every case variant of a submitted name
// (ſ folds to s) shares one counter. The user's other name (the email
// address) has its own, or a wait on one would confirm that both belong
// to one account (TestThrottleRevealsNoAccount).
func TestLockoutCoversEveryCase(t *testing.T) {
	e := newEnv(t)
	e.createUser("sysadmin", "ops@example.com", pwOf("sysadmin"))
	for _, name := range []string{"sysadmin", "SYSADMIN", "SysAdmin", "sysADMIN", "ſysadmin"} {
		wantProblem(t, e.browser().login(name, "wrong"), 401, gatehouse.CodeInvalidCredentials)
	}
	for _, name := range []string{"sysadmin", "ſysadmin", "SYSADMIN"} {
		wantProblem(t, e.browser().login(name, pwOf("sysadmin")), 429, gatehouse.CodeTooManyAttempts)
	}
	for range 5 {
		wantProblem(t, e.browser().login("Ops@Example.com", "wrong"), 401, gatehouse.CodeInvalidCredentials)
	}
	wantProblem(t, e.browser().login("OPS@example.com", pwOf("sysadmin")), 429, gatehouse.CodeTooManyAttempts)
}
