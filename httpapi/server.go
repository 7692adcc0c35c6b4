// Package httpapi is gatehouse's HTTP layer: the handlers of the HTTP
// contract, problem+json errors, security headers, and the middleware a Go
// program wraps its own handlers in (Authenticate, CSRF, RequireUser).
package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/csrf"
	"github.com/gatehouse/gatehouse/metrics"
	"github.com/gatehouse/gatehouse/oidclogin"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/session"
)

// Config holds the HTTP settings. What the server works with (the
// services, the clock, the logger) is given apart, in Deps.
type Config struct {
	// BasePath prefixes everything gatehouse serves itself (default /auth).
	BasePath string
	// PublicURL is the external URL of the server; links are built from it,
	// never from the request's Host header.
	PublicURL string
	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed.
	TrustedProxies []netip.Prefix
	// TrustedOrigins may send cross-origin unsafe requests. The CORS
	// origins are added to them (see CORS).
	TrustedOrigins []string
	// CORS lets scripts of other origins call gatehouse's own endpoints
	// and, in gateway mode, the routes whose rule says cors: true (see
	// cors.go). Off without allowed origins.
	CORS CORS
	// CSRFEveryRequest extends the CSRF token check to safe methods (GET,
	// HEAD, OPTIONS) authenticated by the session cookie (Kirby: the token
	// "has to be sent in the X-CSRF header for every request"), in
	// gatehouse's own API, in Protect, CSRF and Require, and in the
	// gateway; except GET BASE/session and GET BASE/csrf, which hand the
	// token out, and WebSocket handshakes through the gateway. Meant for
	// API-only applications: a page navigation cannot send the token (the
	// gateway takes a token-less cookie on a public route as anonymous,
	// so a front end's own files still load).
	CSRFEveryRequest bool
	// BasicAuth configures HTTP Basic authentication (off by default).
	BasicAuth BasicAuth
	// Routes is the route table. Protect applies it to an embedding
	// program's handlers; for gatehouse's own endpoints, a rule that
	// matches is applied on top of the endpoint's own requirement.
	Routes *policy.Table

	// Upstream, when set, turns on reverse-proxy (gateway) mode: every
	// request outside BasePath, and every path under it that gatehouse
	// does not serve itself, is decided by Routes and, when allowed,
	// forwarded there (see gateway.go). Only http and https URLs.
	Upstream *url.URL
	// RedirectDomains are the hosts (each with its subdomains) that the
	// rd parameter of the login page and GET BASE/verify may point to.
	// Without any, the session cookie's domain (session.Config.CookieDomain)
	// is the one, when it has one.
	RedirectDomains []string
	// ProxyTimeout bounds how long the upstream may take to connect and to
	// answer with its response headers (default 30s); a stream or a
	// WebSocket may then last as long as it likes.
	ProxyTimeout time.Duration
	// ExtraMethods are request methods the gateway (forward auth and the
	// reverse proxy) lets through besides the standard upper-case ones
	// (policy.StandardMethod), such as PROPFIND for WebDAV; each checked
	// by CheckExtraMethod. Rules name them only in a table compiled with
	// policy.CompileMethods; otherwise they match rules without methods.
	ExtraMethods []string
	// AllowPathParameters lets the gateway decide and forward paths with
	// a ";" in a segment (matrix parameters, /a;v=1/b). Off by default:
	// Tomcat, Jetty and Spring drop ";…" from a segment before routing,
	// so /admin;x would reach /admin under a rule that did not match it.
	AllowPathParameters bool
	// StripHeaders are more request headers the reverse proxy removes
	// before forwarding, on top of its list of other proxies' identity
	// headers (see identityHeaders); a name ending in "*" is a prefix.
	// Each checked by CheckStripHeader.
	StripHeaders []string

	// LogRequests writes one line at info level for every request the
	// Server answers (see logRequest): its method, route pattern, status,
	// duration, request id, client address and user id.
	LogRequests bool

	// MetricsNetworks are the client networks (after trusted-proxy
	// resolution) BASE/metrics is served to; nil means loopback only.
	MetricsNetworks []netip.Prefix
}

// Deps are what a Server works with: the services it calls and the
// things injected into it. Accounts and Sessions are required; the rest
// have defaults.
type Deps struct {
	// Accounts is the account service: the use cases behind the handlers.
	Accounts *account.Service
	// Sessions is the session manager the account service was built with
	// (it reads and writes the session cookie).
	Sessions *session.Manager
	// Metrics counts the requests gatehouse answers and its forward-auth
	// decisions, and is served at BASE/metrics; nil means a set of its own.
	// (Give the same set to account.Config.OnAudit to count audit events.)
	Metrics *metrics.Metrics
	// Log receives internal errors; nil discards them.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Ready are the dependencies BASE/readyz checks, each by its name
	// (a store's Ping: "database", "sessions"); none means always ready.
	Ready []ReadyCheck
	// External are the OpenID Connect providers people may log in with,
	// one for each of the account service's ExternalProviders (same ids),
	// in the order the login page shows them; none turns external logins
	// off (BASE/external lists nothing).
	External []*oidclogin.Provider
	// FlowSealer seals the external-login flow cookie; required with
	// External.
	FlowSealer *oidclogin.Sealer
	// Pages builds the pages people see under BASE/ui/ (web.Constructor)
	// over the server's Browser; nil serves none (their routes answer 404,
	// and the external-login callback answers problem+json and plain
	// redirects).
	Pages func(*Browser) Pages
}

