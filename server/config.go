package server

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/mail"
	"github.com/gatehouse/gatehouse/oidclogin"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sms"
)

// DefaultDataDir is Config.DataDir when it is empty, as for gatehouse serve.
const DefaultDataDir = "./gatehouse-data"

// SweepInterval is how often the background sweeper deletes expired
// sessions, tokens and throttles.
const SweepInterval = time.Minute

// Config holds what a program sets to run gatehouse. The zero value of
// every field means the default of `gatehouse serve`.
type Config struct {
	// DataDir holds the SQLite database and the two-factor key file; it
	// is created (mode 0700) when missing. Default DefaultDataDir.
	DataDir string
	// DatabaseFile is the SQLite database file; a relative name is in
	// DataDir. Default gatehouse.db. Unused with PostgresURL.
	DatabaseFile string
	// PostgresURL, when set, keeps gatehouse's records in that PostgreSQL
	// database (a postgres:// URL or key=value string, as pgx takes it)
	// instead of the SQLite file: what several gatehouse processes
	// share. Open migrates it.
	PostgresURL string
	// RedisURL, when set, keeps the short-lived state (sessions, login
	// throttles, pending logins) in Redis instead of the database:
	// redis://, rediss:// (TLS) or redis-sentinel:// (see
	// gatehouse/redis.ParseURL).
	RedisURL string
	// RedisPrefix starts every key gatehouse writes to Redis, so that
	// several deployments can share one server. Default "gatehouse".
	RedisPrefix string
	// KeyFile holds the key that encrypts second-factor secrets at rest
	// and signs known-device cookies (created on first start). Default
	// DataDir/secrets.key.
	KeyFile string

	// BasePath prefixes everything gatehouse serves itself (default
	// /auth); "/" is refused, since gatehouse's paths would collide with
	// the program's.
	BasePath string
	// PublicURL is the external URL of the program (such as
	// https://admin.example.com); links (the setup link, mailed links)
	// are built from it, never from a request's Host header.
	PublicURL string
	// ListenAddr is the address the program listens on (HOST:PORT). Without
	// PublicURL, links point to http://ListenAddr (localhost for an
	// unspecified host); without either, they are paths only.
	ListenAddr string
	// ListenTLS says the program answers HTTPS on ListenAddr: links
	// without PublicURL are https://ListenAddr (without port 443).
	ListenTLS bool
	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed.
	TrustedProxies []netip.Prefix
	// TrustedOrigins may send cross-origin unsafe requests.
	TrustedOrigins []string
	// CSRFEveryRequest extends the CSRF token check to safe methods
	// authenticated by the session cookie (see httpapi.Config).
	CSRFEveryRequest bool
	// CORS lets scripts on other origins call gatehouse (see
	// httpapi.CORS); its origins are trusted origins too.
	CORS httpapi.CORS
	// BasicAuth configures HTTP Basic authentication (off by default).
	BasicAuth httpapi.BasicAuth
	// Routes is the route table Protect applies to the program's
	// handlers (and, in gateway mode, to the upstream). Nil: Protect
	// requires a logged-in user.
	Routes *policy.Table
	// Gateway puts gatehouse in front of another application (forward
	// auth, and the reverse proxy with an upstream). Off by default.
	Gateway Gateway
	// MetricsNetworks are the client networks BASE/metrics is served to;
	// nil means loopback only.
	MetricsNetworks []netip.Prefix
	// LogRequests writes one line at info level for every request
	// answered (httpapi.Config.LogRequests).
	LogRequests bool

	// Session holds the session timeouts and cookie; zero fields take
	// session.DefaultConfig's.
	Session session.Config
	// GuestSessions lets POST BASE/session with an empty body start a
	// session without a user (duplistatus). Off by default.
	GuestSessions bool
	// Login limits failed logins; zero fields take the defaults.
	Login LoginLimits
	// Password is the password policy. The zero Policy means
	// password.DefaultPolicy; any other is used as given (MinStrength 0
	// then turns the strength rule off).
	Password password.Policy
	// DisablePasswordReset turns off the self-service "forgot password"
	// request (links an administrator issues still work).
	DisablePasswordReset bool
	// Groups are created at start when missing: name → permissions.
	Groups map[string][]string
	// TwoFactorIssuer names the service in authenticator apps (default
	// gatehouse).
	TwoFactorIssuer string

	// SMTP sends mail. Nil: mail, with its one-time links and codes, is
	// written to the log, and Open logs a warning saying so.
	SMTP *mail.SMTPConfig
	// MailTemplates are the mail templates; nil means the built-in ones.
	MailTemplates *mail.Templates
	// SMSWebhook sends text messages. Nil: they are written to the log,
	// with a warning, unless NoSMS.
	SMSWebhook *sms.WebhookConfig
	// NoSMS turns SMS codes off: no second step by SMS is offered, and a
	// phone number for them cannot be set (SMSWebhook must be nil).
	NoSMS bool

	// ExternalProviders are the OpenID Connect providers people may log
	// in with, in the order the login page shows them. They need
	// PublicURL, from which the redirect URLs registered at the providers
	// are built: PublicURL + BasePath + /external/{ID}/callback.
	ExternalProviders []ExternalProvider

	// Logger receives gatehouse's log; nil discards it.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Gateway configures gateway mode (see httpapi.Config for each field).
type Gateway struct {
	// Upstream, when set, turns on the reverse proxy.
	Upstream *url.URL
	// RedirectDomains are the hosts (with their subdomains) the login
	// page's and forward auth's rd may point to.
	RedirectDomains []string
	// ProxyTimeout bounds the upstream's connection and response headers
	// (default httpapi.DefaultProxyTimeout).
	ProxyTimeout time.Duration
	// ExtraMethods are request methods let through besides the standard
	// ones (such as PROPFIND).
	ExtraMethods []string
	// AllowPathParameters lets ";" path parameters through.
	AllowPathParameters bool
	// StripHeaders are more request headers the reverse proxy removes.
	StripHeaders []string
}

// ExternalProvider is an OpenID Connect provider people may log in with:
// how gatehouse reaches it (see oidclogin.Config) and the rules its logins
// follow (see account.ExternalProvider, whose fields of the same names
// these are). The zero value of every rule is off: no manual linking, no
// auto-linking, no auto-creation.
type ExternalProvider struct {
	// ID names the provider in paths and stored identities (lower-case
	// letters, digits, '-' and '_'); Name is shown on its button; Icon is
	// an optional image URL for the button.
	ID, Name, Icon string
	// Issuer is the provider's issuer URL (discovery is read below it).
	Issuer string
	// ClientID and ClientSecret are gatehouse's registration at the
	// provider (no secret for a public client).
	ClientID, ClientSecret string
	// Scopes are requested besides openid; nil means email and profile.
	Scopes []string
	// GroupsClaim names the claim listing the user's groups at the
	// provider; GroupMap maps those groups to gatehouse groups (it is
	// needed for the claim to have any effect).
	GroupsClaim string
	GroupMap    map[string][]string
	// PostLogoutRedirectURL is where the provider sends the browser after
	// its sign-out; "" means the login page (PublicURL + BasePath +
	// /ui/login).
	PostLogoutRedirectURL string
	// DenyLocalLogin turns off every password endpoint.
	DenyLocalLogin bool
	// AllowManualLinking lets users link and unlink the provider
	// themselves.
	AllowManualLinking bool
	// AutoLinkVerifiedEmail links an unknown account to the user with
	// its verified email.
	AutoLinkVerifiedEmail bool
	// AutoCreate creates a user, in AutoCreateGroups, for an unknown
	// account.
	AutoCreate       bool
	AutoCreateGroups []string
	// TrustedAMR and TrustedACR trust the provider's second factor.
	TrustedAMR, TrustedACR []string
	// HTTPClient makes the requests to the provider; nil means one with a
	// 10 s timeout. Redirects are never followed, whatever the client
	// says (oidclogin uses a copy that refuses them).
	HTTPClient *http.Client
}

// LoginLimits limit failed logins. A zero field takes its default.
type LoginLimits struct {
	// MaxFailures per user within FailureWindow lock the account for
	// Lockout (default 5).
	MaxFailures int
	// MaxFailuresPerAddress per client address (an IPv6 client by its
	// /64) within FailureWindow (default 50).
	MaxFailuresPerAddress int
	// FailureWindow is how long failures count (default 15 minutes).
	FailureWindow time.Duration
	// Lockout is how long a limit, once reached, refuses logins (default
	// 15 minutes).
	Lockout time.Duration
}

// ConfigError is a Config that Open or OpenServices refuses: a setting is
// wrong, not the machine (as a database that cannot be opened is).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }

// Unwrap returns the error that says what is wrong.
func (e *ConfigError) Unwrap() error { return e.Err }

// config is a Config checked and with its defaults filled in.
type config struct {
	Config
	base   string // the clean base path
	dbPath string
	log    *slog.Logger
	now    func() time.Time
}

// check checks c and fills in its defaults, before anything is created
// on disk.
func (c Config) check() (_ *config, err error) {
	defer func() {
		if err != nil {
			err = &ConfigError{Err: err}
		}
	}()
	out := &config{Config: c, log: c.Logger, now: c.Now}
	if out.base, err = httpapi.CleanBasePath(c.BasePath); err != nil {
		return nil, fmt.Errorf("gatehouse: BasePath: %w", err)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("gatehouse: PublicURL %q must be an absolute URL such as https://admin.example.com", c.PublicURL)
		}
	}
	if c.ListenAddr != "" {
		if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
			return nil, fmt.Errorf("gatehouse: ListenAddr %q must be HOST:PORT", c.ListenAddr)
		}
	}
	// The session settings, checked here as gatehouse serve checks its
	// file: a cookie domain decides where the cookie goes and where rd=
	// may lead, so a public suffix ("com") must never get through.
	ss := &out.Session
	ss.CookieDomain = strings.ToLower(strings.TrimPrefix(ss.CookieDomain, "."))
	if err := ss.Validate(); err != nil {
		return nil, fmt.Errorf("gatehouse: Session: %w", err)
	}
	if ss.CookieDomain != "" && c.PublicURL != "" {
		// gatehouse's own pages set the cookie: a browser takes a cookie
		// only for a domain the page's host is in.
		u, _ := url.Parse(c.PublicURL)
		if !session.UnderDomain(strings.ToLower(strings.TrimSuffix(u.Hostname(), ".")), ss.CookieDomain) {
			return nil, fmt.Errorf("gatehouse: Session.CookieDomain %q does not cover the host of PublicURL %q: it must be that host or a domain above it", ss.CookieDomain, c.PublicURL)
		}
	}
	if err := out.checkExternal(); err != nil {
		return nil, err
	}
	if c.NoSMS && c.SMSWebhook != nil {
		return nil, errors.New("gatehouse: NoSMS turns SMS off, but SMSWebhook is set")
	}
	if out.DataDir == "" {
		out.DataDir = DefaultDataDir
	}
	if out.DatabaseFile == "" {
		out.DatabaseFile = "gatehouse.db"
	}
	if out.RedisPrefix == "" {
		out.RedisPrefix = "gatehouse"
	}
	out.dbPath = out.DatabaseFile
	if !filepath.IsAbs(out.dbPath) {
		out.dbPath = filepath.Join(out.DataDir, out.dbPath)
	}
	if out.KeyFile == "" {
		out.KeyFile = filepath.Join(out.DataDir, "secrets.key")
	}
	if out.Password == (password.Policy{}) {
		out.Password = password.DefaultPolicy
	}
	if err := out.Password.Validate(); err != nil {
		return nil, fmt.Errorf("gatehouse: Password: %w", err)
	}
	l := &out.Login
	d := account.DefaultConfig
	switch {
	case l.MaxFailures < 0 || l.MaxFailuresPerAddress < 0 || l.FailureWindow < 0 || l.Lockout < 0:
		return nil, errors.New("gatehouse: Login: limits must not be negative")
	case l.MaxFailures > 100:
		return nil, errors.New("gatehouse: Login.MaxFailures must be at most 100 (NIST SP 800-63B)")
	}
	l.MaxFailures = orDefault(l.MaxFailures, d.UserThrottle.MaxFailures)
	l.MaxFailuresPerAddress = orDefault(l.MaxFailuresPerAddress, d.AddrThrottle.MaxFailures)
	l.FailureWindow = orDefault(l.FailureWindow, d.UserThrottle.Window)
	l.Lockout = orDefault(l.Lockout, d.UserThrottle.Lockout)
	if out.TwoFactorIssuer == "" {
		out.TwoFactorIssuer = account.DefaultTwoFactorConfig.Issuer
	}
	if out.log == nil {
		out.log = slog.New(slog.DiscardHandler)
	}
	if out.now == nil {
		out.now = time.Now
	}
	return out, nil
}

