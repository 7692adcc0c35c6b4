package main

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/acme/autocert"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/mail"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/redis"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sms"
)

// config is the YAML configuration of the contract. Every key is optional.
// Keys of features that later versions add (routes, mail, …) are accepted
// and reported as not yet in effect, so a file written for the contract
// never stops the server from starting.
type config struct {
	// PublicURL is the URL people reach gatehouse at (https://admin.example.com):
	// links in mail and the OpenID Connect redirect URIs are built from it,
	// never from the request's Host. Required with oidc.
	PublicURL string `yaml:"public_url"`
	// BasePath is the path gatehouse's own endpoints and pages are served
	// under (BASE in the contract).
	BasePath string `yaml:"base_path"`
	// Addr is the HOST:PORT serve listens on.
	Addr string `yaml:"addr"`
	// DataDir holds the SQLite database and the key file; a relative path
	// is relative to the working directory.
	DataDir string `yaml:"data_dir"`
	// Database is sqlite://FILE (a relative FILE is in data_dir) or
	// postgres://USER:PASSWORD@HOST:PORT/DATABASE with pgx's query
	// parameters.
	Database string `yaml:"database"`
	// Sessions is where sessions, login throttles and pending logins are
	// kept: database, or a Redis URL (redis://HOST:PORT/DB, rediss:// for
	// TLS, redis-sentinel://HOST:PORT/DB?master=NAME,
	// redis-cluster://HOST:PORT,HOST:PORT).
	Sessions string `yaml:"sessions"`
	// RedisPrefix starts every Redis key and channel of this
	// installation (with sessions: redis://…), so that installations can
	// share a Redis; all processes of one installation use the same.
	RedisPrefix string `yaml:"redis_prefix"`
	// TrustedProxies are the addresses or CIDR ranges of the reverse
	// proxies whose X-Forwarded-For and X-Forwarded-Proto are believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// TrustedOrigins are origins (https://app.example.com) whose
	// cross-origin unsafe requests are let through the CSRF origin check;
	// they still need the CSRF token.
	TrustedOrigins []string `yaml:"trusted_origins"`
	// Session is how long sessions last and how their cookie is set.
	Session struct {
		// IdleTimeout ends a session after this long without a request.
		IdleTimeout time.Duration `yaml:"idle_timeout"`
		// AbsoluteTimeout ends a session this long after its login,
		// however active; at least idle_timeout.
		AbsoluteTimeout time.Duration `yaml:"absolute_timeout"`
		// RememberTimeout replaces absolute_timeout for "remember me"
		// sessions.
		RememberTimeout time.Duration `yaml:"remember_timeout"`
		// RememberIdleTimeout replaces idle_timeout for "remember me"
		// sessions.
		RememberIdleTimeout time.Duration `yaml:"remember_idle_timeout"`
		// SameSite is the session cookie's SameSite: lax or strict
		// (strict is refused with oidc).
		SameSite string `yaml:"same_site"`
		// CookieName names the session cookie; __Host- is put before it
		// over HTTPS (__Secure- with cookie_domain).
		CookieName string `yaml:"cookie_name"`
		// ReauthenticateAfter is how recent the password must have been
		// proved for a sensitive change (password, email, two-factor);
		// older, the user re-authenticates first.
		ReauthenticateAfter time.Duration `yaml:"reauthenticate_after"`
		// CookieDomain (example.com) makes one login valid on the domain
		// and every subdomain: the session and XSRF-TOKEN cookies get it
		// as their Domain. It must cover public_url's host.
		CookieDomain string `yaml:"cookie_domain"`
		// Guest turns on guest sessions: POST BASE/session with an empty
		// body starts a session without a user (duplistatus).
		Guest bool `yaml:"guest"`
	} `yaml:"session"`
	// Login throttles password guessing: waits that grow per username,
	// and a lock per client address.
	Login struct {
		// MaxFailures is how many failures for one username (1 to 100)
		// make it wait before it may try again.
		MaxFailures int `yaml:"max_failures"`
		// FailureWindow is how long after the last failure or wait the
		// failures are forgotten.
		FailureWindow time.Duration `yaml:"failure_window"`
		// Lockout is the longest wait (the first is a quarter of it, the
		// next half); a client address is locked this long too.
		Lockout time.Duration `yaml:"lockout"`
		// MaxFailuresPerAddress is how many failures from one client
		// address, for any usernames, lock that address for lockout.
		MaxFailuresPerAddress int `yaml:"max_failures_per_address"`
	} `yaml:"login"`
	// BasicAuth lets scripts send a username and password with every
	// request (Authorization: Basic) instead of a session.
	BasicAuth struct {
		// Enabled accepts Basic auth, over HTTPS only (TLS at a trusted
		// proxy included).
		Enabled bool `yaml:"enabled"`
		// AllowInsecure accepts Basic auth over plain HTTP too; for
		// development only.
		AllowInsecure bool `yaml:"allow_insecure"`
	} `yaml:"basic_auth"`
	// CSRF is the check of the CSRF token on requests authenticated by
	// the session cookie.
	CSRF struct {
		// EveryRequest extends the CSRF token check to safe methods
		// authenticated by the session cookie (Kirby's "for every
		// request"), except GET BASE/session and GET BASE/csrf.
		EveryRequest bool `yaml:"every_request"`
	} `yaml:"csrf"`
	// CORS lets scripts of other origins call gatehouse's own endpoints
	// and, in gateway mode, the routes with cors: true (Kirby's cors
	// option). Its origins are trusted by the CSRF origin check too.
	CORS struct {
		// AllowedOrigins are the origins (https://app.example.com, or
		// "*") whose scripts may call gatehouse; empty turns CORS off.
		AllowedOrigins []string `yaml:"allowed_origins"`
		// AllowedHeaders are request headers their scripts may send,
		// besides Content-Type, X-Requested-With and the CSRF headers,
		// which are always allowed; "*" allows any.
		AllowedHeaders []string `yaml:"allowed_headers"`
		// ExposedHeaders are response headers their scripts may read.
		ExposedHeaders []string `yaml:"exposed_headers"`
		// AllowCredentials lets their requests carry the session cookie;
		// not with the origin "*".
		AllowCredentials bool `yaml:"allow_credentials"`
		// MaxAge is how long a browser may cache a preflight's answer
		// (0: not said).
		MaxAge time.Duration `yaml:"max_age"`
	} `yaml:"cors"`
	// Password is the rule new passwords must follow, and whether they
	// can be reset by mail.
	Password struct {
		// MinLength is the least number of characters of a new password.
		MinLength int `yaml:"min_length"`
		// MaxLength is the most bytes a password may have (at least 64).
		MaxLength int `yaml:"max_length"`
		// AllowPasswordReset lets users reset a forgotten password with
		// a mailed link; false turns the reset off.
		AllowPasswordReset bool `yaml:"allow_password_reset"`
		// MinStrength is the least zxcvbn score (0–4) of a new
		// password; 0 turns the strength rule off.
		MinStrength int `yaml:"min_strength"`
		// BreachCheckURL turns on the breached-password check against a
		// Pwned-Passwords-style range API at this URL (off when empty).
		BreachCheckURL string `yaml:"breach_check_url"`
	} `yaml:"password"`
	// Mail is how mail (reset links, invitations, codes, notices) leaves
	// gatehouse.
	Mail mailConfig `yaml:"mail"`
	// SMS is how SMS codes of the second factor leave gatehouse.
	SMS smsConfig `yaml:"sms"`
	// TwoFactor is the second factor's settings (TOTP, codes by mail or
	// SMS, recovery codes).
	TwoFactor struct {
		// KeyFile holds the key that encrypts TOTP secrets at rest and
		// signs remembered-device cookies (created on first start);
		// default DATA_DIR/secrets.key. Every process needs the same.
		KeyFile string `yaml:"key_file"`
		// Issuer names the service in authenticator apps.
		Issuer string `yaml:"issuer"`
	} `yaml:"two_factor"`
	// Upstream turns on gateway (reverse-proxy) mode: requests outside
	// base_path, and paths under it gatehouse does not serve, are decided
	// by the route table and forwarded to this URL.
	Upstream string `yaml:"upstream"`
	// UpstreamTimeout bounds the connection to the upstream and the wait
	// for its response headers.
	UpstreamTimeout time.Duration `yaml:"upstream_timeout"`
	// RedirectDomains are the hosts (and their subdomains) the login
	// page's and forward auth's rd may point to.
	RedirectDomains []string `yaml:"redirect_domains"`
	// Gateway says what the gateway (forward auth and the reverse proxy)
	// lets reach the application, besides what the route table decides.
	Gateway struct {
		// ExtraMethods are methods let through besides the standard
		// upper-case ones (such as PROPFIND for WebDAV); rules may name
		// them.
		ExtraMethods []string `yaml:"extra_methods"`
		// AllowPathParameters lets ";" path parameters through (off:
		// Tomcat, Jetty and Spring drop them before routing).
		AllowPathParameters bool `yaml:"allow_path_parameters"`
		// StripHeaders are request headers the reverse proxy removes on
		// top of its list of other proxies' identity headers (a name
		// ending in "*" is a prefix).
		StripHeaders []string `yaml:"strip_headers"`
	} `yaml:"gateway"`
	// Metrics is who may read the Prometheus metrics at BASE/metrics.
	Metrics struct {
		// Networks are the client networks BASE/metrics is served to
		// (default: loopback only).
		Networks []string `yaml:"networks"`
	} `yaml:"metrics"`
	// Routes is the route table: the first rule whose path, methods,
	// hosts and networks match a request decides what it needs, and a
	// request no rule matches is denied. Without routes, every proxied
	// request needs a logged-in user.
	Routes []policy.Rule `yaml:"routes"`
	// Groups are created at start when missing, with these permissions
	// ("*" is every permission); editable later.
	Groups map[string][]string `yaml:"groups"`
	// OIDC are the OpenID Connect providers people may log in with, one
	// entry each (see oidcconfig.go and the README's External logins).
	OIDC []oidcProvider `yaml:"oidc"`
	// Log is serve's log.
	Log struct {
		// Format is text (logfmt-style key=value lines) or json (one
		// object a line).
		Format string `yaml:"format"`
		// Level is the least level written: debug, info, warn or error.
		Level string `yaml:"level"`
		// Requests writes one line at info for every request answered:
		// method, route pattern, status, duration, request id, client
		// address and user id (never a path, query, cookie or token).
		Requests bool `yaml:"requests"`
	} `yaml:"log"`
	// Tracing sends OpenTelemetry spans (HTTP handling, store calls,
	// password hashing, mail delivery) to a collector with OTLP over
	// HTTP; the standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT,
	// OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER, OTEL_SERVICE_NAME,
	// …) say where and how. See the README's "Traces".
	Tracing struct {
		// Enabled switches tracing on; off, it costs nothing.
		Enabled bool `yaml:"enabled"`
	} `yaml:"tracing"`
	// TLS makes serve answer HTTPS itself, with a certificate from files
	// (cert_file and key_file) or from an ACME CA such as Let's Encrypt
	// (acme). Without either it serves plain HTTP, for TLS at a proxy
	// listed in trusted_proxies.
	TLS tlsConfig `yaml:"tls"`
	// WebAuthn is for passkeys, which are not built yet.
	WebAuthn struct {
		// Passwordless would let passkeys log in without a password;
		// only false is accepted.
		Passwordless bool `yaml:"passwordless"`
	} `yaml:"webauthn"`
}

