package httpapi

// What the gateway lets reach the application. The route table decides a
// request by its method and path; the application must then receive that
// same request, and not one it reads another way. So the gateway (forward
// auth and the reverse proxy alike) refuses what an application could read
// differently — a method in other case, a ";" path parameter, an upgrade
// to anything but WebSocket, a method-override or URL-rewrite header — and
// the reverse proxy removes other proxies' identity headers and sets the
// address headers itself.

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/policy"
)

var (
	errMethodRefused = &gatehouse.Error{Code: gatehouse.CodeMethodNotAllowed,
		Message: "The request method is not let through: only the standard methods in upper case (and gateway.extra_methods)."}
	errPathParameter = &gatehouse.Error{Code: gatehouse.CodeBadRequest,
		Message: "The request path has a \";\" parameter in a segment, which is not let through (gateway.allow_path_parameters)."}
	errUpgrade = &gatehouse.Error{Code: gatehouse.CodeBadRequest,
		Message: "Only WebSocket upgrades of a GET are let through."}
	errOverride = &gatehouse.Error{Code: gatehouse.CodeBadRequest,
		Message: "The request carries a method-override or URL-rewrite header (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override, X-Rewrite-URL)."}
	errVerifyMethod = &gatehouse.Error{Code: gatehouse.CodeMethodNotAllowed,
		Message: "Forward auth asks with GET (or HEAD); the original method goes in X-Forwarded-Method or X-Original-Method."}
	errMethodParam = &gatehouse.Error{Code: gatehouse.CodeBadRequest,
		Message: "The request carries a _method query parameter, which some frameworks take as its method."}
)

// methodAllowed reports whether m may reach the application: a standard
// method in upper case, or one of the configured extras. The one method
// check of the gateway, for the reverse proxy and GET BASE/verify alike.
func (g *gateway) methodAllowed(m string) bool {
	if policy.StandardMethod(m) {
		return true
	}
	for _, x := range g.extraMethods {
		if m == x {
			return true
		}
	}
	return false
}

// admit checks an original request before it is decided: its method, its
// cleaned path (no ";" unless path parameters are allowed; an encoded one
// included, since some servers decode before they split them off), its
// query (no _method parameter on an unsafe method), and its Upgrade header
// (WebSocket only, on a GET: Go's ReverseProxy, nginx and Caddy would
// otherwise open a tunnel for any protocol, h2c included, through which
// later requests reach the application unchecked). Nothing is allocated
// on the way to a nil.
func (g *gateway) admit(method, path, rawQuery string, h http.Header) error {
	if !g.methodAllowed(method) {
		return errMethodRefused
	}
	if !g.pathParameters && strings.IndexByte(path, ';') >= 0 {
		return errPathParameter
	}
	if rawQuery != "" && method != http.MethodGet && method != http.MethodHead && methodParamIn(rawQuery) {
		return errMethodParam
	}
	if up, ok := h["Upgrade"]; ok {
		if method != http.MethodGet || len(up) != 1 || !strings.EqualFold(strings.TrimSpace(up[0]), "websocket") {
			return errUpgrade
		}
	}
	return nil
}

// methodParamIn reports whether the query q has a _method parameter:
// Symfony, Laravel and Express's method-override take it as the method of
// a POST. Its name is read as PHP reads it (decoded, and a leading ".",
// " " or "[" as "_"); only a name with an escape is decoded, so the usual
// query costs a scan and no allocation. (A _method in a form body is
// beyond the gateway's reach: forward auth never sees the body.)
func methodParamIn(q string) bool {
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		key, _, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(key, "%+") {
			k, err := url.QueryUnescape(key)
			if err != nil {
				// PHP leaves a bad escape as it is: the name keeps a
				// "%" and cannot be _method.
				continue
			}
			key = k
		}
		if len(key) == len("_method") && key[1:] == "method" && strings.IndexByte("_. [", key[0]) >= 0 {
			return true
		}
	}
	return false
}

