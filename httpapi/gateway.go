package httpapi

// Gateway mode: forward auth (GET BASE/verify, for nginx auth_request,
// Traefik forwardAuth and Caddy forward_auth) and the reverse proxy in
// front of an upstream application (Config.Upstream).
//
// Both decide an "original" request — the one the browser made to the
// application — with the same gate: its credentials (session cookie,
// Bearer, Basic), the CSRF rules of gatehouse's own API for unsafe methods,
// and the route table (or, without one, "an authenticated user"). Anything
// that cannot be parsed, or can be read two ways, is refused: forward auth
// fails closed (Authelia CVE-2021-32637).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/metrics"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/session"
)

// The identity headers gatehouse hands to the application: set on an
// allowed GET BASE/verify answer, and on every request it proxies.
const (
	HeaderRemoteUser   = "Remote-User"
	HeaderRemoteEmail  = "Remote-Email"
	HeaderRemoteName   = "Remote-Name"
	HeaderRemoteGroups = "Remote-Groups"
)

// HeaderProblem carries the code of a refusal of GET BASE/verify (such as
// csrf_failed), for a proxy that passes on only the status and headers
// (nginx's auth_request).
const HeaderProblem = "Gatehouse-Problem"

// DefaultProxyTimeout is Config.ProxyTimeout when it is not set.
const DefaultProxyTimeout = 30 * time.Second

// Codes of the answers only the reverse proxy gives (not in gatehouse's
// core list, since no use case returns them).
const (
	codeBadGateway     gatehouse.Code = "bad_gateway"
	codeGatewayTimeout gatehouse.Code = "gateway_timeout"
)

// gateway is forward auth (GET BASE/verify) and, with an upstream, the
// reverse proxy: its own settings, and the dependencies it is given. It
// judges a request with gatehouse's own credentials and route decisions
// (gatewayAPI), so a request through the gateway is decided exactly as
// one to the API; the Server composes it in front of its own handler
// (see New and gateway.front).
type gateway struct {
	gatewayDeps

	base           string                 // the Server's base path
	verifyPath     string                 // BASE/verify
	preflightPath  string                 // BASE/verify/preflight
	publicURL      string                 // Config.PublicURL, a redirect target of its own
	routes         *policy.Table          // nil: an authenticated user is required
	upstream       *url.URL               // nil without an upstream
	proxy          *httputil.ReverseProxy // nil without an upstream
	domains        []string               // RedirectDomains, cleaned
	extraMethods   []string               // ExtraMethods, checked
	pathParameters bool                   // AllowPathParameters
	headers        headerRules
}

// gatewayDeps are what the gateway works with.
type gatewayDeps struct {
	// api reads credentials and answers as gatehouse's own API does.
	api      gatewayAPI
	proxies  proxies
	cop      *http.CrossOriginProtection
	sessions *session.Manager // its cookies are never forwarded
	cors     *corsHandler     // nil without CORS origins
	metrics  *metrics.Metrics
	log      *slog.Logger
}

// gatewayAPI is what the gateway takes from gatehouse's own API (the
// Server): the credentials of a request, the application of a route
// decision to them, and the answers, headers and problems alike.
type gatewayAPI interface {
	// authenticate resolves r's credentials (nil when anonymous).
	authenticate(r *http.Request, peek bool) (*credentials, error)
	// checkAmbient makes the same-origin and CSRF checks of credentials
	// the browser sends by itself.
	checkAmbient(r *http.Request, c *credentials) error
	// applyDecision turns a route decision for c into nil, 401 or 403.
	applyDecision(r *http.Request, d policy.Decision, c *credentials) error
	// setSecurityHeaders sets the headers every browser-facing answer
	// carries.
	setSecurityHeaders(h http.Header, r *http.Request)
	// writeError answers err as problem+json, a store failure as 503
	// store_unavailable.
	writeError(w http.ResponseWriter, r *http.Request, err error)
	// writeErrorStatus answers err as problem+json with status.
	writeErrorStatus(w http.ResponseWriter, r *http.Request, err error, status int)
	// requestStart is the time a request's line in the log is timed
	// from: zero when requests are not logged.
	requestStart() time.Time
	// logAnswered writes the line of a request answered with status,
	// begun at start (see logRequest).
	// (in by value: a pointer through this interface would move the
	// caller's inbound to the heap.)
	logAnswered(method, route string, status int, start time.Time, in inbound)
}

// ParseUpstream checks an upstream URL: http or https, with a host, and
// without credentials, query or fragment (a path is kept as a prefix).
func ParseUpstream(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return nil, fmt.Errorf("upstream %q is not a URL such as http://127.0.0.1:3000", raw)
	}
	if err := checkUpstream(u); err != nil {
		return nil, err
	}
	return u, nil
}

func checkUpstream(u *url.URL) error {
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("upstream %q must be an http:// or https:// URL", u.Redacted())
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("upstream %q has no host", u.Redacted())
	case u.User != nil:
		return fmt.Errorf("upstream %q must not carry credentials", u.Redacted())
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Errorf("upstream %q must not have a query or fragment", u.Redacted())
	}
	return nil
}

