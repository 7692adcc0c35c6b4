package main

import (
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// smtpSink is a real SMTP server (go-smtp) on loopback that keeps what it
// receives.
type smtpSink struct {
	addr string
	mu   sync.Mutex
	msgs []string
	got  chan struct{}
}

// startSMTPSink starts the sink; with tc it offers STARTTLS.
func startSMTPSink(t *testing.T, tc ...*tls.Config) *smtpSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k := &smtpSink{addr: ln.Addr().String(), got: make(chan struct{}, 16)}
	srv := smtp.NewServer(smtpBackend{k})
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	if len(tc) > 0 {
		srv.TLSConfig = tc[0]
	}
	go srv.Serve(ln)
	t.Cleanup(func() { ln.Close(); srv.Close() })
	return k
}

// wait returns the next message, or fails after a timeout.
func (k *smtpSink) wait(t *testing.T) string {
	t.Helper()
	select {
	case <-k.got:
	case <-time.After(15 * time.Second):
		t.Fatal("no mail arrived")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.msgs[len(k.msgs)-1]
}

type smtpBackend struct{ k *smtpSink }

func (b smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{k: b.k}, nil }

type smtpSession struct{ k *smtpSink }

func (s *smtpSession) Reset()                               {}
func (s *smtpSession) Logout() error                        { return nil }
func (s *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.k.mu.Lock()
	s.k.msgs = append(s.k.msgs, string(b))
	s.k.mu.Unlock()
	s.k.got <- struct{}{}
	return nil
}

var resetLinkRe = regexp.MustCompile(`https://admin\.example\.com/auth/ui/reset\?token=[A-Za-z0-9_%=-]+&userId=[A-Z0-9]+|https://admin\.example\.com/auth/ui/reset\?userId=[A-Z0-9]+&token=[A-Za-z0-9_%=-]+`)

// TestPasswordResetByMail walks a reset as a user does, through the real
// server and a real SMTP server: forgot → mail with a link built from
// public_url → reset with the link's token → login with the new password.
func TestPasswordResetByMail(t *testing.T) {
	sink := startSMTPSink(t)
	host, port, _ := net.SplitHostPort(sink.addr)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "gatehouse.yaml", fmt.Sprintf(`public_url: https://admin.example.com
mail:
  driver: smtp
  from: gatehouse@example.com
  smtp: {host: %s, port: %s, tls: none}
`, host, port))
	data := filepath.Join(dir, "data")
	createUser(t, data, "mia", "mia's old pass phrase")
	srv := startServe(t, map[string]string{"GATEHOUSE_CONFIG": cfg}, "--addr", "127.0.0.1:0", "--data", data)
	c := newClient(t)

	r := doJSON(t, c, "POST", srv.base+"/password/forgot", map[string]any{"email": "mia@example.com"}, nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("forgot: %d %s", r.status, r.raw)
	}
	msg := sink.wait(t)
	// The body is quoted-printable; undo soft line breaks and =3D before
	// looking for the link.
	flat := strings.NewReplacer("=\r\n", "", "=3D", "=").Replace(msg)
	link := resetLinkRe.FindString(flat)
	if link == "" {
		t.Fatalf("no reset link built from public_url in:\n%s", msg)
	}
	if !strings.Contains(msg, "To: mia@example.com") && !strings.Contains(msg, "To: <mia@example.com>") {
		t.Errorf("mail not addressed to mia:\n%s", msg)
	}
	u, _ := url.Parse(link)
	r = doJSON(t, c, "POST", srv.base+"/password/reset", map[string]any{
		"userId": u.Query().Get("userId"), "token": u.Query().Get("token"), "password": "a new pass phrase by mail",
	}, nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("reset: %d %s", r.status, r.raw)
	}
	if r := login(t, c, srv.base, "mia", "a new pass phrase by mail"); r.status != http.StatusOK {
		t.Errorf("login with the new password: %d %s", r.status, r.raw)
	}
	// The change is notified by mail too.
	if notice := sink.wait(t); !strings.Contains(strings.ToLower(notice), "password") {
		t.Errorf("notice:\n%s", notice)
	}
	// An unknown address gets the same answer and no mail.
	if r := doJSON(t, c, "POST", srv.base+"/password/forgot", map[string]any{"email": "nobody@example.com"}, nil); r.status != http.StatusAccepted {
		t.Errorf("unknown address: %d", r.status)
	}
	select {
	case <-sink.got:
		t.Error("mail sent for an unknown address")
	case <-time.After(500 * time.Millisecond):
	}
}