// overrideHeaderIn reports whether the headers h of a forward auth
// request carry a method-override or URL-rewrite header of the client's
// (nginx, Caddy and Traefik pass the client's headers on to the
// sub-request): the proxy then forwards it to the application, which may
// act on it instead of the method and URL gatehouse decided, and gatehouse
// cannot remove it there. X-Original-URL is not among them: it is nginx's
// own report of the original request, and parseOriginal requires it to
// agree with the others.
//
// The usual spellings are four map lookups. The spellings with "_" (which
// CGI-style servers read as "-"; nginx drops such headers by default,
// Caddy and Traefik pass them) take a scan of every header, done only when
// the original method is not GET or HEAD: Symfony, Rack, Express,
// ASP.NET Core and gorilla honour an override only on a POST, and the hot
// path of forward auth (a GET with a session) is spared the scan.
func overrideHeaderIn(h http.Header, method string) bool {
	if h["X-Http-Method-Override"] != nil || h["X-Http-Method"] != nil || h["X-Method-Override"] != nil || h["X-Rewrite-Url"] != nil {
		return true
	}
	if method == http.MethodGet || method == http.MethodHead {
		return false
	}
	for k := range h {
		if strings.IndexByte(k, '_') >= 0 {
			switch foldHeader(k) {
			case "x-http-method-override", "x-http-method", "x-method-override", "x-rewrite-url":
				return true
			}
		}
	}
	return false
}

// headerKind says what the reverse proxy does with a request header.
type headerKind uint8

const (
	keepHeader      headerKind = iota
	stripHeader                // always removed
	untrustedHeader            // removed unless the peer is a trusted proxy
)

// The headers the reverse proxy removes, in folded form (lower case, "_"
// as "-": CGI-style servers read X_Forwarded_User as X-Forwarded-User).
// identityHeaders are other proxies' and platforms' ways of naming the
// user (oauth2-proxy, Grafana's and many applications' auth proxy
// settings, Kong, Azure, AWS ALB, Google IAP, Cloudflare Access,
// Pomerium, Tailscale, Vouch, client-certificate headers): an
// application configured to trust one of them would take a client's word
// for who it is. overrideHeaders tell an application another method or URL
// than the one decided. clientAddressHeaders name the client's address or
// scheme; only a trusted proxy's are passed on (X-Forwarded-For, -Proto,
// -Host, Forwarded and X-Real-IP gatehouse sets itself).
var (
	identityHeaders = []string{
		"x-forwarded-user", "x-forwarded-email", "x-forwarded-preferred-username",
		"x-forwarded-groups", "x-forwarded-access-token",
		"x-remote-user", "x-remote-email", "x-remote-name", "x-remote-group", "x-remote-groups",
		"x-webauth-user", "x-webauth-email", "x-webauth-name", "x-webauth-groups",
		"x-authenticated-user", "x-authenticated-userid", "x-authenticated-groups", "x-authenticated-scope",
		"x-consumer-id", "x-consumer-username", "x-consumer-custom-id", "x-credential-identifier",
		"x-vouch-user",
		"x-goog-iap-jwt-assertion", "x-pomerium-jwt-assertion", "x-forwarded-client-cert",
		"x-client-cert", "x-client-verify", "x-client-dn", "ssl-client-cert", "ssl-client-verify",
	}
	identityPrefixes = []string{
		"remote-", "x-auth-request-", "x-ms-client-principal", "x-amzn-oidc-",
		"x-goog-authenticated-user-", "cf-access-", "x-pomerium-claim-", "tailscale-user-",
		"x-ssl-client-", "x-vouch-idp-",
	}
	overrideHeaders = []string{
		"x-http-method-override", "x-http-method", "x-method-override",
		"x-original-url", "x-rewrite-url", "x-original-uri", "x-original-method",
		"x-forwarded-method", "x-forwarded-uri",
	}
	clientAddressHeaders = []string{
		"true-client-ip", "cf-connecting-ip", "x-client-ip", "fastly-client-ip",
		"x-cluster-client-ip", "client-ip", "x-original-forwarded-for", "forwarded-for",
		"x-forwarded", "x-envoy-external-address", "x-forwarded-port", "x-forwarded-server",
		"x-forwarded-ssl", "x-forwarded-scheme", "x-url-scheme", "front-end-https",
		"x-forwarded-prefix",
	}
)

// headerPrefix is a prefix of header names (folded) and what to do with
// the headers it starts.
type headerPrefix struct {
	name string
	kind headerKind
}

// headerRules are the reverse proxy's header lists, with the configured
// extras, compiled for kindOf: by the first byte of the folded name, so
// that most of a request's headers (Accept, Cookie, User-Agent, …) are
// passed over after a lookup in a table or two.
type headerRules struct {
	names    map[string]headerKind
	named    [256]bool           // first bytes of names
	prefixes [256][]headerPrefix // by first byte
}

func (hr *headerRules) addName(n string, kind headerKind) {
	hr.names[n] = kind
	hr.named[n[0]] = true
}

