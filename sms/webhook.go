package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The formats of [WebhookConfig]: what the request to the gateway looks
// like.
const (
	// FormatTwilio posts the form Twilio's Messages API takes (To, From,
	// Body), with HTTP Basic authentication by the account SID (or an API
	// key SID) and the auth token (or the API key's secret).
	FormatTwilio = "twilio"
	// FormatJSON posts {"to", "from", "body", "kind"} as JSON, for a
	// gateway or a relay of your own.
	FormatJSON = "json"
)

// defaultTimeout is WebhookConfig.Timeout when unset.
const defaultTimeout = 10 * time.Second

// Limits on what is read of an answer of the gateway.
const (
	// maxErrorRead is how much of the body of a failed answer is read, so
	// that the message and the number can be cut out of it.
	maxErrorRead = 4 << 10
	// maxErrorBody is how much of it goes into the error.
	maxErrorBody = 200
	// maxDrain is how much of the body of a successful answer is read so
	// that the connection can be reused.
	maxDrain = 64 << 10
)

// WebhookConfig configures a [Webhook] sender: the sms.webhook keys of the
// configuration file.
type WebhookConfig struct {
	// URL is where each message is posted, whole (sms.webhook.url). For
	// Twilio, that is
	// https://api.twilio.com/2010-04-01/Accounts/{AccountSID}/Messages.json.
	// It must be https, except that http to a loopback host (localhost,
	// 127.0.0.1, ::1) is allowed for development and tests.
	URL string
	// Format is FormatTwilio or FormatJSON (sms.webhook.format).
	Format string
	// From is the sender: a phone number, or an alphanumeric sender id
	// where the gateway and the country allow one (sms.webhook.from).
	// Required for Twilio; with JSON, an empty From leaves "from" out.
	From string
	// Username and Password are sent with HTTP Basic authentication
	// (sms.webhook.username and sms.webhook.password): for Twilio, which
	// requires them, the account SID and the auth token. With JSON they are
	// optional, and a Username without a Password is allowed (some gateways
	// take an API key as the user name).
	Username, Password string
	// Headers are sent with every request (sms.webhook.headers), such as an
	// API key header. They cannot replace Content-Type, Content-Length,
	// Host or Transfer-Encoding, nor Authorization when Username is set.
	Headers map[string]string
	// Timeout bounds one request, from dialling to the gateway's answer
	// (sms.webhook.timeout); zero means 10 seconds.
	Timeout time.Duration
	// Client makes the requests; nil means a client with Timeout. Tests pass
	// their own. Redirects are never followed, whatever the client's
	// CheckRedirect.
	Client *http.Client
}

// Validate reports the first problem of c, naming the configuration key, or
// nil when c can be used.
func (c WebhookConfig) Validate() error {
	if c.URL == "" {
		return errors.New("sms: sms.webhook.url is required")
	}
	u, err := url.Parse(c.URL)
	if err != nil || hasLineBreak(c.URL) {
		return errors.New("sms: sms.webhook.url is not a valid URL")
	}
	if u.User != nil {
		// The URL shows up in logs and error messages; credentials go
		// where they are kept out of them.
		return errors.New("sms: sms.webhook.url must not hold a user name or password; use sms.webhook.username and sms.webhook.password")
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("sms: sms.webhook.url %q must be an absolute URL, such as https://sms.example.com/send", redactURL(u))
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	case u.Scheme == "http":
		return fmt.Errorf("sms: sms.webhook.url %q must be https: the requests carry sign-in codes and credentials (http is allowed only to a loopback host, for development)", redactURL(u))
	default:
		return fmt.Errorf("sms: sms.webhook.url %q must be an https URL", redactURL(u))
	}
	switch c.Format {
	case FormatTwilio, FormatJSON:
	case "":
		return errors.New("sms: sms.webhook.format is required: twilio or json")
	default:
		return fmt.Errorf("sms: sms.webhook.format %q must be twilio or json", c.Format)
	}
	if hasLineBreak(c.From) {
		return errors.New("sms: sms.webhook.from must not contain line breaks")
	}
	if hasLineBreak(c.Username) || hasLineBreak(c.Password) {
		return errors.New("sms: sms.webhook.username and sms.webhook.password must not contain line breaks")
	}
	if strings.Contains(c.Username, ":") {
		return errors.New("sms: sms.webhook.username must not contain a colon, which HTTP Basic authentication cannot carry")
	}
	if c.Format == FormatTwilio {
		switch {
		case c.From == "":
			return errors.New("sms: sms.webhook.from is required with sms.webhook.format twilio: a Twilio phone number or an alphanumeric sender id")
		case c.Username == "":
			return errors.New("sms: sms.webhook.username is required with sms.webhook.format twilio: the account SID (or an API key SID)")
		case c.Password == "":
			return errors.New("sms: sms.webhook.password is required with sms.webhook.format twilio: the auth token (or the API key's secret)")
		}
	}
	if c.Username == "" && c.Password != "" {
		return errors.New("sms: sms.webhook.password is set but sms.webhook.username is not")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Headers)) {
		if !validHeaderName(name) {
			return fmt.Errorf("sms: sms.webhook.headers: %q is not a valid header name", name)
		}
		switch canon := http.CanonicalHeaderKey(name); canon {
		case "Content-Type", "Content-Length", "Host", "Transfer-Encoding":
			return fmt.Errorf("sms: sms.webhook.headers: %s is set by gatehouse and cannot be configured", canon)
		case "Authorization":
			if c.Username != "" {
				return errors.New("sms: sms.webhook.headers: Authorization cannot be set together with sms.webhook.username")
			}
		}
		if hasLineBreak(c.Headers[name]) {
			// The value may be a secret: do not show it.
			return fmt.Errorf("sms: sms.webhook.headers: the value of %s must not contain line breaks", name)
		}
	}
	if c.Timeout < 0 {
		return fmt.Errorf("sms: sms.webhook.timeout %v must not be negative", c.Timeout)
	}
	return nil
}

