package mail

import (
	"bytes"
	"context"
	"errors"
	"mime"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse"
)

// newSMTP returns an SMTP sender for the test server s with mode and
// credentials.
func newSMTP(t testing.TB, s *testServer, mode, user, pass string) *SMTP {
	t.Helper()
	return newSMTPAt(t, s, mode, user, pass, nil)
}

// newSMTPAt is newSMTP with the clock now.
func newSMTPAt(t testing.TB, s *testServer, mode, user, pass string, now func() time.Time) *SMTP {
	t.Helper()
	sender, err := NewSMTP(SMTPConfig{
		Host: s.Host, Port: s.Port, TLS: mode, Username: user, Password: pass,
		From: "Gatehouse <gatehouse@example.com>", HelloName: "gatehouse.test",
		Timeout: 10 * time.Second, RootCAs: s.Roots,
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	return sender
}

// testMail is a message with both parts, a non-ASCII subject and bodies that
// need quoted-printable encoding.
func testMail() *gatehouse.Mail {
	return &gatehouse.Mail{
		ID:        "abc123",
		To:        "Zoë Dupont <zoe@example.org>",
		Subject:   "Réinitialisez votre mot de passe ✓",
		Text:      "Bonjour Zoë,\n\nOpen https://auth.example.com/auth/reset?token=t0k3n&user=u1 — it expires in 1 hour.\n.\nA line that is much longer than seventy-six characters, so quoted-printable must wrap it softly.\n",
		HTML:      "<p>Bonjour Zoë, <a href=\"https://auth.example.com/auth/reset?token=t0k3n&amp;user=u1\">reset</a></p>",
		Kind:      "reset",
		CreatedAt: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
	}
}

func TestSMTPSend(t *testing.T) {
	tests := []struct {
		name       string
		mode       string
		user, pass string
		mechs      []string
		wantTLS    bool
	}{
		{name: "none without auth", mode: TLSNone},
		{name: "none with auth on loopback", mode: TLSNone, user: "relay", pass: "s3cret"},
		{name: "starttls with PLAIN", mode: TLSStartTLS, user: "alice", pass: "s3cret", wantTLS: true},
		{name: "starttls with LOGIN only", mode: TLSStartTLS, user: "alice", pass: "s3cret", mechs: []string{sasl.Login}, wantTLS: true},
		{name: "starttls without auth", mode: TLSStartTLS, wantTLS: true},
		{name: "implicit with PLAIN", mode: TLSImplicit, user: "alice", pass: "s3cret", wantTLS: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, serverOptions{tls: tt.mode, user: tt.user, pass: tt.pass, mechs: tt.mechs})
			m := testMail()
			if err := newSMTP(t, srv, tt.mode, tt.user, tt.pass).Send(t.Context(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			msgs := srv.messages()
			if len(msgs) != 1 {
				t.Fatalf("server received %d messages, want 1", len(msgs))
			}
			got := msgs[0]
			envelope := struct {
				From, User, Helo string
				To               []string
				TLS              bool
			}{got.From, got.User, got.Helo, got.To, got.TLS}
			want := envelope
			want.From, want.User, want.Helo, want.To, want.TLS = "gatehouse@example.com", tt.user, "gatehouse.test", []string{"zoe@example.org"}, tt.wantTLS
			if diff := cmp.Diff(want, envelope); diff != "" {
				t.Errorf("envelope (-want +got):\n%s", diff)
			}
			checkMessage(t, got, m)
		})
	}
}

// TestSMTPSendDatesUndatedMailByItsClock: a message without a creation time
// is dated by the sender's clock, not the machine's.
func TestSMTPSendDatesUndatedMailByItsClock(t *testing.T) {
	srv := startServer(t, serverOptions{tls: TLSNone})
	clock := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	m := testMail()
	m.CreatedAt = time.Time{}
	if err := newSMTPAt(t, srv, TLSNone, "", "", func() time.Time { return clock }).Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := srv.messages()
	if len(msgs) != 1 || msgs[0].Header == nil {
		t.Fatalf("server received %d messages, want 1 that parses", len(msgs))
	}
	if date, err := msgs[0].Header.Date(); err != nil || !date.Equal(clock) {
		t.Errorf("Date = %v (%v), want the clock's %v", date, err, clock)
	}
}

// checkMessage checks the headers and parts of got against m.
func checkMessage(t *testing.T, got received, m *gatehouse.Mail) {
	t.Helper()
	if got.Header == nil {
		t.Fatalf("message does not parse:\n%s", got.Data)
	}
	if bytes.Contains(bytes.ReplaceAll(got.Data, []byte("\r\n"), nil), []byte("\n")) ||
		bytes.Contains(bytes.ReplaceAll(got.Data, []byte("\r\n"), nil), []byte("\r")) {
		t.Errorf("message has a bare LF or CR:\n%q", got.Data)
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(got.Header.Get("Subject"))
	if err != nil || subject != m.Subject {
		t.Errorf("Subject = %q (%v), want %q", subject, err, m.Subject)
	}
	if raw := got.Header.Get("Subject"); !isASCII(raw) {
		t.Errorf("raw Subject %q is not ASCII: want RFC 2047 encoding", raw)
	}
	from, err := got.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "gatehouse@example.com" || from[0].Name != "Gatehouse" {
		t.Errorf("From = %v (%v)", from, err)
	}
	wantTo, _ := mail.ParseAddress(m.To)
	to, err := got.Header.AddressList("To")
	if err != nil || len(to) != 1 || *to[0] != *wantTo {
		t.Errorf("To = %v (%v), want %v", to, err, wantTo)
	}
	if date, err := got.Header.Date(); err != nil || !date.Equal(m.CreatedAt) {
		t.Errorf("Date = %v (%v), want %v", date, err, m.CreatedAt)
	}
	if id := got.Header.Get("Message-ID"); !regexp.MustCompile(`^<[A-Za-z0-9._-]+@example\.com>$`).MatchString(id) {
		t.Errorf("Message-ID = %q, want <token@example.com>", id)
	}
	if v := got.Header.Get("MIME-Version"); v != "1.0" {
		t.Errorf("MIME-Version = %q", v)
	}
	text, html := parts(t, got)
	norm := func(s string) string { return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n") }
	if norm(text) != norm(m.Text) {
		t.Errorf("text part = %q, want %q", text, m.Text)
	}
	if norm(html) != norm(m.HTML) {
		t.Errorf("html part = %q, want %q", html, m.HTML)
	}
}

func TestSMTPSendTextOnly(t *testing.T) {
	srv := startServer(t, serverOptions{tls: TLSNone})
	m := testMail()
	m.HTML = ""
	m.Subject = "Plain subject"
	if err := newSMTP(t, srv, TLSNone, "", "").Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	msgs := srv.messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages", len(msgs))
	}
	if ct := msgs[0].Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if s := msgs[0].Header.Get("Subject"); s != "Plain subject" {
		t.Errorf("ASCII subject = %q, want it unencoded", s)
	}
	checkMessage(t, msgs[0], m)
}

func TestSMTPLongSubjectIsFolded(t *testing.T) {
	srv := startServer(t, serverOptions{tls: TLSNone})
	m := testMail()
	m.Subject = strings.Repeat("Ünïcödé and words ", 12)
	m.Subject = strings.TrimSpace(m.Subject)
	if err := newSMTP(t, srv, TLSNone, "", "").Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	got := srv.messages()[0]
	head, _, _ := bytes.Cut(got.Data, []byte("\r\n\r\n"))
	for line := range strings.SplitSeq(string(head), "\r\n") {
		if len(line) > 78 {
			t.Errorf("header line of %d characters: %q", len(line), line)
		}
	}
	checkMessage(t, got, m)
}

func TestSMTPStartTLSNotOffered(t *testing.T) {
	srv := startServer(t, serverOptions{tls: TLSNone, user: "alice", pass: "s3cret"})
	err := newSMTP(t, srv, TLSStartTLS, "alice", "s3cret").Send(t.Context(), testMail())
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("Send = %v, want an error about STARTTLS", err)
	}
	if IsPermanent(err) {
		t.Errorf("IsPermanent(%v) = true, want false: fixing the server delivers the mail", err)
	}
	if mailFrom, _ := srv.counts(); mailFrom != 0 || len(srv.messages()) != 0 {
		t.Errorf("server saw %d MAIL FROM and %d messages, want none", mailFrom, len(srv.messages()))
	}
}

func TestSMTPUntrustedCertificate(t *testing.T) {
	for _, mode := range []string{TLSStartTLS, TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			srv := startServer(t, serverOptions{tls: mode, user: "alice", pass: "s3cret"})
			srv.Roots = nil // the system roots do not trust the test certificate
			err := newSMTP(t, srv, mode, "alice", "s3cret").Send(t.Context(), testMail())
			if err == nil {
				t.Fatal("Send succeeded with an untrusted certificate")
			}
			if mailFrom, _ := srv.counts(); mailFrom != 0 {
				t.Errorf("server saw %d MAIL FROM, want none", mailFrom)
			}
		})
	}
}