// CleanRedirectDomain checks and normalises an entry of redirect_domains: a
// host name such as example.com (which also allows its subdomains), lower
// case, without scheme, port, path or wildcard.
func CleanRedirectDomain(d string) (string, error) {
	c := strings.TrimSuffix(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(d)), "."), ".")
	if c == "" || len(c) > 253 {
		return "", fmt.Errorf("redirect domain %q is not a domain such as example.com", d)
	}
	for label := range strings.SplitSeq(c, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return "", fmt.Errorf("redirect domain %q is not a domain such as example.com", d)
		}
		for _, r := range label {
			if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
				return "", fmt.Errorf("redirect domain %q is not a domain such as example.com (no scheme, port, path or wildcard)", d)
			}
		}
	}
	return c, nil
}

// newGateway checks the gateway settings of cfg and builds the reverse
// proxy when an upstream is configured. base is the checked base path.
func newGateway(cfg Config, base string, deps gatewayDeps) (*gateway, error) {
	g := &gateway{
		gatewayDeps:    deps,
		base:           base,
		verifyPath:     base + "/verify",
		preflightPath:  base + "/verify/preflight",
		publicURL:      cfg.PublicURL,
		routes:         cfg.Routes,
		pathParameters: cfg.AllowPathParameters,
	}
	for _, m := range cfg.ExtraMethods {
		if err := CheckExtraMethod(m); err != nil {
			return nil, fmt.Errorf("gateway.extra_methods: %w", err)
		}
		if !slices.Contains(g.extraMethods, m) {
			g.extraMethods = append(g.extraMethods, m)
		}
	}
	for _, h := range cfg.StripHeaders {
		if err := CheckStripHeader(h); err != nil {
			return nil, fmt.Errorf("gateway.strip_headers: %w", err)
		}
	}
	g.headers = newHeaderRules(cfg.StripHeaders)
	for _, d := range cfg.RedirectDomains {
		c, err := CleanRedirectDomain(d)
		if err != nil {
			return nil, fmt.Errorf("redirect_domains: %w", err)
		}
		if !slices.Contains(g.domains, c) {
			g.domains = append(g.domains, c)
		}
	}
	if len(g.domains) == 0 && deps.sessions != nil && deps.sessions.CookieDomain() != "" {
		// One login for every subdomain (session.cookie_domain): rd= may
		// lead back to any of them, unless redirect_domains says otherwise.
		g.domains = []string{deps.sessions.CookieDomain()}
	}
	if cfg.Upstream == nil {
		return g, nil
	}
	if err := checkUpstream(cfg.Upstream); err != nil {
		return nil, err
	}
	up := *cfg.Upstream
	g.upstream = &up
	timeout := cfg.ProxyTimeout
	if timeout <= 0 {
		timeout = DefaultProxyTimeout
	}
	dialer := &net.Dialer{Timeout: min(timeout, 10*time.Second), KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:                 nil, // never an environment proxy between gatehouse and its upstream
		DialContext:           dialer.DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   min(timeout, 10*time.Second),
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: timeout,
	}
	g.proxy = &httputil.ReverseProxy{
		Rewrite:      g.rewriteUpstream,
		Transport:    transport,
		ErrorHandler: g.upstreamError,
		// On cors: true routes gatehouse's CORS headers are the only ones.
		// The answer's X-Request-Id is gatehouse's (which the upstream got),
		// not a second one of the upstream's.
		ModifyResponse: func(res *http.Response) error {
			delete(res.Header, HeaderRequestID)
			return dropUpstreamCORS(res)
		},
		// Responses of unknown length and event streams are flushed as
		// they come (ReverseProxy does that by itself: FlushInterval -1 for
		// them); others are buffered as usual.
		ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
	return g, nil
}

// forwardAuth is the gateway in front of the Server's handler next: GET
// BASE/verify, which a proxy asks before every request it forwards, goes
// straight to serveVerify; everything else to next.
//
// GET BASE/verify skips the middleware in next: it would not change the
// answer (a safe method, outside the management API), and handleVerify
// sets the security headers itself on every answer but the allowing one.
// Nor is it counted as a request (see serveVerify). Other methods and
// spellings of the path (an escaped one such as /auth%2Fverify included)
// take the usual way, through next.
func (g *gateway) forwardAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.RawPath == "" {
			switch r.URL.Path {
			case g.verifyPath:
				g.serveVerify(w, r)
				return
			case g.preflightPath:
				g.servePreflight(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// proxyOthers sends what gatehouse does not serve itself to the reverse
// proxy: every path outside the base path, and every path under it that
// no route of mux serves with any method (a path served with other
// methods stays a 405). The rest goes to api. Only with an upstream.
func (g *gateway) proxyOthers(mux *http.ServeMux, patterns map[string]bool, api http.Handler) http.Handler {
	catchAll := g.base + "/"
	own := func(r *http.Request) bool {
		p := r.URL.Path
		if p != g.base && !strings.HasPrefix(p, catchAll) {
			return false
		}
		if _, pattern := mux.Handler(r); pattern == "" || patterns[pattern] {
			return true
		}
		return len(routeMethods(mux, patterns, r)) > 0
	}
	proxy := g.corsProxy(http.HandlerFunc(g.serveProxy))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if own(r) {
			api.ServeHTTP(w, r)
			return
		}
		markUpstream(w)
		proxy.ServeHTTP(w, r)
	})
}

// writeError answers err as problem+json, as the API does.
func (g *gateway) writeError(w http.ResponseWriter, r *http.Request, err error) {
	g.api.writeError(w, r, err)
}

var (
	errBadOriginal  = &gatehouse.Error{Code: gatehouse.CodeBadRequest, Message: "The forwarded request is missing, malformed or ambiguous."}
	errBadPath      = &gatehouse.Error{Code: gatehouse.CodeBadRequest, Message: "The request path is malformed or ambiguous."}
	errNotPreflight = &gatehouse.Error{Code: gatehouse.CodePermissionDenied, Message: "Not a CORS preflight from an allowed origin to a route with cors: true."}
	errUntrusted    = &gatehouse.Error{Code: gatehouse.CodePermissionDenied, Message: "Forward authentication is answered only to a trusted proxy."}
	errCrossOrigin  = &gatehouse.Error{Code: gatehouse.CodeCSRFFailed, Message: "Cross-origin request refused."}
)

// original is the request a proxy asks GET BASE/verify about.
type original struct {
	method string
	uri    string  // path and query, as received
	url    url.URL // uri parsed
	path   string  // the cleaned path, for the route table
	scheme string  // "http", "https", or "" when the proxy did not say
	host   string  // host[:port], or "" when the proxy did not say
	nginx  bool    // told in nginx's X-Original-* headers
}

// onlyValue returns the one value of header key, which must be in
// canonical form (h is read directly, without canonicalising); name is the
// header's name in error messages. present is false when the header is
// absent; more than one value, or an empty one, is an error.
func onlyValue(h http.Header, key, name string) (v string, present bool, err error) {
	vs := h[key]
	switch {
	case len(vs) == 0:
		return "", false, nil
	case len(vs) > 1:
		return "", true, fmt.Errorf("%s is given %d times", name, len(vs))
	case strings.TrimSpace(vs[0]) == "":
		return "", true, fmt.Errorf("%s is empty", name)
	}
	return vs[0], true, nil
}

// The canonical forms (textproto.CanonicalMIMEHeaderKey) of the headers
// forward auth reads, so that the request's header map is indexed directly.
const (
	keyOriginalURI     = "X-Original-Uri"
	keyOriginalMethod  = "X-Original-Method"
	keyOriginalURL     = "X-Original-Url"
	keyForwardedMethod = "X-Forwarded-Method"
	keyForwardedURI    = "X-Forwarded-Uri"
	keyForwardedProto  = "X-Forwarded-Proto"
	keyForwardedHost   = "X-Forwarded-Host"
	keyForwardedFor    = "X-Forwarded-For"
)

// parseOriginal reads the original request from the headers of a forward
// auth request: nginx's X-Original-URI, X-Original-Method and
// X-Original-URL, or Traefik's and Caddy's X-Forwarded-Method and
// X-Forwarded-Uri, with X-Forwarded-Proto and X-Forwarded-Host. The method
// and the URI are required; where both families are present they must
// agree, and so must the scheme and host of X-Original-URL with
// X-Forwarded-Proto and -Host.
func parseOriginal(h http.Header) (o original, err error) {
	var firstErr error
	get := func(key, name string) (string, bool) {
		v, present, err := onlyValue(h, key, name)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return v, present
	}
	oURI, hasOURI := get(keyOriginalURI, "X-Original-URI")
	oMethod, hasOMethod := get(keyOriginalMethod, "X-Original-Method")
	oURL, hasOURL := get(keyOriginalURL, "X-Original-URL")
	fMethod, hasFMethod := get(keyForwardedMethod, "X-Forwarded-Method")
	fURI, hasFURI := get(keyForwardedURI, "X-Forwarded-Uri")
	fProto, hasFProto := get(keyForwardedProto, "X-Forwarded-Proto")
	fHost, hasFHost := get(keyForwardedHost, "X-Forwarded-Host")
	if firstErr != nil {
		return original{}, firstErr
	}
	o.nginx = hasOURI || hasOMethod || hasOURL
	traefik := hasFMethod || hasFURI
	if !o.nginx && !traefik {
		return original{}, errors.New("no X-Original-URI / X-Original-Method or X-Forwarded-Method / X-Forwarded-Uri")
	}
	if o.nginx {
		o.method, o.uri = oMethod, oURI
		if hasOURL {
			scheme, host, uri, err := splitOriginalURL(oURL)
			if err != nil {
				return original{}, err
			}
			if o.uri != "" && o.uri != uri {
				return original{}, errors.New("X-Original-URI and X-Original-URL disagree")
			}
			o.scheme, o.host, o.uri = scheme, host, uri
		}
		if o.method == "" || o.uri == "" {
			return original{}, errors.New("nginx headers without X-Original-Method, or without X-Original-URI / X-Original-URL")
		}
	}
	if traefik {
		if !hasFMethod || !hasFURI {
			return original{}, errors.New("X-Forwarded-Method and X-Forwarded-Uri must come together")
		}
		if o.nginx && (fMethod != o.method || fURI != o.uri) {
			return original{}, errors.New("X-Original-* and X-Forwarded-Method / -Uri disagree")
		}
		o.method, o.uri = fMethod, fURI
	}
	if hasFProto {
		p := strings.ToLower(strings.TrimSpace(fProto))
		if p != "http" && p != "https" {
			return original{}, fmt.Errorf("X-Forwarded-Proto %q is not http or https", fProto)
		}
		if o.scheme != "" && o.scheme != p {
			return original{}, errors.New("X-Original-URL and X-Forwarded-Proto disagree")
		}
		o.scheme = p
	}
	if hasFHost {
		fh := strings.TrimSpace(fHost)
		if !validHost(fh) {
			return original{}, fmt.Errorf("X-Forwarded-Host %q is not a host", fHost)
		}
		if o.host != "" && !strings.EqualFold(hostname(o.host), hostname(fh)) {
			return original{}, errors.New("X-Original-URL and X-Forwarded-Host disagree")
		}
		if o.host == "" {
			o.host = fh
		}
	}
	if !validMethod(o.method) {
		return original{}, fmt.Errorf("method %q is not an HTTP method", o.method)
	}
	p, err := cleanOriginalPath(o.uri)
	if err != nil {
		return original{}, err
	}
	o.path = p
	if err := parseRequestURI(o.uri, &o.url); err != nil {
		return original{}, err
	}
	return o, nil
}

// parseRequestURI is url.ParseRequestURI into u, for a URI that
// cleanOriginalPath has accepted. Its path most often holds only bytes
// that a URL path never escapes, and then its parts are taken as they
// are, without the allocation of a new URL; any other path (with an escape,
// or a byte such as "!" that url.URL would keep in RawPath) goes through
// url.ParseRequestURI.
func parseRequestURI(uri string, u *url.URL) error {
	path, query, hasQuery := strings.Cut(uri, "?")
	if plainPath(path) {
		*u = url.URL{Path: path, RawQuery: query, ForceQuery: hasQuery && query == ""}
		return nil
	}
	parsed, err := url.ParseRequestURI(uri)
	if err != nil {
		return fmt.Errorf("URI %.64q: %v", withoutQuery(uri), err)
	}
	*u = *parsed
	return nil
}

// plainPath reports whether p has only bytes that url.URL leaves as they
// are in a path: letters, digits and -._~$&+,/:;=@.
func plainPath(p string) bool {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~$&+,/:;=@", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// withoutQuery is a URI or URL as error messages (and so the log) may
// quote it: without its query, which can carry a secret (an OAuth code, a
// reset token) of the application behind the proxy.
func withoutQuery(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}

// splitOriginalURL splits nginx's X-Original-URL ($scheme://$http_host$request_uri).
func splitOriginalURL(raw string) (scheme, host, uri string, err error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "http" && scheme != "https") {
		return "", "", "", fmt.Errorf("X-Original-URL %.64q is not an http(s) URL", withoutQuery(raw))
	}
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return "", "", "", fmt.Errorf("X-Original-URL %.64q has no path", withoutQuery(raw))
	}
	host, uri = rest[:i], rest[i:]
	if !validHost(host) {
		return "", "", "", fmt.Errorf("X-Original-URL %.64q has no valid host", withoutQuery(raw))
	}
	return scheme, host, uri, nil
}

// validHost accepts host[:port]: a DNS name or an IPv4 address, or an IPv6
// address in brackets. No user info, path, or anything else.
func validHost(h string) bool {
	if h == "" || len(h) > 261 {
		return false
	}
	name, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		if _, err := netip.ParseAddr(h[1:end]); err != nil {
			return false
		}
		name, port = "", h[end+1:]
		if port != "" && !strings.HasPrefix(port, ":") {
			return false
		}
		port = strings.TrimPrefix(port, ":")
	} else if i := strings.IndexByte(h, ':'); i >= 0 {
		name, port = h[:i], h[i+1:]
		if port == "" {
			return false
		}
	}
	if len(port) > 5 || strings.ContainsFunc(port, func(r rune) bool { return r < '0' || r > '9' }) {
		return false
	}
	if strings.HasPrefix(h, "[") {
		return true
	}
	if name == "" {
		return false
	}
	return !strings.ContainsFunc(name, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.' || r == '_')
	})
}

