package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// maxBodyBytes bounds every JSON request body (the contract's 64 KiB).
const maxBodyBytes = 64 << 10

func badRequest(format string, args ...any) error {
	return &gatehouse.Error{Code: gatehouse.CodeBadRequest, Message: fmt.Sprintf(format, args...)}
}

// decodeJSON reads a request body of exactly one JSON object into dst,
// refusing other content types (415), bodies over 64 KiB, malformed JSON,
// unknown fields and trailing data (400).
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return &gatehouse.Error{Code: gatehouse.CodeUnsupportedMediaType, Message: "The request body must be application/json."}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return jsonError(err)
		}
		return badRequest("The request body must hold a single JSON object.")
	}
	return nil
}

// jsonError turns a decoding error into a client error that says what is
// wrong without echoing the body back.
func jsonError(err error) error {
	var (
		syntax  *json.SyntaxError
		typ     *json.UnmarshalTypeError
		tooBig  *http.MaxBytesError
		invalid *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &tooBig):
		return badRequest("The request body is larger than %d KiB.", maxBodyBytes>>10)
	case errors.Is(err, io.EOF):
		return badRequest("The request body is empty; a JSON object is required.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("The request body is not complete JSON.")
	case errors.As(err, &syntax):
		return badRequest("The request body is not valid JSON (at byte %d).", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("The request body must be a JSON object.")
		}
		return badRequest("Field %q must be of type %s.", typ.Field, typ.Type)
	case errors.As(err, &invalid):
		return fmt.Errorf("decode json: %w", err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest("Unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return badRequest("The request body could not be read.")
	}
}

// proxies decides which requests' X-Forwarded-* headers are believed.
type proxies []netip.Prefix

func (p proxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, pr := range p {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

func remoteAddr(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// clientAddr is the address of the client: the peer, unless the peer is a
// trusted proxy, in which case the right-most X-Forwarded-For entry that is
// not itself a trusted proxy. Entries left of that are client-supplied and
// never believed.
func (p proxies) clientAddr(r *http.Request) netip.Addr {
	peer := remoteAddr(r)
	if !p.trusts(peer) {
		return peer
	}
	// The entries of all X-Forwarded-For lines, right to left, without
	// joining or splitting them into new strings.
	values := r.Header["X-Forwarded-For"]
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for {
			hop := v
			j := strings.LastIndexByte(v, ',')
			if j >= 0 {
				hop = v[j+1:]
			}
			a, err := netip.ParseAddr(strings.TrimSpace(hop))
			if err != nil {
				return peer // a malformed chain: believe only the peer
			}
			a = a.Unmap()
			if !p.trusts(a) {
				return a
			}
			if j < 0 {
				break
			}
			v = v[:j]
		}
	}
	return peer
}

// isHTTPS reports whether the client reached us over HTTPS: TLS here, or
// X-Forwarded-Proto: https from a trusted proxy.
func (p proxies) isHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if !p.trusts(remoteAddr(r)) {
		return false
	}
	// The last value is the one the trusted proxy next to us set; values
	// before it may come from the client, through a proxy that appends.
	values := r.Header["X-Forwarded-Proto"] // canonical: no Values lookup
	if len(values) == 0 {
		return false
	}
	proto := values[len(values)-1]
	if i := strings.LastIndexByte(proto, ','); i >= 0 {
		proto = proto[i+1:]
	}
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}