// tlsConfig is the tls section: HTTPS at gatehouse itself.
type tlsConfig struct {
	// CertFile is the certificate chain (PEM, the server's certificate
	// first); with key_file. Both files are read again when they change,
	// so a renewal (certbot, cert-manager) takes effect without a
	// restart; new files that do not load are not used, and the previous
	// certificate is kept.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the private key (PEM) of cert_file's certificate.
	KeyFile string `yaml:"key_file"`
	// ACME gets and renews the certificate from an ACME CA, such as
	// Let's Encrypt, instead of cert_file and key_file. The CA checks
	// the domains with the TLS-ALPN-01 challenge on addr (which must be
	// reachable on port 443), or with HTTP-01 through redirect_addr
	// (port 80).
	ACME struct {
		// Domains are the host names the certificate is for (no
		// wildcards); a request for another name gets no certificate.
		Domains []string `yaml:"domains"`
		// Email is the contact address of the ACME account, for the
		// CA's notices (optional).
		Email string `yaml:"email"`
		// DirectoryURL is the ACME directory of the CA; the default is
		// Let's Encrypt's production one.
		DirectoryURL string `yaml:"directory_url"`
		// CacheDir keeps the account key and the certificates, so that
		// a restart does not ask the CA again; default DATA_DIR/acme,
		// created with mode 0700.
		CacheDir string `yaml:"cache_dir"`
		// CAFile is a PEM file of extra root certificates to trust for
		// the ACME directory's HTTPS (a private CA, or Pebble in tests),
		// besides the system's.
		CAFile string `yaml:"ca_file"`
	} `yaml:"acme"`
	// RedirectAddr is the HOST:PORT (such as :80) of a plain-HTTP
	// listener that redirects every request to HTTPS (308, keeping the
	// path and query) and, with acme, answers the HTTP-01 challenge. The
	// redirect goes to public_url's host, or else to the request's host
	// if the certificate is for it; other hosts get 400. Empty: none.
	RedirectAddr string `yaml:"redirect_addr"`
}

// enabled says whether serve answers HTTPS.
func (t *tlsConfig) enabled() bool { return t.CertFile != "" || t.KeyFile != "" || t.acme() }

// acme says whether any ACME setting is given (directory_url other than
// the default included).
func (t *tlsConfig) acme() bool {
	a := t.ACME
	return len(a.Domains) > 0 || a.Email != "" || a.CacheDir != "" || a.CAFile != "" ||
		a.DirectoryURL != autocert.DefaultACMEDirectory
}

