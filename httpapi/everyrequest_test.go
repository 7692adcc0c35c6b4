package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/session"
)

// withEveryRequest turns on csrf.every_request.
func withEveryRequest(h *httpapi.Config, _ *account.Config, _ *session.Config) {
	h.CSRFEveryRequest = true
}

// bearerOf creates an API token for browser b (logged in, with CSRF token
// csrfTok) and returns its Authorization header.
func bearerOf(t *testing.T, b *browser, csrfTok string) reqOpt {
	t.Helper()
	w := b.do("POST", "/auth/tokens", `{"name":"ci"}`, header("X-CSRF-Token", csrfTok))
	if w.Code != 201 && w.Code != 200 {
		t.Fatalf("POST /auth/tokens: %d %s", w.Code, w.Body)
	}
	var tok struct{ Secret string }
	decode(t, w, &tok)
	return header("Authorization", "Bearer "+tok.Secret)
}

// TestCSRFEveryRequest: with csrf.every_request, safe methods
// authenticated by the session cookie need the CSRF token too, except GET
// BASE/session and GET BASE/csrf, which hand it out.
func TestCSRFEveryRequest(t *testing.T) {
	e := newEnv(t, withEveryRequest)
	b, token := e.loggedIn()
	bearer := bearerOf(t, b, token)

	for _, path := range []string{
		"/auth/sessions", "/auth/tokens", "/auth/2fa",
		"/auth" + httpapi.ManagementPrefix + "/users",
		"/auth/session/remaining", "/auth/session/authenticated",
	} {
		t.Run(path, func(t *testing.T) {
			wantProblem(t, b.do("GET", path, ""), 403, gatehouse.CodeCSRFFailed)
			wantProblem(t, b.do("GET", path, "", header("X-CSRF", token+"x")), 403, gatehouse.CodeCSRFFailed)
			if w := b.do("HEAD", path, ""); w.Code != 403 {
				t.Errorf("HEAD without the token: %d", w.Code)
			}
			for _, h := range []string{"X-CSRF", "X-CSRF-Token", "X-XSRF-TOKEN"} {
				if w := b.do("GET", path, "", header(h, token)); w.Code != 200 {
					t.Errorf("GET with %s: %d %s", h, w.Code, w.Body)
				}
			}
		})
	}

	// The endpoints that hand the token out need none.
	for _, path := range []string{"/auth/session", "/auth/csrf"} {
		if w := b.do("GET", path, ""); w.Code != 200 || !strings.Contains(w.Body.String(), token) {
			t.Errorf("GET %s without the token: %d %s", path, w.Code, w.Body)
		}
	}
	// Unsafe methods still need it, as always.
	wantProblem(t, b.do("DELETE", "/auth/sessions", ""), 403, gatehouse.CodeCSRFFailed)

	// An Authorization header is not ambient: no CSRF token, even with
	// the session cookie alongside.
	if w := e.browser().do("GET", "/auth/tokens", "", bearer); w.Code != 200 {
		t.Errorf("Bearer GET: %d %s", w.Code, w.Body)
	}
	if w := b.do("GET", "/auth/tokens", "", bearer); w.Code != 200 {
		t.Errorf("Bearer GET with the cookie too: %d %s", w.Code, w.Body)
	}

	// Without a live session there is nothing to protect: the session
	// reports answer as they do for anyone.
	anon := e.browser()
	if w := anon.do("GET", "/auth/session/authenticated", ""); w.Code != 200 || !strings.Contains(w.Body.String(), "false") {
		t.Errorf("anonymous authenticated: %d %s", w.Code, w.Body)
	}
	wantProblem(t, anon.do("GET", "/auth/sessions", ""), 401, gatehouse.CodeUnauthenticated)
	wantProblem(t, anon.do("GET", "/auth/session", ""), 401, gatehouse.CodeUnauthenticated)
}

// TestCSRFEveryRequestOffByDefault: without the option, safe methods need
// no token (the behaviour before it existed).
func TestCSRFEveryRequestOffByDefault(t *testing.T) {
	e := newEnv(t)
	b, _ := e.loggedIn()
	for _, path := range []string{"/auth/sessions", "/auth/session/remaining", "/auth/session/authenticated", "/auth/session", "/auth/csrf"} {
		if w := b.do("GET", path, ""); w.Code != 200 {
			t.Errorf("GET %s: %d %s", path, w.Code, w.Body)
		}
	}
	wantProblem(t, b.do("DELETE", "/auth/sessions", ""), 403, gatehouse.CodeCSRFFailed)
}

