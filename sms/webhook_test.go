package sms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// The recipient and body of the test messages. The code in the body, and
// the number (with or without its "+"), must never show in an error.
const (
	testPhone  = "+4915112345678"
	testDigits = "4915112345678"
	testCode   = "482913"
	testBody   = "Your gatehouse sign-in code is " + testCode + ". It expires in 5 minutes."
)

// testMessage is a two-factor message to testPhone.
func testMessage() Message {
	return Message{To: testPhone, Body: testBody, Kind: KindTwoFactorCode}
}

// request is what the test receiver saw of one request.
type request struct {
	method, path, contentType, accept string
	user, pass                        string
	hasAuth                           bool
	header                            http.Header
	body                              string
}

// receiver is an httptest server standing in for the SMS gateway: it
// records each request and answers with handler (or 201 and "{}").
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

// newReceiver starts a receiver that answers with handler, which may be nil.
func newReceiver(t *testing.T, handler func(w http.ResponseWriter, r *http.Request, body string)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("receiver: reading the request: %v", err)
		}
		user, pass, ok := r.BasicAuth()
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, request{
			method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type"), accept: r.Header.Get("Accept"),
			user: user, pass: pass, hasAuth: ok, header: r.Header.Clone(), body: string(b),
		})
		rc.mu.Unlock()
		if handler == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, "{}")
			return
		}
		handler(w, r, string(b))
	}))
	t.Cleanup(rc.Close)
	return rc
}

// requests returns the requests received so far.
func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

// only returns the one request received, failing t if there were others.
func (rc *receiver) only(t *testing.T) request {
	t.Helper()
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("the receiver got %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

// twilioConfig is a Twilio configuration posting to rc.
func twilioConfig(rc *receiver) WebhookConfig {
	return WebhookConfig{
		URL:    rc.URL + "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json",
		Format: FormatTwilio, From: "+15005550006",
		Username: "AC0123456789abcdef", Password: "auth-token-secret",
		Client: rc.Client(), Timeout: 5 * time.Second,
	}
}

// jsonConfig is a JSON configuration posting to rc.
func jsonConfig(rc *receiver) WebhookConfig {
	return WebhookConfig{
		URL: rc.URL + "/send?key=query-secret", Format: FormatJSON, From: "Gatehouse",
		Client: rc.Client(), Timeout: 5 * time.Second,
	}
}

// newWebhook returns a Webhook for cfg, failing t on an error.
func newWebhook(t *testing.T, cfg WebhookConfig) *Webhook {
	t.Helper()
	return newWebhookAt(t, cfg, nil)
}

// newWebhookAt is newWebhook with the clock now.
func newWebhookAt(t *testing.T, cfg WebhookConfig, now func() time.Time) *Webhook {
	t.Helper()
	w, err := NewWebhook(cfg, now)
	if err != nil {
		t.Fatalf("NewWebhook: %v", err)
	}
	return w
}

// answer returns a handler that answers with status, the header pairs and
// body.
func answer(status int, body string, header ...string) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, _ *http.Request, _ string) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestWebhookTwilio(t *testing.T) {
	rc := newReceiver(t, answer(http.StatusCreated, `{"sid":"SM123","status":"queued","to":"`+testPhone+`"}`))
	w := newWebhook(t, twilioConfig(rc))
	if err := w.Send(t.Context(), testMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := rc.only(t)
	if r.method != http.MethodPost {
		t.Errorf("method = %s, want POST", r.method)
	}
	if want := "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json"; r.path != want {
		t.Errorf("path = %s, want %s", r.path, want)
	}
	if r.contentType != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q, want application/x-www-form-urlencoded", r.contentType)
	}
	if !r.hasAuth || r.user != "AC0123456789abcdef" || r.pass != "auth-token-secret" {
		t.Errorf("basic auth = %q, %q (%v), want the account SID and auth token", r.user, r.pass, r.hasAuth)
	}
	form, err := url.ParseQuery(r.body)
	if err != nil {
		t.Fatalf("the body %q is not a form: %v", r.body, err)
	}
	want := url.Values{"To": {testPhone}, "From": {"+15005550006"}, "Body": {testBody}}
	if len(form) != len(want) {
		t.Errorf("form fields = %v, want exactly To, From and Body", form)
	}
	for k, v := range want {
		if got := form[k]; len(got) != 1 || got[0] != v[0] {
			t.Errorf("form field %s = %q, want %q", k, got, v[0])
		}
	}
}

func TestWebhookJSON(t *testing.T) {
	tests := []struct {
		name     string
		cfg      func(*WebhookConfig)
		m        Message
		want     string
		wantAuth bool
	}{
		{
			name: "with from and headers",
			cfg: func(c *WebhookConfig) {
				c.Headers = map[string]string{"X-Api-Key": "k3y-secret", "x-tenant": "acme"}
			},
			m:    testMessage(),
			want: `{"to":"+4915112345678","from":"Gatehouse","body":"` + testBody + `","kind":"two_factor_code"}`,
		},
		{
			name: "without from",
			cfg:  func(c *WebhookConfig) { c.From = "" },
			m:    testMessage(),
			want: `{"to":"+4915112345678","body":"` + testBody + `","kind":"two_factor_code"}`,
		},
		{
			name:     "basic auth, quotes, line breaks and HTML characters",
			cfg:      func(c *WebhookConfig) { c.Username, c.Password = "user", "pass" },
			m:        Message{To: "+14155550123", Body: "Code \"1234\" <b>&</b>\nbye", Kind: "two_factor_code"},
			want:     `{"to":"+14155550123","from":"Gatehouse","body":"Code \"1234\" <b>&</b>\nbye","kind":"two_factor_code"}`,
			wantAuth: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, answer(http.StatusOK, `{"ok":true}`))
			cfg := jsonConfig(rc)
			tt.cfg(&cfg)
			if err := newWebhook(t, cfg).Send(t.Context(), tt.m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			r := rc.only(t)
			if r.body != tt.want {
				t.Errorf("body =\n%s\nwant\n%s", r.body, tt.want)
			}
			if r.method != http.MethodPost || r.path != "/send" {
				t.Errorf("request = %s %s, want POST /send", r.method, r.path)
			}
			if r.contentType != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", r.contentType)
			}
			if r.hasAuth != tt.wantAuth || tt.wantAuth && (r.user != "user" || r.pass != "pass") {
				t.Errorf("basic auth = %q, %q (%v), want it %v", r.user, r.pass, r.hasAuth, tt.wantAuth)
			}
			for name, value := range cfg.Headers {
				if got := r.header.Get(name); got != value {
					t.Errorf("header %s = %q, want %q", name, got, value)
				}
			}
		})
	}
}