// mailConfig is the mail section: how mail leaves gatehouse.
type mailConfig struct {
	// Driver is "log" (development: mail is written to the log) or "smtp".
	Driver string `yaml:"driver"`
	// From is the sender address of every mail.
	From string `yaml:"from"`
	// Templates is a directory whose files override the built-in
	// templates one by one (<kind>.subject.txt, <kind>.txt, <kind>.html).
	Templates string `yaml:"templates"`
	// SMTP is the server mail is sent through with driver smtp.
	SMTP struct {
		// Host is the SMTP server's host name.
		Host string `yaml:"host"`
		// Port is the SMTP server's port; 0 means 587 for starttls, 465
		// for implicit and 25 for none.
		Port int `yaml:"port"`
		// Username is the login at the SMTP server (none when empty).
		Username string `yaml:"username"`
		// Password is the password of username.
		Password string `yaml:"password"`
		// TLS is none, starttls or implicit.
		TLS string `yaml:"tls"`
		// CAFile holds root certificates (PEM) trusted for the server's
		// certificate besides the system's: a relay with a private CA.
		CAFile string `yaml:"ca_file"`
	} `yaml:"smtp"`
}

// smsConfig is the sms section: how SMS codes leave gatehouse.
type smsConfig struct {
	// Driver is "webhook"; "none" (no SMS codes: no second step by SMS
	// is offered); or "log" (development: the code is written to the log).
	Driver string `yaml:"driver"`
	// Webhook is the HTTP endpoint codes are posted to with driver
	// webhook.
	Webhook struct {
		// URL is where each SMS is posted.
		URL string `yaml:"url"`
		// Format is json (POST {"to","from","body","kind"}) or twilio
		// (Twilio's Messages API form).
		Format string `yaml:"format"`
		// From is the sender number or name.
		From string `yaml:"from"`
		// Username is the HTTP Basic auth user of the webhook (none when
		// empty; the Account SID with twilio).
		Username string `yaml:"username"`
		// Password is the HTTP Basic auth password of the webhook.
		Password string `yaml:"password"`
	} `yaml:"webhook"`
}

// The configuration reference, docs/configuration.md, is generated from
// the doc comments of these types and defaultConfig by a test
// (configref_gen_test.go), which fails when it is out of date.
//go:generate go test -run TestConfigReference -update

// defaultConfig returns the contract's defaults.
func defaultConfig() *config {
	c := &config{
		BasePath:    "/auth",
		Addr:        "127.0.0.1:8080",
		DataDir:     "./gatehouse-data",
		Database:    "sqlite://gatehouse.db",
		Sessions:    "database",
		RedisPrefix: "gatehouse",
	}
	d := session.DefaultConfig
	c.Session.IdleTimeout = d.IdleTimeout
	c.Session.AbsoluteTimeout = d.AbsoluteTimeout
	c.Session.RememberTimeout = d.RememberTimeout
	c.Session.RememberIdleTimeout = d.RememberIdleTimeout
	c.Session.SameSite = "lax"
	c.Session.CookieName = d.CookieName
	c.Session.ReauthenticateAfter = d.ReauthenticateAfter
	c.Login.MaxFailures = 5
	c.Login.FailureWindow = 15 * time.Minute
	c.Login.Lockout = 15 * time.Minute
	c.Login.MaxFailuresPerAddress = 50
	c.Password.MinLength = password.DefaultPolicy.MinLength
	c.Password.MaxLength = password.DefaultPolicy.MaxLength
	c.Password.MinStrength = password.DefaultPolicy.MinStrength
	c.Password.AllowPasswordReset = true
	c.SMS.Driver = "log"
	c.SMS.Webhook.Format = "json"
	c.TwoFactor.Issuer = "gatehouse"
	c.Mail.Driver = "log"
	c.Mail.From = "gatehouse@localhost"
	c.Mail.SMTP.TLS = "starttls"
	c.UpstreamTimeout = httpapi.DefaultProxyTimeout
	c.Log.Format = "text"
	c.Log.Level = "info"
	c.Log.Requests = true
	c.TLS.ACME.DirectoryURL = autocert.DefaultACMEDirectory
	return c
}

// configError is an invalid setting, located in the file (and line) or the
// environment variable it came from.
type configError struct {
	where string // "gatehouse.yaml:12" or "GATEHOUSE_ADDR"
	field string // "session.same_site"
	msg   string
	line  int // the line of where, to sort a file's errors
}

func (e *configError) Error() string {
	if e.field == "" {
		return fmt.Sprintf("%s: %s", e.where, e.msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.where, e.field, e.msg)
}

// configSource remembers where each setting came from, to name it in errors.
type configSource struct {
	file string
	root *yaml.Node
	env  map[string]string // field path → environment variable that set it
}

func (src *configSource) locate(field string) string {
	if v, ok := src.env[field]; ok {
		return v
	}
	if src.file == "" {
		return "configuration"
	}
	// A key that is missing (a required one left out) is located at the
	// nearest section that is there.
	for path := strings.Split(field, "."); len(path) > 0; path = path[:len(path)-1] {
		if key, _ := findEntry(src.root, path); key != nil {
			return fmt.Sprintf("%s:%d", src.file, key.Line)
		}
	}
	return src.file
}

// has reports whether field, or a key under it, is set in the file or the
// environment, even to an empty value (`acme: {}`).
func (src *configSource) has(field string) bool {
	for f := range src.env {
		if f == field || strings.HasPrefix(f, field+".") {
			return true
		}
	}
	key, _ := findEntry(src.root, strings.Split(field, "."))
	return key != nil
}

// locateItem names the file and line of item i of the list at field.
func (src *configSource) locateItem(field string, i int) string {
	if src.file == "" {
		return "configuration"
	}
	key, list := findEntry(src.root, strings.Split(field, "."))
	switch {
	case key == nil:
		return src.file
	case list.Kind == yaml.SequenceNode && i < len(list.Content):
		return fmt.Sprintf("%s:%d", src.file, list.Content[i].Line)
	}
	return fmt.Sprintf("%s:%d", src.file, key.Line)
}

// findEntry returns the key and the value node of the mapping entry at
// path (keys from the document root), or nils.
func findEntry(n *yaml.Node, path []string) (key, value *yaml.Node) {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n == nil || len(path) == 0 || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == path[0] {
			if len(path) == 1 {
				return n.Content[i], n.Content[i+1]
			}
			return findEntry(n.Content[i+1], path[1:])
		}
	}
	return nil, nil
}

// loadConfig reads the configuration: defaults, then the file (if any),
// then GATEHOUSE_* environment variables. Flags are applied by the caller
// afterwards, so flags beat environment beat file.
func loadConfig(file string, getenv func(string) string) (*config, *configSource, error) {
	c := defaultConfig()
	src := &configSource{file: file, env: map[string]string{}}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, err // "open FILE: …" names the file already
		}
		var root yaml.Node
		if err := yaml.Unmarshal(data, &root); err != nil {
			return nil, nil, syntaxError(file, data, err)
		}
		src.root = &root
		if err := decodeFile(file, &root, data, c); err != nil {
			return nil, nil, err
		}
	}
	if err := applyEnv(reflect.ValueOf(c).Elem(), "", getenv, src); err != nil {
		return nil, nil, err
	}
	return c, src, nil
}

