package httpapi

// CORS (Kirby's cors option): cross-origin requests from the configured
// origins to gatehouse's own endpoints and, in gateway mode, to the routes
// whose rule says cors: true. The preflight logic is github.com/rs/cors;
// this file decides where it applies.
//
// A request without an Origin header is never a CORS request: it pays one
// map lookup. gatehouse's own answers are never cached (Cache-Control:
// no-store), so they need no Vary: Origin when there is no Origin.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rs/cors"

	"github.com/gatehouse/gatehouse/csrf"
)

// CORS configures Cross-Origin Resource Sharing for gatehouse's own
// endpoints under the base path and, in gateway mode, for the routes whose
// rule says cors: true. It is off while AllowedOrigins is empty.
type CORS struct {
	// AllowedOrigins are the origins (scheme://host[:port], no path) whose
	// scripts may call gatehouse, or "*" alone for any origin (only
	// without AllowCredentials). Each listed origin is also a trusted
	// origin of the CSRF origin check; the CSRF token is still required.
	AllowedOrigins []string
	// AllowedHeaders are request headers a cross-origin script may send,
	// on top of Content-Type, X-Requested-With and the CSRF headers
	// (csrf.HeaderNames), which are always allowed; "*" allows any.
	AllowedHeaders []string
	// ExposedHeaders are response headers a cross-origin script may read
	// besides the CORS-safelisted ones.
	ExposedHeaders []string
	// AllowCredentials lets cross-origin scripts send cookies (the
	// session) with fetch(…, {credentials: "include"}). Only with listed
	// origins, never "*".
	AllowCredentials bool
	// MaxAge is how long a browser may cache a preflight's answer (sent in
	// whole seconds); 0 sends no Access-Control-Max-Age (browsers then
	// cache it for 5 seconds).
	MaxAge time.Duration
}

// Enabled reports whether CORS is on: some origin is allowed.
func (c CORS) Enabled() bool { return len(c.AllowedOrigins) > 0 }

// CORSAlwaysAllowedHeaders are the request headers every CORS setting
// allows: JSON bodies, the XMLHttpRequest marker, and the CSRF token's
// headers.
var CORSAlwaysAllowedHeaders = append([]string{"Content-Type", "X-Requested-With"}, csrf.HeaderNames...)

// corsHandler is rs/cors' handler (so that server.go needs no import of it).
type corsHandler = cors.Cors

// corsMethods are the methods a preflight may announce for gatehouse's own
// endpoints and the gateway's routes (the gateway's extra methods are
// added to them).
var corsMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// CleanCORSOrigin checks an entry of allowed_origins and returns it in the
// form browsers send in the Origin header (lower case): "*", or
// scheme://host[:port] with scheme http or https, without user info, path,
// query or fragment, and without the scheme's default port (which a
// browser leaves out, so it would never match).
func CleanCORSOrigin(o string) (string, error) {
	if o == "*" {
		return o, nil
	}
	bad := fmt.Errorf("%q is not an origin such as https://app.example.com (scheme://host[:port], no path), nor \"*\"", o)
	u, err := url.Parse(o)
	if err != nil || u.Opaque != "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(o, "#") {
		return "", bad
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if (u.Scheme != "http" && u.Scheme != "https") || !validHost(u.Host) || strings.Contains(u.Host, "*") {
		return "", bad
	}
	if p := u.Port(); (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
		return "", fmt.Errorf("%q names the default port, which browsers leave out of Origin: write %s://%s", o, u.Scheme, u.Hostname())
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

// CheckCORSHeader checks an entry of allowed_headers or exposed_headers: a
// header name (an HTTP token), or "*".
func CheckCORSHeader(h string) error {
	if h == "*" {
		return nil
	}
	if h == "" || strings.ContainsFunc(h, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r))
	}) {
		return fmt.Errorf("%q is not a header name such as X-Requested-With", h)
	}
	return nil
}

// ErrCORSWildcardCredentials is a CORS setting that allows credentials
// from any origin ("*"): browsers refuse that, and it would let every site
// act with the user's session.
var ErrCORSWildcardCredentials = errors.New(`allow_credentials needs the origins listed: "*" in allowed_origins cannot carry credentials`)