func TestSMTPRefusesClearAuthToRemoteHost(t *testing.T) {
	tests := []struct {
		mode  string
		host  string
		isTLS bool
		ok    bool
	}{
		{TLSNone, "127.0.0.1", false, true},
		{TLSNone, "::1", false, true},
		{TLSNone, "[::1]", false, true},
		{TLSNone, "localhost", false, true},
		{TLSNone, "127.0.0.2", false, true},
		{TLSNone, "192.0.2.10", false, false},
		{TLSNone, "smtp.example.com", false, false},
		{TLSNone, "::ffff:192.0.2.10", false, false},
		{TLSStartTLS, "127.0.0.1", false, false}, // starttls must have upgraded
		{TLSStartTLS, "192.0.2.10", true, true},
		{TLSImplicit, "192.0.2.10", true, true},
		{TLSImplicit, "192.0.2.10", false, false},
	}
	for _, tt := range tests {
		err := checkClearAuth(tt.mode, tt.host, tt.isTLS)
		if (err == nil) != tt.ok {
			t.Errorf("checkClearAuth(%q, %q, %v) = %v, want ok %v", tt.mode, tt.host, tt.isTLS, err, tt.ok)
		}
	}

	// Validate refuses the configuration up front.
	cfg := SMTPConfig{Host: "smtp.example.com", TLS: TLSNone, Username: "u", Password: "p", From: "a@example.com"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "mail.smtp.tls") {
		t.Errorf("Validate(clear auth to a remote host) = %v, want an error naming mail.smtp.tls", err)
	}
}