// decodeFile decodes the file's data, parsed as root, into c. Every value
// that cannot become its setting, and every unknown key, is reported first,
// all of them, each with the file, line and dotted field: yaml.v3's own
// errors name Go types instead of fields, and it silently truncates 2.5
// into a whole-number setting.
func decodeFile(file string, root *yaml.Node, data []byte, c *config) error {
	fc := newFileChecker(file)
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		fc.check(root.Content[0], reflect.TypeOf(c).Elem(), "", root.Content[0].Line)
	}
	if len(fc.errs) > 0 {
		// In file order: a merge key brings in mappings written above it.
		slices.SortStableFunc(fc.errs, func(a, b *configError) int { return a.line - b.line })
		return fc.errs
	}
	if err := decodeStrict(data, c); err != nil {
		return fmt.Errorf("%s: %s", file, err)
	}
	return nil
}

// configErrors are every invalid setting of a file, reported together.
type configErrors []*configError

// Error is one error a line.
func (es configErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

func (es configErrors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// fileChecker walks a parsed configuration file alongside the Go type its
// values go to, by reflection, so that every key, present and future, is
// checked the same way.
type fileChecker struct {
	file string
	errs configErrors
	seen map[aliasUse]bool
	// keysOf caches keys.
	keysOf map[*yaml.Node]map[string]bool
	// visits counts the keys walked, for the tests.
	visits int
}

func newFileChecker(file string) *fileChecker {
	return &fileChecker{file: file, seen: map[aliasUse]bool{}, keysOf: map[*yaml.Node]map[string]bool{}}
}

// aliasUse is an anchored node checked as a type: each is checked once,
// which keeps aliases from multiplying the work (or looping).
type aliasUse struct {
	n *yaml.Node
	t reflect.Type
}

var (
	durationType    = reflect.TypeOf(time.Duration(0))
	yamlNodeType    = reflect.TypeOf(yaml.Node{})
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	textType        = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

func (fc *fileChecker) fail(line int, field, format string, args ...any) {
	fc.errs = append(fc.errs, &configError{where: fmt.Sprintf("%s:%d", fc.file, line), field: field, msg: fmt.Sprintf(format, args...), line: line})
}

// check checks the value n of the setting at path (whose key is on line)
// against the type t it decodes into.
func (fc *fileChecker) check(n *yaml.Node, t reflect.Type, path string, line int) {
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return
		}
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Anchor != "" {
		use := aliasUse{n, t}
		if fc.seen[use] {
			return
		}
		fc.seen[use] = true
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		return // keeps the default, as in the decoder
	case t == yamlNodeType, t.Kind() == reflect.Interface,
		reflect.PointerTo(t).Implements(unmarshalerType),
		n.Kind == yaml.ScalarNode && reflect.PointerTo(t).Implements(textType):
		return // decoded by its own rules
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			fc.fail(line, path, "must be a mapping of settings, not %s", shown(n))
			return
		}
		fields := yamlFields(t)
		fc.entries(n, path, nil, func(key, value *yaml.Node, p string) {
			index, ok := fields[key.Value]
			if !ok {
				if s, ok := nearest(key.Value, slices.Sorted(maps.Keys(fields))); ok {
					fc.fail(key.Line, "", "unknown key %s; did you mean %s?", p, strings.TrimSuffix(p, key.Value)+s)
					return
				}
				fc.fail(key.Line, "", "unknown key %s", p)
				return
			}
			fc.check(value, t.FieldByIndex(index).Type, p, key.Line)
		})
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			fc.fail(line, path, "must be a mapping, not %s", shown(n))
			return
		}
		fc.entries(n, path, nil, func(key, value *yaml.Node, p string) {
			fc.check(key, t.Key(), p, key.Line)
			fc.check(value, t.Elem(), p, key.Line)
		})
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			fc.fail(line, path, "must be a list, not %s", shown(n))
			return
		}
		if t.Kind() == reflect.Array && len(n.Content) != t.Len() {
			fc.fail(line, path, "must be a list of %d", t.Len())
			return
		}
		for i, item := range n.Content {
			fc.check(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), item.Line)
		}
	default:
		want := wantScalar(t)
		if n.Kind != yaml.ScalarNode || !scalarFits(n, t) {
			fc.fail(line, path, "must be %s, not %s", want, shown(n))
		}
	}
}

// entries calls f for each key and value of the mapping n at path that is
// a setting, with the key's path, following merge keys ("<<: *defaults")
// and refusing a key set twice. As in yaml.v3's decoder, a key of a mapping
// wins over the same key its merge key brings in, and an earlier mapping of
// a merged list over a later one: the value that loses is no setting and is
// not checked. lost holds the keys that a mapping merging n in sets itself.
func (fc *fileChecker) entries(n *yaml.Node, path string, lost map[string]bool, f func(key, value *yaml.Node, path string)) {
	var won map[string]bool // lost and n's own keys, for what n merges in
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		if isMergeKey(key) {
			if won == nil {
				won = maps.Clone(lost)
				if won == nil {
					won = map[string]bool{}
				}
				maps.Copy(won, fc.ownKeys(n))
			}
			fc.merge(value, path, won, f)
			continue
		}
		for key.Kind == yaml.AliasNode && key.Alias != nil {
			key = key.Alias
		}
		if key.Kind != yaml.ScalarNode {
			fc.fail(key.Line, path, "a key must be a name, not %s", shown(key))
			continue
		}
		p := key.Value
		if path != "" {
			p = path + "." + key.Value
		}
		if l, dup := first[key.Value]; dup {
			fc.fail(key.Line, p, "is set twice (also on line %d)", l)
			continue
		}
		first[key.Value] = key.Line
		fc.visits++
		if lost[key.Value] {
			continue
		}
		f(key, value, p)
	}
}

// merge checks the mappings a merge key brings into the mapping at path,
// but for the keys in won (set by the mapping itself, or by an earlier
// mapping of the list, which it adds to won). A mapping that brings in
// nothing new is not walked again, so that merged aliases cannot multiply
// the work, as the anchors of check cannot.
func (fc *fileChecker) merge(n *yaml.Node, path string, won map[string]bool, f func(key, value *yaml.Node, path string)) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	var ms []*yaml.Node
	switch n.Kind {
	case yaml.MappingNode:
		ms = []*yaml.Node{n}
	case yaml.SequenceNode:
		for _, m := range n.Content {
			for m.Kind == yaml.AliasNode && m.Alias != nil {
				m = m.Alias
			}
			if m.Kind != yaml.MappingNode {
				fc.fail(m.Line, path, "<< must bring in mappings, not %s", shown(m))
				continue
			}
			ms = append(ms, m)
		}
	default:
		fc.fail(n.Line, path, "<< must bring in a mapping, not %s", shown(n))
	}
	for _, m := range ms {
		keys := fc.keys(m)
		if len(keys) > 0 && allIn(keys, won) {
			continue
		}
		fc.entries(m, path, won, f)
		maps.Copy(won, keys)
	}
}

// isMergeKey reports whether key is the merge key "<<", as yaml.v3 tells.
func isMergeKey(key *yaml.Node) bool {
	return key.Kind == yaml.ScalarNode && key.Value == "<<" && (key.Tag == "" || key.Tag == "!" || key.ShortTag() == "!!merge")
}