// TestCSRFEveryRequestMiddleware: Protect, Require and CSRF apply the
// option to an embedding program's handlers.
func TestCSRFEveryRequestMiddleware(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint("every_request=", on), func(t *testing.T) {
			var e *env
			if on {
				e = newEnv(t, withEveryRequest)
			} else {
				e = newEnv(t)
			}
			b, token := e.loggedIn()
			bearer := bearerOf(t, b, token)
			ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
			app := http.NewServeMux()
			app.Handle("/app/", e.api.Protect(ok))
			app.Handle("/perm/", e.api.Require(httpapi.PermUsers)(ok))
			app.Handle("/mw/", e.api.Authenticate(e.api.CSRF(ok)))
			do := func(method, path string, opts ...reqOpt) *httptest.ResponseRecorder {
				r := newRequest(b, method, path)
				for _, o := range opts {
					o(r)
				}
				w := httptest.NewRecorder()
				app.ServeHTTP(w, r)
				return w
			}
			for _, path := range []string{"/app/x", "/perm/x", "/mw/x"} {
				for _, method := range []string{"GET", "HEAD", "OPTIONS"} {
					w := do(method, path)
					if on {
						wantProblem(t, w, 403, gatehouse.CodeCSRFFailed)
					} else if w.Code != 200 {
						t.Errorf("%s %s without the token, option off: %d %s", method, path, w.Code, w.Body)
					}
					if w := do(method, path, header("X-CSRF", token)); w.Code != 200 {
						t.Errorf("%s %s with the token: %d %s", method, path, w.Code, w.Body)
					}
				}
				// A Bearer token needs none, the cookie alongside or not.
				if w := do("GET", path, bearer); w.Code != 200 {
					t.Errorf("GET %s with a Bearer token: %d %s", path, w.Code, w.Body)
				}
			}
		})
	}
}

// TestCSRFEveryRequestGateway: forward auth and the reverse proxy apply
// the option to safe original methods authenticated by the session cookie;
// a WebSocket handshake, which cannot carry a header, keeps to the
// same-origin check.
func TestCSRFEveryRequestGateway(t *testing.T) {
	t.Run("verify", func(t *testing.T) {
		e := newEnv(t, withGateway(gatewayTable(t), nil), withEveryRequest)
		viewer, vCSRF, _ := e.userBrowser("viewer")
		anon := e.browser()
		for name, family := range map[string]func(string, string) []reqOpt{"nginx": nginxAuth, "traefik": traefikAuth} {
			t.Run(name, func(t *testing.T) {
				wantProblem(t, viewer.verify(family("GET", "/app/x")...), 403, gatehouse.CodeCSRFFailed)
				wantProblem(t, viewer.verify(family("HEAD", "/app/x")...), 403, gatehouse.CodeCSRFFailed)
				wantAllowed(t, viewer.verify(with(family("GET", "/app/x"), header("X-CSRF", vCSRF))...), "viewer", "")
				// A public route: without the token the cookie does not
				// count (the page's images and scripts still load, with
				// no identity); with it, the identity comes along.
				wantAllowed(t, viewer.verify(family("GET", "/app/public/logo.png")...), "", "")
				wantAllowed(t, viewer.verify(with(family("GET", "/app/public/logo.png"), header("X-CSRF", vCSRF))...), "viewer", "")
				wantAllowed(t, anon.verify(family("GET", "/app/public/logo.png")...), "", "")
				wantProblem(t, anon.verify(family("GET", "/app/x")...), 401, gatehouse.CodeUnauthenticated)
			})
		}
	})

	t.Run("proxy", func(t *testing.T) {
		up := newUpstream(t)
		g := newGatewayFront(t, up.url(t), withEveryRequest)
		g.e.createUser("viewer", "viewer@example.com", pwOf("viewer"))
		cookie, csrfTok := g.sessionOf("viewer", pwOf("viewer"))
		before := up.hits.Load()
		res, body := g.do("GET", "/app/page", "", http.Header{"Cookie": {cookie}})
		wantGatewayProblem(t, res, body, 403, gatehouse.CodeCSRFFailed)
		if up.hits.Load() != before {
			t.Error("a GET without the token reached the upstream")
		}
		_, got := g.echo("GET", "/app/page", "", http.Header{"Cookie": {cookie}, "X-CSRF": {csrfTok}})
		if got.Header.Get("Remote-User") != "viewer" {
			t.Errorf("with the token: %+v", got)
		}
		_, got = g.echo("GET", "/app/public/app.js", "", http.Header{"Cookie": {cookie}})
		if got.Header.Get("Remote-User") != "" {
			t.Errorf("a public route without the token passed the identity on: %+v", got)
		}
		// gatehouse's own GET BASE/session hands the token out.
		res, body = g.do("GET", "/auth/session", "", http.Header{"Cookie": {cookie}})
		if res.StatusCode != 200 || !strings.Contains(string(body), csrfTok) {
			t.Errorf("GET /auth/session: %d %s", res.StatusCode, body)
		}

		// A same-origin WebSocket handshake needs no token (it cannot
		// send one); a cross-origin one is refused as always.
		addr := strings.TrimPrefix(g.srv.URL, "http://")
		handshake := "GET /app/ws HTTP/1.1\r\nHost: app.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: " + cookie + "\r\n"
		if status := rawStatus(t, addr, handshake+"Origin: http://evil.example\r\n\r\n"); status != 403 {
			t.Errorf("cross-origin upgrade: %d", status)
		}
		if status := rawStatus(t, addr, handshake+"Origin: http://app.example.com\r\n\r\n"); status != 101 {
			t.Errorf("same-origin upgrade: %d, want 101", status)
		}
	})
}

