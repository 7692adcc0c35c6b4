package httpapi_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/mail"
	"github.com/gatehouse/gatehouse/metrics"
	"github.com/gatehouse/gatehouse/otp"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sms"
	"github.com/gatehouse/gatehouse/sqlite"
	"github.com/gatehouse/gatehouse/web"
)

// clock is a fake clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// cheapParams keep argon2id fast in tests; the parameters do not matter to
// the HTTP behaviour.
var cheapParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

const adminPassword = "correct horse battery staple"

type env struct {
	t        *testing.T
	clock    *clock
	store    *sqlite.Store
	accounts *account.Service
	api      *httpapi.Server
	admin    *gatehouse.User
	mailer   *fakeMailer
	sms      *fakeSMS
}

// fakeSMS records the text messages sent.
type fakeSMS struct {
	mu   sync.Mutex
	sent []sms.Message
}

func (f *fakeSMS) Send(_ context.Context, m sms.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m)
	return nil
}

func (f *fakeSMS) last(t *testing.T) sms.Message {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sent) == 0 {
		t.Fatal("no SMS sent")
	}
	return f.sent[len(f.sent)-1]
}

// sentMail is a message the fake mailer was given.
type sentMail struct {
	To, Kind string
	Data     mail.Data
}

// fakeMailer records what the account service queues.
type fakeMailer struct {
	mu   sync.Mutex
	sent []sentMail
}

func (m *fakeMailer) Enqueue(_ context.Context, to, kind string, d mail.Data) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, sentMail{To: to, Kind: kind, Data: d})
	return nil
}

// last returns the newest message of kind to to, or fails.
func (m *fakeMailer) last(t *testing.T, to, kind string) sentMail {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.sent) - 1; i >= 0; i-- {
		if m.sent[i].To == to && m.sent[i].Kind == kind {
			return m.sent[i]
		}
	}
	t.Fatalf("no %s mail to %s among %d", kind, to, len(m.sent))
	return sentMail{}
}

func (m *fakeMailer) count(to, kind string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, s := range m.sent {
		if s.To == to && s.Kind == kind {
			n++
		}
	}
	return n
}

type envOption func(*httpapi.Config, *account.Config, *session.Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	return newEnvOver(t, nil, opts...)
}

// storesOver builds, over an env's SQLite store, the stores its services
// use and its ready checks (see newEnvOver).
type storesOver func(*sqlite.Store) (account.Stores, gatehouse.SessionStore, []httpapi.ReadyCheck)

// newEnvOver is newEnv with the stores over, when not nil, puts between
// the services and the SQLite store.
func newEnvOver(t *testing.T, over storesOver, opts ...envOption) *env {
	t.Helper()
	return newEnvDeps(t, over, nil, opts...)
}

// newEnvDeps is newEnvOver with deps, when not nil, changing the HTTP
// layer's dependencies (the external providers) before it is built.
func newEnvDeps(t *testing.T, over storesOver, deps func(*httpapi.Deps), opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	hcfg := httpapi.Config{}
	acfg := account.DefaultConfig
	// The audit events are counted in the set BASE/metrics serves, as
	// gatehouse serve wires them.
	m := metrics.New()
	acfg.OnAudit = m.Audit
	scfg := session.DefaultConfig
	for _, o := range opts {
		o(&hcfg, &acfg, &scfg)
	}
	stores, sessions, ready := account.StoresOf(store), gatehouse.SessionStore(store), []httpapi.ReadyCheck{{Name: "database", Check: store.Ping}}
	if over != nil {
		stores, sessions, ready = over(store)
	}
	sm := session.NewManager(sessions, scfg, clk.Now, nil)
	mailer := &fakeMailer{}
	accounts := account.New(stores, password.NewHasher(cheapParams, 0, 0), sm, acfg, clk.Now, nil, mailer)
	sealer, err := otp.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	texts := &fakeSMS{}
	accounts.UseTwoFactor(account.TwoFactorDeps{Sealer: sealer, SMS: texts, Config: account.DefaultTwoFactorConfig})
	d := httpapi.Deps{Accounts: accounts, Sessions: sm, Metrics: m, Now: clk.Now, Ready: ready, Pages: web.Constructor(accounts)}
	if deps != nil {
		deps(&d)
	}
	api, err := httpapi.New(hcfg, d)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clock: clk, store: store, accounts: accounts, api: api, mailer: mailer, sms: texts}
	e.admin = e.createUser("admin", "admin@example.com", adminPassword, gatehouse.GroupAdministrators)
	return e
}

