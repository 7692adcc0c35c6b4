package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/server"
)

// strictCSP is the policy every page must answer with: its stylesheet,
// its own forms, and nothing inline.
const strictCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// openServer runs gatehouse as `gatehouse serve` does (web's pages
// mounted by the composition root), with no user yet.
func openServer(t *testing.T) *server.Gatehouse {
	t.Helper()
	gh, err := server.Open(t.Context(), server.Config{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gh.Close() })
	if gh.SetupURL() == "" {
		t.Fatal("no setup link")
	}
	return gh
}

func do(h http.Handler, method, target string, form url.Values) *httptest.ResponseRecorder {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r.Header.Set("Accept", "text/html")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var stylesheetLink = regexp.MustCompile(`<link rel="stylesheet" href="([^"]+)">`)

// policyScript is the script file of the pages with a new password.
var policyScript = regexp.MustCompile(`<script src="/auth/ui/assets/passwordpolicy\.[0-9a-f]{10}\.js" defer></script>`)

// scriptCSP is strictCSP for a page with a script file: scripts and
// requests to its own origin only.
const scriptCSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// TestPagesStrictCSP: every page, in each of its states, answers with the
// strict CSP (no 'unsafe-inline'), has no inline style or script, and
// links a stylesheet that loads (200 text/css, cached for good).
func TestPagesStrictCSP(t *testing.T) {
	gh := openServer(t)
	setup, err := url.Parse(gh.SetupURL())
	if err != nil {
		t.Fatal(err)
	}
	token := setup.Query().Get("token")
	admin := url.Values{"token": {token}, "username": {"root"}, "email": {"root@example.com"}, "password": {"a long and unusual passphrase 42"}}
	weak := url.Values{"token": {token}, "username": {"root"}, "email": {"root@example.com"}, "password": {"short"}}

	pages := []struct {
		name         string
		method, path string
		form         url.Values
		status       int
		text         string
	}{
		{"setup form", "GET", "/auth/ui/setup?token=" + token, nil, 200, "Create the first administrator"},
		{"setup without token", "GET", "/auth/ui/setup", nil, 200, "This setup link is not valid"},
		{"setup refused", "POST", "/auth/ui/setup", weak, 422, "Create administrator"},
		{"setup done", "POST", "/auth/ui/setup", admin, 201, "was created"},
		{"login form", "GET", "/auth/ui/login?rd=/app", nil, 200, "Keep me logged in"},
		{"login refused", "POST", "/auth/ui/login", url.Values{"username": {"root"}, "password": {"wrong password"}}, 401, "Invalid username or password."},
		{"reset form", "GET", "/auth/ui/reset?userId=u1&token=t1", nil, 200, "Choose a new password"},
		{"reset invalid link", "POST", "/auth/ui/reset", url.Values{"userId": {"u1"}, "token": {"t1"}, "password": {"a long and unusual passphrase 43"}}, 400, "This link is not valid"},
		{"invite form", "GET", "/auth/ui/invite?userId=u1&token=t1", nil, 200, "Accept your invitation"},
		{"invite invalid link", "GET", "/auth/ui/invite", nil, 200, "This link is not valid"},
		{"external login error", "GET", "/auth/external/nobody/callback?state=x&code=y", nil, 404, "Back to the login page"},
	}
	stylesheets := map[string]bool{}
	for _, p := range pages {
		w := do(gh, p.method, p.path, p.form)
		body := w.Body.String()
		if w.Code != p.status || !strings.Contains(body, p.text) {
			t.Errorf("%s: %d, want %d with %q:\n%s", p.name, w.Code, p.status, p.text, body)
			continue
		}
		if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", p.name, ct)
		}
		// A page with a script file of its own (the password policy's
		// hints) may run it, and only it.
		want := strictCSP
		if policyScript.MatchString(body) {
			want = scriptCSP
		}
		if csp := w.Header().Values("Content-Security-Policy"); len(csp) != 1 || csp[0] != want || strings.Contains(csp[0], "unsafe-inline") {
			t.Errorf("%s: Content-Security-Policy %q, want %q", p.name, csp, want)
		}
		for _, inline := range []string{"style=", "<style", "<script"} {
			if strings.Contains(strings.ToLower(policyScript.ReplaceAllString(body, "")), inline) {
				t.Errorf("%s: the page has %s inline", p.name, inline)
			}
		}
		m := stylesheetLink.FindStringSubmatch(body)
		if m == nil {
			t.Errorf("%s: no stylesheet link", p.name)
			continue
		}
		stylesheets[m[1]] = true
	}
	if len(stylesheets) != 1 {
		t.Errorf("stylesheets %v, want the same one on every page", stylesheets)
	}
	for href := range stylesheets {
		if !regexp.MustCompile(`^/auth/ui/assets/gatehouse\.[0-9a-f]{10}\.css$`).MatchString(href) {
			t.Errorf("stylesheet %q has no content hash in its name", href)
		}
		w := do(gh, "GET", href, nil)
		if w.Code != 200 || w.Header().Get("Content-Type") != "text/css; charset=utf-8" || !strings.Contains(w.Body.String(), "body{") {
			t.Errorf("GET %s: %d %q %.60q", href, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
		// Dark mode follows the system setting.
		if css := w.Body.String(); !strings.Contains(css, "color-scheme:light dark") || !strings.Contains(css, "@media (prefers-color-scheme:dark)") {
			t.Errorf("GET %s: no dark mode", href)
		}
		if cc := w.Header().Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q", href, cc)
		}
		// The server's security headers stand in front of the pages.
		if w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no X-Content-Type-Options", href)
		}
	}
}

// TestAssetNotFound: a name without the current hash, or no such file, is
// a 404 problem, never a stale file.
func TestAssetNotFound(t *testing.T) {
	gh := openServer(t)
	for _, path := range []string{"/auth/ui/assets/gatehouse.css", "/auth/ui/assets/gatehouse.0000000000.css", "/auth/ui/assets/secrets.key"} {
		w := do(gh, "GET", path, nil)
		if w.Code != 404 || w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s: %d %q", path, w.Code, w.Header().Get("Content-Type"))
		}
	}
	if w := do(gh, "POST", "/auth/ui/assets/x.css", url.Values{}); w.Code != 405 {
		t.Errorf("POST an asset: %d, want 405", w.Code)
	}
}