// Webhook is a [Sender] that posts each message to an SMS gateway over
// HTTP(S), as a Twilio Messages API request or as JSON. It is safe for
// concurrent use.
//
// Any 2xx answer means the gateway took the message. Delivery is at least
// once: when the answer is lost (a timeout after the gateway received the
// request), the error is temporary and sending again may deliver the message
// twice.
type Webhook struct {
	cfg    WebhookConfig
	client *http.Client
	// op names the request in errors: "POST host:port", without the path
	// and query, which may hold an account id or a key.
	op  string
	now func() time.Time
}

var _ Sender = (*Webhook)(nil)

// NewWebhook returns a Webhook sender for cfg, or the error of cfg.Validate.
// now is the clock, against which a Retry-After date of the gateway is
// read; nil means time.Now.
func NewWebhook(cfg WebhookConfig, now func() time.Time) (*Webhook, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	cfg.Headers = maps.Clone(cfg.Headers)
	var client http.Client
	if cfg.Client != nil {
		client = *cfg.Client // a copy, so that the caller's CheckRedirect stays theirs
	} else {
		client.Timeout = cfg.Timeout
	}
	// A redirected POST becomes a GET without a body, which a gateway might
	// answer with 200: the message would be lost while Send reports success.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	u, _ := url.Parse(cfg.URL) // checked by Validate
	if now == nil {
		now = time.Now
	}
	return &Webhook{cfg: cfg, client: &client, op: "POST " + u.Host, now: now}, nil
}

// Send posts m to the gateway and returns nil once it answers with a 2xx
// status. A message that is not valid (see [IsPermanent]) is refused
// without a request. The request is bounded by the configured Timeout and
// by ctx.
//
// Errors name the status of a failed answer and carry at most 200 bytes of
// its body, with the message's body and anything that looks like a phone
// number cut out; they never hold the body or the recipient's number in
// full.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	if err := checkMessage(m); err != nil {
		return err
	}
	var (
		body        []byte
		contentType string
	)
	switch w.cfg.Format {
	case FormatTwilio:
		body = []byte(url.Values{"To": {m.To}, "From": {w.cfg.From}, "Body": {m.Body}}.Encode())
		contentType = "application/x-www-form-urlencoded"
	default: // FormatJSON
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(jsonMessage{To: m.To, From: w.cfg.From, Body: m.Body, Kind: m.Kind}); err != nil {
			return errInvalid("%v", err) // cannot happen: the fields are strings
		}
		body = bytes.TrimSuffix(b.Bytes(), []byte("\n"))
		contentType = "application/json"
	}

	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return &sendError{op: w.op, err: errors.New("cannot build the request"), permanent: true}
	}
	for name, value := range w.cfg.Headers {
		req.Header.Set(name, value)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "gatehouse")
	}
	if w.cfg.Username != "" {
		req.SetBasicAuth(w.cfg.Username, w.cfg.Password)
	}

	resp, err := w.client.Do(req)
	if err != nil {
		return &sendError{op: w.op, err: requestError(ctx, err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain)) // lets the connection be reused
		return nil
	}
	return w.statusError(resp, m)
}