// hostname is host without its port, lower case.
func hostname(host string) string {
	if strings.HasPrefix(host, "[") {
		if end := strings.IndexByte(host, ']'); end >= 0 {
			return strings.ToLower(host[1:end])
		}
	}
	if i := strings.IndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// validMethod accepts an HTTP method token (RFC 9110), at most 32 bytes.
func validMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	return !strings.ContainsFunc(m, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.')
	})
}

// cleanOriginalPath checks the URI of an original request and returns its
// path cleaned for the route table. It must start with "/"; no space,
// control character, backslash or fragment anywhere; and its path may not
// contain "..", encoded or not, nor an encoded slash, backslash or percent,
// nor empty or "." segments (policy.CleanPath). Stricter than a server
// needs to be, so that gatehouse and the application can never read one
// path two ways.
func cleanOriginalPath(uri string) (string, error) {
	if uri == "" || uri[0] != '/' || len(uri) > 8<<10 {
		return "", fmt.Errorf("URI %.64q must be a path starting with /", withoutQuery(uri))
	}
	for i := 0; i < len(uri); i++ {
		if c := uri[i]; c <= ' ' || c == 0x7f || c == '\\' || c == '#' {
			return "", fmt.Errorf("URI %.64q has a forbidden byte %#x", withoutQuery(uri), c)
		}
	}
	raw, _, _ := strings.Cut(uri, "?")
	if strings.Contains(raw, "..") {
		return "", fmt.Errorf("path %.64q contains a double dot", raw)
	}
	p, err := policy.CleanPath(raw)
	if err != nil {
		return "", fmt.Errorf("path %.64q: %v", raw, err)
	}
	if strings.Contains(p, "..") {
		return "", fmt.Errorf("path %.64q contains an encoded double dot", raw)
	}
	return p, nil
}