// checkExternal checks the external providers: each needs an id of its
// own, an issuer and a client id, and all of them a PublicURL to build
// their redirect URLs from.
func (c *config) checkExternal() error {
	if len(c.ExternalProviders) > 0 && c.PublicURL == "" {
		return errors.New("gatehouse: ExternalProviders need PublicURL, from which their redirect URLs are built")
	}
	seen := map[string]bool{}
	for i, p := range c.ExternalProviders {
		switch {
		case !validProviderID(p.ID):
			return fmt.Errorf("gatehouse: ExternalProviders[%d]: ID %q must be 1 to 32 lower-case letters, digits, '-' or '_', starting with a letter or digit", i, p.ID)
		case seen[p.ID]:
			return fmt.Errorf("gatehouse: ExternalProviders[%d]: ID %q is used twice", i, p.ID)
		case p.Issuer == "":
			return fmt.Errorf("gatehouse: ExternalProviders[%d] (%s): Issuer is required", i, p.ID)
		case p.ClientID == "":
			return fmt.Errorf("gatehouse: ExternalProviders[%d] (%s): ClientID is required", i, p.ID)
		}
		seen[p.ID] = true
		for _, groups := range [][]string{p.AutoCreateGroups, slices.Concat(slices.Collect(maps.Values(p.GroupMap))...)} {
			for _, g := range groups {
				if !account.ValidGroupName(g) {
					return fmt.Errorf("gatehouse: ExternalProviders[%d] (%s): group name %q must be lower-case letters, digits, '-', '_' or '.'", i, p.ID, g)
				}
			}
		}
	}
	return nil
}