// ownKeys are the names the mapping n sets itself, without merge keys.
func (fc *fileChecker) ownKeys(n *yaml.Node) map[string]bool {
	own := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		if isMergeKey(key) {
			continue
		}
		for key.Kind == yaml.AliasNode && key.Alias != nil {
			key = key.Alias
		}
		if key.Kind == yaml.ScalarNode {
			own[key.Value] = true
		}
	}
	return own
}

// keys are the names the mapping n brings in when merged: its own and
// those of what it merges in itself; computed once per mapping.
func (fc *fileChecker) keys(n *yaml.Node) map[string]bool {
	if k, ok := fc.keysOf[n]; ok {
		return k
	}
	k := fc.ownKeys(n)
	fc.keysOf[n] = k // before recursing: an alias loop ends here
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !isMergeKey(n.Content[i]) {
			continue
		}
		v := n.Content[i+1]
		for v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		ms := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			ms = v.Content
		}
		for _, m := range ms {
			for m.Kind == yaml.AliasNode && m.Alias != nil {
				m = m.Alias
			}
			if m.Kind == yaml.MappingNode {
				maps.Copy(k, fc.keys(m))
			}
		}
	}
	return k
}

// allIn reports whether every key of keys is in set.
func allIn(keys, set map[string]bool) bool {
	for k := range keys {
		if !set[k] {
			return false
		}
	}
	return true
}

// scalarFits reports whether the scalar n decodes into a value of type t
// the way its spelling says: no word for a number, no fraction for a whole
// number, durations spelt as in the environment.
func scalarFits(n *yaml.Node, t reflect.Type) bool {
	tag := n.ShortTag()
	switch {
	case t == durationType:
		// yaml.v3 parses the same text with time.ParseDuration.
		_, err := parseDuration(n.Value)
		return tag == "!!str" && err == nil
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uintptr:
		if tag != "!!int" {
			return false // !!float too: 2.5 would be cut to 2
		}
	}
	return n.Decode(reflect.New(t).Interface()) == nil
}

// wantScalar says what a scalar setting of type t must be.
func wantScalar(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 10m or 1h30m"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "a whole number"
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uintptr:
		return "a whole number, 0 or more"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	}
	return "a single value"
}

// shown names the value n for an error message.
func shown(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return strconv.Quote(n.Value)
}

// yamlFields maps the YAML keys of struct type t to its fields, the way
// yaml.v3 names them: the yaml tag's name, or the field name in lower case;
// "-" and unexported fields are not settings, ",inline" structs add theirs.
func yamlFields(t reflect.Type) map[string][]int {
	fields := map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag := strings.Split(f.Tag.Get("yaml"), ",")
		if tag[0] == "-" {
			continue
		}
		if slices.Contains(tag[1:], "inline") && f.Type.Kind() == reflect.Struct {
			for k, index := range yamlFields(f.Type) {
				fields[k] = append([]int{i}, index...)
			}
			continue
		}
		key := tag[0]
		if key == "" {
			key = strings.ToLower(f.Name)
		}
		fields[key] = []int{i}
	}
	return fields
}

// decodeStrict decodes data into c, refusing unknown keys; yaml.v3 names
// the line of each problem. An empty file is no error.
func decodeStrict(data []byte, c *config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && err != io.EOF {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msgs := make([]string, len(te.Errors))
			for i, m := range te.Errors {
				// "line 3: field foo not found in type struct { … }" would
				// show the reader a Go type; name the key instead.
				msgs[i] = unknownFieldRe.ReplaceAllString(m, "unknown key $1")
			}
			return errors.New(strings.Join(msgs, "; "))
		}
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}

// syntaxError reports the YAML syntax error err of the file's data as
// FILE:LINE: reason. yaml.v3 names the line where the construct it was
// reading began (and, for a parser error, counts it from 0), not the line
// of the problem; that is the first line at which the file, cut there,
// fails with the same problem.
func syntaxError(file string, data []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		msg = m[2]
	}
	lines := strings.SplitAfter(string(data), "\n")
	line, end := 0, 0
	var root yaml.Node
	for i, l := range lines {
		if i == maxSyntaxScan {
			// Each try parses the file so far: past this many lines
			// that would take long, so yaml's own line is given.
			line = 0
			if m := yamlLineRe.FindStringSubmatch(strings.TrimPrefix(err.Error(), "yaml: ")); m != nil {
				line, _ = strconv.Atoi(m[1])
			}
			break
		}
		end += len(l)
		err := yaml.Unmarshal(data[:end], &root)
		if err != nil && strings.HasSuffix(err.Error(), msg) {
			line = i + 1
			break
		}
	}
	text := ""
	if line > 0 {
		text = lines[line-1]
	}
	where := file
	if line > 0 {
		where = fmt.Sprintf("%s:%d", file, line)
	}
	return &configError{where: where, msg: syntaxReason(msg, text), line: line}
}

// maxSyntaxScan is how many lines syntaxError tries, one parse each, to
// find the line of a syntax error (yaml.v3 often names a neighbour).
const maxSyntaxScan = 2000

// yamlLineRe matches the line yaml.v3 puts in front of a syntax error.
var yamlLineRe = regexp.MustCompile(`^line (\d+): (.*)$`)

// syntaxReason puts yaml.v3's syntax error msg, found on the line text,
// in words.
func syntaxReason(msg, text string) string {
	indent := text[:len(text)-len(strings.TrimLeft(text, " \t"))]
	switch {
	case strings.Contains(msg, "tab character"),
		strings.Contains(msg, "cannot start any token") && strings.Contains(indent, "\t"):
		return "a tab in the indentation; YAML indents with spaces only"
	case strings.Contains(msg, "unexpected end of stream") && strings.ContainsAny(text, `"'`):
		return "a quoted value is not closed"
	case msg == "did not find expected key":
		return "not a key of the mapping above: check the indentation"
	case msg == "mapping values are not allowed in this context":
		return `unexpected ":": quote a value that contains ": ", or check the indentation`
	case msg == "did not find expected ',' or ']'":
		return "a [ list is not closed with ]"
	case msg == "did not find expected ',' or '}'":
		return "a { mapping is not closed with }"
	case msg == "did not find expected node content":
		return "a value is missing, or a [ or { is not closed"
	}
	return msg
}

// unknownFieldRe matches yaml.v3's message for a key KnownFields refuses.
var unknownFieldRe = regexp.MustCompile(`field (\S+) not found in type .*$`)

// applyEnv overrides scalar settings from GATEHOUSE_<PATH> variables, the
// path being the YAML keys joined by "_" in upper case (for example
// GATEHOUSE_SESSION_IDLE_TIMEOUT). Lists are comma-separated.
func applyEnv(v reflect.Value, prefix string, getenv func(string) string, src *configSource) error {
	return envSettings(v, prefix, func(name, path string, fv reflect.Value) error {
		raw := getenv(name)
		if raw == "" {
			return nil
		}
		if err := setScalar(fv, raw); err != nil {
			return &configError{where: name, msg: err.Error()}
		}
		src.env[path] = name
		return nil
	})
}