// originalRequest builds, in orig, the request the proxy asks about from
// the forward auth request r: its method, URI and host, r's headers (the
// credentials, Origin, Sec-Fetch-Site and X-Forwarded-For the proxy passed
// on), with X-Forwarded-Proto the original scheme, and no body (a proxy
// does not send it: a CSRF token must come in a header). orig.URL points
// into o.
func originalRequest(orig *http.Request, r *http.Request, o *original) {
	// A shallow copy: the decision only reads the request, so r's header
	// map is shared unless X-Forwarded-Proto must be added, and then only
	// the map is copied (its value slices are never modified).
	*orig = *r
	orig.Method = o.method
	orig.URL = &o.url
	orig.RequestURI = o.uri
	orig.Host = o.host
	orig.TLS = nil
	orig.Body, orig.ContentLength, orig.GetBody = http.NoBody, 0, nil
	if o.scheme == "https" && r.Header[keyForwardedProto] == nil {
		// The proxy told the scheme only in X-Original-URL: the copy gets
		// it in X-Forwarded-Proto too, for its inbound. (A present
		// X-Forwarded-Proto was checked by parseOriginal to agree with
		// o.scheme; an absent one already reads as http.)
		h := make(http.Header, len(r.Header)+1)
		maps.Copy(h, r.Header)
		h[keyForwardedProto] = []string{"https"}
		orig.Header = h
	}
}