func (hr *headerRules) addPrefix(p string, kind headerKind) {
	hr.prefixes[p[0]] = append(hr.prefixes[p[0]], headerPrefix{p, kind})
}

func newHeaderRules(extra []string) headerRules {
	hr := headerRules{names: map[string]headerKind{}}
	for _, n := range identityHeaders {
		hr.addName(n, stripHeader)
	}
	for _, n := range overrideHeaders {
		hr.addName(n, stripHeader)
	}
	for _, n := range clientAddressHeaders {
		hr.addName(n, untrustedHeader)
	}
	for _, p := range identityPrefixes {
		hr.addPrefix(p, stripHeader)
	}
	for _, n := range extra {
		if n == "" || n == "*" {
			continue // refused by CheckStripHeader
		}
		f := foldHeader(n)
		if p, ok := strings.CutSuffix(f, "*"); ok {
			hr.addPrefix(p, stripHeader)
		} else {
			hr.addName(f, stripHeader)
		}
	}
	return hr
}

// kindOf returns what to do with header k. A name of up to 64 bytes (all
// but the oddest) is folded on the stack: nothing is allocated.
func (hr *headerRules) kindOf(k string) headerKind {
	if k == "" {
		return keepHeader
	}
	first := foldByte(k[0])
	if !hr.named[first] && hr.prefixes[first] == nil {
		return keepHeader
	}
	var buf [64]byte
	var f []byte
	if len(k) <= len(buf) {
		f = buf[:len(k)]
		for i := 0; i < len(k); i++ {
			f[i] = foldByte(k[i])
		}
	} else {
		f = []byte(foldHeader(k))
	}
	if kind, ok := hr.names[string(f)]; ok {
		return kind
	}
	for _, p := range hr.prefixes[first] {
		if len(f) >= len(p.name) && string(f[:len(p.name)]) == p.name {
			return p.kind
		}
	}
	return keepHeader
}

func foldByte(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	case c == '_':
		return '-'
	}
	return c
}

// foldHeader is a header name as the lists hold it: lower case, "_" as "-".
func foldHeader(k string) string {
	b := []byte(k)
	for i, c := range b {
		b[i] = foldByte(c)
	}
	return string(b)
}

// CheckExtraMethod checks an entry of gateway.extra_methods: a method
// token (RFC 9110) of upper-case letters, digits, "-" and "_", at most 32
// bytes, and not a standard method (those are always let through).
func CheckExtraMethod(m string) error {
	if m == "" || len(m) > 32 || strings.ContainsFunc(m, func(r rune) bool {
		return !('A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_')
	}) {
		return fmt.Errorf("extra method %q must be an upper-case method name such as PROPFIND", m)
	}
	if policy.StandardMethod(m) {
		return fmt.Errorf("extra method %q is a standard method, always let through", m)
	}
	return nil
}

// CheckStripHeader checks an entry of gateway.strip_headers: a header name
// (RFC 9110 token), or a prefix of names ending in "*"; not a header the
// request's framing or gatehouse's own decision needs (Host, Content-Length,
// Transfer-Encoding, Connection, Upgrade).
func CheckStripHeader(h string) error {
	name := strings.TrimSuffix(h, "*")
	if name == "" || len(h) > 64 || strings.ContainsFunc(name, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("!#$%&'+-.^_`|~", r))
	}) {
		return fmt.Errorf("header %q is not a header name such as X-My-User (or a prefix such as X-My-*)", h)
	}
	switch foldHeader(name) {
	case "host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer":
		return fmt.Errorf("header %q frames the request and cannot be stripped", h)
	}
	return nil
}

// verifyStatus returns the status and error GET BASE/verify answers for
// err. nginx's auth_request takes only 2xx, 401 and 403 from it and turns
// anything else into a 500 for the client, so every refusal but a 401 is
// a 403 that keeps its problem code (and Retry-After): bad_request,
// method_not_allowed, too_many_attempts. A failure of gatehouse itself
// (a store it cannot reach, or too busy) is answered as store_unavailable.
func (g *gateway) verifyStatus(err error) (int, error) {
	switch status := statusOf(gatehouse.ErrorCode(err)); {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return status, err
	case status >= 500:
		return http.StatusForbidden, storeUnavailable(err)
	}
	return http.StatusForbidden, err
}

// allowHeader is the Allow header of the reverse proxy's 405: the methods
// it lets through (what the route table then makes of them is another
// matter).
func (g *gateway) allowHeader() string {
	return strings.Join(append([]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}, g.extraMethods...), ", ")
}