// BasicAuth configures HTTP Basic authentication.
type BasicAuth struct {
	// Enabled turns Basic authentication on.
	Enabled bool
	// AllowInsecure accepts it over plain HTTP too (Kirby's allowInsecure);
	// otherwise only over HTTPS, or behind a trusted proxy that says so.
	AllowInsecure bool
}

// Server serves gatehouse's HTTP API.
type Server struct {
	cfg      Config
	base     string
	accounts *account.Service
	sessions *session.Manager
	ready    []ReadyCheck
	proxies  proxies
	cop      *http.CrossOriginProtection
	cors     *corsHandler // nil without CORS origins
	now      func() time.Time
	log      *slog.Logger
	// handler is everything ServeHTTP serves: the gateway in front of
	// gatehouse's own API.
	handler http.Handler
	metrics *metrics.Metrics
	// metricsHandler writes the metrics in the Prometheus text format.
	metricsHandler http.Handler
	// patterns are the mux patterns of the routes and fallbacks: the only
	// route label values of the metrics.
	patterns map[string]bool
	openapi  []byte                 // BASE/openapi.json
	served   []string               // "METHOD /path" of every route (for the OpenAPI test)
	builtin  []account.BuiltinRoute // every route and what it requires (for policy explain)
	gw       *gateway               // forward auth and, with Config.Upstream, the reverse proxy

	// cookieDomain is the Domain of the session cookie and so of the
	// XSRF-TOKEN cookie ("" for host-only; session.Config.CookieDomain).
	cookieDomain string

	// external are the OpenID Connect providers in configured order, and
	// flows seals their flow cookie (see external.go).
	external []*oidclogin.Provider
	flows    *oidclogin.Sealer

	// pages are the pages people see (Deps.Pages), nil when none.
	pages Pages
}

// New returns a Server with the settings cfg over the services in deps.
// The settings are checked first, so an error names what is wrong with
// them before any missing dependency.
func New(cfg Config, deps Deps) (*Server, error) {
	base, err := CleanBasePath(cfg.BasePath)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		base:     base,
		accounts: deps.Accounts,
		sessions: deps.Sessions,
		ready:    deps.Ready,
		proxies:  proxies(cfg.TrustedProxies),
		now:      deps.Now,
		log:      deps.Log,
		metrics:  deps.Metrics,
	}
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	s.metricsHandler = s.metrics.Handler()
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// Every line logged with a request's context names its request id.
	s.log = slog.New(RequestIDHandler(s.log.Handler()))
	corsOrigins, err := CheckCORS(cfg.CORS)
	if err != nil {
		return nil, fmt.Errorf("cors: %w", err)
	}
	s.cors = newCORS(cfg.CORS, corsOrigins, cfg.ExtraMethods)
	if s.cors == nil && cfg.Routes != nil && cfg.Routes.UsesCORS() {
		// A rule's cors: true uses these settings: without origins it
		// would silently do nothing.
		return nil, errors.New("cors: a route says cors: true, but no cors allowed_origins are set")
	}
	s.cop, err = csrf.NewCrossOriginProtection(trustedOrigins(cfg.TrustedOrigins, corsOrigins), http.HandlerFunc(s.denyCrossOrigin))
	if err != nil {
		return nil, fmt.Errorf("trusted_origins: %w", err)
	}
	if s.openapi, err = openAPIJSON(base); err != nil {
		return nil, err
	}
	s.gw, err = newGateway(cfg, base, gatewayDeps{api: s, proxies: s.proxies, cop: s.cop, sessions: s.sessions, cors: s.cors, metrics: s.metrics, log: s.log})
	if err != nil {
		return nil, err
	}
	switch {
	case deps.Accounts == nil || deps.Sessions == nil:
		return nil, errors.New("httpapi: Deps.Accounts and Deps.Sessions are required")
	case deps.Sessions != deps.Accounts.Sessions():
		// Two managers would disagree on the cookie and the idle timeout.
		return nil, errors.New("httpapi: Deps.Sessions must be the session manager of Deps.Accounts")
	}
	if err := s.useExternal(deps.External, deps.FlowSealer); err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, c := range deps.Ready {
		if c.Name == "" || c.Check == nil || names[c.Name] {
			return nil, fmt.Errorf("httpapi: Deps.Ready: every check needs a name of its own and a Check (%q)", c.Name)
		}
		names[c.Name] = true
	}
	// The XSRF-TOKEN cookie goes wherever the session cookie does (and rd=
	// may follow it: never to a public suffix).
	s.cookieDomain = s.sessions.CookieDomain()
	if err := session.CheckCookieDomain(s.cookieDomain); err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	if deps.Pages != nil {
		s.pages = deps.Pages(s.Browser())
	}
	mux := http.NewServeMux()
	s.routes(mux)
	h := s.securityHeaders(s.corsOwn(s.cop.Handler(s.routeGate(mux))))
	if s.gw.proxy != nil {
		// Gateway mode: what gatehouse does not serve goes to the upstream.
		h = s.gw.proxyOthers(mux, s.patterns, h)
	}
	s.handler = s.gw.forwardAuth(s.entering(s.counted(h)))
	return s, nil
}