// verifyScratch is where verify builds the original request. A proxy asks
// before every request it forwards, and nothing keeps the original request
// once verify has answered (the decision reads it; what the audit log and
// the log lines keep are strings), so the scratch space is pooled.
type verifyScratch struct {
	o    original
	orig http.Request
}

var verifyScratchPool = sync.Pool{New: func() any { return new(verifyScratch) }}

// gate decides an original request: its credentials, the CSRF rules for
// unsafe methods, and the route table (without one, an authenticated user
// is required). needLogin is set when the request has no credentials and
// the decision asks for some, so a browser may be sent to the login page.
//
// Unsafe requests authenticated by something the browser sends by itself
// (the session cookie, Basic) must be same-origin, and with the session
// cookie also carry its CSRF token, exactly as for gatehouse's own API.
// Upgrade (WebSocket) requests with such credentials must be same-origin.
// With Config.CSRFEveryRequest, safe requests authenticated by the session
// cookie need its CSRF token too (on a public route, without it they go on
// as anonymous), except the WebSocket handshake: the browser's WebSocket
// API cannot send a header, and the same-origin check is what protects it.
func (g *gateway) gate(orig *http.Request, path string) (c *credentials, needLogin bool, err error) {
	c, authErr := g.api.authenticate(orig, false)
	if authErr != nil && !cookieStoreFailure(orig, authErr) {
		return nil, false, authErr
	}
	d := policy.Decision{Access: policy.Authenticated, Rule: -1}
	if g.routes != nil {
		in := g.proxies.in(orig)
		host, err := routeHost(g.routes, in)
		if err != nil {
			g.log.InfoContext(orig.Context(), "request refused", "method", orig.Method, "path", path, "err", gatehouse.ErrorMessage(err))
			return c, false, err
		}
		d = g.routes.Decide(orig.Method, host, path, in.client)
	}
	if authErr != nil {
		// The session cookie could not be resolved for want of its store.
		// A public route goes on as anonymous (what it allows anyone), so
		// an application's public pages and files still load; every other
		// route fails closed.
		if d.Access != policy.Public {
			return nil, false, authErr
		}
		g.log.WarnContext(orig.Context(), "store unavailable: session cookie ignored on a public route", "method", orig.Method, "path", path, "err", authErr)
		c = nil
	}
	if err := g.api.checkAmbient(orig, c); err != nil {
		if err != errTokenless || d.Access != policy.Public {
			return c, false, err
		}
		c = nil // the cookie without its token on a public route
	}
	if err := g.api.applyDecision(orig, d, c); err != nil {
		return c, c == nil && gatehouse.ErrorCode(err) == gatehouse.CodeUnauthenticated, err
	}
	return c, false, nil
}

// browserNavigation reports whether r is a browser opening a page: a GET
// that accepts HTML.
func browserNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(strings.ToLower(v), "text/html") {
			return true
		}
	}
	return false
}

// loginLocation is the login page, with rd when it is not empty.
func (g *gateway) loginLocation(rd string) string {
	loc := g.base + "/ui/login"
	if rd != "" {
		loc += "?" + url.Values{"rd": {rd}}.Encode()
	}
	return loc
}

