package httpapi

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
)

// HeaderRequestID carries a request's id: taken from a trusted proxy, or
// made here, and echoed on every answer (and sent on to the upstream), so
// the logs of a proxy, of gatehouse and of the application can be joined.
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds a trusted proxy's request id.
const maxRequestIDLen = 128

// requestIDOf returns the id of r: the X-Request-Id a trusted proxy sent,
// when it is sane (see validRequestID), else a new one. A client that is
// not a trusted proxy cannot choose its id, so it cannot make its lines in
// the log pass for another request's.
func (p proxies) requestIDOf(r *http.Request) string { return p.requestIDValue(r)[0] }

// requestIDValue is requestIDOf as the value of an X-Request-Id header,
// one element long and capped at it (an Add elsewhere cannot write into
// what it shares): the request's own value when kept, so the request path
// allocates nothing for a proxy's id and one block for a new one.
func (p proxies) requestIDValue(r *http.Request) []string {
	if v := r.Header[HeaderRequestID]; len(v) == 1 && validRequestID(v[0]) && p.trusts(remoteAddr(r)) {
		return v[:1:1]
	}
	return newRequestIDValue()
}

// validRequestID reports whether id is 1 to 128 characters of
// [A-Za-z0-9._:-]: enough for a UUID, nginx's $request_id and Traefik's,
// and nothing that could forge a log line or a header.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// newRequestIDValue returns a new request id as a header value (see
// requestIDValue): 16 hex digits from math/rand/v2's global source, the
// runtime's per-thread ChaCha8, seeded by the operating system, with no
// lock and no system call. An id only needs to be unique among the
// requests of a log, not secret (it is no credential, and it is echoed to
// the client), so crypto/rand's cost buys nothing here; 64 random bits
// collide once in about four billion ids.
func newRequestIDValue() []string {
	const hexDigits = "0123456789abcdef"
	var digits [16]byte
	n := rand.Uint64()
	for i := len(digits) - 1; i >= 0; i-- {
		digits[i] = hexDigits[n&0xf]
		n >>= 4
	}
	return []string{string(digits[:])}
}

// setRequestID sets id as h's X-Request-Id (the canonical name assigned
// directly: one allocation, for the value's slice).
func setRequestID(h http.Header, id string) {
	h[HeaderRequestID] = []string{id}
}

// answerID returns the request id of the answer w is writing to r: the
// one its X-Request-Id header has (set where the request entered the
// Server). For a request refused by an embedding program's middleware
// (Protect, Require, …), which enters nowhere and so has none, one is made
// now, set in that header and given to r's inbound (so the error's line in
// the log names it): only errors pay for it, never the handlers they let
// through.
func (s *Server) answerID(w http.ResponseWriter, r *http.Request) string {
	if v := w.Header()[HeaderRequestID]; len(v) == 1 {
		return v[0]
	}
	in, _ := r.Context().Value(inboundKey{}).(*inbound)
	if in == nil || in.id == "" {
		id := s.proxies.requestIDOf(r)
		if in != nil {
			in.id = id
		}
		setRequestID(w.Header(), id)
		return id
	}
	setRequestID(w.Header(), in.id)
	return in.id
}

// requestIDFrom returns the request id of the request ctx belongs to, ""
// outside one.
func requestIDFrom(ctx context.Context) string {
	if in, ok := ctx.Value(inboundKey{}).(*inbound); ok {
		return in.id
	}
	return ""
}

// RequestIDHandler wraps a slog.Handler so that every record logged with
// the context of a request gatehouse serves carries its request_id (the
// X-Request-Id of its answer). Server wraps Deps.Log in it; a program may
// wrap its whole logger (the account service logs with the request's
// context too).
func RequestIDHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{h}
}

// requestIDHandler is RequestIDHandler's handler.
type requestIDHandler struct{ slog.Handler }

// Handle adds the request id of ctx, when there is one.
func (h requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := requestIDFrom(ctx); id != "" {
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

// WithAttrs keeps the wrapping.
func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the wrapping.
func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