func (e *env) createUser(username, email, pw string, groups ...string) *gatehouse.User {
	e.t.Helper()
	u, err := e.accounts.CreateUser(context.Background(), account.NewUser{Username: username, Email: email, Password: pw, Groups: groups})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// browser keeps cookies like a browser would, for one origin.
type browser struct {
	e       *env
	cookies map[string]*http.Cookie
	https   bool
	addr    string // RemoteAddr
}

func (e *env) browser() *browser {
	return &browser{e: e, cookies: map[string]*http.Cookie{}, addr: "192.0.2.10:40000"}
}

type reqOpt func(*http.Request)

func header(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

func (b *browser) do(method, path, body string, opts ...reqOpt) *httptest.ResponseRecorder {
	b.e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	r.RemoteAddr = b.addr
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if b.https {
		r.TLS = &tls.ConnectionState{}
	}
	for _, c := range b.cookies {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	for _, o := range opts {
		o(r)
	}
	w := httptest.NewRecorder()
	b.e.api.ServeHTTP(w, r)
	checkOpenAPI(b.e.t, b.e.api.BasePath(), r, w)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return w
}

func (b *browser) login(username, pw string) *httptest.ResponseRecorder {
	b.e.t.Helper()
	body, _ := json.Marshal(map[string]any{"username": username, "password": pw})
	return b.do("POST", "/auth/session", string(body))
}

// loggedIn returns a browser with an admin session, and its CSRF token.
func (e *env) loggedIn() (*browser, string) {
	e.t.Helper()
	b := e.browser()
	w := b.login("admin", adminPassword)
	if w.Code != 200 {
		e.t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	var res struct{ CSRFToken string }
	decode(e.t, w, &res)
	return b, res.CSRFToken
}

func decode(t *testing.T, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %q: %v", w.Body, err)
	}
}

type problemBody struct {
	Type   string          `json:"type"`
	Title  string          `json:"title"`
	Status int             `json:"status"`
	Detail string          `json:"detail"`
	Code   string          `json:"code"`
	Errors json.RawMessage `json:"errors"`
	// RequestID must be the answer's X-Request-Id (checked by wantProblem).
	RequestID string `json:"requestId"`
}

// wantProblem checks that w is a problem+json answer with status and code.
func wantProblem(t *testing.T, w *httptest.ResponseRecorder, status int, code gatehouse.Code) problemBody {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problemBody
	decode(t, w, &p)
	if p.Code != string(code) || p.Status != status || p.Title == "" || p.Detail == "" || !strings.HasPrefix(p.Type, "https://tools.ietf.org/html/") {
		t.Fatalf("problem = %+v, want status %d code %s", p, status, code)
	}
	if id := w.Header().Get("X-Request-Id"); p.RequestID == "" || p.RequestID != id {
		t.Fatalf("problem requestId = %q, want the answer's X-Request-Id %q", p.RequestID, id)
	}
	return p
}

// requestIDMember is a problem's requestId member, which differs from one
// answer to the next by design.
var requestIDMember = regexp.MustCompile(`,"requestId":"[^"]*"`)

// withoutRequestID is a problem body without its requestId, for tests
// that want two answers to be alike (a known and an unknown name).
func withoutRequestID(body string) string { return requestIDMember.ReplaceAllString(body, "") }

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

type netipPrefix = netip.Prefix

// passwordHasher returns a hasher with cheap parameters and the given memory.
func passwordHasher(t *testing.T, memKiB uint32) *password.Hasher {
	t.Helper()
	p := cheapParams
	p.Memory = memKiB
	return password.NewHasher(p, 0, 0)
}

type httptestRecorder = httptest.ResponseRecorder

// newRequest builds a request from browser b, with its cookies, address and scheme.
func newRequest(b *browser, method, path string) *http.Request {
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = b.addr
	if b.https {
		r.TLS = &tls.ConnectionState{}
	}
	for _, c := range b.cookies {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

type httpCookie = http.Cookie

// pwOf is the test password of a user: long enough, and without the
// username in it, which the password policy refuses.
func pwOf(name string) string {
	r := []rune(name)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r) + " velvet sandal crayon"
}

type (
	httpapiConfig = httpapi.Config
	accountConfig = account.Config
	sessionConfig = session.Config
)

func accountAuditKind(kind string) account.AuditFilter {
	return account.AuditFilter{Kind: gatehouse.AuditKind(kind)}
}

// userID returns the id of the user with username name.
func (e *env) userID(name string) string {
	e.t.Helper()
	u, err := e.store.UserByLogin(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID
}

// userLogin logs a user with two-factor in with a recovery code and returns
// the browser and its CSRF token.
func (e *env) userLogin(name, pw, recoveryCode string) (*browser, string) {
	e.t.Helper()
	b, _ := e.passwordStep(name, pw)
	w := b.do("POST", "/auth/2fa/verify", verifyBody("recovery_code", recoveryCode))
	if w.Code != 200 {
		e.t.Fatalf("second step: %d %s", w.Code, w.Body)
	}
	var res struct{ CSRFToken string }
	decode(e.t, w, &res)
	return b, res.CSRFToken
}

func accountActor() account.Actor { return account.Actor{} }

func accountInvite(email string, groups ...string) account.NewInvite {
	return account.NewInvite{Email: email, Groups: groups}
}