// validProviderID reports whether id may name a provider: it is a path
// segment and a stored key.
func validProviderID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// accountConfig is the account service's configuration.
func (c *config) accountConfig() account.Config {
	a := account.DefaultConfig
	a.Policy = c.Password
	a.UserThrottle = gatehouse.ThrottleRule{MaxFailures: c.Login.MaxFailures, Window: c.Login.FailureWindow, Lockout: c.Login.Lockout}
	a.AddrThrottle = gatehouse.ThrottleRule{MaxFailures: c.Login.MaxFailuresPerAddress, Window: c.Login.FailureWindow, Lockout: c.Login.Lockout}
	a.AllowPasswordReset = !c.DisablePasswordReset
	a.Guest = c.GuestSessions
	a.LinkBase = c.linkBase()
	for _, p := range c.ExternalProviders {
		a.ExternalProviders = append(a.ExternalProviders, account.ExternalProvider{
			ID: p.ID, Name: p.Name,
			DenyLocalLogin: p.DenyLocalLogin, AllowManualLinking: p.AllowManualLinking,
			AutoLinkVerifiedEmail: p.AutoLinkVerifiedEmail,
			AutoCreate:            p.AutoCreate, AutoCreateGroups: p.AutoCreateGroups,
			GroupMap:   p.GroupMap,
			TrustedAMR: p.TrustedAMR, TrustedACR: p.TrustedACR,
		})
	}
	return a
}