// CheckCORS checks a CORS setting as a whole and returns its origins
// cleaned (see CleanCORSOrigin).
func CheckCORS(c CORS) (origins []string, err error) {
	for i, o := range c.AllowedOrigins {
		co, err := CleanCORSOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("allowed_origins entry %d: %w", i+1, err)
		}
		if !slices.Contains(origins, co) {
			origins = append(origins, co)
		}
	}
	if slices.Contains(origins, "*") {
		if c.AllowCredentials {
			return nil, ErrCORSWildcardCredentials
		}
		if len(origins) > 1 {
			return nil, errors.New(`allowed_origins: "*" allows every origin; list origins or write "*" alone`)
		}
	}
	for i, h := range c.AllowedHeaders {
		if err := CheckCORSHeader(h); err != nil {
			return nil, fmt.Errorf("allowed_headers entry %d: %w", i+1, err)
		}
	}
	for i, h := range c.ExposedHeaders {
		if err := CheckCORSHeader(h); err != nil {
			return nil, fmt.Errorf("exposed_headers entry %d: %w", i+1, err)
		}
		if h == "*" && c.AllowCredentials {
			return nil, errors.New(`exposed_headers: "*" does not work with allow_credentials (browsers read it as a header named *); list the headers`)
		}
	}
	if c.MaxAge < 0 {
		return nil, errors.New("max_age must not be negative")
	}
	return origins, nil
}

