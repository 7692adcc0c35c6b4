package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/session"
)

// guestTable opens /app/status/** to any session, guests included, and
// keeps the rest of /app for users.
func guestTable(t *testing.T) *policy.Table {
	t.Helper()
	table, err := policy.Compile([]policy.Rule{
		{Path: "/app/status/**", Access: policy.Session},
		{Path: "/app/**", Access: policy.Authenticated},
	})
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// withGuests is duplistatus's configuration: session.guest on, the session
// cookie named "session", and the gateway's table.
func withGuests(t *testing.T) envOption {
	return func(h *httpapi.Config, a *account.Config, s *session.Config) {
		withGateway(guestTable(t), nil)(h, a, s)
		a.Guest = true
		s.CookieName = "session"
	}
}

// guestReply is the answer to POST BASE/session with an empty body.
type guestReply struct {
	State     string `json:"state"`
	SessionID string `json:"sessionId"`
	CSRFToken string `json:"csrfToken"`
}

// startGuest is duplistatus's own script: POST /api/session with no body,
// no Content-Type, no cookie.
func startGuest(t *testing.T, e *env, addr string) (*httptest.ResponseRecorder, guestReply) {
	t.Helper()
	r := httptest.NewRequest("POST", "/auth/session", nil)
	r.RemoteAddr = addr
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	checkOpenAPI(t, e.api.BasePath(), r, w)
	var g guestReply
	if w.Code == 200 {
		decode(t, w, &g)
	}
	return w, g
}

// asGuest sends a request the way duplistatus does after that: the
// session id as Cookie: session=<id>, and the CSRF token when not "".
func asGuest(t *testing.T, e *env, h http.Handler, method, path, sessionID, csrfToken string, opts ...reqOpt) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = "192.0.2.10:40000"
	r.Header.Set("Cookie", "session="+sessionID)
	if csrfToken != "" {
		r.Header.Set("X-CSRF-Token", csrfToken)
	}
	for _, o := range opts {
		o(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if h == http.Handler(e.api) {
		checkOpenAPI(t, e.api.BasePath(), r, w)
	}
	return w
}

// TestGuestSessionDuplistatus is duplistatus's flow verbatim.
func TestGuestSessionDuplistatus(t *testing.T) {
	e := newEnv(t, withGuests(t))
	w, g := startGuest(t, e, "192.0.2.10:40000")
	if w.Code != 200 || g.State != "guest" || g.SessionID == "" || g.CSRFToken == "" {
		t.Fatalf("POST /auth/session without a body: %d %s", w.Code, w.Body)
	}
	var cookie *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == "session" {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != g.SessionID || !cookie.HttpOnly {
		t.Fatalf("session cookie = %+v, want HttpOnly session=%s", cookie, g.SessionID)
	}
	if g.CSRFToken == g.SessionID {
		t.Error("the CSRF token is the session id")
	}

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gatehouse.UserFrom(r.Context()) != nil {
			t.Error("a guest session reached the handler as a user")
		}
		fmt.Fprint(w, "ok")
	})
	protected := e.api.Protect(ok)

	t.Run("session route through Protect", func(t *testing.T) {
		if w := asGuest(t, e, protected, "GET", "/app/status/x", g.SessionID, ""); w.Code != 200 {
			t.Errorf("GET: %d %s", w.Code, w.Body)
		}
		if w := asGuest(t, e, protected, "POST", "/app/status/x", g.SessionID, g.CSRFToken); w.Code != 200 {
			t.Errorf("POST with the CSRF token: %d %s", w.Code, w.Body)
		}
		wantProblem(t, asGuest(t, e, protected, "POST", "/app/status/x", g.SessionID, ""), 403, gatehouse.CodeCSRFFailed)
		wantProblem(t, asGuest(t, e, protected, "DELETE", "/app/status/x", g.SessionID, "wrong"), 403, gatehouse.CodeCSRFFailed)
		wantProblem(t, asGuest(t, e, protected, "GET", "/app/status/x", "not-a-session", ""), 401, gatehouse.CodeUnauthenticated)
	})
	t.Run("authenticated route through Protect", func(t *testing.T) {
		wantProblem(t, asGuest(t, e, protected, "GET", "/app/data", g.SessionID, ""), 401, gatehouse.CodeUnauthenticated)
		wantProblem(t, asGuest(t, e, protected, "POST", "/app/data", g.SessionID, g.CSRFToken), 401, gatehouse.CodeUnauthenticated)
	})
	t.Run("verify", func(t *testing.T) {
		v := func(method, uri, csrfToken string) *httptest.ResponseRecorder {
			opts := nginxAuth(method, uri)
			r := httptest.NewRequest("GET", "/auth/verify", nil)
			r.RemoteAddr = proxyAddr
			r.Header.Set("Cookie", "session="+g.SessionID)
			if csrfToken != "" {
				r.Header.Set("X-CSRF-Token", csrfToken)
			}
			for _, o := range opts {
				o(r)
			}
			w := httptest.NewRecorder()
			e.api.ServeHTTP(w, r)
			return w
		}
		wantAllowed(t, v("GET", "/app/status/x", ""), "", "")
		wantAllowed(t, v("POST", "/app/status/x", g.CSRFToken), "", "")
		if w := v("POST", "/app/status/x", ""); w.Code != 403 {
			t.Errorf("verify POST without the token: %d, want 403", w.Code)
		}
		if w := v("GET", "/app/data", ""); w.Code != 401 {
			t.Errorf("verify of an authenticated route: %d, want 401", w.Code)
		}
	})
	t.Run("no user endpoint", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{
			{"GET", "/auth/sessions"},
			{"GET", "/auth/tokens"},
			{"POST", "/auth/tokens"},
			{"GET", "/auth/2fa"},
			{"POST", "/auth/password"},
			{"GET", "/auth" + httpapi.ManagementPrefix + "/users"},
			{"GET", "/auth" + httpapi.ManagementPrefix + "/sessions"},
		} {
			path := c.path
			w := asGuest(t, e, e.api, c.method, path, g.SessionID, g.CSRFToken)
			if w.Code != 401 {
				t.Errorf("%s %s as a guest: %d %s, want 401", c.method, path, w.Code, w.Body)
			}
		}
		var a struct{ Authenticated bool }
		decode(t, asGuest(t, e, e.api, "GET", "/auth/session/authenticated", g.SessionID, ""), &a)
		if a.Authenticated {
			t.Error("GET /auth/session/authenticated: true for a guest")
		}
	})
	t.Run("current session", func(t *testing.T) {
		w := asGuest(t, e, e.api, "GET", "/auth/session", g.SessionID, "")
		if w.Code != 200 {
			t.Fatalf("GET /auth/session: %d %s", w.Code, w.Body)
		}
		var cur struct {
			State     string
			User      any
			CSRFToken string
		}
		decode(t, w, &cur)
		if cur.State != "guest" || cur.User != nil || cur.CSRFToken != g.CSRFToken {
			t.Errorf("GET /auth/session = %s, want a guest without a user and the same token", w.Body)
		}
		w = asGuest(t, e, e.api, "GET", "/auth/csrf", g.SessionID, "")
		if w.Code != 200 || !strings.Contains(w.Body.String(), g.CSRFToken) {
			t.Errorf("GET /auth/csrf: %d %s", w.Code, w.Body)
		}
	})
	t.Run("management list shows the guest", func(t *testing.T) {
		b, token := e.loggedIn()
		w := b.do("GET", "/auth"+httpapi.ManagementPrefix+"/sessions", "", header("X-CSRF-Token", token))
		if w.Code != 200 {
			t.Fatalf("list: %d %s", w.Code, w.Body)
		}
		var list struct {
			Items []struct {
				UserID string `json:"userId"`
				Guest  bool   `json:"guest"`
			}
		}
		decode(t, w, &list)
		guests := 0
		for _, it := range list.Items {
			if it.Guest {
				guests++
				if it.UserID != "" {
					t.Errorf("guest session with userId %q", it.UserID)
				}
			}
		}
		if guests != 1 {
			t.Errorf("the list shows %d guest sessions, want 1: %s", guests, w.Body)
		}
	})
	t.Run("logout", func(t *testing.T) {
		wantProblem(t, asGuest(t, e, e.api, "DELETE", "/auth/session", g.SessionID, ""), 403, gatehouse.CodeCSRFFailed)
		if w := asGuest(t, e, e.api, "DELETE", "/auth/session", g.SessionID, g.CSRFToken); w.Code != 204 {
			t.Fatalf("DELETE /auth/session: %d %s", w.Code, w.Body)
		}
		wantProblem(t, asGuest(t, e, protected, "GET", "/app/status/x", g.SessionID, ""), 401, gatehouse.CodeUnauthenticated)
	})
}

