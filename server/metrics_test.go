package server_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	dto "github.com/prometheus/client_model/go"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/mail"
	"github.com/gatehouse/gatehouse/metrics/metricstest"
	"github.com/gatehouse/gatehouse/server"
)

// fakeClock is a clock a test moves on.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// busyMailServer is a real SMTP server (go-smtp) on loopback that answers
// every recipient with 451, try again later.
func busyMailServer(t *testing.T) (host string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(busyBackend{})
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	h, p, _ := net.SplitHostPort(ln.Addr().String())
	port, _ = strconv.Atoi(p)
	return h, port
}

type busyBackend struct{}

func (busyBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return busySession{}, nil }

type busySession struct{}

func (busySession) Reset()                               {}
func (busySession) Logout() error                        { return nil }
func (busySession) Mail(string, *smtp.MailOptions) error { return nil }
func (busySession) Rcpt(string, *smtp.RcptOptions) error {
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
}
func (busySession) Data(io.Reader) error { return nil }

// TestMetricsOfLogins: through the server as `gatehouse serve` runs it, a
// failed login, a successful one, a lockout, a logout and a mail the
// mail server defers show in BASE/metrics: logins by method and outcome,
// the lockout, the sessions alive, the outbox and its failures, the
// hashing queue, and the routes labelled without their method.
func TestMetricsOfLogins(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	host, port := busyMailServer(t)
	gh := open(t, server.Config{DataDir: t.TempDir(), Now: clock.Now,
		SMTP: &mail.SMTPConfig{Host: host, Port: port, TLS: mail.TLSNone, From: "gatehouse@example.com", Timeout: 5 * time.Second}})
	if _, err := gh.Accounts().CreateUser(t.Context(), account.NewUser{Username: "ada", Email: "ada@example.com", Password: testPassword}); err != nil {
		t.Fatal(err)
	}
	scrape := func() map[string]*dto.MetricFamily {
		t.Helper()
		return metricstest.Scrape(t, gh, "/auth/metrics")
	}
	login := func(user, pw string, want int) *json.Decoder {
		t.Helper()
		w := serve(gh, "POST", "/auth/session", `{"username":"`+user+`","password":"`+pw+`"}`)
		if w.Code != want {
			t.Fatalf("login %s: %d %s, want %d", user, w.Code, w.Body, want)
		}
		return json.NewDecoder(w.Body)
	}
	logins := func(outcome string) map[string]string {
		return map[string]string{"method": "password", "outcome": outcome}
	}

	metricstest.Check(t, scrape(), []metricstest.Series{
		{Name: "gatehouse_logins_total", Labels: logins("success"), Want: 0},
		{Name: "gatehouse_logins_total", Labels: logins("invalid_credentials"), Want: 0},
		{Name: "gatehouse_lockouts_total", Want: 0},
		{Name: "gatehouse_sessions_active", Want: 0},
		{Name: "gatehouse_mail_outbox_pending", Want: 0},
	})
	clock.Advance(16 * time.Second) // past the gauges' cache

	login("ada", "not the password", 401)
	var ok struct{ CSRFToken string }
	w := serve(gh, "POST", "/auth/session", `{"username":"ada","password":"`+testPassword+`"}`)
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &ok) != nil || ok.CSRFToken == "" {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	cookies := w.Result().Cookies()
	// Five wrong passwords for one name lock it; the sixth is refused
	// unchecked.
	for range 5 {
		login("mallory", "guess", 401)
	}
	login("mallory", "guess", 429)
	metricstest.Check(t, scrape(), []metricstest.Series{
		{Name: "gatehouse_logins_total", Labels: logins("success"), Want: 1},
		{Name: "gatehouse_logins_total", Labels: logins("invalid_credentials"), Want: 6},
		{Name: "gatehouse_logins_total", Labels: logins("locked"), Want: 1},
		{Name: "gatehouse_lockouts_total", Want: 1},
		{Name: "gatehouse_audit_events_total", Labels: map[string]string{"kind": "login.locked"}, Want: 1},
		{Name: "gatehouse_sessions_active", Want: 1},
		// ada's hash and seven verifications (the locked attempt has
		// none), none refused.
		{Name: "gatehouse_password_hash_queue_wait_seconds", Want: 8},
		{Name: "gatehouse_password_hash_busy_total", Want: 0},
		{Name: "gatehouse_http_requests_total", Labels: map[string]string{"route": "/auth/session", "method": "POST", "code": "429"}, Want: 1},
	})

	// Logging out ends the session: counted once the cache has passed.
	logout := httptest.NewRequest("DELETE", "/auth/session", nil)
	logout.Header.Set("X-CSRF-Token", ok.CSRFToken)
	for _, c := range cookies {
		logout.AddCookie(c)
	}
	lw := httptest.NewRecorder()
	gh.ServeHTTP(lw, logout)
	if lw.Code != 204 {
		t.Fatalf("logout: %d %s", lw.Code, lw.Body)
	}
	clock.Advance(16 * time.Second)
	metricstest.Check(t, scrape(), []metricstest.Series{
		{Name: "gatehouse_sessions_active", Want: 0},
	})

	// A reset link for ada, which the mail server defers: pending, and a
	// failure that will be tried again.
	if w := serve(gh, "POST", "/auth/password/forgot", `{"email":"ada@example.com"}`); w.Code != 202 {
		t.Fatalf("forgot: %d %s", w.Code, w.Body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		clock.Advance(16 * time.Second)
		fams := scrape()
		pending := metricstest.Value(fams, "gatehouse_mail_outbox_pending", nil)
		failed := metricstest.Value(fams, "gatehouse_mail_failures_total", map[string]string{"permanent": "false"})
		if pending == 1 && failed >= 1 {
			metricstest.Check(t, fams, []metricstest.Series{
				{Name: "gatehouse_mail_sent_total", Want: 0},
				{Name: "gatehouse_mail_failures_total", Labels: map[string]string{"permanent": "true"}, Want: 0},
			})
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20s: %v pending, %v failures; want 1 pending and a failure tried again", pending, failed)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMetricsSessionsInRedis: with sessions in Redis, the active sessions
// are counted there, not in the database (which holds none of them).
func TestMetricsSessionsInRedis(t *testing.T) {
	redisURL := os.Getenv("GATEHOUSE_TEST_REDIS")
	if redisURL == "" {
		t.Skip("GATEHOUSE_TEST_REDIS is not set")
	}
	clock := &fakeClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	gh := open(t, server.Config{DataDir: t.TempDir(), Now: clock.Now, RedisURL: redisURL, RedisPrefix: "metricstest-" + gatehouse.NewID()})
	if _, err := gh.Accounts().CreateUser(t.Context(), account.NewUser{Username: "ada", Email: "ada@example.com", Password: testPassword}); err != nil {
		t.Fatal(err)
	}
	w := serve(gh, "POST", "/auth/session", `{"username":"ada","password":"`+testPassword+`"}`)
	var ok struct{ CSRFToken string }
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &ok) != nil {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	metricstest.Check(t, metricstest.Scrape(t, gh, "/auth/metrics"), []metricstest.Series{
		{Name: "gatehouse_sessions_active", Want: 1},
	})
	logout := httptest.NewRequest("DELETE", "/auth/session", nil)
	logout.Header.Set("X-CSRF-Token", ok.CSRFToken)
	for _, c := range w.Result().Cookies() {
		logout.AddCookie(c)
	}
	lw := httptest.NewRecorder()
	gh.ServeHTTP(lw, logout)
	if lw.Code != 204 {
		t.Fatalf("logout: %d %s", lw.Code, lw.Body)
	}
	clock.Advance(16 * time.Second)
	metricstest.Check(t, metricstest.Scrape(t, gh, "/auth/metrics"), []metricstest.Series{
		{Name: "gatehouse_sessions_active", Want: 0},
	})
}