func TestSMTPAuthFailures(t *testing.T) {
	t.Run("wrong password", func(t *testing.T) {
		srv := startServer(t, serverOptions{tls: TLSStartTLS, user: "alice", pass: "s3cret"})
		err := newSMTP(t, srv, TLSStartTLS, "alice", "wrong").Send(t.Context(), testMail())
		if err == nil || !strings.Contains(err.Error(), "AUTH") {
			t.Fatalf("Send = %v, want an AUTH error", err)
		}
		// A 535 is a 5xx, but about the configuration, not the message:
		// the queued mail must survive until the operator fixes it.
		if IsPermanent(err) {
			t.Errorf("IsPermanent(%v) = true, want false", err)
		}
		if len(srv.messages()) != 0 {
			t.Error("a message was accepted")
		}
	})
	t.Run("no mechanism offered", func(t *testing.T) {
		srv := startServer(t, serverOptions{tls: TLSStartTLS, user: "alice", pass: "s3cret", mechs: []string{"CRAM-MD5"}})
		err := newSMTP(t, srv, TLSStartTLS, "alice", "s3cret").Send(t.Context(), testMail())
		if err == nil || !strings.Contains(err.Error(), "AUTH PLAIN") {
			t.Fatalf("Send = %v, want an error about the missing mechanisms", err)
		}
	})
}

func TestSMTPErrorClassification(t *testing.T) {
	tests := []struct {
		name      string
		opts      serverOptions
		permanent bool
	}{
		{"550 recipient", serverOptions{rcpt: func(int, string) error {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}}, true},
		{"451 recipient", serverOptions{rcpt: func(int, string) error {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}}, false},
		{"554 data", serverOptions{data: func(int) error {
			return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "spam"}
		}}, true},
		{"452 data", serverOptions{data: func(int) error {
			return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "disk full"}
		}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.tls = TLSNone
			srv := startServer(t, tt.opts)
			err := newSMTP(t, srv, TLSNone, "", "").Send(t.Context(), testMail())
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if got := IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tt.permanent)
			}
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		addr := freeAddr(t)
		host, port := splitAddr(t, addr)
		s, err := NewSMTP(SMTPConfig{Host: host, Port: port, TLS: TLSNone, From: "a@example.com", Timeout: 5 * time.Second}, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Send(t.Context(), testMail())
		if err == nil || IsPermanent(err) {
			t.Errorf("Send = %v (permanent %v), want a temporary error", err, IsPermanent(err))
		}
	})
	t.Run("nil and plain errors", func(t *testing.T) {
		if IsPermanent(nil) || IsPermanent(errors.New("x")) || IsPermanent(context.DeadlineExceeded) {
			t.Error("IsPermanent of a non-SMTP error is true")
		}
	})
}