// externalLogins builds the providers' oidclogin.Providers, and the
// Sealer of their flow cookie keyed by key (the secrets key).
func (c *config) externalLogins(key []byte) ([]*oidclogin.Provider, *oidclogin.Sealer, error) {
	if len(c.ExternalProviders) == 0 {
		return nil, nil, nil
	}
	public := strings.TrimRight(c.PublicURL, "/") + c.base
	var ps []*oidclogin.Provider
	for _, ep := range c.ExternalProviders {
		logout := ep.PostLogoutRedirectURL
		if logout == "" {
			logout = public + "/ui/login"
		}
		p, err := oidclogin.New(oidclogin.Config{
			ID: ep.ID, Name: ep.Name, Icon: ep.Icon, Issuer: ep.Issuer,
			ClientID: ep.ClientID, ClientSecret: ep.ClientSecret, Scopes: ep.Scopes, GroupsClaim: ep.GroupsClaim,
			RedirectURL:           public + "/external/" + ep.ID + "/callback",
			PostLogoutRedirectURL: logout,
			HTTPClient:            ep.HTTPClient,
			Now:                   c.now,
		})
		if err != nil {
			return nil, nil, &ConfigError{Err: fmt.Errorf("gatehouse: external provider %s: %w", ep.ID, err)}
		}
		ps = append(ps, p)
	}
	sealer, err := oidclogin.NewSealer(key)
	if err != nil {
		return nil, nil, fmt.Errorf("gatehouse: external login flows: %w", err)
	}
	return ps, sealer, nil
}

// httpConfig is the HTTP layer's configuration.
func (c *config) httpConfig() httpapi.Config {
	return httpapi.Config{
		BasePath:         c.base,
		PublicURL:        c.PublicURL,
		TrustedProxies:   c.TrustedProxies,
		TrustedOrigins:   c.TrustedOrigins,
		CSRFEveryRequest: c.CSRFEveryRequest,
		CORS:             c.CORS,
		BasicAuth:        c.BasicAuth,
		Routes:           c.Routes,

		Upstream:            c.Gateway.Upstream,
		RedirectDomains:     c.Gateway.RedirectDomains,
		ProxyTimeout:        c.Gateway.ProxyTimeout,
		ExtraMethods:        c.Gateway.ExtraMethods,
		AllowPathParameters: c.Gateway.AllowPathParameters,
		StripHeaders:        c.Gateway.StripHeaders,

		MetricsNetworks: c.MetricsNetworks,
		LogRequests:     c.LogRequests,
	}
}

// linkBase is where links point: PublicURL (or, without one, the listen
// address) and the base path.
func (c *config) linkBase() string {
	base := strings.TrimRight(c.PublicURL, "/")
	if base == "" && c.ListenAddr != "" {
		scheme := "http://"
		if c.ListenTLS {
			scheme = "https://"
		}
		base = scheme + c.ListenAddr
		if host, port, err := net.SplitHostPort(c.ListenAddr); err == nil {
			if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
				host = "localhost"
			}
			base = scheme + net.JoinHostPort(host, port)
			if c.ListenTLS && port == "443" {
				base = scheme + host
				if strings.Contains(host, ":") {
					base = scheme + "[" + host + "]"
				}
			}
		}
	}
	return base + c.base
}