// TestUserResetLink checks the operator's recovery path: a printed link
// that works, and no password set by the command.
func TestUserResetLink(t *testing.T) {
	dir := t.TempDir()
	createUser(t, dir, "solo", "the only admin phrase")
	out := mustRun(t, nil, "", "user", "reset-link", "--data", dir, "solo")
	m := regexp.MustCompile(`http://\S+/auth/ui/reset\?\S+`).FindString(out)
	if m == "" {
		t.Fatalf("no link in %q", out)
	}
	if code, _, _ := runCmd(t, nil, "", "user", "reset-link", "--data", dir, "ghost"); code != exitFailure {
		t.Errorf("unknown user: exit %d", code)
	}
	srv := startServe(t, nil, "--addr", "127.0.0.1:0", "--data", dir)
	u, _ := url.Parse(m)
	c := newClient(t)
	r := doJSON(t, c, "POST", srv.base+"/password/reset", map[string]any{
		"userId": u.Query().Get("userId"), "token": u.Query().Get("token"), "password": "recovered pass phrase",
	}, nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("reset: %d %s", r.status, r.raw)
	}
	if r := login(t, c, srv.base, "solo", "recovered pass phrase"); r.status != http.StatusOK {
		t.Errorf("login: %d", r.status)
	}
}

// TestMailThroughPrivateCA: a relay whose certificate comes from a private
// CA is trusted through mail.smtp.ca_file (and not without it), over
// STARTTLS; a ca_file that holds no certificate is a configuration error
// naming the key.
func TestMailThroughPrivateCA(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	certFile, keyFile := filepath.Join(dir, "relay.pem"), filepath.Join(dir, "relay.key")
	ca.issue(t, 7, certFile, keyFile)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	sink := startSMTPSink(t, &tls.Config{Certificates: []tls.Certificate{pair}})
	_, port, _ := net.SplitHostPort(sink.addr)

	conf := func(extra string) string {
		return writeFile(t, t.TempDir(), "gatehouse.yaml", fmt.Sprintf(`public_url: https://admin.example.com
mail:
  driver: smtp
  from: gatehouse@example.com
  smtp: {host: localhost, port: %s, tls: starttls%s}
`, port, extra))
	}
	if code, _, stderr := runCmd(t, nil, "", "config", "check", "--config", conf(", ca_file: "+filepath.Join(dir, "relay.key"))); code != exitUsage || !strings.Contains(stderr, "mail.smtp.ca_file: ") || !strings.Contains(stderr, "holds no PEM certificate") || strings.Contains(stderr, "PRIVATE KEY") {
		t.Errorf("ca_file without a certificate: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCmd(t, nil, "", "config", "check", "--config", writeFile(t, dir, "nohost.yaml", "mail: {driver: smtp, from: gatehouse@example.com}\n")); code != exitUsage || strings.Contains(stderr, "mail: mail:") || !strings.Contains(stderr, "mail.smtp.host is required") {
		t.Errorf("smtp without a host: exit %d, %s; want the key named once", code, stderr)
	}

	for _, tt := range []struct {
		name, extra string
		delivered   bool
	}{
		{"without ca_file", "", false},
		{"with ca_file", ", ca_file: " + caFile, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			createUser(t, data, "mia", "mia's old pass phrase")
			srv := startServe(t, map[string]string{"GATEHOUSE_CONFIG": conf(tt.extra)}, "--addr", "127.0.0.1:0", "--data", data)
			if r := doJSON(t, newClient(t), "POST", srv.base+"/password/forgot", map[string]any{"email": "mia@example.com"}, nil); r.status != http.StatusAccepted {
				t.Fatalf("forgot: %d %s", r.status, r.raw)
			}
			if tt.delivered {
				if msg := sink.wait(t); !strings.Contains(msg, "mia@example.com") {
					t.Errorf("mail:\n%s", msg)
				}
				return
			}
			srv.log.wait(t, regexp.MustCompile(`certificate signed by unknown authority`), 15*time.Second)
			select {
			case <-sink.got:
				t.Error("mail delivered to a relay whose certificate nobody vouches for")
			default:
			}
		})
	}
}