func TestWebhookSuccessStatuses(t *testing.T) {
	for _, status := range []int{http.StatusOK, http.StatusCreated, http.StatusAccepted, http.StatusNoContent, 299} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			rc := newReceiver(t, answer(status, ""))
			if err := newWebhook(t, jsonConfig(rc)).Send(t.Context(), testMessage()); err != nil {
				t.Errorf("Send with answer %d: %v, want nil", status, err)
			}
		})
	}
}

// TestWebhookFailureStatuses: which answers are permanent, what the error
// says, and the wait a Retry-After asks for, an HTTP date being read
// against the Webhook's clock (far from the machine's, to show which).
func TestWebhookFailureStatuses(t *testing.T) {
	clock := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	httpDate := clock.Add(90 * time.Second).Format(http.TimeFormat)
	tests := []struct {
		status        int
		header        []string
		permanent     bool
		retryAfter    time.Duration
		hasRetryAfter bool
		wantText      string
	}{
		{status: 400, permanent: true, wantText: "400 Bad Request"},
		{status: 401, permanent: true, wantText: "401 Unauthorized (check sms.webhook.username"},
		{status: 403, permanent: true, wantText: "403 Forbidden"},
		{status: 404, permanent: true, wantText: "404 Not Found"},
		{status: 422, permanent: true, wantText: "422 Unprocessable Entity"},
		{status: 408, permanent: false, wantText: "408 Request Timeout"},
		{status: 429, permanent: false, wantText: "429 Too Many Requests"},
		{status: 429, header: []string{"Retry-After", "30"}, permanent: false, retryAfter: 30 * time.Second, hasRetryAfter: true, wantText: "429 Too Many Requests (retry after 30s)"},
		{status: 429, header: []string{"Retry-After", httpDate}, permanent: false, retryAfter: 90 * time.Second, hasRetryAfter: true, wantText: "429 Too Many Requests (retry after 1m30s)"},
		{status: 500, permanent: false, wantText: "500 Internal Server Error"},
		{status: 502, permanent: false, wantText: "502 Bad Gateway"},
		{status: 503, permanent: false, wantText: "503 Service Unavailable"},
		{status: 503, header: []string{"Retry-After", "120"}, permanent: false, retryAfter: 2 * time.Minute, hasRetryAfter: true, wantText: "(retry after 2m0s)"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status, tt.header), func(t *testing.T) {
			rc := newReceiver(t, answer(tt.status, `{"code":21211,"message":"gateway says no"}`, tt.header...))
			err := newWebhookAt(t, twilioConfig(rc), func() time.Time { return clock }).Send(t.Context(), testMessage())
			if err == nil {
				t.Fatalf("Send with answer %d: nil error", tt.status)
			}
			if got := IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tt.permanent)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
			if !strings.Contains(err.Error(), `{"code":21211,"message":"gateway says no"}`) {
				t.Errorf("error %q does not carry the answer's body", err)
			}
			d, ok := RetryAfter(err)
			if ok != tt.hasRetryAfter {
				t.Fatalf("RetryAfter(%v) = %v, %v; want ok %v", err, d, ok, tt.hasRetryAfter)
			}
			if d != tt.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", d, tt.retryAfter)
			}
		})
	}
}