// TestProtectEveryRequestPublicRoute: with csrf.every_request and a route
// table, Protect treats a session cookie that comes without its token on
// a public route as the gateway does — the request goes on as anonymous —
// and refuses it on a route that needs a user.
func TestProtectEveryRequestPublicRoute(t *testing.T) {
	e := newEnv(t, withEveryRequest, func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
		h.Routes = gatewayTable(t)
	})
	b, token := e.loggedIn()
	protected := e.api.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := gatehouse.UserFrom(r.Context()); u != nil {
			fmt.Fprint(w, "user ", u.Username)
			return
		}
		fmt.Fprint(w, "anonymous")
	}))
	do := func(method, path string, opts ...reqOpt) *httptest.ResponseRecorder {
		r := newRequest(b, method, path)
		for _, o := range opts {
			o(r)
		}
		w := httptest.NewRecorder()
		protected.ServeHTTP(w, r)
		return w
	}
	if w := do("GET", "/app/public/logo.png"); w.Code != 200 || w.Body.String() != "anonymous" {
		t.Errorf("public route, cookie without token: %d %q, want 200 anonymous", w.Code, w.Body)
	}
	if w := do("GET", "/app/public/logo.png", header("X-CSRF", token)); w.Code != 200 || !strings.HasPrefix(w.Body.String(), "user ") {
		t.Errorf("public route with the token: %d %q, want the user", w.Code, w.Body)
	}
	wantProblem(t, do("GET", "/app/notes"), 403, gatehouse.CodeCSRFFailed)
	if w := do("GET", "/app/notes", header("X-CSRF", token)); w.Code != 200 {
		t.Errorf("protected route with the token: %d %s", w.Code, w.Body)
	}
	// Unsafe requests are never taken as anonymous: refused, as always.
	wantProblem(t, do("POST", "/app/public/form", header("Sec-Fetch-Site", "same-origin")), 403, gatehouse.CodeCSRFFailed)
}

// TestProtectWebSocketOrigin: Protect holds a user's WebSocket handshake
// to the same origin, as the gateway does (cross-site WebSocket
// hijacking); a same-origin one needs no CSRF token, even with
// csrf.every_request (the browser's WebSocket API cannot send one).
func TestProtectWebSocketOrigin(t *testing.T) {
	for _, every := range []bool{false, true} {
		t.Run(fmt.Sprint("every_request=", every), func(t *testing.T) {
			e := newEnv(t, func(h *httpapi.Config, _ *account.Config, _ *session.Config) { h.CSRFEveryRequest = every })
			b, _ := e.loggedIn()
			protected := e.api.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			do := func(opts ...reqOpt) *httptest.ResponseRecorder {
				r := newRequest(b, "GET", "/app/ws")
				r.Header.Set("Upgrade", "websocket")
				r.Header.Set("Connection", "Upgrade")
				for _, o := range opts {
					o(r)
				}
				w := httptest.NewRecorder()
				protected.ServeHTTP(w, r)
				return w
			}
			wantProblem(t, do(header("Origin", "https://evil.example"), header("Sec-Fetch-Site", "cross-site")), 403, gatehouse.CodeCSRFFailed)
			if w := do(header("Sec-Fetch-Site", "same-origin")); w.Code != 200 {
				t.Errorf("same-origin handshake: %d %s", w.Code, w.Body)
			}
		})
	}
}

// TestCSRFEveryRequestInvite: an invitation's partial session gets its
// token back from GET BASE/invite, as a session does from GET
// BASE/session, so that one needs none; setting the password does.
func TestCSRFEveryRequestInvite(t *testing.T) {
	e := newEnv(t, withEveryRequest)
	if _, err := e.accounts.Invite(context.Background(), account.NewInvite{Email: "kim@example.com"}); err != nil {
		t.Fatal(err)
	}
	id, tok := linkParts(t, e.mailer.last(t, "kim@example.com", "invite").Data.Link, "invite")
	b := e.browser()
	if w := b.do("POST", "/auth/invite/verify", `{"userId":"`+id+`","token":"`+tok+`"}`); w.Code != 200 {
		t.Fatalf("verify: %d %s", w.Code, w.Body)
	}
	w := b.do("GET", "/auth/invite", "")
	if w.Code != 200 {
		t.Fatalf("GET /auth/invite without the token: %d %s", w.Code, w.Body)
	}
	var got struct{ CSRFToken string }
	decode(t, w, &got)
	wantProblem(t, b.do("POST", "/auth/invite/password", `{"password":"kim's long passphrase"}`), 403, gatehouse.CodeCSRFFailed)
	if w := b.do("POST", "/auth/invite/password", `{"password":"kim's long passphrase"}`, header("X-CSRF", got.CSRFToken)); w.Code != 200 {
		t.Errorf("accept with the token: %d %s", w.Code, w.Body)
	}
}
