package mail

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// serverOptions configure a test SMTP server.
type serverOptions struct {
	// tls: "none" (no STARTTLS offered), "starttls" or "implicit".
	tls string
	// user and pass, when set, are required before MAIL FROM.
	user, pass string
	// mechs are the AUTH mechanisms offered; nil means PLAIN.
	mechs []string
	// rcpt and data, when set, may refuse the n-th (from 1) RCPT TO or
	// message.
	rcpt func(n int, to string) error
	data func(n int) error
	// addr is where to listen; empty means 127.0.0.1:0.
	addr string
}

// received is a message the test server accepted.
type received struct {
	From   string
	To     []string
	User   string // authenticated as, "" when not
	TLS    bool   // whether the message came over TLS
	Data   []byte
	Helo   string
	Header mail.Header // parsed Data
	Body   []byte      // the raw body after the header
}

// testServer is an SMTP server (github.com/emersion/go-smtp) recording what
// it accepts.
type testServer struct {
	Addr  string
	Host  string
	Port  int
	Roots *x509.CertPool // trusts the server's certificate

	opts serverOptions

	mu       sync.Mutex
	msgs     []received
	rcptN    int
	dataN    int
	mailFrom int // MAIL FROM commands seen
	authFail int
}

// startServer starts a test SMTP server, closed when the test ends.
func startServer(t testing.TB, opts serverOptions) *testServer {
	t.Helper()
	if opts.mechs == nil {
		opts.mechs = []string{sasl.Plain}
	}
	s := &testServer{opts: opts}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c}, nil
	}))
	srv.Domain = "mx.test"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	// Auth over clear is offered so that the client's own refusal is what
	// the tests see; the client must never rely on the server for that.
	srv.AllowInsecureAuth = true

	addr := opts.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if opts.tls == TLSStartTLS || opts.tls == TLSImplicit {
		cert, roots := selfSignedCert(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		s.Roots = roots
		if opts.tls == TLSImplicit {
			l = tls.NewListener(l, srv.TLSConfig)
		}
	}
	s.Addr = l.Addr().String()
	tcp := l.Addr().(*net.TCPAddr)
	s.Host, s.Port = tcp.IP.String(), tcp.Port
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Close()
		// Server.Close only closes the listeners Serve has registered:
		// when a test ends before the goroutine got that far, closing l
		// is what ends Serve.
		l.Close()
		<-done
	})
	return s
}

// messages returns the messages accepted so far.
func (s *testServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

// counts returns how many RCPT TO and MAIL FROM commands the server saw.
func (s *testServer) counts() (mailFrom, rcpt int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mailFrom, s.rcptN
}

// session is one SMTP session of a testServer.
type session struct {
	srv  *testServer
	conn *smtp.Conn
	user string
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (s *session) AuthMechanisms() []string {
	if s.srv.opts.user == "" {
		return nil
	}
	return s.srv.opts.mechs
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != s.srv.opts.user || pass != s.srv.opts.pass {
			s.srv.mu.Lock()
			s.srv.authFail++
			s.srv.mu.Unlock()
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return smtp.ErrAuthFailed
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.srv.mu.Lock()
	s.srv.mailFrom++
	s.srv.mu.Unlock()
	if s.srv.opts.user != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.srv.mu.Lock()
	s.srv.rcptN++
	n := s.srv.rcptN
	s.srv.mu.Unlock()
	if f := s.srv.opts.rcpt; f != nil {
		if err := f(n, to); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	s.srv.dataN++
	n := s.srv.dataN
	s.srv.mu.Unlock()
	if f := s.srv.opts.data; f != nil {
		if err := f(n); err != nil {
			return err
		}
	}
	_, isTLS := s.conn.TLSConnectionState()
	m := received{From: s.from, To: s.to, User: s.user, TLS: isTLS, Data: b, Helo: s.conn.Hostname()}
	if msg, err := mail.ReadMessage(bytes.NewReader(b)); err == nil {
		m.Header = msg.Header
		m.Body, _ = io.ReadAll(msg.Body)
	}
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, m)
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl no longer
// provides.
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	l.step++
	switch l.step {
	case 1:
		if len(response) > 0 { // an initial response is the username
			l.user = string(response)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(response)
		return []byte("Password:"), false, nil
	case 3:
		return nil, true, l.check(l.user, string(response))
	}
	return nil, false, errors.New("unexpected response")
}

// selfSignedCert returns a certificate for 127.0.0.1 and localhost, and a
// pool that trusts it.
func selfSignedCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gatehouse test SMTP server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, roots
}

// parts returns the decoded text/plain and text/html parts of a received
// message, which is multipart/alternative or text/plain.
func parts(t testing.TB, m received) (text, html string) {
	t.Helper()
	mediaType, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	switch mediaType {
	case "text/plain":
		if got := m.Header.Get("Content-Transfer-Encoding"); got != "quoted-printable" {
			t.Errorf("Content-Transfer-Encoding = %q, want quoted-printable", got)
		}
		if params["charset"] != "utf-8" {
			t.Errorf("charset = %q, want utf-8", params["charset"])
		}
		b, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(m.Body)))
		if err != nil {
			t.Fatal(err)
		}
		return string(b), ""
	case "multipart/alternative":
		r := multipart.NewReader(bytes.NewReader(m.Body), params["boundary"])
		var types []string
		for {
			p, err := r.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			// NextPart decodes quoted-printable and drops the header.
			typ, pp, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if err != nil {
				t.Fatal(err)
			}
			if pp["charset"] != "utf-8" {
				t.Errorf("%s charset = %q, want utf-8", typ, pp["charset"])
			}
			b, err := io.ReadAll(p)
			if err != nil {
				t.Fatal(err)
			}
			types = append(types, typ)
			switch typ {
			case "text/plain":
				text = string(b)
			case "text/html":
				html = string(b)
			}
		}
		if strings.Join(types, ",") != "text/plain,text/html" {
			t.Errorf("parts = %v, want text/plain then text/html", types)
		}
		return text, html
	}
	t.Fatalf("Content-Type %q, want text/plain or multipart/alternative", mediaType)
	return "", ""
}
