package browsertest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/mail"
	"github.com/gatehouse/gatehouse/server"
)

// Groups every test server has besides the administrators: each allows
// one part of the admin console.
const (
	auditorsGroup = "auditors" // section:audit only
)

// gatehouseServer is a running gatehouse: the server `gatehouse serve`
// runs, on a loopback port, its mail going to a real SMTP server.
type gatehouseServer struct {
	gh   *server.Gatehouse
	url  string // http://127.0.0.1:PORT
	base string // url + /auth
	mail *smtpSink
	log  *syncBuffer
	// skew is how far the server's clock is ahead of the real one (in
	// nanoseconds): the browser judges cookies by the real clock, so the
	// server's runs in real time, moved ahead by advance only.
	skew *atomic.Int64
}

// advance moves the server's clock ahead by d.
func (s *gatehouseServer) advance(d time.Duration) { s.skew.Add(int64(d)) }

// startGatehouse opens a gatehouse with no users (so with a setup link)
// in a temporary directory and serves it on 127.0.0.1; cleanup stops it.
func startGatehouse(t *testing.T) *gatehouseServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink := startSMTPSink(t)
	host, port, _ := net.SplitHostPort(sink.addr)
	smtpPort, _ := strconv.Atoi(port)
	logs := &syncBuffer{}
	skew := &atomic.Int64{}
	gh, err := server.Open(context.Background(), server.Config{
		DataDir:    t.TempDir(),
		ListenAddr: ln.Addr().String(),
		Groups:     map[string][]string{auditorsGroup: {httpapi.PermAudit}},
		SMTP:       &mail.SMTPConfig{Host: host, Port: smtpPort, TLS: "none", From: "gatehouse@example.com"},
		Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Now:        func() time.Time { return time.Now().Add(time.Duration(skew.Load())) },
	})
	if err != nil {
		ln.Close()
		t.Fatalf("open gatehouse: %v", err)
	}
	srv := &http.Server{Handler: gh, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("shut down: %v", err)
		}
		gh.Close()
	})
	u := "http://" + ln.Addr().String()
	return &gatehouseServer{gh: gh, url: u, base: u + gh.BasePath(), mail: sink, log: logs, skew: skew}
}

// syncBuffer is a log the server writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything logged so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// smtpSink is a real SMTP server (go-smtp) on loopback that keeps the
// messages it receives.
type smtpSink struct {
	addr string
	got  chan string
}

func startSMTPSink(t *testing.T) *smtpSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k := &smtpSink{addr: ln.Addr().String(), got: make(chan string, 16)}
	srv := smtp.NewServer(smtpBackend{k})
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return k
}

// waitTo returns the next message to addr, passing over the others (such
// as the notices of a change to one's account), failing the test when
// none comes.
func (k *smtpSink) waitTo(t *testing.T, addr string) string {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m := <-k.got:
			if strings.Contains(m, "To: "+addr+"\r\n") || strings.Contains(m, "To: <"+addr+">") {
				return m
			}
		case <-deadline:
			t.Fatalf("no mail to %s arrived", addr)
			return ""
		}
	}
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
	s.k.got <- string(b)
	return nil
}

// mailLink finds the link to BASE/ui/PAGE in a mail (quoted-printable:
// soft line breaks and =3D undone first).
func mailLink(t *testing.T, msg, base, page string) string {
	t.Helper()
	flat := strings.NewReplacer("=\r\n", "", "=\n", "", "=3D", "=").Replace(msg)
	link := regexp.MustCompile(regexp.QuoteMeta(base+"/ui/"+page+"?") + `[A-Za-z0-9_%=&-]+`).FindString(flat)
	if link == "" {
		t.Fatalf("no %s link in the mail:\n%s", page, msg)
	}
	return link
}
