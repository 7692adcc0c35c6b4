package main

import (
	"encoding/base32"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/otp"
)

// TestTwoFactorEndToEnd logs in with each second-factor provider through
// the real server: email codes through a real SMTP server, SMS codes
// through a local webhook receiver, TOTP from the enrolled secret, and a
// recovery code.
func TestTwoFactorEndToEnd(t *testing.T) {
	sink := startSMTPSink(t)
	host, port, _ := net.SplitHostPort(sink.addr)
	var (
		mu    sync.Mutex
		texts []map[string]string
		got   = make(chan struct{}, 4)
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]string
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&m); err != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		mu.Lock()
		texts = append(texts, m)
		mu.Unlock()
		got <- struct{}{}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer hook.Close()

	dir := t.TempDir()
	cfg := writeFile(t, dir, "gatehouse.yaml", fmt.Sprintf(`public_url: https://admin.example.com
mail:
  driver: smtp
  from: gatehouse@example.com
  smtp: {host: %s, port: %s, tls: none}
sms:
  driver: webhook
  webhook: {url: %s/send, format: json}
`, host, port, hook.URL))
	data := filepath.Join(dir, "data")
	createUser(t, data, "tess", "a strong phrase of hers")
	srv := startServe(t, map[string]string{"GATEHOUSE_CONFIG": cfg}, "--addr", "127.0.0.1:0", "--data", data)
	c := newClient(t)
	r := login(t, c, srv.base, "tess", "a strong phrase of hers")
	csrf := field(r.body, "csrfToken")
	h := map[string]string{"X-CSRF-Token": csrf}

	// Enrol TOTP and set a phone number.
	r = doJSON(t, c, "POST", srv.base+"/2fa/totp", nil, h)
	if r.status != 200 {
		t.Fatalf("enrol: %d %s", r.status, r.raw)
	}
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(field(r.body, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	r = doJSON(t, c, "POST", srv.base+"/2fa/totp/confirm", map[string]any{"code": otp.TOTP{Key: key}.At(time.Now())}, h)
	if r.status != 200 {
		t.Fatalf("confirm: %d %s", r.status, r.raw)
	}
	recovery, _ := r.body["recoveryCodes"].([]any)
	if len(recovery) != 10 {
		t.Fatalf("recovery codes: %s", r.raw)
	}
	sink.wait(t) // "a second factor was added"
	if r := doJSON(t, c, "PUT", srv.base+"/2fa/phone", map[string]any{"phone": "+4915112345678", "password": "a strong phrase of hers"}, h); r.status != 204 {
		t.Fatalf("phone: %d %s", r.status, r.raw)
	}

	secondStep := func(provider string, code func() string) {
		t.Helper()
		c := newClient(t)
		r := login(t, c, srv.base, "tess", "a strong phrase of hers")
		if field(r.body, "state") != "two_factor_required" {
			t.Fatalf("%s: password step: %s", provider, r.raw)
		}
		if provider == "email" || provider == "sms" {
			if r := doJSON(t, c, "POST", srv.base+"/2fa/send", map[string]any{"provider": provider}, nil); r.status != 204 {
				t.Fatalf("send %s: %d %s", provider, r.status, r.raw)
			}
		}
		r = doJSON(t, c, "POST", srv.base+"/2fa/verify", map[string]any{"provider": provider, "code": code()}, nil)
		if r.status != 200 || field(r.body, "state") != "authenticated" {
			t.Fatalf("verify %s: %d %s", provider, r.status, r.raw)
		}
		if r := doJSON(t, c, "GET", srv.base+"/session", nil, nil); r.status != 200 {
			t.Errorf("%s: session after verify: %d", provider, r.status)
		}
	}
	sixDigits := regexp.MustCompile(`\b\d{6}\b`)
	secondStep("email", func() string {
		msg := sink.wait(t)
		code := sixDigits.FindString(msg[strings.Index(msg, "\r\n\r\n"):])
		if code == "" {
			t.Fatalf("no code in mail:\n%s", msg)
		}
		return code
	})
	secondStep("sms", func() string {
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("no SMS arrived")
		}
		mu.Lock()
		defer mu.Unlock()
		m := texts[len(texts)-1]
		if m["to"] != "+4915112345678" || m["kind"] != "two_factor_code" {
			t.Errorf("SMS %v", m)
		}
		return sixDigits.FindString(m["body"])
	})
	// The enrolment used the current step; the next one is within the
	// accepted window and has not been used.
	secondStep("totp", func() string { return otp.TOTP{Key: key}.At(time.Now().Add(30 * time.Second)) })
	secondStep("recovery_code", func() string { return recovery[0].(string) })
}

// TestSMSDriverNone: sms.driver none turns SMS codes off: no warning that
// codes go to the log, and no number for them can be set, while
// removing one still works.
func TestSMSDriverNone(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "gatehouse.yaml", "sms: {driver: none}\n")
	if code, stdout, stderr := runCmd(t, nil, "", "config", "check", "--config", cfg); code != exitOK || strings.Contains(stdout+stderr, "sms.driver") {
		t.Errorf("config check with sms.driver none: exit %d %s %s", code, stdout, stderr)
	}
	data := filepath.Join(dir, "data")
	createUser(t, data, "tess", "a strong phrase of hers")
	srv := startServe(t, map[string]string{"GATEHOUSE_CONFIG": cfg}, "--addr", "127.0.0.1:0", "--data", data)
	c := newClient(t)
	r := login(t, c, srv.base, "tess", "a strong phrase of hers")
	h := map[string]string{"X-CSRF-Token": field(r.body, "csrfToken")}
	r = doJSON(t, c, "PUT", srv.base+"/2fa/phone", map[string]any{"phone": "+4915112345678", "password": "a strong phrase of hers"}, h)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.raw, "sms.driver none") {
		t.Errorf("PUT 2fa/phone with SMS off: %d %s, want 422 naming sms.driver none", r.status, r.raw)
	}
	if r := doJSON(t, c, "PUT", srv.base+"/2fa/phone", map[string]any{"phone": "", "password": "a strong phrase of hers"}, h); r.status != http.StatusNoContent {
		t.Errorf("removing the phone with SMS off: %d %s, want 204", r.status, r.raw)
	}
	if strings.Contains(srv.log.String(), "SMS codes are written to the log") {
		t.Errorf("the log warns of SMS codes in the log with sms.driver none:\n%s", srv.log)
	}
	if code, stdout, stderr := runCmd(t, nil, "", "config", "check", "--config", writeFile(t, dir, "unused.yaml", "sms: {driver: none, webhook: {url: 'https://sms.example.com/send'}}\n")); code != exitOK || !strings.Contains(stdout+stderr, "sms.webhook.url is set but sms.driver is none") {
		t.Errorf("sms.driver none with a webhook: exit %d, %s %s; want OK with a warning that the webhook is not used", code, stdout, stderr)
	}
	if code, _, stderr := runCmd(t, nil, "", "config", "check", "--config", writeFile(t, dir, "bad.yaml", "sms: {driver: carrier-pigeon}\n")); code != exitUsage || !strings.Contains(stderr, "must be none, log or webhook") {
		t.Errorf("sms.driver carrier-pigeon: exit %d %s", code, stderr)
	}
}
