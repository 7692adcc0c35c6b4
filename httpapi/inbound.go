package httpapi

import (
	"context"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/policy"
)

// inbound is what gatehouse works out about a request once, where the
// request enters (ServeHTTP; Protect, Require, Authenticate and CSRF for
// an embedding program's handlers; GET BASE/verify for the original
// request it asks about), and every later step reads from there: whether
// the client reached us over HTTPS, its address and the host it asked
// for, each after trusted-proxy resolution.
type inbound struct {
	// secure: TLS here, or X-Forwarded-Proto: https from a trusted proxy.
	secure bool
	// client is the client's address: the peer, or, from a trusted proxy,
	// the right-most X-Forwarded-For entry that is not itself one.
	client netip.Addr
	// host is the Host the client asked for: the last X-Forwarded-Host
	// from a trusted proxy, else the Host header (with its port, as sent;
	// the route table ignores the port and the letter case).
	host string
	// id is the request id (see requestIDOf), set where a request enters
	// the Server (ServeHTTP, GET BASE/verify); "" for Protect and the
	// other middleware of an embedding program.
	id string
	// user is the id of the user the request was authenticated as, once
	// it is (see withCredentials): for the request's line in the log.
	user string
}

// inboundContext carries an inbound in a request's context, in one
// allocation with the context itself.
type inboundContext struct {
	context.Context
	in inbound
}

type inboundKey struct{}

func (c *inboundContext) Value(key any) any {
	if _, ok := key.(inboundKey); ok {
		return &c.in
	}
	return c.Context.Value(key)
}

// enter returns r carrying its inbound: worked out now, unless r already
// carries one (it came through another entry first).
func (s *Server) enter(r *http.Request) *http.Request {
	if _, ok := r.Context().Value(inboundKey{}).(*inbound); ok {
		return r
	}
	return r.WithContext(&inboundContext{Context: r.Context(), in: s.proxies.inbound(r)})
}

// in returns the inbound of r as its entry worked it out; for a request
// that came through none (a handler a program mounted by itself), it
// works it out now.
func (s *Server) in(r *http.Request) *inbound { return s.proxies.in(r) }

// in is Server.in with the trusted proxies p, for the gateway too.
func (p proxies) in(r *http.Request) *inbound {
	if in, ok := r.Context().Value(inboundKey{}).(*inbound); ok {
		return in
	}
	in := p.inbound(r)
	return &in
}

// inbound works out r's inbound.
func (p proxies) inbound(r *http.Request) inbound {
	peer := remoteAddr(r)
	if !p.trusts(peer) {
		return inbound{secure: r.TLS != nil, client: peer, host: r.Host}
	}
	return inbound{secure: r.TLS != nil || forwardedHTTPS(r), client: p.forwardedClient(r, peer), host: forwardedHost(r)}
}

// forwardedHost is the host a trusted proxy says the client asked for:
// the last entry of X-Forwarded-Host (the one the proxy next to us set),
// when it is a valid host; else the Host header.
func forwardedHost(r *http.Request) string {
	values := r.Header["X-Forwarded-Host"]
	if len(values) == 0 {
		return r.Host
	}
	last := values[len(values)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	if last = strings.TrimSpace(last); validHost(last) {
		return last
	}
	return r.Host
}

// entering is middleware that makes every request it passes on carry its
// inbound (see enter) with its request id, which every answer carries in
// X-Request-Id.
func (s *Server) entering(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = s.enter(r)
		in := s.in(r)
		if in.id == "" {
			v := s.proxies.requestIDValue(r)
			in.id = v[0]
			w.Header()[HeaderRequestID] = v
		} else {
			setRequestID(w.Header(), in.id)
		}
		next.ServeHTTP(w, r)
	})
}

var errBadHost = &gatehouse.Error{Code: gatehouse.CodeBadRequest, Message: "The request's host is missing or malformed."}

// routeHost is the host the route table t decides in by: in.host, or
// errBadHost when some rule of t is limited to hosts and in has no host,
// or one no rule could name ("admin.example.com..", ".example.com"): a
// rule for a host must not be dodged by naming none, when a later rule
// without hosts would allow more. Fails closed, as for paths.
func routeHost(t *policy.Table, in *inbound) (string, error) {
	if t.UsesHosts() && (!validHost(in.host) || strings.Contains(in.host, "..") || strings.HasPrefix(in.host, ".")) {
		return "", errBadHost
	}
	return in.host, nil
}