// envSettings calls f with the environment variable name, the dotted path
// and the field of every setting of the struct v that a variable may set,
// stopping at the first error.
func envSettings(v reflect.Value, prefix string, f func(name, path string, fv reflect.Value) error) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		key := strings.Split(sf.Tag.Get("yaml"), ",")[0]
		if key == "" || key == "-" {
			continue
		}
		path := key
		if prefix != "" {
			path = prefix + "." + key
		}
		fv := v.Field(i)
		if sf.Type == reflect.TypeOf(yaml.Node{}) {
			continue
		}
		if fv.Kind() == reflect.Struct {
			if err := envSettings(fv, path, f); err != nil {
				return err
			}
			continue
		}
		if err := f("GATEHOUSE_"+strings.ToUpper(strings.ReplaceAll(path, ".", "_")), path, fv); err != nil {
			return err
		}
	}
	return nil
}

// otherEnv are the GATEHOUSE_ variables that are not settings but are read
// elsewhere: not reported as unknown.
var otherEnv = []string{
	"GATEHOUSE_CONFIG",        // the configuration file (loadSettings)
	"GATEHOUSE_TEST_POSTGRES", // test database (.ci/run)
	"GATEHOUSE_TEST_REDIS",    // test Redis (.ci/run)
	"GATEHOUSE_TEST_AXE",      // axe-core for the browser tests (.ci/run)
	"GATEHOUSE_SCREENSHOTS",   // where the browser tests save screenshots
}

// unknownEnv reports each GATEHOUSE_ variable of environ (NAME=VALUE
// entries) that is neither a setting nor in otherEnv, by name, suggesting
// the nearest setting's variable.
func unknownEnv(environ []string) configErrors {
	known := slices.Clone(otherEnv)
	envSettings(reflect.ValueOf(defaultConfig()).Elem(), "", func(name, _ string, _ reflect.Value) error {
		known = append(known, name)
		return nil
	})
	slices.Sort(known)
	var names []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "GATEHOUSE_") && !slices.Contains(known, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var errs configErrors
	for _, name := range slices.Compact(names) {
		msg := "unknown variable"
		if s, ok := nearest(name, known); ok {
			msg += "; did you mean " + s + "?"
		}
		errs = append(errs, &configError{where: name, msg: msg})
	}
	return errs
}

// envSettable says whether an environment variable can set a setting of
// type t: a duration, string, whole number, boolean or list of strings
// (comma-separated). The others (lists of entries, maps) are file only.
func envSettable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Int, reflect.Bool:
		return true
	case reflect.Int64:
		return t == durationType
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

// setScalar sets v, a setting of a type envSettable accepts, from the
// environment variable's value raw.
func setScalar(v reflect.Value, raw string) error {
	if !envSettable(v.Type()) {
		return fmt.Errorf("cannot be set from the environment")
	}
	switch {
	case v.Type() == durationType:
		d, err := parseDuration(raw)
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 20m or 12h", raw)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(raw)
	case v.Kind() == reflect.Int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", raw)
		}
		v.SetInt(int64(n))
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%q is not true or false", raw)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		var items []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		v.Set(reflect.ValueOf(items))
	}
	return nil
}

// parseDuration reads a duration setting, from the file or the environment.
func parseDuration(raw string) (time.Duration, error) { return time.ParseDuration(raw) }

// settings are the validated, typed settings the server is built from.
type settings struct {
	cfg             *config
	basePath        string
	dbPath          string // the SQLite file; "" with PostgreSQL
	postgresURL     string // "" with SQLite
	redisURL        string // "": sessions in the database
	trustedProxies  []netip.Prefix
	metricsNetworks []netip.Prefix
	session         session.Config
	policy          password.Policy
	routes          *policy.Table
	upstream        *url.URL // nil: no reverse proxy
	cors            httpapi.CORS
	redirectDomains []string
	smtp            *mail.SMTPConfig // nil for the log driver
	smsWebhook      *sms.WebhookConfig
	noSMS           bool // sms.driver none
	keyFile         string
	templates       *mail.Templates // nil for the built-in ones
	external        []server.ExternalProvider
	tls             *tlsSettings // nil: plain HTTP
	src             *configSource
	warnings        []string
	// logDrivers are the warnings about mail and SMS written to the log:
	// `config check` prints them; server.Open logs them itself at start.
	logDrivers []string
}