// handleVerify is GET BASE/verify: forward authentication.
//
// Its allowing answer is a 200 without a body, read only by the proxy:
// it carries the Remote-* headers and Cache-Control: no-store, and not the
// browser-facing security headers (a GET of BASE/verify bypasses
// securityHeaders: see forwardAuth), which every other answer — a 302 to the
// login page, a problem the proxy may pass on to the browser — does carry.
// Five headers keep the header map small, which is most of what this
// answer costs to write.
//
// ex is the verify request's own inbound: it holds the request id, given
// on to the original request (so what is logged with its context names
// it), and gets the original request's client and user.
func (g *gateway) handleVerify(w http.ResponseWriter, r *http.Request, preflight bool, ex *inbound) error {
	var err error
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		err = errVerifyMethod
	} else {
		err = g.verify(w, r, preflight, ex)
	}
	if err != nil {
		g.api.setSecurityHeaders(w.Header(), r)
		// The problem's code in a header too: nginx's auth_request passes
		// on only the status and headers of a refusal, never its body.
		w.Header().Set(HeaderProblem, string(gatehouse.ErrorCode(err)))
	}
	return err
}

// verify decides a forward auth request. It answers 200 and 302 itself
// (the 302 with the security headers) and returns the error of every other
// answer.
//
// With preflight (GET BASE/verify/preflight) it only answers a CORS
// preflight (OPTIONS with Origin and Access-Control-Request-Method) from an
// allowed origin to a cors: true route: 204 with the CORS headers, no
// session needed; anything else is 403. A proxy sends preflights there and
// returns the answer to the browser as it is (examples/gateway), so a 204
// never lets a request through to the application.
func (g *gateway) verify(w http.ResponseWriter, r *http.Request, preflight bool, ex *inbound) error {
	if peer := remoteAddr(r); !g.proxies.trusts(peer) {
		g.log.Warn("forward auth request from a peer that is not a trusted proxy (trusted_proxies)", "peer", peer.String(), "request_id", ex.id)
		return errUntrusted
	}
	sc := verifyScratchPool.Get().(*verifyScratch)
	defer func() {
		*sc = verifyScratch{}
		verifyScratchPool.Put(sc)
	}()
	var err error
	sc.o, err = parseOriginal(r.Header)
	if err == nil && !validForwardedFor(r) {
		err = errors.New("X-Forwarded-For is missing or malformed")
	}
	if err != nil {
		g.log.Warn("forward auth request refused", "err", err.Error(), "request_id", ex.id)
		return errBadOriginal
	}
	o, orig := &sc.o, &sc.orig
	// What the proxy will forward must be what is decided: nothing it
	// would let the application read another way.
	if err := g.admit(o.method, o.path, o.url.RawQuery, r.Header); err != nil {
		g.log.Info("forward auth request refused", "method", o.method, "path", o.path, "err", gatehouse.ErrorMessage(err), "request_id", ex.id)
		return err
	}
	if overrideHeaderIn(r.Header, o.method) {
		g.log.Info("forward auth request refused", "method", o.method, "path", o.path, "err", errOverride.Message, "request_id", ex.id)
		return errOverride
	}
	originalRequest(orig, r, o)
	// The original request enters here: its scheme, its client (from
	// X-Forwarded-For) and the host the proxy names, worked out once.
	in := g.proxies.inbound(orig)
	in.host = o.host
	in.id = ex.id
	ex.client = in.client
	oc := &inboundContext{Context: orig.Context(), in: in}
	*orig = *orig.WithContext(oc)
	// The user the original request was authenticated as (see noteUser),
	// for the verify request's line in the log, however it is answered.
	defer func() { ex.user = oc.in.user }()
	if preflight {
		// GET BASE/verify/preflight: a proxy sends a browser's preflight
		// here and hands the answer back, never on to the application.
		if g.cors != nil && isPreflight(orig) && g.corsPreflight(w, orig, o.path) {
			return nil
		}
		return errNotPreflight
	}
	if g.cors != nil {
		g.corsVerifyHeaders(w, orig, o.path)
	}
	c, needLogin, err := g.gate(orig, o.path)
	if err != nil {
		if needLogin && browserNavigation(orig) {
			rd := ""
			if o.host != "" && o.scheme != "" {
				if u := o.scheme + "://" + o.host + o.uri; g.allowedAbsolute(u) {
					rd = u
				}
			}
			w.Header().Set("Location", g.loginLocation(rd))
			if o.nginx {
				// nginx's auth_request takes anything but 2xx, 401 and
				// 403 for an error (500): it gets the 401, with the login
				// page in Location for auth_request_set.
				return err
			}
			g.api.setSecurityHeaders(w.Header(), r)
			w.WriteHeader(http.StatusFound)
			return nil
		}
		return err
	}
	h := w.Header()
	if c != nil {
		setRemoteHeaders(h, c.user, c.remoteGroups(), "no-store")
	} else {
		h["Cache-Control"] = []string{"no-store"}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// validForwardedFor reports whether r carries an X-Forwarded-For whose
// every entry is an IP address: the route table's networks are judged on
// the client's address, which a forward auth request carries only there.
func validForwardedFor(r *http.Request) bool {
	vs := r.Header[keyForwardedFor]
	if len(vs) == 0 {
		return false
	}
	for _, v := range vs {
		for hop := range strings.SplitSeq(v, ",") {
			if _, err := netip.ParseAddr(strings.TrimSpace(hop)); err != nil {
				return false
			}
		}
	}
	return true
}

// serveProxy is the reverse proxy: r is decided like a forward auth
// request and, when allowed, forwarded to the upstream.
func (g *gateway) serveProxy(w http.ResponseWriter, r *http.Request) {
	path, err := cleanOriginalPath(r.URL.EscapedPath())
	if err != nil {
		g.log.InfoContext(r.Context(), "proxied request refused", "err", err.Error())
		g.metrics.Decision(metrics.BadRequest)
		g.gatewayError(w, r, errBadPath)
		return
	}
	if err := g.admit(r.Method, path, r.URL.RawQuery, r.Header); err != nil {
		g.log.InfoContext(r.Context(), "proxied request refused", "method", r.Method, "path", path, "err", gatehouse.ErrorMessage(err))
		g.metrics.Decision(decisionOf(statusOf(gatehouse.ErrorCode(err))))
		if gatehouse.ErrorCode(err) == gatehouse.CodeMethodNotAllowed {
			w.Header().Set("Allow", g.allowHeader())
		}
		g.gatewayError(w, r, err)
		return
	}
	c, needLogin, err := g.gate(r, path)
	if err != nil {
		if needLogin && browserNavigation(r) {
			g.metrics.Decision(metrics.Login)
			// The login page is on this host: rd is the path itself.
			rd := r.URL.RequestURI()
			if !safeRelative(rd) {
				rd = ""
			}
			g.api.setSecurityHeaders(w.Header(), r)
			w.Header().Set("Location", g.loginLocation(rd))
			w.WriteHeader(http.StatusFound)
			return
		}
		g.metrics.Decision(decisionOf(statusOf(gatehouse.ErrorCode(err))))
		if statusOf(gatehouse.ErrorCode(err)) >= 500 {
			err = storeUnavailable(err)
		}
		g.gatewayError(w, r, err)
		return
	}
	g.metrics.Decision(metrics.Allowed)
	if c != nil {
		r = withCredentials(r, c)
	}
	// The server's read and write timeouts are for gatehouse's own
	// answers; an upload, a download or an event stream may take longer.
	// (A WebSocket's hijacked connection has none anyway.)
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	g.proxy.ServeHTTP(w, r)
}

// gatewayError answers err for the proxy, with gatehouse's own security
// headers (proxied answers carry the application's).
func (g *gateway) gatewayError(w http.ResponseWriter, r *http.Request, err error) {
	g.api.setSecurityHeaders(w.Header(), r)
	g.writeError(w, r, err)
}

// rewriteUpstream builds the request to the upstream: its URL, the
// address headers as gatehouse resolved them (a client's own are believed
// only from a trusted proxy), none of the identity, method-override and
// URL-rewrite headers the client sent but gatehouse's own identity, and
// none of gatehouse's credentials.
func (g *gateway) rewriteUpstream(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	trusted := g.proxies.trusts(remoteAddr(in))
	// ReverseProxy has already removed the hop-by-hop headers, and
	// Forwarded and X-Forwarded-For, -Host and -Proto: set below.
	g.upstreamHeaders(out.Header, credentialsFrom(in.Context()), trusted)
	if prior := in.Header.Values("X-Forwarded-For"); trusted && len(prior) > 0 {
		out.Header["X-Forwarded-For"] = slices.Clone(prior)
	}
	pr.SetURL(g.upstream)
	pr.SetXForwarded()
	inb := g.proxies.in(in)
	proto := "http"
	if inb.secure {
		proto = "https"
	}
	out.Header.Set("X-Forwarded-Proto", proto)
	// The host as resolved on entry: a trusted proxy's X-Forwarded-Host,
	// else Host (which SetXForwarded has set already).
	host := inb.host
	if host != in.Host {
		out.Header.Set("X-Forwarded-Host", host)
	}
	out.Header.Del("X-Real-Ip")
	client := ""
	a := inb.client
	if a.IsValid() {
		client = a.String()
		out.Header.Set("X-Real-Ip", client)
	}
	if !validHost(host) {
		host = ""
	}
	out.Header["Forwarded"] = []string{forwardedValue(client, a.Is6(), proto, host)}
	// The request's id, so the application's log lines join gatehouse's
	// (a client's own X-Request-Id is kept only from a trusted proxy, as
	// the id itself: see requestIDOf).
	if inb.id != "" {
		setRequestID(out.Header, inb.id)
	} else {
		delete(out.Header, HeaderRequestID)
	}
	traceUpstream(in, out, trusted)
}

// forwardedValue is the one element of the Forwarded header (RFC 7239)
// gatehouse sends: the same as its X-Forwarded-* headers (a client's own
// Forwarded never passes: ReverseProxy removed it). client and host are
// left out when empty; an IPv6 client and the host (which may have a
// port) are quoted, as the grammar asks.
func forwardedValue(client string, ipv6 bool, proto, host string) string {
	var b strings.Builder
	b.Grow(len(client) + len(host) + 32)
	if client != "" && ipv6 {
		b.WriteString(`for="[`)
		b.WriteString(client)
		b.WriteString(`]";`)
	} else if client != "" {
		b.WriteString("for=")
		b.WriteString(client)
		b.WriteString(";")
	}
	b.WriteString("proto=")
	b.WriteString(proto)
	if host != "" {
		b.WriteString(`;host="`)
		b.WriteString(host)
		b.WriteString(`"`)
	}
	return b.String()
}

// upstreamHeaders removes from h the headers the application must not
// take from the client (gateway.headers: other proxies' identity headers,
// method-override and URL-rewrite headers, and — unless the peer is a
// trusted proxy — client-address headers) and gatehouse's credentials, and
// sets the identity of c (nil when anonymous).
func (g *gateway) upstreamHeaders(h http.Header, c *credentials, trusted bool) {
	for k := range h {
		switch g.headers.kindOf(k) {
		case stripHeader:
			delete(h, k)
		case untrustedHeader:
			if !trusted {
				delete(h, k)
			}
		}
	}
	stripCookies(h, g.sessions.CookieName(false), pendingCookie.nameFor(false),
		deviceCookie.nameFor(false), knownCookie.nameFor(false))
	if c == nil {
		return
	}
	if c.via == viaToken || c.via == viaBasic {
		h.Del("Authorization") // gatehouse verified it: the front door's key, not the application's
	}
	setRemoteHeaders(h, c.user, c.remoteGroups(), "")
}

// unprefixed is cookie name without a __Host- or __Secure- prefix (in
// any letter case).
func unprefixed(name string) string {
	for _, p := range []string{"__Host-", "__Secure-"} {
		if len(name) > len(p) && strings.EqualFold(name[:len(p)], p) {
			return name[len(p):]
		}
	}
	return name
}

// stripCookies removes from the Cookie headers of h the cookies named
// names, with or without a __Host- or __Secure- prefix (a browser still
// sends one set before session.cookie_domain was turned on or off, and it
// may name a live session), keeping the others in their order.
func stripCookies(h http.Header, names ...string) {
	lines := h.Values("Cookie")
	if len(lines) == 0 {
		return
	}
	var kept []string
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			name, _, _ := strings.Cut(part, "=")
			name = unprefixed(strings.TrimSpace(name))
			if slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) }) {
				continue
			}
			kept = append(kept, part)
		}
	}
	h.Del("Cookie")
	if len(kept) > 0 {
		h.Set("Cookie", strings.Join(kept, "; "))
	}
}