func TestWebhookRedirectNotFollowed(t *testing.T) {
	var followed atomic.Int32
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ string) {
		if r.URL.Path == "/moved" {
			followed.Add(1)
			w.WriteHeader(http.StatusOK)
			return
		}
		http.Redirect(w, r, "/moved", http.StatusFound)
	})
	cfg := jsonConfig(rc)
	err := newWebhook(t, cfg).Send(t.Context(), testMessage())
	if err == nil || !IsPermanent(err) {
		t.Fatalf("Send to a redirect: %v, want a permanent error", err)
	}
	if !strings.Contains(err.Error(), "302 Found") || !strings.Contains(err.Error(), "sms.webhook.url") {
		t.Errorf("error %q does not name the status and sms.webhook.url", err)
	}
	if n := followed.Load(); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
	if cfg.Client.CheckRedirect != nil {
		t.Error("NewWebhook changed the CheckRedirect of the caller's client")
	}
}

// slowHandler answers only when the request is cancelled, or after 10
// seconds.
func slowHandler(w http.ResponseWriter, r *http.Request, _ string) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

func TestWebhookTimeout(t *testing.T) {
	t.Run("configured client", func(t *testing.T) {
		rc := newReceiver(t, slowHandler)
		cfg := jsonConfig(rc)
		cfg.Timeout = 100 * time.Millisecond
		start := time.Now()
		err := newWebhook(t, cfg).Send(t.Context(), testMessage())
		if err == nil || IsPermanent(err) {
			t.Fatalf("Send to a gateway that does not answer: %v, want a temporary error", err)
		}
		if !strings.Contains(err.Error(), "no answer in time") {
			t.Errorf("error %q does not say it timed out", err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("Send took %v with a timeout of 100ms", el)
		}
	})
	t.Run("default client", func(t *testing.T) {
		rc := newReceiver(t, slowHandler)
		cfg := jsonConfig(rc)
		cfg.Client = nil
		cfg.Timeout = 100 * time.Millisecond
		err := newWebhook(t, cfg).Send(t.Context(), testMessage())
		if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "no answer in time") {
			t.Fatalf("Send to a gateway that does not answer: %v, want a temporary timeout", err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		rc := newReceiver(t, slowHandler)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		err := newWebhook(t, jsonConfig(rc)).Send(ctx, testMessage())
		if err == nil || IsPermanent(err) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Send with a cancelled context: %v, want a temporary context.Canceled", err)
		}
	})
}

func TestWebhookNetworkError(t *testing.T) {
	rc := newReceiver(t, nil)
	cfg := jsonConfig(rc)
	rc.Close() // nothing listens any more
	err := newWebhook(t, cfg).Send(t.Context(), testMessage())
	if err == nil || IsPermanent(err) {
		t.Fatalf("Send to a closed port: %v, want a temporary error", err)
	}
	if strings.Contains(err.Error(), "query-secret") {
		t.Errorf("error %q shows the URL's query", err)
	}
	if !strings.HasPrefix(err.Error(), "sms: POST 127.0.0.1:") {
		t.Errorf("error %q does not start with sms: POST host:port", err)
	}
}

func TestWebhookErrorBodyLimited(t *testing.T) {
	t.Run("ASCII", func(t *testing.T) {
		rc := newReceiver(t, answer(http.StatusBadRequest, strings.Repeat("x", 1000)))
		err := newWebhook(t, jsonConfig(rc)).Send(t.Context(), testMessage())
		if err == nil {
			t.Fatal("Send: nil error")
		}
		if n := strings.Count(err.Error(), "x"); n != 200 {
			t.Errorf("error carries %d bytes of the body, want 200: %q", n, err)
		}
		if !strings.HasSuffix(err.Error(), "…") {
			t.Errorf("error %q does not show the body was cut", err)
		}
	})
	t.Run("multi-byte and control characters", func(t *testing.T) {
		rc := newReceiver(t, answer(http.StatusInternalServerError, "line\r\none\x1b[31m\t"+strings.Repeat("é", 300)+"\xff"))
		err := newWebhook(t, jsonConfig(rc)).Send(t.Context(), testMessage())
		if err == nil {
			t.Fatal("Send: nil error")
		}
		msg := err.Error()
		if !utf8.ValidString(msg) {
			t.Errorf("error %q is not valid UTF-8", msg)
		}
		if strings.ContainsAny(msg, "\r\n\t\x1b") {
			t.Errorf("error %q holds control characters", msg)
		}
		_, snippet, _ := strings.Cut(msg, "Internal Server Error: ")
		if len(strings.TrimSuffix(snippet, "…")) > 200 {
			t.Errorf("error carries %d bytes of the body, want at most 200", len(snippet))
		}
		if !strings.HasPrefix(snippet, "line one[31m é") {
			t.Errorf("snippet %q, want it to start with %q", snippet, "line one[31m é")
		}
	})
}

// leaks returns what of the test message s shows: the number in full
// (with or without "+"), the code, or the body.
func leaks(s string) []string {
	var found []string
	for _, secret := range []string{testDigits, testCode, testBody, url.QueryEscape(testPhone)} {
		if strings.Contains(s, secret) {
			found = append(found, secret)
		}
	}
	return found
}

func TestWebhookErrorsHideNumberAndBody(t *testing.T) {
	// The gateway echoes the request in every way it might.
	echo := func(status int) func(http.ResponseWriter, *http.Request, string) {
		return func(w http.ResponseWriter, r *http.Request, body string) {
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"message":"The 'To' number %s is not valid","digits":"%s","spaced":"+49 151 12345678","request":%q,"body":%q,"part":%q}`,
				testPhone, testDigits, body, testBody, testBody[:40])
		}
	}
	var errs []error
	for _, format := range []string{FormatTwilio, FormatJSON} {
		for _, status := range []int{400, 401, 403, 404, 408, 429, 500, 503} {
			rc := newReceiver(t, echo(status))
			cfg := jsonConfig(rc)
			if format == FormatTwilio {
				cfg = twilioConfig(rc)
			}
			err := newWebhook(t, cfg).Send(t.Context(), testMessage())
			if err == nil {
				t.Fatalf("%s, answer %d: nil error", format, status)
			}
			if !strings.Contains(err.Error(), "+**********678") {
				t.Errorf("%s, answer %d: error %q does not show the masked number", format, status, err)
			}
			errs = append(errs, err)
		}
	}

	rc := newReceiver(t, slowHandler)
	cfg := jsonConfig(rc)
	cfg.Timeout = 50 * time.Millisecond
	w := newWebhook(t, cfg)
	errs = append(errs, w.Send(t.Context(), testMessage()))

	closed := newReceiver(t, nil)
	cfg = jsonConfig(closed)
	closed.Close()
	errs = append(errs, newWebhook(t, cfg).Send(t.Context(), testMessage()))

	for _, m := range []Message{
		{To: testPhone + "\r\nX-Injected: 1", Body: testBody},
		{To: testPhone + "9999", Body: testBody},
		{To: testDigits, Body: testBody},
		{To: "+49 151 12345678", Body: testBody},
		{To: testPhone, Body: ""},
		{To: testPhone, Body: strings.Repeat(testBody, 40)},
	} {
		errs = append(errs, w.Send(t.Context(), m))
		errs = append(errs, LogSender{}.Send(t.Context(), m))
	}

	for i, err := range errs {
		if err == nil {
			t.Errorf("error %d is nil", i)
			continue
		}
		if found := leaks(err.Error()); len(found) > 0 {
			t.Errorf("error %q shows %q", err, found)
		}
	}
}

func TestWebhookRefusesBadMessages(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		want string
	}{
		{"CRLF in To", Message{To: testPhone + "\r\nX-Injected: 1", Body: testBody}, "line break"},
		{"LF in To", Message{To: "\n" + testPhone, Body: testBody}, "line break"},
		{"not E.164", Message{To: "015112345678", Body: testBody}, "not a phone number in E.164 format"},
		{"spaces in To", Message{To: "+49 151 12345678", Body: testBody}, "E.164"},
		{"empty To", Message{Body: testBody}, "E.164"},
		{"empty body", Message{To: testPhone}, "the body is empty"},
		{"body too long", Message{To: testPhone, Body: strings.Repeat("é", MaxBodyLength+1)}, "the body has 1601 characters, more than the 1600"},
		{"body not UTF-8", Message{To: testPhone, Body: "code \xff"}, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, nil)
			for _, cfg := range []WebhookConfig{twilioConfig(rc), jsonConfig(rc)} {
				err := newWebhook(t, cfg).Send(t.Context(), tt.m)
				if err == nil || !IsPermanent(err) {
					t.Fatalf("Send(%+q): %v, want a permanent error", tt.m, err)
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %q does not contain %q", err, tt.want)
				}
			}
			if n := len(rc.requests()); n != 0 {
				t.Errorf("the receiver got %d requests for a message that is not valid", n)
			}
		})
	}
}

func TestWebhookLongestBody(t *testing.T) {
	rc := newReceiver(t, nil)
	body := strings.Repeat("é", MaxBodyLength) // 3200 bytes, 1600 characters
	if err := newWebhook(t, twilioConfig(rc)).Send(t.Context(), Message{To: testPhone, Body: body}); err != nil {
		t.Fatalf("Send with a body of %d characters: %v", MaxBodyLength, err)
	}
	form, _ := url.ParseQuery(rc.only(t).body)
	if form.Get("Body") != body {
		t.Error("the body did not arrive whole")
	}
}

func TestWebhookConfigValidate(t *testing.T) {
	twilio := WebhookConfig{
		URL:    "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json",
		Format: FormatTwilio, From: "+15005550006", Username: "AC123", Password: "token",
	}
	json := WebhookConfig{URL: "https://sms.example.com/send", Format: FormatJSON}
	tests := []struct {
		name string
		cfg  WebhookConfig
		edit func(*WebhookConfig)
		want string // "" for valid
	}{
		{"twilio", twilio, nil, ""},
		{"json minimal", json, nil, ""},
		{"json with everything", json, func(c *WebhookConfig) {
			c.From, c.Username, c.Password, c.Timeout = "Gatehouse", "u", "p", time.Minute
			c.Headers = map[string]string{"X-Api-Key": "k"}
		}, ""},
		{"json username only", json, func(c *WebhookConfig) { c.Username = "api-key" }, ""},
		{"json Authorization header", json, func(c *WebhookConfig) { c.Headers = map[string]string{"authorization": "Bearer x"} }, ""},
		{"http localhost", json, func(c *WebhookConfig) { c.URL = "http://localhost:8080/sms" }, ""},
		{"http 127.0.0.1", json, func(c *WebhookConfig) { c.URL = "http://127.0.0.1:8080/sms" }, ""},
		{"http [::1]", json, func(c *WebhookConfig) { c.URL = "http://[::1]:8080/sms" }, ""},
		{"https with query", json, func(c *WebhookConfig) { c.URL = "https://sms.example.com/send?key=abc" }, ""},

		{"no url", json, func(c *WebhookConfig) { c.URL = "" }, "sms.webhook.url is required"},
		{"http remote", json, func(c *WebhookConfig) { c.URL = "http://sms.example.com/send?key=s3cret" }, `sms.webhook.url "http://sms.example.com/send?…" must be https`},
		{"http localhost lookalike", json, func(c *WebhookConfig) { c.URL = "http://localhost.example.com/send" }, "must be https"},
		{"ftp", json, func(c *WebhookConfig) { c.URL = "ftp://sms.example.com/" }, "must be an https URL"},
		{"relative", json, func(c *WebhookConfig) { c.URL = "/send" }, "must be an absolute URL"},
		{"no host", json, func(c *WebhookConfig) { c.URL = "https:///send" }, "must be an absolute URL"},
		{"not a URL", json, func(c *WebhookConfig) { c.URL = "https://exa mple.com/%zz" }, "sms.webhook.url is not a valid URL"},
		{"line break", json, func(c *WebhookConfig) { c.URL = "https://sms.example.com/\r\n" }, "sms.webhook.url is not a valid URL"},
		{"userinfo", json, func(c *WebhookConfig) { c.URL = "https://user:pw@sms.example.com/" }, "sms.webhook.url must not hold a user name or password"},
		{"no format", json, func(c *WebhookConfig) { c.Format = "" }, "sms.webhook.format is required: twilio or json"},
		{"bad format", json, func(c *WebhookConfig) { c.Format = "Twilio" }, `sms.webhook.format "Twilio" must be twilio or json`},
		{"twilio no from", twilio, func(c *WebhookConfig) { c.From = "" }, "sms.webhook.from is required with sms.webhook.format twilio"},
		{"twilio no username", twilio, func(c *WebhookConfig) { c.Username = "" }, "sms.webhook.username is required with sms.webhook.format twilio"},
		{"twilio no password", twilio, func(c *WebhookConfig) { c.Password = "" }, "sms.webhook.password is required with sms.webhook.format twilio"},
		{"password without username", json, func(c *WebhookConfig) { c.Password = "p" }, "sms.webhook.password is set but sms.webhook.username is not"},
		{"colon in username", json, func(c *WebhookConfig) { c.Username = "a:b" }, "sms.webhook.username must not contain a colon"},
		{"line break in password", twilio, func(c *WebhookConfig) { c.Password = "tok\nen" }, "sms.webhook.username and sms.webhook.password must not contain line breaks"},
		{"line break in from", twilio, func(c *WebhookConfig) { c.From = "+1\r\n" }, "sms.webhook.from must not contain line breaks"},
		{"bad header name", json, func(c *WebhookConfig) { c.Headers = map[string]string{"X Api": "k"} }, `sms.webhook.headers: "X Api" is not a valid header name`},
		{"content-type header", json, func(c *WebhookConfig) { c.Headers = map[string]string{"content-type": "text/plain"} }, "sms.webhook.headers: Content-Type is set by gatehouse"},
		{"host header", json, func(c *WebhookConfig) { c.Headers = map[string]string{"Host": "x"} }, "Host is set by gatehouse"},
		{"Authorization with username", json, func(c *WebhookConfig) {
			c.Username = "u"
			c.Headers = map[string]string{"Authorization": "Bearer x"}
		}, "Authorization cannot be set together with sms.webhook.username"},
		{"line break in header value", json, func(c *WebhookConfig) { c.Headers = map[string]string{"X-Api-Key": "secret\r\nX: y"} }, "sms.webhook.headers: the value of X-Api-Key must not contain line breaks"},
		{"negative timeout", json, func(c *WebhookConfig) { c.Timeout = -time.Second }, "sms.webhook.timeout -1s must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Headers = nil
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Errorf("Validate: nil, want an error containing %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("Validate: %q, want it to contain %q", err, tt.want)
			}
			if err != nil && (strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "tok\nen")) {
				t.Errorf("Validate error %q shows a secret", err)
			}
			_, nerr := NewWebhook(cfg, nil)
			if (nerr == nil) != (err == nil) {
				t.Errorf("NewWebhook: %v, but Validate: %v", nerr, err)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"30", 30 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"Sun, 01 Jun 2025 12:01:30 GMT", 90 * time.Second, true},
		{"Sunday, 01-Jun-25 12:00:10 GMT", 10 * time.Second, true},
		{"Sun, 01 Jun 2025 11:00:00 GMT", 0, true}, // in the past
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999999", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestIsPermanentForeignErrors(t *testing.T) {
	if IsPermanent(nil) {
		t.Error("IsPermanent(nil) = true")
	}
	if IsPermanent(errors.New("other")) {
		t.Error("IsPermanent of a foreign error = true")
	}
	if _, ok := RetryAfter(errors.New("other")); ok {
		t.Error("RetryAfter of a foreign error is set")
	}
	err := fmt.Errorf("wrapped: %w", checkMessage(Message{To: "x", Body: "b"}))
	if !IsPermanent(err) {
		t.Errorf("IsPermanent(%v) = false for a wrapped invalid message", err)
	}
}