// TestGuestSessionIdle: a guest session ends after the idle timeout
// unused, and lives while it is used.
func TestGuestSessionIdle(t *testing.T) {
	e := newEnv(t, withGuests(t))
	_, g := startGuest(t, e, "192.0.2.10:40000")
	protected := e.api.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	idle := session.DefaultConfig.IdleTimeout
	e.clock.Advance(idle - time.Minute)
	if w := asGuest(t, e, protected, "GET", "/app/status/x", g.SessionID, ""); w.Code != 200 {
		t.Fatalf("used before the idle timeout: %d %s", w.Code, w.Body)
	}
	e.clock.Advance(idle - time.Minute)
	if w := asGuest(t, e, protected, "GET", "/app/status/x", g.SessionID, ""); w.Code != 200 {
		t.Fatalf("used again within the idle timeout: %d %s", w.Code, w.Body)
	}
	e.clock.Advance(idle)
	wantProblem(t, asGuest(t, e, protected, "GET", "/app/status/x", g.SessionID, ""), 401, gatehouse.CodeUnauthenticated)
}

// TestGuestSessionThrottle: guest sessions are limited per client address.
func TestGuestSessionThrottle(t *testing.T) {
	e := newEnv(t, withGuests(t), func(_ *httpapi.Config, a *account.Config, _ *session.Config) {
		a.GuestThrottle = gatehouse.ThrottleRule{MaxFailures: 3, Window: time.Minute, Lockout: time.Minute}
	})
	for i := range 2 {
		if w, _ := startGuest(t, e, "192.0.2.10:40000"); w.Code != 200 {
			t.Fatalf("guest session %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	w, _ := startGuest(t, e, "192.0.2.10:40000")
	wantProblem(t, w, 429, gatehouse.CodeTooManyAttempts)
	if w.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if w, _ := startGuest(t, e, "192.0.2.11:40000"); w.Code != 200 {
		t.Errorf("another address: %d %s", w.Code, w.Body)
	}
	e.clock.Advance(time.Minute)
	if w, _ := startGuest(t, e, "192.0.2.10:40000"); w.Code != 200 {
		t.Errorf("after the lockout: %d %s", w.Code, w.Body)
	}
}

// TestGuestSessionOff: without session.guest an empty body is answered as
// before (415: the body must be JSON), and access session admits nobody
// without a session.
func TestGuestSessionOff(t *testing.T) {
	e := newEnv(t, withGateway(guestTable(t), nil))
	w, _ := startGuest(t, e, "192.0.2.10:40000")
	wantProblem(t, w, 415, gatehouse.CodeUnsupportedMediaType)
	b := e.browser()
	w = b.do("POST", "/auth/session", "", header("Content-Type", "application/json"))
	if w.Code != 400 {
		t.Errorf("empty JSON body: %d %s, want 400 as before", w.Code, w.Body)
	}
	protected := e.api.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	wantProblem(t, asGuest(t, e, protected, "GET", "/app/status/x", "x", ""), 401, gatehouse.CodeUnauthenticated)
	// A user's session opens an access session route.
	ub, _ := e.loggedIn()
	r := newRequest(ub, "GET", "/app/status/x")
	rw := httptest.NewRecorder()
	protected.ServeHTTP(rw, r)
	if rw.Code != 200 {
		t.Errorf("user on an access session route: %d %s", rw.Code, rw.Body)
	}
}

// TestGuestEmptyBodyChunked: a body of unknown length that turns out
// empty starts a guest session; one with JSON is a login.
func TestGuestEmptyBodyChunked(t *testing.T) {
	e := newEnv(t, withGuests(t))
	r := httptest.NewRequest("POST", "/auth/session", strings.NewReader(""))
	r.ContentLength = -1
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"guest"`) {
		t.Errorf("chunked empty body: %d %s", w.Code, w.Body)
	}
	r = httptest.NewRequest("POST", "/auth/session", strings.NewReader(`{"username":"admin","password":"`+adminPassword+`"}`))
	r.ContentLength = -1
	r.Header.Set("Content-Type", "application/json")
	w = httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"authenticated"`) {
		t.Errorf("chunked login: %d %s", w.Code, w.Body)
	}
}

// TestGuestSessionThrottleIPv6: an IPv6 client cannot get round the
// throttle by changing addresses within its /64.
func TestGuestSessionThrottleIPv6(t *testing.T) {
	e := newEnv(t, withGuests(t), func(_ *httpapi.Config, a *account.Config, _ *session.Config) {
		a.GuestThrottle = gatehouse.ThrottleRule{MaxFailures: 3, Window: time.Minute, Lockout: time.Minute}
	})
	for i := range 2 {
		if w, _ := startGuest(t, e, fmt.Sprintf("[2001:db8:1:2::%x]:40000", i+1)); w.Code != 200 {
			t.Fatalf("guest session %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	w, _ := startGuest(t, e, "[2001:db8:1:2:ffff::99]:40000")
	wantProblem(t, w, 429, gatehouse.CodeTooManyAttempts)
	if w, _ := startGuest(t, e, "[2001:db8:1:3::1]:40000"); w.Code != 200 {
		t.Errorf("another /64: %d %s", w.Code, w.Body)
	}
}

// TestGuestWebSocketCrossOrigin: a cross-site WebSocket handshake does not
// ride on a guest session, as it does not on a user's; a same-origin one
// does, without a CSRF token even with csrf.every_request.
func TestGuestWebSocketCrossOrigin(t *testing.T) {
	for _, every := range []bool{false, true} {
		t.Run(fmt.Sprint("every_request=", every), func(t *testing.T) {
			e := newEnv(t, withGuests(t), func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
				h.CSRFEveryRequest = every
			})
			_, g := startGuest(t, e, "192.0.2.10:40000")
			protected := e.api.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			ws := []reqOpt{header("Upgrade", "websocket"), header("Connection", "Upgrade")}
			cross := append(ws, header("Origin", "https://evil.example"), header("Sec-Fetch-Site", "cross-site"))
			wantProblem(t, asGuest(t, e, protected, "GET", "/app/status/ws", g.SessionID, "", cross...), 403, gatehouse.CodeCSRFFailed)
			same := append(ws, header("Sec-Fetch-Site", "same-origin"))
			if w := asGuest(t, e, protected, "GET", "/app/status/ws", g.SessionID, "", same...); w.Code != 200 {
				t.Errorf("same-origin handshake: %d %s", w.Code, w.Body)
			}
		})
	}
}

// TestGuestSessionRemaining: GET BASE/session/remaining reports a guest
// session's time left, as a user's, without extending it; and
// /session/authenticated stays false (a guest is nobody).
func TestGuestSessionRemaining(t *testing.T) {
	e := newEnv(t, withGuests(t))
	_, g := startGuest(t, e, "192.0.2.10:40000")
	remaining := func() int64 {
		t.Helper()
		w := asGuest(t, e, e.api, "GET", "/auth/session/remaining", g.SessionID, "")
		if w.Code != 200 {
			t.Fatalf("remaining: %d %s", w.Code, w.Body)
		}
		var got struct{ Seconds int64 }
		decode(t, w, &got)
		return got.Seconds
	}
	idle := int64(session.DefaultConfig.IdleTimeout / time.Second)
	if got := remaining(); got != idle {
		t.Errorf("remaining = %d, want the idle timeout %d", got, idle)
	}
	e.clock.Advance(time.Minute)
	if got := remaining(); got != idle-60 {
		t.Errorf("a minute later: %d, want %d (asking must not extend it)", got, idle-60)
	}
	if w := asGuest(t, e, e.api, "GET", "/auth/session/authenticated", g.SessionID, ""); !strings.Contains(w.Body.String(), "false") {
		t.Errorf("authenticated for a guest: %s", w.Body)
	}
	e.clock.Advance(time.Duration(idle) * time.Second)
	if got := remaining(); got != 0 {
		t.Errorf("after the idle timeout: %d, want 0", got)
	}
}
