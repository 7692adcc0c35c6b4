package httpapi_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sqlite"
	"github.com/gatehouse/gatehouse/tracing"
)

// The benchmarks of the middleware and of session validation. Compare
// BenchmarkProtectedGET with BenchmarkUnprotectedGET from the same run:
//
//	go test -run='^$' -bench='ProtectedGET|UnprotectedGET|SessionValidation' -count=5 ./httpapi/
//
// bench/run.sh measures the same ratio end to end with wrk.

// benchBody is the ~100-byte JSON answer of the benchmarked handler, the same
// as bench/server's.
var benchBody = []byte(`{"ok":true,"service":"gatehouse-bench","message":"hello from the benchmark handler","n":1234567890}` + "\n")

func benchHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(benchBody)
}

// benchEnv is newEnv for benchmarks (newEnv takes a *testing.T): a SQLite
// store in a temporary directory, the real clock, cheap argon2 parameters
// (only the login at set-up hashes), and an admin user logged in through
// POST /auth/session.
type benchEnv struct {
	admin    *gatehouse.User
	accounts *account.Service
	api      *httpapi.Server
	cookie   *http.Cookie // the session cookie
}

func newBenchEnv(b *testing.B, opts ...envOption) *benchEnv {
	b.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "gatehouse.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	hcfg := httpapi.Config{}
	acfg := account.DefaultConfig
	scfg := session.DefaultConfig
	for _, o := range opts {
		o(&hcfg, &acfg, &scfg)
	}
	sm := session.NewManager(store, scfg, time.Now, nil)
	accounts := account.New(account.StoresOf(store), password.NewHasher(cheapParams, 0, 0), sm, acfg, time.Now, nil, nil)
	deps := httpapi.Deps{Accounts: accounts, Sessions: sm, Ready: []httpapi.ReadyCheck{{Name: "database", Check: store.Ping}}}
	if hcfg.LogRequests {
		// Each request's line encoded as serve's JSON log would be.
		deps.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	api, err := httpapi.New(hcfg, deps)
	if err != nil {
		b.Fatal(err)
	}
	admin, err := accounts.CreateUser(ctx, account.NewUser{Username: "admin", Email: "admin@example.com", Password: adminPassword})
	if err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"username": "admin", "password": adminPassword})
	r := httptest.NewRequest("POST", "/auth/session", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		b.Fatalf("login: %d %s", w.Code, w.Body)
	}
	e := &benchEnv{accounts: accounts, api: api, admin: admin}
	for _, c := range w.Result().Cookies() {
		if c.Name == sm.CookieName(false) {
			e.cookie = c
		}
	}
	if e.cookie == nil {
		b.Fatal("login set no session cookie")
	}
	return e
}

// benchGET serves one GET with the session cookie to h per iteration. The
// request is built once (the middleware never modifies it); each iteration
// gets a fresh recorder, as a server gets a fresh ResponseWriter.
func benchGET(b *testing.B, h http.Handler, cookie *http.Cookie) {
	r := httptest.NewRequest("GET", "/api/hello", nil)
	r.RemoteAddr = "192.0.2.10:40000"
	r.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	benchRequest(b, h, r)
}

// benchRequest serves r to h once per iteration.
func benchRequest(b *testing.B, h http.Handler, r *http.Request) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		b.Fatalf("GET: %d %s", w.Code, w.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}

// BenchmarkProtectedGET is one authenticated GET through api.Protect:
// cookie parsing, session and user lookup (cached), CSRF check, context.
func BenchmarkProtectedGET(b *testing.B) {
	e := newBenchEnv(b)
	benchGET(b, e.api.Protect(http.HandlerFunc(benchHandler)), e.cookie)
}

// BenchmarkUnprotectedGET is the same request to the bare handler.
func BenchmarkUnprotectedGET(b *testing.B) {
	e := newBenchEnv(b)
	benchGET(b, http.HandlerFunc(benchHandler), e.cookie)
}

// BenchmarkSessionValidation is Service.Authenticate with the session and
// user caches on (the defaults): what Protect costs once the cookie is read.
func BenchmarkSessionValidation(b *testing.B) {
	benchAuthenticate(b, newBenchEnv(b))
}

// BenchmarkSessionValidationUncached is Service.Authenticate with both caches
// off, so every call reads the session and the user from SQLite.
func BenchmarkSessionValidationUncached(b *testing.B) {
	benchAuthenticate(b, newBenchEnv(b, func(_ *httpapi.Config, a *account.Config, s *session.Config) {
		a.UserCacheTTL = -1
		s.CacheTTL = -1
	}))
}

