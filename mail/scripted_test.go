package mail

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// scriptedServer is an SMTP server that misbehaves on purpose, where
// go-smtp's server cannot: it stalls or hangs up at a chosen step. It
// answers the greeting, EHLO, AUTH, MAIL, RCPT, DATA and QUIT like a plain
// server offering AUTH PLAIN, except that reply may replace any answer.
type scriptedServer struct {
	host string
	port int

	// reply returns the answer to the step ("EHLO", "AUTH", "MAIL",
	// "RCPT", "DATA", "DOT" for the end of the message, "QUIT"): "" means
	// the usual one, "stall" never answers, "hangup" closes the connection.
	reply func(step string) string

	mu       sync.Mutex
	accepted int      // messages answered with 250 after the dot
	verbs    []string // the commands received, in order
}

// startScripted starts a scriptedServer, closed when the test ends.
func startScripted(t testing.TB, reply func(step string) string) *scriptedServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptedServer{reply: reply}
	s.host, s.port = splitAddr(t, l.Addr().String())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { s.serve(c) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

// serve runs one session on c.
func (s *scriptedServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	answer := func(step, usual string) bool {
		switch s.reply(step) {
		case "stall":
			// Read until the client gives up, answering nothing.
			_, _ = r.WriteTo(discard{})
			return false
		case "hangup":
			return false
		case "":
			_, err := c.Write([]byte(usual + "\r\n"))
			return err == nil
		default:
			_, err := c.Write([]byte(s.reply(step) + "\r\n"))
			return err == nil
		}
	}
	if !answer("GREETING", "220 scripted.test ESMTP") {
		return
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb, _, _ := strings.Cut(strings.ToUpper(strings.TrimSpace(line)), " ")
		s.mu.Lock()
		s.verbs = append(s.verbs, verb)
		s.mu.Unlock()
		ok := true
		switch verb {
		case "EHLO":
			ok = answer("EHLO", "250-scripted.test\r\n250 AUTH PLAIN")
		case "AUTH":
			ok = answer("AUTH", "235 2.7.0 ok")
		case "MAIL":
			ok = answer("MAIL", "250 2.1.0 ok")
		case "RCPT":
			ok = answer("RCPT", "250 2.1.5 ok")
		case "DATA":
			if ok = answer("DATA", "354 go ahead"); !ok {
				break
			}
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			if s.reply("DOT") == "" {
				s.mu.Lock()
				s.accepted++
				s.mu.Unlock()
			}
			ok = answer("DOT", "250 2.0.0 queued")
		case "QUIT":
			answer("QUIT", "221 bye")
			return
		default:
			ok = answer(verb, "502 5.5.1 not implemented")
		}
		if !ok {
			return
		}
	}
}

// discard is io.Discard, as a Writer for bufio.Reader.WriteTo.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// sender returns an SMTP sender for s, in clear, with credentials when user
// is set, and the given timeout.
func (s *scriptedServer) sender(t testing.TB, user, pass string, timeout time.Duration) *SMTP {
	t.Helper()
	sender, err := NewSMTP(SMTPConfig{
		Host: s.host, Port: s.port, TLS: TLSNone, Username: user, Password: pass,
		From: "gatehouse@example.com", Timeout: timeout,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sender
}

// TestSMTPTimeoutBoundsEveryStep: go-smtp sets a deadline of minutes before
// each command; the configured Timeout must still bound the whole exchange,
// whichever step the server stalls at, and cancelling the context must cut
// it at any step.
func TestSMTPTimeoutBoundsEveryStep(t *testing.T) {
	for _, step := range []string{"GREETING", "EHLO", "AUTH", "MAIL", "RCPT", "DATA", "DOT"} {
		t.Run(step, func(t *testing.T) {
			srv := startScripted(t, func(s string) string {
				if s == step {
					return "stall"
				}
				return ""
			})
			s := srv.sender(t, "relay", "s3cret", 300*time.Millisecond)
			start := time.Now()
			err := s.Send(t.Context(), testMail())
			if !errors.Is(err, context.DeadlineExceeded) || IsPermanent(err) {
				t.Errorf("Send = %v (permanent %v), want a temporary error for the deadline", err, IsPermanent(err))
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Send took %v, want about the 300ms timeout", d)
			}

			ctx, cancel := context.WithCancel(t.Context())
			s.cfg.Timeout = time.Minute
			time.AfterFunc(100*time.Millisecond, cancel)
			err = s.Send(ctx, testMail())
			if !errors.Is(err, context.Canceled) || IsPermanent(err) {
				t.Errorf("Send after cancel = %v (permanent %v), want a temporary context.Canceled", err, IsPermanent(err))
			}
		})
	}
}

// TestSMTPQuitFailureIsDelivery: once the server has accepted the message,
// a QUIT that fails (a 4xx, a hang-up, a stall until the timeout) is no
// failure, or the outbox would send the message again.
func TestSMTPQuitFailureIsDelivery(t *testing.T) {
	for _, reply := range []string{"421 4.3.2 shutting down", "hangup", "stall"} {
		t.Run(reply, func(t *testing.T) {
			srv := startScripted(t, func(s string) string {
				if s == "QUIT" {
					return reply
				}
				return ""
			})
			if err := srv.sender(t, "", "", time.Second).Send(t.Context(), testMail()); err != nil {
				t.Errorf("Send = %v, want nil: the server accepted the message", err)
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if srv.accepted != 1 {
				t.Errorf("server accepted %d messages, want 1", srv.accepted)
			}
		})
	}
}

// TestSMTPErrorsNeverHoldThePassword: whatever fails, the error (which the
// outbox logs) names neither the password nor its base64 form on the wire.
func TestSMTPErrorsNeverHoldThePassword(t *testing.T) {
	const pass = "Pa55-unique-7f3a"
	secrets := []string{pass, base64.StdEncoding.EncodeToString([]byte("\x00relay\x00" + pass))}
	for _, step := range []string{"AUTH", "MAIL", "DOT"} {
		t.Run(step, func(t *testing.T) {
			srv := startScripted(t, func(s string) string {
				switch {
				case s == step && s == "AUTH":
					return "535 5.7.8 authentication failed"
				case s == step:
					return "554 5.0.0 no"
				}
				return ""
			})
			err := srv.sender(t, "relay", pass, 5*time.Second).Send(t.Context(), testMail())
			if err == nil {
				t.Fatal("Send succeeded")
			}
			for _, secret := range secrets {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q holds the password", err)
				}
			}
		})
	}
	// Go-smtp's own server, with LOGIN, over STARTTLS.
	srv := startServer(t, serverOptions{tls: TLSStartTLS, user: "alice", pass: "right", mechs: []string{"LOGIN"}})
	err := newSMTP(t, srv, TLSStartTLS, "alice", pass).Send(t.Context(), testMail())
	if err == nil || IsPermanent(err) {
		t.Fatalf("Send with a wrong LOGIN password = %v, want a temporary error", err)
	}
	if strings.Contains(err.Error(), pass) || strings.Contains(err.Error(), base64.StdEncoding.EncodeToString([]byte(pass))) {
		t.Errorf("error %q holds the password", err)
	}
}

// TestSMTPStartTLSRefusedIsNotClearText: a server that offers STARTTLS but
// refuses it, or rejects EHLO (so that the client falls back to HELO and
// sees no extension), never gets the message or the password in clear.
func TestSMTPStartTLSRefusedIsNotClearText(t *testing.T) {
	for name, reply := range map[string]func(string) string{
		"EHLO refused": func(s string) string {
			switch s {
			case "EHLO":
				return "502 5.5.1 no EHLO"
			case "HELO":
				return "250 scripted.test"
			}
			return ""
		},
		"STARTTLS refused": func(s string) string {
			switch s {
			case "EHLO":
				return "250-scripted.test\r\n250-STARTTLS\r\n250 AUTH PLAIN"
			case "STARTTLS":
				return "454 4.7.0 TLS not available"
			}
			return ""
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := startScripted(t, reply)
			s, err := NewSMTP(SMTPConfig{Host: srv.host, Port: srv.port, TLS: TLSStartTLS, Username: "relay", Password: "s3cret", From: "gatehouse@example.com", Timeout: 5 * time.Second}, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(t.Context(), testMail())
			if err == nil || !strings.Contains(err.Error(), "STARTTLS") || IsPermanent(err) {
				t.Errorf("Send = %v, want a temporary STARTTLS error", err)
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			for _, verb := range srv.verbs {
				if verb == "AUTH" || verb == "MAIL" {
					t.Errorf("server received %s in clear (commands: %v)", verb, srv.verbs)
				}
			}
		})
	}
}
