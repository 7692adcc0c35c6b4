package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/gatehouse/gatehouse"
)

// The TLS modes of [SMTPConfig].
const (
	// TLSNone talks to the server in clear. It is for a relay on the same
	// machine; a password is only ever sent this way to a loopback address.
	TLSNone = "none"
	// TLSStartTLS connects in clear and upgrades with STARTTLS before
	// anything else, refusing to go on if the server does not offer it
	// (usually port 587).
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (usually port 465).
	TLSImplicit = "implicit"
)

// SMTPConfig configures an [SMTP] sender: the mail.smtp and mail.from keys
// of the configuration file.
type SMTPConfig struct {
	// Host is the mail server's name or address; the server's certificate
	// must be valid for it.
	Host string
	// Port is the server's port; zero means 587 for starttls, 465 for
	// implicit and 25 for none.
	Port int
	// Username and Password authenticate with AUTH PLAIN (or LOGIN, if the
	// server offers only that); an empty Username skips authentication.
	Username, Password string
	// TLS is "none", "starttls" or "implicit"; empty means "starttls".
	TLS string
	// From is the sender address, such as "gatehouse@example.com" or
	// "Gatehouse <gatehouse@example.com>".
	From string
	// HelloName is the name given in EHLO; empty means "localhost". With
	// starttls, the EHLO before the upgrade says "localhost" and the one
	// after it, which the server records, says HelloName.
	HelloName string
	// Timeout bounds a whole delivery, from dialling to the server's
	// acceptance of the message; zero means 30 seconds.
	Timeout time.Duration
	// RootCAs are the certificate authorities trusted for the server's
	// certificate; nil means the system's.
	RootCAs *x509.CertPool
}

// defaultTimeout is SMTPConfig.Timeout when unset.
const defaultTimeout = 30 * time.Second

// Validate reports the first problem of c, naming the configuration key, or
// nil when c can be used.
func (c SMTPConfig) Validate() error {
	if c.Host == "" {
		return errors.New("mail: mail.smtp.host is required")
	}
	if hasLineBreak(c.Host) || strings.ContainsAny(c.Host, " \t/") {
		return fmt.Errorf("mail: mail.smtp.host %q is not a host name or address", c.Host)
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("mail: mail.smtp.port %d is not a port (1 to 65535)", c.Port)
	}
	switch c.TLS {
	case "", TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return fmt.Errorf("mail: mail.smtp.tls %q must be none, starttls or implicit", c.TLS)
	}
	if c.From == "" {
		return errors.New("mail: mail.from is required")
	}
	if _, err := parseAddress(c.From); err != nil {
		return fmt.Errorf("mail: mail.from must be a valid address: %v", err)
	}
	if hasLineBreak(c.Username) || hasLineBreak(c.Password) {
		return errors.New("mail: mail.smtp.username and mail.smtp.password must not contain line breaks")
	}
	if c.Username == "" && c.Password != "" {
		return errors.New("mail: mail.smtp.password is set but mail.smtp.username is not")
	}
	if c.Username != "" && c.Password == "" {
		return errors.New("mail: mail.smtp.username is set but mail.smtp.password is not")
	}
	if c.Username != "" && c.TLS == TLSNone && !isLoopback(c.Host) {
		return fmt.Errorf("mail: mail.smtp.tls none would send the password in clear to %s; use starttls or implicit (only a loopback host may authenticate without TLS)", c.Host)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("mail: the SMTP timeout %v must not be negative", c.Timeout)
	}
	return nil
}

// SMTP is a [Sender] that delivers each message over its own connection to
// one mail server (a relay or submission server, which takes care of the
// delivery to the recipient's domain). It is safe for concurrent use.
type SMTP struct {
	cfg  SMTPConfig
	from string // the bare sender address, for MAIL FROM
	addr string // host:port
	now  func() time.Time
}

var _ Sender = (*SMTP)(nil)

// NewSMTP returns an SMTP sender for cfg, or the error of cfg.Validate.
// now is the clock, which dates a message that has no creation time; nil
// means time.Now.
func NewSMTP(cfg SMTPConfig, now func() time.Time) (*SMTP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	if cfg.Port == 0 {
		cfg.Port = map[string]int{TLSNone: 25, TLSStartTLS: 587, TLSImplicit: 465}[cfg.TLS]
	}
	if cfg.HelloName == "" {
		cfg.HelloName = "localhost"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	if now == nil {
		now = time.Now
	}
	from, _ := parseAddress(cfg.From) // checked by Validate
	return &SMTP{cfg: cfg, from: from.Address, addr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), now: now}, nil
}