func benchAuthenticate(b *testing.B, e *benchEnv) {
	ctx := context.Background()
	token := e.cookie.Value
	if _, _, err := e.accounts.Authenticate(ctx, token); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := e.accounts.Authenticate(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBearerGET is the authenticated GET with an API token instead of
// the session cookie; compare it with BenchmarkProtectedGET of the same run.
func BenchmarkBearerGET(b *testing.B) {
	e := newBenchEnv(b)
	secret, _, err := e.accounts.CreateToken(context.Background(), account.Actor{}, e.admin, account.NewToken{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/api/hello", nil)
	r.RemoteAddr = "192.0.2.10:40000"
	r.Header.Set("Authorization", "Bearer "+secret)
	benchRequest(b, e.api.Protect(http.HandlerFunc(benchHandler)), r)
}

// BenchmarkBasicGET is the authenticated GET with HTTP Basic credentials
// over HTTPS, after the first request has verified and cached them.
func BenchmarkBasicGET(b *testing.B) {
	e := newBenchEnv(b, func(h *httpapi.Config, _ *account.Config, _ *session.Config) { h.BasicAuth.Enabled = true })
	r := httptest.NewRequest("GET", "/api/hello", nil)
	r.RemoteAddr = "192.0.2.10:40000"
	r.TLS = &tls.ConnectionState{}
	r.SetBasicAuth("admin", adminPassword)
	benchRequest(b, e.api.Protect(http.HandlerFunc(benchHandler)), r)
}

// BenchmarkVerify is GET /auth/verify as nginx's auth_request sends it,
// with a valid session cookie, against a small route table; compare it with
// BenchmarkUnprotectedGET (a bare 200 handler) of the same run.
func BenchmarkVerify(b *testing.B) { benchVerify(b, false) }

// BenchmarkVerifyLogged is BenchmarkVerify with each request's line in the
// log (Config.LogRequests, as gatehouse serve does by default) written as
// JSON to io.Discard: what the line costs besides its write.
func BenchmarkVerifyLogged(b *testing.B) { benchVerify(b, true) }

// BenchmarkVerifyTraced is BenchmarkVerify with tracing on: a tracer
// provider with a batch span processor to an exporter that drops the
// spans, so that what is measured is gatehouse's spans, not an export.
func BenchmarkVerifyTraced(b *testing.B) {
	traceBench(b)
	benchVerify(b, false)
}

// BenchmarkAuthenticatedGET is GET /auth/session with the session cookie,
// served by the Server itself (counted, logged when configured and, when
// on, traced); compare with BenchmarkAuthenticatedGETTraced.
func BenchmarkAuthenticatedGET(b *testing.B) { benchAuthenticatedGET(b) }

// BenchmarkAuthenticatedGETTraced is BenchmarkAuthenticatedGET with
// tracing on (see BenchmarkVerifyTraced).
func BenchmarkAuthenticatedGETTraced(b *testing.B) {
	traceBench(b)
	benchAuthenticatedGET(b)
}

func benchAuthenticatedGET(b *testing.B) {
	e := newBenchEnv(b)
	r := httptest.NewRequest("GET", "/auth/session", nil)
	r.RemoteAddr = "192.0.2.10:40000"
	r.AddCookie(&http.Cookie{Name: e.cookie.Name, Value: e.cookie.Value})
	benchRequest(b, e.api, r)
}

// traceBench switches tracing on for the benchmark (see
// BenchmarkVerifyTraced).
func traceBench(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { tp.Shutdown(context.Background()) })
	b.Cleanup(tracing.Use(tp))
}

// benchVerify is BenchmarkVerify, with or without request lines.
func benchVerify(b *testing.B, logged bool) {
	table, err := policy.Compile([]policy.Rule{
		{Path: "/api/health", Access: policy.Public},
		{Path: "/api/servers/{id}", Methods: []string{"PATCH", "DELETE"}, Access: policy.Authenticated},
		{Path: "/api/**", Access: policy.Authenticated},
	})
	if err != nil {
		b.Fatal(err)
	}
	e := newBenchEnv(b, func(h *httpapi.Config, _ *account.Config, _ *session.Config) {
		h.Routes = table
		h.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		h.LogRequests = logged
	})
	r := httptest.NewRequest("GET", "/auth/verify", nil)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("X-Original-Method", "GET")
	r.Header.Set("X-Original-URI", "/api/dashboard")
	r.Header.Set("X-Original-URL", "http://app.example.com/api/dashboard")
	r.Header.Set("X-Forwarded-For", "203.0.113.5")
	r.Header.Set("X-Forwarded-Proto", "http")
	r.Header.Set("X-Forwarded-Host", "app.example.com")
	r.AddCookie(&http.Cookie{Name: e.cookie.Name, Value: e.cookie.Value})
	benchRequest(b, e.api, r)
}