// validate checks every setting and converts it; the first problem is
// returned located in the file or environment.
func (c *config) validate(src *configSource) (*settings, error) {
	fail := func(field, format string, args ...any) error {
		return &configError{where: src.locate(field), field: field, msg: fmt.Sprintf(format, args...)}
	}
	s := &settings{cfg: c, src: src}
	var err error
	if s.basePath, err = httpapi.CleanBasePath(c.BasePath); err != nil {
		return nil, fail("base_path", "must be an absolute path such as /auth")
	}
	if c.PublicURL != "" {
		if !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
			return nil, fail("public_url", "must start with https:// (or http://)")
		}
	}
	if c.Addr == "" {
		return nil, fail("addr", "must be HOST:PORT")
	}
	if _, _, err := splitHostPort(c.Addr); err != nil {
		return nil, fail("addr", "must be HOST:PORT: %v", err)
	}
	if c.DataDir == "" {
		return nil, fail("data_dir", "must not be empty")
	}
	switch {
	case strings.HasPrefix(c.Database, "sqlite://"):
		p := strings.TrimPrefix(c.Database, "sqlite://")
		if p == "" {
			return nil, fail("database", "sqlite:// needs a file name, such as sqlite://gatehouse.db")
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(c.DataDir, p)
		}
		s.dbPath = p
	case strings.HasPrefix(c.Database, "postgres://"), strings.HasPrefix(c.Database, "postgresql://"):
		if err := checkServiceURL(c.Database, "postgres", "postgresql"); err != nil {
			return nil, fail("database", "%v", err)
		}
		s.postgresURL = c.Database
	default:
		return nil, fail("database", "must be sqlite://FILE or postgres://USER@HOST:PORT/DATABASE")
	}
	if err := c.validateTLS(s, fail); err != nil {
		return nil, err
	}
	if c.WebAuthn.Passwordless {
		return nil, fail("webauthn.passwordless", "passkeys are not supported by this version yet; leave it false")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return nil, fail("log.format", "must be text or json, not %q", c.Log.Format)
	}
	if _, err := parseLogLevel(c.Log.Level); err != nil {
		return nil, fail("log.level", "%v", err)
	}
	switch {
	case c.Sessions == "database":
	case strings.HasPrefix(c.Sessions, "redis"):
		// The server's own parser, which knows every form (sentinels,
		// clusters, TLS, options) and never repeats the password.
		client, err := redis.ParseURL(c.Sessions)
		if err != nil {
			return nil, fail("sessions", "%v", strings.TrimPrefix(err.Error(), "redis: "))
		}
		client.Close() // not connected yet: nothing to wait for
		s.redisURL = c.Sessions
		if c.RedisPrefix == "" || strings.ContainsAny(c.RedisPrefix, " \t\r\n") {
			return nil, fail("redis_prefix", "must be a word without spaces, such as gatehouse")
		}
	default:
		return nil, fail("sessions", "must be database, or a Redis URL: redis://HOST:PORT/DB, rediss:// (TLS), redis-sentinel://HOST:PORT/DB?master=NAME or redis-cluster://HOST:PORT,HOST:PORT")
	}
	for i, p := range c.TrustedProxies {
		pr, err := policy.ParseNetwork(p)
		if err != nil {
			return nil, fail("trusted_proxies", "entry %d: %q is not an address or CIDR range", i+1, p)
		}
		s.trustedProxies = append(s.trustedProxies, pr)
	}
	for i, n := range c.Metrics.Networks {
		pr, err := policy.ParseNetwork(n)
		if err != nil {
			return nil, fail("metrics.networks", "entry %d: %q is not an address or CIDR range", i+1, n)
		}
		s.metricsNetworks = append(s.metricsNetworks, pr)
	}
	for i, o := range c.TrustedOrigins {
		if !validOrigin(o) {
			return nil, fail("trusted_origins", "entry %d: %q is not an origin such as https://app.example.com", i+1, o)
		}
	}
	if s.cors, err = c.validateCORS(fail); err != nil {
		return nil, err
	}
	ss := c.Session
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"session.idle_timeout", ss.IdleTimeout}, {"session.absolute_timeout", ss.AbsoluteTimeout},
		{"session.remember_timeout", ss.RememberTimeout}, {"session.remember_idle_timeout", ss.RememberIdleTimeout},
		{"session.reauthenticate_after", ss.ReauthenticateAfter},
		{"login.failure_window", c.Login.FailureWindow}, {"login.lockout", c.Login.Lockout},
		{"upstream_timeout", c.UpstreamTimeout},
	} {
		if d.v <= 0 {
			return nil, fail(d.name, "must be a positive duration such as 20m")
		}
	}
	if ss.IdleTimeout > ss.AbsoluteTimeout {
		return nil, fail("session.idle_timeout", "must not be longer than session.absolute_timeout")
	}
	s.session = session.Config{
		IdleTimeout: ss.IdleTimeout, AbsoluteTimeout: ss.AbsoluteTimeout,
		RememberTimeout: ss.RememberTimeout, RememberIdleTimeout: ss.RememberIdleTimeout,
		CookieName: ss.CookieName, ReauthenticateAfter: ss.ReauthenticateAfter,
	}
	switch strings.ToLower(ss.SameSite) {
	case "lax":
		s.session.SameSite = http.SameSiteLaxMode
	case "strict":
		s.session.SameSite = http.SameSiteStrictMode
	default:
		return nil, fail("session.same_site", "must be lax or strict, not %q", ss.SameSite)
	}
	if !validCookieName(ss.CookieName) {
		return nil, fail("session.cookie_name", "must be letters, digits, '-' or '_'")
	}
	if ss.CookieDomain != "" {
		d := strings.ToLower(strings.TrimPrefix(ss.CookieDomain, "."))
		if err := session.CheckCookieDomain(d); err != nil {
			return nil, fail("session.cookie_domain", "%v", strings.TrimPrefix(err.Error(), "cookie_domain "))
		}
		if c.PublicURL != "" {
			// gatehouse's own pages set the cookie: a browser takes a
			// cookie only for a domain the page's host is in.
			pu, err := url.Parse(c.PublicURL)
			if err != nil || !session.UnderDomain(strings.ToLower(strings.TrimSuffix(pu.Hostname(), ".")), d) {
				return nil, fail("session.cookie_domain", "%q does not cover the host of public_url %q: it must be that host or a domain above it", ss.CookieDomain, c.PublicURL)
			}
		}
		s.session.CookieDomain = d
	}
	if c.Login.MaxFailures < 1 || c.Login.MaxFailures > 100 {
		return nil, fail("login.max_failures", "must be between 1 and 100 (NIST SP 800-63B allows at most 100)")
	}
	if c.Login.MaxFailuresPerAddress < 1 {
		return nil, fail("login.max_failures_per_address", "must be at least 1")
	}
	s.policy = password.Policy{MinLength: c.Password.MinLength, MaxLength: c.Password.MaxLength, MinStrength: c.Password.MinStrength}
	if c.Password.MinStrength < 0 || c.Password.MinStrength > 4 {
		return nil, fail("password.min_strength", "must be from 0 (off) to 4")
	}
	if u := c.Password.BreachCheckURL; u != "" {
		// Judged on its own, so that a bad URL is blamed on its key
		// rather than on the lengths.
		breach := &password.BreachChecker{URL: strings.TrimRight(u, "/")}
		if breach.Validate() != nil {
			return nil, fail("password.breach_check_url", "must be an absolute http(s) URL without query, such as https://api.pwnedpasswords.com/range")
		}
		s.policy.Breach = breach
	}
	if err := s.policy.Validate(); err != nil {
		field := "password.min_length"
		if c.Password.MaxLength < 64 {
			field = "password.max_length"
		}
		return nil, fail(field, "%v", err)
	}
	switch c.Mail.Driver {
	case "log":
		s.logDrivers = append(s.logDrivers, "mail.driver is log: mail, with its one-time links and codes, is written to the log; for development only")
	case "smtp":
		sc := mail.SMTPConfig{Host: c.Mail.SMTP.Host, Port: c.Mail.SMTP.Port, Username: c.Mail.SMTP.Username,
			Password: c.Mail.SMTP.Password, TLS: c.Mail.SMTP.TLS, From: c.Mail.From}
		if err := sc.Validate(); err != nil {
			// The error names its key (mail.smtp.host): not "mail: mail: …".
			return nil, fail("mail", "%s", strings.TrimPrefix(err.Error(), "mail: "))
		}
		if c.Mail.SMTP.CAFile != "" {
			roots, err := s.rootsWith("mail.smtp.ca_file", c.Mail.SMTP.CAFile)
			if err != nil {
				return nil, err
			}
			sc.RootCAs = roots
		}
		s.smtp = &sc
	default:
		return nil, fail("mail.driver", "must be log or smtp, not %q", c.Mail.Driver)
	}
	if c.SMS.Driver != "webhook" && c.SMS.Webhook.URL != "" {
		s.warnings = append(s.warnings, fmt.Sprintf("sms.webhook.url is set but sms.driver is %s: the webhook is not used (sms.driver webhook would use it)", c.SMS.Driver))
	}
	switch c.SMS.Driver {
	case "none":
		s.noSMS = true
	case "log":
		s.logDrivers = append(s.logDrivers, "sms.driver is log: SMS codes are written to the log; for development only")
	case "webhook":
		wc := sms.WebhookConfig{URL: c.SMS.Webhook.URL, Format: c.SMS.Webhook.Format, From: c.SMS.Webhook.From,
			Username: c.SMS.Webhook.Username, Password: c.SMS.Webhook.Password}
		if err := wc.Validate(); err != nil {
			return nil, fail("sms.webhook", "%s", strings.TrimPrefix(err.Error(), "sms: "))
		}
		s.smsWebhook = &wc
	default:
		return nil, fail("sms.driver", "must be none, log or webhook, not %q", c.SMS.Driver)
	}
	s.keyFile = c.TwoFactor.KeyFile
	if s.keyFile == "" {
		s.keyFile = filepath.Join(c.DataDir, "secrets.key")
	}
	if c.Mail.Templates != "" {
		if s.templates, err = mail.LoadTemplates(c.Mail.Templates); err != nil {
			return nil, fail("mail.templates", "%v", err)
		}
	}
	for i, m := range c.Gateway.ExtraMethods {
		if err := httpapi.CheckExtraMethod(m); err != nil {
			return nil, fail("gateway.extra_methods", "entry %d: %q must be an upper-case method name such as PROPFIND, and not a standard method (those are always let through)", i+1, m)
		}
	}
	if c.Routes != nil {
		// Rules may name the extra methods too.
		t, err := policy.CompileMethods(c.Routes, c.Gateway.ExtraMethods)
		if err != nil {
			var re *policy.RuleError
			if errors.As(err, &re) {
				return nil, &configError{where: src.locateItem("routes", re.Index), field: fmt.Sprintf("routes[%d]", re.Index), msg: fmt.Sprintf("(%s) %s", re.Path, re.Msg)}
			}
			return nil, fail("routes", "%v", err)
		}
		s.routes = t
		for i, r := range c.Routes {
			if r.CORS && !s.cors.Enabled() {
				return nil, &configError{where: src.locateItem("routes", i), field: fmt.Sprintf("routes[%d]", i), msg: "cors: true needs cors.allowed_origins (the origins whose scripts may call it)"}
			}
		}
	}
	for name, perms := range c.Groups {
		if !account.ValidGroupName(name) {
			return nil, fail("groups", "group name %q must be lower-case letters, digits, '-', '_' or '.'", name)
		}
		for _, p := range perms {
			if !gatehouse.ValidPermission(p) {
				return nil, fail("groups", "group %s: permission %q is not valid", name, p)
			}
		}
	}
	if c.Upstream != "" {
		if s.upstream, err = httpapi.ParseUpstream(c.Upstream); err != nil {
			return nil, fail("upstream", "must be an http:// or https:// URL such as http://127.0.0.1:3000, without credentials, query or fragment")
		}
		if c.Routes == nil {
			s.warnings = append(s.warnings, "upstream is set without routes: every proxied request needs a logged-in user")
		}
	}
	for i, d := range c.RedirectDomains {
		cd, err := httpapi.CleanRedirectDomain(d)
		if err != nil {
			return nil, fail("redirect_domains", "entry %d: %q is not a domain such as example.com (no scheme, port, path or wildcard; subdomains are included)", i+1, d)
		}
		s.redirectDomains = append(s.redirectDomains, cd)
	}
	for i, h := range c.Gateway.StripHeaders {
		if err := httpapi.CheckStripHeader(h); err != nil {
			return nil, fail("gateway.strip_headers", "entry %d: %v", i+1, err)
		}
	}
	external, warnings, err := c.validateOIDC(src)
	if err != nil {
		return nil, err
	}
	s.external = external
	s.warnings = append(s.warnings, warnings...)
	return s, nil
}