// jsonMessage is the request body of FormatJSON.
type jsonMessage struct {
	To   string `json:"to"`
	From string `json:"from,omitempty"`
	Body string `json:"body"`
	Kind string `json:"kind"`
}

// requestError returns err, of a request that got no answer, without the
// URL that http.Client puts in it (its query may hold a key), and saying so
// when the request timed out.
func requestError(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("no answer in time: %w", err)
	}
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%v)", context.Cause(ctx), err)
	}
	return err
}

// statusError returns the error of an answer resp that is not 2xx, to the
// request that sent m.
func (w *Webhook) statusError(resp *http.Response, m Message) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorRead))
	code := resp.StatusCode
	e := &sendError{op: w.op}
	e.retryAfter, e.hasRetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), w.now())

	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", code, http.StatusText(code))
	switch {
	case code >= 300 && code < 400:
		e.permanent = true
		b.WriteString(" (redirects are not followed: set sms.webhook.url to the final address)")
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		e.permanent = true
		b.WriteString(" (check sms.webhook.username, sms.webhook.password, sms.webhook.headers and sms.webhook.url)")
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests:
	case code >= 400 && code < 500:
		e.permanent = true
	}
	if e.hasRetryAfter {
		fmt.Fprintf(&b, " (retry after %v)", e.retryAfter)
	}
	if s := errorSnippet(raw, m); s != "" {
		b.WriteString(": ")
		b.WriteString(s)
	}
	e.err = errors.New(b.String())
	return e
}

// parseRetryAfter parses the value of a Retry-After header, in seconds or
// an HTTP date, relative to now. A date in the past is zero; a value that
// is neither, or absurdly large, counts as absent.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		if n > 1<<32 { // 136 years: garbage
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0).Round(time.Second), true
}

// phoneLike matches what may be a phone number in an answer of the gateway:
// a run of 7 or more digits, with a "+" before it, raw or URL-encoded.
var phoneLike = regexp.MustCompile(`(?i)(\+|%2B)?[0-9]{7,}`)

// codeLike matches what may be a one-time code in a message body.
var codeLike = regexp.MustCompile(`[0-9]{4,}`)

// errorSnippet returns at most maxErrorBody bytes of raw, the body of a
// failed answer to the request that sent m, for an error message: on one
// line, valid UTF-8, with m's body (raw, JSON-escaped or URL-encoded) and
// every run of 4 or more digits of it (a code) cut out, and every run of 7
// or more digits masked, whatever the gateway echoes of the request. Cutting happens before truncation, so that a body
// or number cut in two at the limit is not half shown.
func errorSnippet(raw []byte, m Message) string {
	s := strings.ToValidUTF8(string(raw), "\uFFFD")
	if len(m.Body) >= 4 {
		for _, v := range []string{m.Body, jsonString(m.Body, true), jsonString(m.Body, false), url.QueryEscape(m.Body), url.PathEscape(m.Body)} {
			s = strings.ReplaceAll(s, v, "[message body]")
		}
	}
	// A gateway may echo part of the body only; the code must not show.
	for _, code := range codeLike.FindAllString(m.Body, -1) {
		s = strings.ReplaceAll(s, code, "[code]")
	}
	s = phoneLike.ReplaceAllStringFunc(s, func(num string) string {
		plus := ""
		if num[0] == '%' {
			num, plus = num[3:], "+"
		} else if num[0] == '+' {
			num, plus = num[1:], "+"
		}
		return Mask(plus + num)
	})
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n'
	}), " ")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return -1
		}
		return r
	}, s)
	if len(s) <= maxErrorBody {
		return s
	}
	cut := maxErrorBody
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// jsonString returns s as in a JSON string, without the quotes, with or
// without <, > and & escaped.
func jsonString(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSuffix(b.String(), "\n"), `"`), `"`)
}

// redactURL returns u as a string without its query, which may hold a key.
func redactURL(u *url.URL) string {
	v := *u
	if v.RawQuery != "" {
		v.RawQuery = "…"
	}
	v.Fragment, v.RawFragment = "", ""
	return v.String()
}

// hasLineBreak reports whether s holds a character that would end a header
// line.
func hasLineBreak(s string) bool {
	return strings.ContainsAny(s, "\r\n\x00")
}

// isLoopback reports whether host is "localhost" or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// validHeaderName reports whether s is an HTTP header name: a token of
// RFC 9110.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