// CleanBasePath checks and normalises a base path: "" means /auth; it must
// start with / and not end with one (except "/" itself is refused, since
// gatehouse's paths would then collide with any application's).
func CleanBasePath(p string) (string, error) {
	if p == "" {
		return "/auth", nil
	}
	p = strings.TrimRight(p, "/")
	if p == "" || !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "{}?#* \t") || strings.Contains(p, "//") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") {
		return "", fmt.Errorf("base_path %q must be an absolute path such as /auth", p)
	}
	return p, nil
}

// BasePath returns the base path everything is served under.
func (s *Server) BasePath() string { return s.base }

// ServeHTTP serves gatehouse's own endpoints and, in gateway mode, forward
// auth and the reverse proxy.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// securityHeaders sets the headers every response carries. API responses
// are never cached (they carry user data or credentials) and never framed.
// (GET BASE/verify does not come this way: see gateway.forwardAuth.)
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.setSecurityHeaders(w.Header(), r)
		next.ServeHTTP(w, r)
	})
}

// setSecurityHeaders sets on h the headers every browser-facing answer
// carries: no caching, no sniffing, no referrer, no framing, a CSP that
// allows nothing, and HSTS over HTTPS.
func (s *Server) setSecurityHeaders(h http.Header, r *http.Request) {
	// Canonical names assigned directly, the values in one backing array,
	// each slice capped at its one value (so an Add elsewhere cannot write
	// into its neighbour): one allocation, not five.
	v := make([]string, 5, 6)
	v[0], v[1], v[2], v[3], v[4] = "nosniff", "no-referrer", "DENY", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'", "no-store"
	h["X-Content-Type-Options"] = v[0:1:1]
	h["Referrer-Policy"] = v[1:2:2]
	h["X-Frame-Options"] = v[2:3:3]
	h["Content-Security-Policy"] = v[3:4:4]
	h["Cache-Control"] = v[4:5:5]
	if s.in(r).secure {
		v = append(v, "max-age=63072000; includeSubDomains")
		h["Strict-Transport-Security"] = v[5:6:6]
	}
}

func (s *Server) denyCrossOrigin(w http.ResponseWriter, r *http.Request) {
	s.log.InfoContext(r.Context(), "cross-origin request refused", "method", r.Method, "path", r.URL.Path, "origin", r.Header.Get("Origin"))
	s.writeError(w, r, &gatehouse.Error{Code: gatehouse.CodeCSRFFailed, Message: "Cross-origin request refused."})
}

// handlerFunc is a handler that returns its error instead of writing it, so
// every error goes through writeError and none is answered twice.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// client describes the request's origin for the use cases.
func (s *Server) client(r *http.Request) account.Client {
	a := s.in(r).client
	addr := ""
	if a.IsValid() {
		addr = a.String()
	}
	// A header may hold any byte above 0x7F: the use cases store the
	// agent with sessions and devices, and not every store keeps text
	// that is not UTF-8.
	return account.Client{Addr: addr, UserAgent: strings.ToValidUTF8(r.UserAgent(), "\uFFFD")}
}

// routeGate applies the configured route table to gatehouse's own
// management API and to BASE/metrics, on top of each endpoint's own
// permission: a rule that matches must allow the request (so an operator
// can, for example, limit the management API or the metrics to an office
// network); where no rule matches, the endpoint's permission alone decides.
func (s *Server) routeGate(next http.Handler) http.Handler {
	if s.cfg.Routes == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.gated(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		d, err := s.decide(r)
		if err == nil && d.Rule >= 0 {
			var c *credentials
			// Resolved as the handler would (sliding the session) and
			// handed on, so the handler does not resolve it again.
			if c, err = s.authenticate(r, false); err == nil {
				err = s.applyDecision(r, d, c)
			}
			if err == nil && c != nil {
				r = withCredentials(r, c)
			}
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}