// validateCORS checks the cors section: each origin and header name on
// its own, then the settings together (credentials only with listed
// origins).
func (c *config) validateCORS(fail func(field, format string, args ...any) error) (httpapi.CORS, error) {
	cc := httpapi.CORS{
		AllowedOrigins: c.CORS.AllowedOrigins, AllowedHeaders: c.CORS.AllowedHeaders, ExposedHeaders: c.CORS.ExposedHeaders,
		AllowCredentials: c.CORS.AllowCredentials, MaxAge: c.CORS.MaxAge,
	}
	for i, o := range cc.AllowedOrigins {
		if _, err := httpapi.CleanCORSOrigin(o); err != nil {
			return cc, fail("cors.allowed_origins", "entry %d: %v", i+1, err)
		}
	}
	for _, list := range []struct {
		field string
		names []string
	}{{"cors.allowed_headers", cc.AllowedHeaders}, {"cors.exposed_headers", cc.ExposedHeaders}} {
		for i, h := range list.names {
			if err := httpapi.CheckCORSHeader(h); err != nil {
				return cc, fail(list.field, "entry %d: %v", i+1, err)
			}
		}
	}
	if cc.MaxAge < 0 {
		return cc, fail("cors.max_age", "must not be negative")
	}
	if _, err := httpapi.CheckCORS(cc); err != nil {
		switch {
		case errors.Is(err, httpapi.ErrCORSWildcardCredentials):
			return cc, fail("cors.allow_credentials", "%v", err)
		case strings.HasPrefix(err.Error(), "exposed_headers"):
			return cc, fail("cors.exposed_headers", "%s", strings.TrimPrefix(err.Error(), "exposed_headers: "))
		case strings.HasPrefix(err.Error(), "allowed_origins"):
			return cc, fail("cors.allowed_origins", "%s", strings.TrimPrefix(err.Error(), "allowed_origins: "))
		}
		return cc, fail("cors", "%v", err)
	}
	if !cc.Enabled() && (cc.AllowCredentials || len(cc.AllowedHeaders) > 0 || len(cc.ExposedHeaders) > 0 || cc.MaxAge > 0) {
		return cc, fail("cors", "allowed_origins is empty, so the other cors settings have no effect; list the origins whose scripts may call gatehouse")
	}
	return cc, nil
}

func splitHostPort(addr string) (string, int, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", 0, errors.New("missing port")
	}
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil || port < 0 || port > 65535 {
		return "", 0, errors.New("bad port")
	}
	return addr[:i], port, nil
}

func validOrigin(o string) bool {
	scheme, rest, ok := strings.Cut(o, "://")
	return ok && (scheme == "https" || scheme == "http") && rest != "" && !strings.ContainsAny(rest, "/?#@ ")
}

func validCookieName(s string) bool {
	return s != "" && !slices.ContainsFunc([]byte(s), func(c byte) bool {
		return !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_')
	})
}

// checkServiceURL checks that raw is a URL with one of schemes and a host,
// without ever repeating raw, which may hold a password: the error names
// only what is wrong. The server checks the rest when it connects.
func checkServiceURL(raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// Not url.Parse's own words: with a "/" in the password it reads
		// the password as the port, and quotes it.
		return errors.New("is not a valid URL (percent-encode / ? # @ : in the user name and password)")
	}
	if !slices.Contains(schemes, u.Scheme) {
		return fmt.Errorf("must start with %s://", strings.Join(schemes, ":// or "))
	}
	if u.Host == "" {
		return fmt.Errorf("needs a host, as in %s://HOST:PORT", u.Scheme)
	}
	return nil
}

// databaseName names the database for the log and messages, without a
// password: the SQLite file, or the PostgreSQL server and database.
func (s *settings) databaseName() string {
	if s.postgresURL == "" {
		return s.dbPath
	}
	u, err := url.Parse(s.postgresURL)
	if err != nil {
		return "PostgreSQL"
	}
	return fmt.Sprintf("PostgreSQL database %q on %s", strings.TrimPrefix(u.Path, "/"), u.Host)
}
