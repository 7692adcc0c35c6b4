package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// TestLibraryMiddleware protects an application's own handler the way a Go
// program embedding gatehouse does.
func TestLibraryMiddleware(t *testing.T) {
	e := newEnv(t)
	var got *gatehouse.User
	app := http.NewServeMux()
	app.Handle("/app/", e.api.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = gatehouse.UserFrom(r.Context())
		if gatehouse.SessionFrom(r.Context()) == nil {
			t.Error("no session in context")
		}
		fmt.Fprintf(w, "hello %s", got.Username)
	})))
	app.Handle("/auth/", e.api)
	open := e.api.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := gatehouse.UserFrom(r.Context()); u != nil {
			fmt.Fprintf(w, "hi %s", u.Username)
		} else {
			fmt.Fprint(w, "hi stranger")
		}
	}))
	app.Handle("/open", open)

	do := func(b *browser, method, path, body string, opts ...reqOpt) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.RemoteAddr = b.addr
		for _, c := range b.cookies {
			r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		for _, o := range opts {
			o(r)
		}
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		return w
	}

	anon := e.browser()
	wantProblem(t, do(anon, "GET", "/app/x", ""), 401, gatehouse.CodeUnauthenticated)
	if w := do(anon, "GET", "/open", ""); w.Body.String() != "hi stranger" {
		t.Errorf("open: %s", w.Body)
	}

	b, token := e.loggedIn()
	if w := do(b, "GET", "/app/x", ""); w.Code != 200 || w.Body.String() != "hello admin" || got == nil || got.ID != e.admin.ID {
		t.Fatalf("GET: %d %s", w.Code, w.Body)
	}
	if w := do(b, "GET", "/open", ""); w.Body.String() != "hi admin" {
		t.Errorf("open with session: %s", w.Body)
	}
	wantProblem(t, do(b, "POST", "/app/x", ""), 403, gatehouse.CodeCSRFFailed)
	wantProblem(t, do(b, "DELETE", "/app/x", "", header("X-CSRF-Token", token+"x")), 403, gatehouse.CodeCSRFFailed)
	for _, h := range []string{"X-CSRF-Token", "X-CSRF", "X-XSRF-TOKEN"} {
		if w := do(b, "PATCH", "/app/x", "", header(h, token)); w.Code != 200 {
			t.Errorf("PATCH with %s: %d %s", h, w.Code, w.Body)
		}
	}
	// An HTML form posts the token as csrf_token; the handler still sees the whole body.
	form := url.Values{"csrf_token": {token}, "note": {"kept"}}.Encode()
	var seen string
	app.Handle("/form", e.api.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		seen = r.PostForm.Get("note")
	})))
	if w := do(b, "POST", "/form", form, header("Content-Type", "application/x-www-form-urlencoded")); w.Code != 200 || seen != "kept" {
		t.Errorf("form post: %d, handler saw note=%q", w.Code, seen)
	}
	wantProblem(t, do(b, "POST", "/form", "note=x", header("Content-Type", "application/x-www-form-urlencoded")), 403, gatehouse.CodeCSRFFailed)
	// Cross-origin unsafe requests are refused even with the token.
	wantProblem(t, do(b, "POST", "/app/x", "", header("X-CSRF-Token", token), header("Sec-Fetch-Site", "cross-site")), 403, gatehouse.CodeCSRFFailed)
}