// setRemoteHeaders sets the identity headers of u with groups, and Cache-Control
// when cacheControl is not empty. The header names are canonical, so the
// map is assigned directly, with one backing array for the values (each
// slice capped at its one value, so an Add elsewhere cannot write into its
// neighbour).
func setRemoteHeaders(h http.Header, u *gatehouse.User, groups []string, cacheControl string) {
	v := make([]string, 5)
	v[0] = headerSafe(u.Username)
	v[1] = headerSafe(u.Email)
	v[2] = headerSafe(u.Name)
	v[3] = headerSafe(strings.Join(groups, ","))
	h[HeaderRemoteUser] = v[0:1:1]
	h[HeaderRemoteEmail] = v[1:2:2]
	h[HeaderRemoteName] = v[2:3:3]
	h[HeaderRemoteGroups] = v[3:4:4]
	if cacheControl != "" {
		v[4] = cacheControl
		h["Cache-Control"] = v[4:5:5]
	}
}

// headerSafe drops control characters, which no header value may hold.
func headerSafe(v string) string {
	// The common case, printable ASCII, needs no rewriting: checked a byte
	// at a time instead of through strings.Map's per-rune callback.
	clean := true
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return v
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, v)
}

// upstreamError answers a request the upstream did not answer: 504 when it
// timed out, else 502.
func (g *gateway) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := http.StatusBadGateway, codeBadGateway, "The application behind gatehouse cannot be reached."
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		status, code, msg = http.StatusGatewayTimeout, codeGatewayTimeout, "The application behind gatehouse did not answer in time."
	}
	if r.Context().Err() == nil {
		g.log.WarnContext(r.Context(), "upstream request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	h := w.Header()
	for k := range h {
		delete(h, k) // nothing of a half-copied upstream answer
	}
	g.api.setSecurityHeaders(h, r)
	g.corsUpstreamError(h, r)
	id := requestIDFrom(r.Context())
	if id != "" {
		setRequestID(h, id)
	}
	typ := typeURI(status)
	if status == http.StatusGatewayTimeout {
		typ = "https://tools.ietf.org/html/rfc9110#section-15.6.5"
	}
	h.Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(problem{Type: typ, Title: http.StatusText(status), Status: status, Detail: msg, Code: string(code), RequestID: id})
}

// allowedAbsolute reports whether the absolute URL u may be redirected to:
// http or https, no user info, and a host that is one of the redirect
// domains or a subdomain of one (or the host of PublicURL).
func (g *gateway) allowedAbsolute(raw string) bool {
	if len(raw) > 8<<10 || strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' }) {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Opaque != "" || !validHost(u.Host) {
		return false
	}
	host := hostname(u.Host)
	for _, d := range g.domains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	if g.publicURL != "" {
		if pu, err := url.Parse(g.publicURL); err == nil && pu.Scheme == u.Scheme && strings.EqualFold(pu.Host, u.Host) {
			return true
		}
	}
	return false
}

// safeRelative reports whether rd is a path on this host: it starts with
// one "/" (not "//", which a browser reads as another host) and holds no
// backslash (which browsers read as "/") or control characters.
func safeRelative(rd string) bool {
	if len(rd) > 8<<10 || !strings.HasPrefix(rd, "/") || strings.HasPrefix(rd, "//") {
		return false
	}
	if strings.ContainsFunc(rd, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' }) {
		return false
	}
	u, err := url.Parse(rd)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil
}

// allowedRedirect returns rd when the login page may redirect there after
// a login, else "".
func (g *gateway) allowedRedirect(rd string) string {
	if rd != "" && (safeRelative(rd) || g.allowedAbsolute(rd)) {
		return rd
	}
	return ""
}
