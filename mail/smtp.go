package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

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
	// HelloName is the name given in EHLO; empty means "localhost".
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

	conn, err := s.dial(ctx)
	if err != nil {
		return &sendError{op: "dial " + s.addr, err: err}
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	// net/smtp knows nothing of contexts: cancelling ctx makes every pending
	// read and write fail at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	err = s.converse(conn, rcpt, msg)
	if err != nil && ctx.Err() != nil {
		// The deadline error of the connection hides why it was cut.
		var se *sendError
		if errors.As(err, &se) {
			se.err = fmt.Errorf("%w (%v)", context.Cause(ctx), se.err)
			se.permanent = false
			return se
		}
	}
	return err
}

// dial connects to the server, with TLS from the start in implicit mode.
func (s *SMTP) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{}
	if s.cfg.TLS == TLSImplicit {
		td := &tls.Dialer{NetDialer: d, Config: s.tlsConfig()}
		return td.DialContext(ctx, "tcp", s.addr)
	}
	return d.DialContext(ctx, "tcp", s.addr)
}

// converse runs the SMTP dialogue on conn.
func (s *SMTP) converse(conn net.Conn, rcpt string, msg []byte) error {
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return &sendError{op: "greeting", err: err}
	}
	defer c.Close()
	if err := c.Hello(s.cfg.HelloName); err != nil {
		return &sendError{op: "EHLO", err: err}
	}
	_, isTLS := conn.(*tls.Conn)
	if s.cfg.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			// Never fall back to clear text: anyone on the path could
			// strip STARTTLS from the EHLO reply.
			return &sendError{op: "STARTTLS", err: fmt.Errorf("%s does not offer STARTTLS, which mail.smtp.tls starttls requires", s.addr)}
		}
		if err := c.StartTLS(s.tlsConfig()); err != nil {
			return &sendError{op: "STARTTLS", err: err}
		}
		isTLS = true
	}
	if s.cfg.Username != "" {
		remote, _, _ := net.SplitHostPort(conn.RemoteAddr().String())
		if err := checkClearAuth(s.cfg.TLS, remote, isTLS); err != nil {
			return &sendError{op: "AUTH", err: err}
		}
		_, offered := c.Extension("AUTH")
		mechs := strings.Fields(strings.ToUpper(offered))
		var a smtp.Auth
		switch {
		case slices.Contains(mechs, "PLAIN"):
			a = &plainAuth{username: s.cfg.Username, password: s.cfg.Password}
		case slices.Contains(mechs, "LOGIN"):
			a = &loginAuth{username: s.cfg.Username, password: s.cfg.Password}
		default:
			return &sendError{op: "AUTH", err: fmt.Errorf("%s offers neither AUTH PLAIN nor AUTH LOGIN (offered: %q)", s.addr, offered)}
		}
		if err := c.Auth(a); err != nil {
			return &sendError{op: "AUTH", err: err}
		}
	}
	if err := c.Mail(s.from); err != nil {
		return &sendError{op: "MAIL FROM", err: err}
	}
	if err := c.Rcpt(rcpt); err != nil {
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
	var te *textproto.Error
	return errors.As(err, &te) && te.Code >= 500 && te.Code < 600
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

// plainAuth is AUTH PLAIN (RFC 4616). Unlike net/smtp.PlainAuth it leaves
// the decision whether the connection is safe enough to checkClearAuth, which
// has already been made when Start is called.
type plainAuth struct{ username, password string }

func (a *plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.username + "\x00" + a.password), nil
}

func (a *plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected challenge after AUTH PLAIN")
	}
	return nil, nil
}

// loginAuth is the obsolete but common AUTH LOGIN, for servers that offer
// nothing else.
type loginAuth struct {
	username, password string
	step               int
}

func (a *loginAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	a.step = 0
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(_ []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	switch a.step {
	case 1:
		return []byte(a.username), nil
	case 2:
		return []byte(a.password), nil
	}
	return nil, errors.New("unexpected challenge after AUTH LOGIN")
}
