package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/session"
)

const testPassword = "violet-Anchor-92-quartz"

// syncBuffer is a log destination the background work may write to while
// the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func open(t *testing.T, cfg server.Config) *server.Gatehouse {
	t.Helper()
	gh, err := server.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { gh.Close() })
	return gh
}

func serve(h http.Handler, method, path, body string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestOpenFreshDataDir: on a data directory that does not exist yet, Open
// creates it (0700) with the database and the key file, warns that mail
// goes to the log, logs the setup link (which works, once), and serves
// BASE/healthz; a second Open, with a user, has no setup link.
func TestOpenFreshDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var logs syncBuffer
	cfg := server.Config{DataDir: dir, ListenAddr: "0.0.0.0:8099", Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	gh := open(t, cfg)

	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data directory: %v, %v; want mode 0700", fi, err)
	}
	for _, name := range []string{"gatehouse.db", "secrets.key"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	link := gh.SetupURL()
	if !strings.HasPrefix(link, "http://localhost:8099/auth/ui/setup?token=") {
		t.Fatalf("SetupURL = %q", link)
	}
	log := logs.String()
	if !strings.Contains(log, link) || !strings.Contains(log, "create the first administrator") {
		t.Errorf("the log does not give the setup link %s:\n%s", link, log)
	}
	if !strings.Contains(log, "no SMTP server is configured") {
		t.Errorf("no warning about mail written to the log:\n%s", log)
	}
	if w := serve(gh, "GET", "/auth/healthz", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"ok"`) {
		t.Errorf("GET /auth/healthz = %d %s", w.Code, w.Body)
	}
	if w := serve(gh, "GET", "/auth/readyz", ""); w.Code != 200 {
		t.Errorf("GET /auth/readyz = %d %s", w.Code, w.Body)
	}

	u, _ := url.Parse(link)
	token := u.Query().Get("token")
	body, _ := json.Marshal(map[string]string{"token": token, "username": "ada", "email": "ada@example.com", "password": testPassword})
	if w := serve(gh, "POST", "/auth/setup", string(body)); w.Code != 201 {
		t.Fatalf("POST /auth/setup = %d %s", w.Code, w.Body)
	}
	if w := serve(gh, "POST", "/auth/setup", string(body)); w.Code < 400 || w.Code >= 500 {
		t.Errorf("setup link used twice: %d %s", w.Code, w.Body)
	}
	if err := gh.Close(); err != nil {
		t.Fatal(err)
	}

	logs = syncBuffer{}
	again := open(t, cfg)
	if again.SetupURL() != "" || strings.Contains(logs.String(), "setup") {
		t.Errorf("second start offers a setup link %q although a user exists:\n%s", again.SetupURL(), logs.String())
	}
}

// TestOpenNilLogger: a Config with nothing but a data directory works.
func TestOpenNilLogger(t *testing.T) {
	gh := open(t, server.Config{DataDir: t.TempDir()})
	if w := serve(gh, "GET", "/auth/healthz", ""); w.Code != 200 {
		t.Errorf("GET /auth/healthz = %d", w.Code)
	}
	if !strings.HasPrefix(gh.SetupURL(), "/auth/ui/setup?token=") {
		t.Errorf("SetupURL without PublicURL or ListenAddr = %q, want the path", gh.SetupURL())
	}
	if gh.BasePath() != "/auth" {
		t.Errorf("BasePath = %q", gh.BasePath())
	}
}

// TestOpenBadConfig: a setting Open cannot use is a clear error naming it,
// and a checked setting is refused before anything is created on disk.
func TestOpenBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  server.Config
		want string
	}{
		{"root base path", server.Config{BasePath: "/"}, "BasePath"},
		{"relative base path", server.Config{BasePath: "auth"}, "BasePath"},
		{"public URL", server.Config{PublicURL: "admin.example.com"}, "PublicURL"},
		{"listen address", server.Config{ListenAddr: "8080"}, "ListenAddr"},
		{"password policy", server.Config{Password: password.Policy{MinLength: 12, MaxLength: 20}}, "Password"},
		{"login limit", server.Config{Login: server.LoginLimits{MaxFailures: 1000}}, "Login.MaxFailures"},
		{"negative limit", server.Config{Login: server.LoginLimits{Lockout: -1}}, "Login"},
		// A cookie domain is where the cookie goes and where rd= may lead.
		{"public suffix cookie domain", server.Config{Session: session.Config{CookieDomain: "com"}}, "Session"},
		{"two-label public suffix", server.Config{Session: session.Config{CookieDomain: "co.uk"}}, "Session"},
		{"URL as cookie domain", server.Config{Session: session.Config{CookieDomain: "https://example.com/x"}}, "Session"},
		{"cookie domain not above the public URL", server.Config{PublicURL: "https://admin.example.org", Session: session.Config{CookieDomain: "example.com"}}, "Session.CookieDomain"},
		{"SameSite=None", server.Config{Session: session.Config{SameSite: http.SameSiteNoneMode}}, "Session"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			tc.cfg.DataDir = dir
			gh, err := server.Open(t.Context(), tc.cfg)
			if err == nil {
				gh.Close()
				t.Fatal("Open accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s", err, tc.want)
			}
			if ce := (*server.ConfigError)(nil); !errors.As(err, &ce) {
				t.Errorf("error %q is not a *server.ConfigError", err)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("the data directory was created anyway (%v)", err)
			}
		})
	}
	// Settings the HTTP layer checks are refused too, and the store closed.
	_, err := server.Open(t.Context(), server.Config{DataDir: t.TempDir(), Gateway: server.Gateway{ExtraMethods: []string{"get"}}})
	if err == nil || !strings.Contains(err.Error(), "extra_methods") {
		t.Errorf("Open with a bad extra method: %v", err)
	}
}

// TestProtectRequire: the middleware of the returned value answers 401
// without a session, 403 without the permission, and lets the user
// through with it.
func TestProtectRequire(t *testing.T) {
	gh := open(t, server.Config{DataDir: t.TempDir(), Groups: map[string][]string{"readers": {"reports.read"}}})
	ctx := context.Background()
	for _, u := range []account.NewUser{
		{Username: "reader", Email: "reader@example.com", Password: testPassword, Groups: []string{"readers"}},
		{Username: "other", Email: "other@example.com", Password: testPassword},
	} {
		if _, err := gh.Accounts().CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(gatehouse.UserFrom(r.Context()).Username))
	})
	mux := http.NewServeMux()
	mux.Handle("/auth/", gh)
	mux.Handle("/api/me", gh.Protect(whoami))
	mux.Handle("/api/reports", gh.Require("reports.read")(whoami))
	mux.Handle("/api/public", gh.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gatehouse.UserFrom(r.Context()) == nil {
			w.Write([]byte("anonymous"))
			return
		}
		whoami(w, r)
	})))
	login := func(user string) []*http.Cookie {
		t.Helper()
		w := serve(mux, "POST", "/auth/session", `{"username":"`+user+`","password":"`+testPassword+`"}`)
		if w.Code != 200 {
			t.Fatalf("login %s: %d %s", user, w.Code, w.Body)
		}
		return w.Result().Cookies()
	}
	reader, other := login("reader"), login("other")
	for _, tc := range []struct {
		path    string
		cookies []*http.Cookie
		code    int
		body    string
	}{
		{"/api/me", nil, 401, ""},
		{"/api/reports", nil, 401, ""},
		{"/api/public", nil, 200, "anonymous"},
		{"/api/me", other, 200, "other"},
		{"/api/reports", other, 403, ""},
		{"/api/public", other, 200, "other"},
		{"/api/reports", reader, 200, "reader"},
	} {
		w := serve(mux, "GET", tc.path, "", tc.cookies...)
		if w.Code != tc.code || tc.body != "" && w.Body.String() != tc.body {
			t.Errorf("GET %s (%d cookies) = %d %q, want %d %q", tc.path, len(tc.cookies), w.Code, w.Body, tc.code, tc.body)
		}
		if w.Code >= 400 && w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s: %d answered as %q, not problem+json", tc.path, w.Code, w.Header().Get("Content-Type"))
		}
	}
	// An unsafe method with the session cookie needs its CSRF token.
	if w := serve(mux, "POST", "/api/me", "{}", other...); w.Code != 403 {
		t.Errorf("POST /api/me without the CSRF token = %d, want 403", w.Code)
	}
}

// TestOpenCookieDomain: a cookie domain written as in a browser's
// devtools (".Example.COM") is taken as example.com.
func TestOpenCookieDomain(t *testing.T) {
	gh := open(t, server.Config{DataDir: t.TempDir(), PublicURL: "https://admin.example.com", Session: session.Config{CookieDomain: ".Example.COM"}})
	if got := gh.Accounts().Sessions().CookieDomain(); got != "example.com" {
		t.Errorf("cookie domain %q, want example.com", got)
	}
}

// TestCORS: Config.CORS reaches gatehouse's own endpoints and, through
// gh.CORS, the program's handlers: a preflight from the allowed origin is
// answered without a session, another origin gets no CORS headers.
func TestCORS(t *testing.T) {
	const app = "https://app.example.com"
	gh := open(t, server.Config{DataDir: t.TempDir(), CORS: httpapi.CORS{AllowedOrigins: []string{app}, AllowCredentials: true}})
	mux := http.NewServeMux()
	mux.Handle("/auth/", gh)
	mux.Handle("/api/", gh.CORS(gh.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))))
	for _, path := range []string{"/auth/session", "/api/notes"} {
		for origin, allowed := range map[string]bool{app: true, "https://evil.example": false} {
			r := httptest.NewRequest("OPTIONS", path, nil)
			r.Header.Set("Origin", origin)
			r.Header.Set("Access-Control-Request-Method", "PATCH")
			r.Header.Set("Access-Control-Request-Headers", "x-csrf-token")
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			got := w.Header().Get("Access-Control-Allow-Origin")
			if allowed && (w.Code != http.StatusNoContent || got != app || w.Header().Get("Access-Control-Allow-Credentials") != "true") {
				t.Errorf("preflight %s from %s: %d, Allow-Origin %q", path, origin, w.Code, got)
			}
			if !allowed && got != "" {
				t.Errorf("preflight %s from %s: Allow-Origin %q, want none", path, origin, got)
			}
		}
	}
}

// TestSetupURLListenTLS: without PublicURL, a program that answers HTTPS
// itself (ListenTLS) gets https links, without the default port 443.
func TestSetupURLListenTLS(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{"0.0.0.0:443", "https://localhost/auth/ui/setup?token="},
		{"127.0.0.1:8443", "https://127.0.0.1:8443/auth/ui/setup?token="},
		{"[::1]:443", "https://[::1]/auth/ui/setup?token="},
		{"admin.example.com:8443", "https://admin.example.com:8443/auth/ui/setup?token="},
	} {
		gh := open(t, server.Config{DataDir: t.TempDir(), ListenAddr: tt.addr, ListenTLS: true})
		if !strings.HasPrefix(gh.SetupURL(), tt.want) {
			t.Errorf("ListenAddr %s: SetupURL = %q, want %s…", tt.addr, gh.SetupURL(), tt.want)
		}
	}
}