// trustedOrigins is the one list the CSRF origin check trusts: the
// configured trusted origins and every CORS origin (but "*"), so that the
// two cannot drift apart. origins are the cleaned CORS origins.
func trustedOrigins(trusted, origins []string) []string {
	out := slices.Clone(trusted)
	for _, o := range origins {
		if o != "*" && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// newCORS builds the CORS handler of cfg.CORS, nil when it is off, with the
// gateway's extra methods allowed too.
func newCORS(c CORS, origins, extraMethods []string) *corsHandler {
	if len(origins) == 0 {
		// rs/cors reads no origins as "every origin": never built so.
		return nil
	}
	headers := slices.Concat(CORSAlwaysAllowedHeaders, c.AllowedHeaders)
	maxAge := 0
	if c.MaxAge > 0 {
		maxAge = max(1, int(c.MaxAge/time.Second))
	}
	return cors.New(cors.Options{
		AllowedOrigins:   origins,
		AllowedMethods:   slices.Concat(corsMethods, extraMethods),
		AllowedHeaders:   headers,
		ExposedHeaders:   c.ExposedHeaders,
		AllowCredentials: c.AllowCredentials,
		MaxAge:           maxAge,
	})
}

// isPreflight reports whether r is a CORS preflight: OPTIONS with an
// Origin and an Access-Control-Request-Method.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// corsOwn answers CORS for gatehouse's own endpoints: every preflight
// gets 204 (before the route table, the CSRF checks and the mux, so it
// never needs a session), with the CORS headers only for an allowed origin
// (a browser fails the preflight of any other), and the answers to
// allowed origins get the CORS headers.
func (s *Server) corsOwn(next http.Handler) http.Handler {
	if s.cors == nil {
		return next
	}
	h := s.cors.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header["Origin"] == nil {
			next.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// CORS wraps a handler of an embedding program in the server's CORS
// setting (Config.CORS): every preflight is answered 204 without reaching
// h (with the CORS headers only for an allowed origin), so it never needs
// a session and h never sees one, and h's answers to
// allowed origins get the CORS headers (every answer gets Vary: Origin, for
// caches). Put it outside Protect: gh.CORS(gh.Protect(h)); Protect's CSRF
// origin check already trusts the CORS origins. Without CORS origins it
// returns h.
func (s *Server) CORS(h http.Handler) http.Handler {
	if s.cors == nil {
		return h
	}
	return s.cors.Handler(h)
}

// corsRoute reports whether the gateway route a request to path with
// method (for a preflight, the method it announces) falls under says
// cors: true.
func (g *gateway) corsRoute(method, path string, r *http.Request) bool {
	if g.cors == nil || g.routes == nil {
		return false
	}
	in := g.proxies.in(r)
	d := g.routes.Decide(method, in.host, path, in.client)
	return g.routes.CORS(d.Rule)
}

// corsPreflight answers r, a request to path, when it is a preflight to a
// cors: true route from an allowed origin (whose method and headers are
// allowed): 204 with the CORS headers, and true. Otherwise it sets nothing
// and returns false: the request goes its usual way (a preflight from
// another origin is decided like any OPTIONS request).
func (g *gateway) corsPreflight(w http.ResponseWriter, r *http.Request, path string) bool {
	if !isPreflight(r) || !g.corsRoute(r.Header.Get("Access-Control-Request-Method"), path, r) {
		return false
	}
	h := make(http.Header)
	g.cors.HandlerFunc(headerWriter{h}, r)
	if h["Access-Control-Allow-Origin"] == nil {
		return false
	}
	wh := w.Header()
	for k, v := range h {
		wh[k] = v
	}
	g.api.setSecurityHeaders(wh, r)
	w.WriteHeader(http.StatusNoContent)
	return true
}

// corsActual sets, for a request to path on a cors: true route, the CORS
// headers of an actual request from an allowed origin on h (only Vary for
// another origin), and reports whether the route is a cors: true one.
func (g *gateway) corsActual(h http.Header, r *http.Request, path string) bool {
	if r.Header["Origin"] == nil || !g.corsRoute(r.Method, path, r) {
		return false
	}
	g.cors.HandlerFunc(headerWriter{h}, r)
	return true
}

// corsVerifyHeaders sets, on the answer of GET BASE/verify about orig (a
// request to path on a cors: true route from an allowed origin, not a
// preflight), the CORS headers of an actual request, for nginx's
// auth_request_set to copy onto the application's answer. A preflight is
// decided by /verify like any OPTIONS request (a 2xx would let it through
// to the application); GET BASE/verify/preflight answers preflights.
func (g *gateway) corsVerifyHeaders(w http.ResponseWriter, orig *http.Request, path string) {
	if orig.Header["Origin"] != nil && !isPreflight(orig) {
		g.corsActual(w.Header(), orig, path)
	}
}

// corsProxy is the CORS front of the reverse proxy: preflights to cors:
// true routes are answered here, and the other requests to them get the
// CORS headers, the upstream's own Access-Control-* headers being dropped
// (see dropUpstreamCORS) so that there is one source of truth.
func (g *gateway) corsProxy(next http.Handler) http.Handler {
	if g.cors == nil || g.routes == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header["Origin"] == nil {
			next.ServeHTTP(w, r)
			return
		}
		path, err := cleanOriginalPath(r.URL.EscapedPath())
		if err != nil {
			next.ServeHTTP(w, r) // refused there
			return
		}
		if g.corsPreflight(w, r, path) {
			return
		}
		if g.corsActual(w.Header(), r, path) {
			r = r.WithContext(context.WithValue(r.Context(), corsRouteKey{}, true))
		}
		next.ServeHTTP(w, r)
	})
}

// corsRouteKey marks in a proxied request's context that its route says
// cors: true.
type corsRouteKey struct{}

// dropUpstreamCORS removes the upstream's Access-Control-* headers from its
// answer to a request on a cors: true route: gatehouse has set its own.
// (ReverseProxy.ModifyResponse.)
func dropUpstreamCORS(res *http.Response) error {
	if res.Request == nil || res.Request.Context().Value(corsRouteKey{}) == nil {
		return nil
	}
	for k := range res.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			delete(res.Header, k)
		}
	}
	return nil
}

// corsUpstreamError sets again, on h, the CORS headers of r (a request the
// upstream did not answer, on a cors: true route), which the 502 or 504 of
// upstreamError cleared with the rest: a script of an allowed origin can
// then read that status instead of a network error.
func (g *gateway) corsUpstreamError(h http.Header, r *http.Request) {
	if g.cors != nil && r.Context().Value(corsRouteKey{}) != nil {
		g.cors.HandlerFunc(headerWriter{h}, r)
	}
}

// headerWriter is a ResponseWriter that keeps only the headers: rs/cors
// writes a preflight's status itself, which gatehouse decides.
type headerWriter struct{ h http.Header }

func (w headerWriter) Header() http.Header         { return w.h }
func (w headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w headerWriter) WriteHeader(int)             {}