// tlsConfig is the client TLS configuration for the server.
func (s *SMTP) tlsConfig() *tls.Config {
	return &tls.Config{ServerName: s.cfg.Host, RootCAs: s.cfg.RootCAs, MinVersion: tls.VersionTLS12}
}

// Send delivers m: it dials the server, upgrades to TLS as configured,
// authenticates, and transfers the message as an RFC 5322 message. It
// returns nil once the server has accepted the message. The whole exchange
// is bounded by the configured Timeout and by ctx.
func (s *SMTP) Send(ctx context.Context, m *gatehouse.Mail) error {
	msg, rcpt, err := buildMessage(s.cfg.From, m, s.now)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()

	conn, isTLS, err := s.dial(ctx)
	if err != nil {
		return s.explain(ctx, &sendError{op: "dial " + s.addr, err: err})
	}
	defer conn.Close()
	return s.explain(ctx, s.converse(conn, isTLS, rcpt, msg))
}

// explain adds to err, when ctx has ended, why: the deadline error of the
// connection hides whether the Timeout ran out or the caller gave up. Such
// an error is never permanent.
func (s *SMTP) explain(ctx context.Context, err error) error {
	if err == nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(d) {
		// The connection's deadline is the context's: it can fire a hair
		// before the context's own timer does.
		<-ctx.Done()
	}
	if ctx.Err() == nil {
		return err
	}
	var se *sendError
	if errors.As(err, &se) {
		se.err = fmt.Errorf("%w (%v)", context.Cause(ctx), se.err)
		se.permanent = false
	}
	return err
}

// dial connects to the server, and in implicit mode completes the TLS
// handshake. The connection it returns obeys ctx (see boundConn); isTLS
// says whether it is encrypted.
func (s *SMTP) dial(ctx context.Context) (conn net.Conn, isTLS bool, err error) {
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, false, err
	}
	conn = bindConn(ctx, raw)
	if s.cfg.TLS != TLSImplicit {
		return conn, false, nil
	}
	tc := tls.Client(conn, s.tlsConfig())
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, false, err
	}
	return tc, true, nil
}

