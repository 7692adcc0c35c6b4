package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse"
)

// maxBodyBytes bounds every JSON request body (the contract's 64 KiB).
const maxBodyBytes = 64 << 10

func badRequest(format string, args ...any) error {
	return &gatehouse.Error{Code: gatehouse.CodeBadRequest, Message: fmt.Sprintf(format, args...)}
}

// decodeJSON reads a request body of exactly one JSON object into dst,
// refusing other content types (415), bodies over 64 KiB, malformed JSON,
// unknown fields, a field given twice or in other letter case, and
// trailing data (400).
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return &gatehouse.Error{Code: gatehouse.CodeUnsupportedMediaType, Message: "The request body must be application/json."}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return jsonError(err)
	}
	if err := checkKeys(body, dst); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return badRequest("The request body must hold a single JSON object.")
	}
	return nil
}

// checkKeys refuses, in a JSON object body decoded into the struct dst
// points to, a key given twice or spelled other than exactly as one of the
// struct's JSON field names. encoding/json matches names in any letter case
// and lets the last of two equal keys win, so {"username":"a",
// "USERNAME":"b"} would be read as "b" here and perhaps as "a" by whatever
// looked at the body before (a proxy, a log, a WAF). Only the top level is
// checked (no request body of the contract nests objects); anything that
// is not an object decoded into a struct is left to the decoder to judge.
func checkKeys(body []byte, dst any) error {
	names := jsonFieldNames(reflect.TypeOf(dst))
	if names == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	seen := make(map[string]bool, len(names))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		if seen[key] {
			return badRequest("Field %.64q is given more than once.", key)
		}
		seen[key] = true
		if !names[key] {
			for name := range names {
				if strings.EqualFold(name, key) {
					return badRequest("Unknown field %.64q (field names are case-sensitive: %q).", key, name)
				}
			}
			return badRequest("Unknown field %.64q.", key)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}

// fieldNameCache maps a struct pointer type to its JSON field names.
var fieldNameCache sync.Map

// jsonFieldNames returns the JSON names of the fields of the struct t
// points to, or nil when t is not a pointer to a struct.
func jsonFieldNames(t reflect.Type) map[string]bool {
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	if names, ok := fieldNameCache.Load(t); ok {
		return names.(map[string]bool)
	}
	names := map[string]bool{}
	addJSONFieldNames(names, t.Elem())
	fieldNameCache.Store(t, names)
	return names
}

// addJSONFieldNames adds the JSON names of struct type st's fields to
// names, with those of embedded structs promoted as encoding/json does.
func addJSONFieldNames(names map[string]bool, st reflect.Type) {
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case tag == "-":
			continue
		case f.Anonymous && name == "" && ft.Kind() == reflect.Struct:
			addJSONFieldNames(names, ft)
			continue
		case !f.IsExported():
			continue
		case name == "":
			name = f.Name
		}
		names[name] = true
	}
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
	return p.forwardedClient(r, peer)
}

// forwardedClient is clientAddr for a request from the trusted proxy peer.
func (p proxies) forwardedClient(r *http.Request, peer netip.Addr) netip.Addr {
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
// X-Forwarded-Proto: https from a trusted proxy. Handlers read it from the
// request's inbound (Server.in), which works it out once.
func (p proxies) isHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	// Whether the peer is trusted is asked last: it parses RemoteAddr,
	// which a plain-HTTP request need not pay for.
	return forwardedHTTPS(r) && p.trusts(remoteAddr(r))
}

// forwardedHTTPS reports whether r's X-Forwarded-Proto says https (to be
// believed only from a trusted proxy).
func forwardedHTTPS(r *http.Request) bool {
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