func TestSMTPTimeout(t *testing.T) {
	// A server that accepts connections and never greets.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	host, port := splitAddr(t, l.Addr().String())
	s, err := NewSMTP(SMTPConfig{Host: host, Port: port, TLS: TLSNone, From: "a@example.com", Timeout: 200 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Send(t.Context(), testMail())
	if err == nil || IsPermanent(err) {
		t.Errorf("Send = %v, want a temporary error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send took %v, want about the 200ms timeout", d)
	}

	// Cancelling the context cuts a send short too.
	ctx, cancel := context.WithCancel(t.Context())
	s.cfg.Timeout = time.Minute
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	err = s.Send(ctx, testMail())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Send after cancel = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send took %v after cancel", d)
	}
}

func TestSMTPHeaderInjection(t *testing.T) {
	tests := []struct {
		name string
		edit func(*gatehouse.Mail)
	}{
		{"CRLF in To", func(m *gatehouse.Mail) { m.To = "zoe@example.org\r\nBcc: victim@example.net" }},
		{"LF in To", func(m *gatehouse.Mail) { m.To = "zoe@example.org\nBcc: victim@example.net" }},
		{"encoded CRLF in the To name", func(m *gatehouse.Mail) { m.To = "=?utf-8?q?Zo=0D=0ABcc:_x@y?= <zoe@example.org>" }},
		{"CRLF in Subject", func(m *gatehouse.Mail) { m.Subject = "Hello\r\nBcc: victim@example.net" }},
		{"LF in Subject", func(m *gatehouse.Mail) { m.Subject = "Hello\nBcc: victim@example.net" }},
		{"CR in Subject", func(m *gatehouse.Mail) { m.Subject = "Hello\rBcc: victim@example.net" }},
		{"two recipients", func(m *gatehouse.Mail) { m.To = "zoe@example.org, victim@example.net" }},
		{"not an address", func(m *gatehouse.Mail) { m.To = "zoe" }},
	}
	srv := startServer(t, serverOptions{tls: TLSNone})
	s := newSMTP(t, srv, TLSNone, "", "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMail()
			tt.edit(m)
			err := s.Send(t.Context(), m)
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if !IsPermanent(err) {
				t.Errorf("IsPermanent(%v) = false, want true: the message can never be sent", err)
			}
		})
	}
	if mailFrom, _ := srv.counts(); mailFrom != 0 {
		t.Errorf("server saw %d MAIL FROM, want none", mailFrom)
	}
}

func TestSMTPConfigValidate(t *testing.T) {
	valid := SMTPConfig{Host: "smtp.example.com", Port: 587, TLS: TLSStartTLS, Username: "u", Password: "p", From: "gatehouse@example.com"}
	if err := valid.Validate(); err != nil {
		t.Fatalf("Validate(valid) = %v", err)
	}
	tests := []struct {
		name string
		edit func(*SMTPConfig)
		want string
	}{
		{"no host", func(c *SMTPConfig) { c.Host = "" }, "mail.smtp.host"},
		{"host with line break", func(c *SMTPConfig) { c.Host = "a\r\nb" }, "mail.smtp.host"},
		{"negative port", func(c *SMTPConfig) { c.Port = -1 }, "mail.smtp.port"},
		{"port too big", func(c *SMTPConfig) { c.Port = 70000 }, "mail.smtp.port"},
		{"bad tls", func(c *SMTPConfig) { c.TLS = "ssl" }, "mail.smtp.tls"},
		{"no from", func(c *SMTPConfig) { c.From = "" }, "mail.from"},
		{"bad from", func(c *SMTPConfig) { c.From = "not an address" }, "mail.from must be a valid address"},
		{"from with line break", func(c *SMTPConfig) { c.From = "a@example.com\r\nBcc: b@example.com" }, "mail.from must be a valid address"},
		{"password without username", func(c *SMTPConfig) { c.Username = "" }, "mail.smtp.username"},
		{"username without password", func(c *SMTPConfig) { c.Password = "" }, "mail.smtp.password"},
		{"clear auth to remote", func(c *SMTPConfig) { c.TLS = TLSNone }, "mail.smtp.tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want an error containing %q", err, tt.want)
			}
			if _, err := NewSMTP(c, nil); err == nil {
				t.Error("NewSMTP accepted the configuration")
			}
		})
	}
	// Defaults.
	s, err := NewSMTP(SMTPConfig{Host: "smtp.example.com", From: "a@example.com"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.TLS != TLSStartTLS || s.addr != "smtp.example.com:587" || s.cfg.Timeout != defaultTimeout || s.cfg.HelloName != "localhost" {
		t.Errorf("defaults: tls %q addr %q timeout %v hello %q", s.cfg.TLS, s.addr, s.cfg.Timeout, s.cfg.HelloName)
	}
	s, _ = NewSMTP(SMTPConfig{Host: "smtp.example.com", From: "a@example.com", TLS: TLSImplicit}, nil)
	if s.addr != "smtp.example.com:465" {
		t.Errorf("implicit default addr = %q", s.addr)
	}
}

func TestLogSender(t *testing.T) {
	var buf bytes.Buffer
	m := testMail()
	if err := (LogSender{Log: newJSONLogger(&buf)}).Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "\n") != 1 {
		t.Errorf("LogSender wrote %d lines, want 1:\n%s", strings.Count(out, "\n"), out)
	}
	for _, want := range []string{"zoe@example.org", "https://auth.example.com/auth/reset?token=t0k3n", `"kind":"reset"`, "Réinitialisez"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %s lacks %q", out, want)
		}
	}
}

// freeAddr returns a loopback address on which nothing listens (for now).
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// splitAddr splits host:port.
func splitAddr(t testing.TB, addr string) (string, int) {
	t.Helper()
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return tcp.IP.String(), tcp.Port
}