// converse runs the SMTP dialogue on conn.
func (s *SMTP) converse(conn net.Conn, isTLS bool, rcpt string, msg []byte) error {
	var c *smtp.Client
	if s.cfg.TLS == TLSStartTLS {
		// go-smtp says EHLO as "localhost" before STARTTLS (it has no way
		// to set the name first); the EHLO that counts, after TLS, gives
		// HelloName. It refuses to go on when STARTTLS is not offered:
		// never fall back to clear text, since anyone on the path could
		// strip STARTTLS from the EHLO reply.
		var err error
		c, err = smtp.NewClientStartTLS(conn, s.tlsConfig())
		if err != nil {
			return &sendError{op: "STARTTLS", err: fmt.Errorf("%s: %w (mail.smtp.tls starttls never falls back to clear text)", s.addr, err)}
		}
		isTLS = true
	} else {
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	// Hello reads the greeting if not done yet, then says EHLO (HELO if
	// the server does not know EHLO, in which case it offers no
	// extension at all). After STARTTLS it also completes the handshake,
	// so this is where an untrusted certificate shows.
	if err := c.Hello(s.cfg.HelloName); err != nil {
		return &sendError{op: "EHLO", err: err}
	}
	if _, ok := c.TLSConnectionState(); isTLS != ok {
		return &sendError{op: "TLS", err: fmt.Errorf("the connection to %s is not in the state mail.smtp.tls %s requires", s.addr, s.cfg.TLS)}
	}
	if s.cfg.Username != "" {
		remote, _, _ := net.SplitHostPort(conn.RemoteAddr().String())
		if err := checkClearAuth(s.cfg.TLS, remote, isTLS); err != nil {
			return &sendError{op: "AUTH", err: err}
		}
		var a sasl.Client
		switch {
		case c.SupportsAuth(sasl.Plain):
			a = sasl.NewPlainClient("", s.cfg.Username, s.cfg.Password)
		case c.SupportsAuth(sasl.Login):
			a = &loginClient{username: s.cfg.Username, password: s.cfg.Password}
		default:
			_, offered := c.Extension("AUTH")
			return &sendError{op: "AUTH", err: fmt.Errorf("%s offers neither AUTH PLAIN nor AUTH LOGIN (offered: %q)", s.addr, offered)}
		}
		if err := c.Auth(a); err != nil {
			return &sendError{op: "AUTH", err: err}
		}
	}
	var opts *smtp.MailOptions
	if !isASCII(s.from) || !isASCII(rcpt) {
		// An internationalized address needs SMTPUTF8; go-smtp refuses
		// to go on if the server does not offer it.
		opts = &smtp.MailOptions{UTF8: true}
	}
	if err := c.Mail(s.from, opts); err != nil {
		return &sendError{op: "MAIL FROM", err: err}
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return &sendError{op: "RCPT TO", err: err, permanent: isPermanentReply(err)}
	}
	w, err := c.Data()
	if err != nil {
		return &sendError{op: "DATA", err: err, permanent: isPermanentReply(err)}
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return &sendError{op: "DATA", err: err}
	}
	if err := w.Close(); err != nil {
		return &sendError{op: "DATA", err: err, permanent: isPermanentReply(err)}
	}
	// The server has accepted the message: a failure to say goodbye must
	// not count as a failed delivery, or the message would be sent twice.
	_ = c.Quit()
	return nil
}

// isPermanentReply reports whether err is a 5xx reply of the server.
func isPermanentReply(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code >= 500 && se.Code < 600
}

// isASCII reports whether s is plain ASCII.
func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// boundConn is a connection whose deadlines never reach past its context's:
// go-smtp sets a deadline of minutes before each command and clears it
// after, which would otherwise undo the deadline of the whole delivery. Once
// the context ends, every pending and later read or write fails at once.
type boundConn struct {
	net.Conn
	limit time.Time // the context's deadline; zero when it has none

	mu   sync.Mutex
	done bool // the context has ended
}

// expired is a deadline in the past, which fails reads and writes at once.
var expired = time.Unix(1, 0)

// bindConn returns c bound to ctx.
func bindConn(ctx context.Context, c net.Conn) *boundConn {
	b := &boundConn{Conn: c}
	b.limit, _ = ctx.Deadline()
	b.Conn.SetDeadline(b.clamp(time.Time{}))
	context.AfterFunc(ctx, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.done = true
		b.Conn.SetDeadline(expired)
	})
	return b
}

// clamp returns the deadline to use when t is asked for.
func (b *boundConn) clamp(t time.Time) time.Time {
	if b.done {
		return expired
	}
	if !b.limit.IsZero() && (t.IsZero() || t.After(b.limit)) {
		return b.limit
	}
	return t
}

// SetDeadline sets the read and write deadlines, no later than the context's.
func (b *boundConn) SetDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Conn.SetDeadline(b.clamp(t))
}

// SetReadDeadline sets the read deadline, no later than the context's.
func (b *boundConn) SetReadDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Conn.SetReadDeadline(b.clamp(t))
}

// SetWriteDeadline sets the write deadline, no later than the context's.
func (b *boundConn) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Conn.SetWriteDeadline(b.clamp(t))
}

// errClearAuth is the refusal to send a password without TLS.
var errClearAuth = errors.New("refusing to send the password without TLS to a host that is not a loopback address")

// checkClearAuth says whether credentials may be sent on a connection to
// host (the address actually connected to), given the configured TLS mode
// and whether the connection is encrypted. A password goes only over TLS,
// except to a loopback address with TLS "none" (a relay on the same
// machine, where no one can listen).
func checkClearAuth(mode, host string, isTLS bool) error {
	if isTLS {
		return nil
	}
	if mode == TLSNone && isLoopback(host) {
		return nil
	}
	return errClearAuth
}

// isLoopback reports whether host is "localhost" or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// loginClient is the obsolete but common AUTH LOGIN, for servers that
// offer nothing else. go-sasl's own LOGIN client sends the username as an
// initial response and insists on the challenge "Password:"; this one waits
// for the server's two challenges, whatever their wording, as the servers
// that still require LOGIN expect.
type loginClient struct {
	username, password string
	step               int
}

func (a *loginClient) Start() (mech string, ir []byte, err error) {
	a.step = 0
	return sasl.Login, nil, nil
}

func (a *loginClient) Next([]byte) ([]byte, error) {
	a.step++
	switch a.step {
	case 1:
		return []byte(a.username), nil
	case 2:
		return []byte(a.password), nil
	}
	return nil, errors.New("unexpected challenge after AUTH LOGIN")
}
