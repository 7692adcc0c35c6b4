package httpapi

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func mustParsePrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestJSONFieldNames(t *testing.T) {
	type inner struct {
		A string `json:"a"`
		B string
	}
	type outer struct {
		inner
		C       string `json:"c,omitempty"`
		D       string `json:"-"`
		*Nested `json:"nested"`
	}
	got := jsonFieldNames(reflect.TypeOf(&outer{}))
	want := map[string]bool{"a": true, "B": true, "c": true, "nested": true}
	if !maps.Equal(got, want) {
		t.Errorf("jsonFieldNames = %v, want %v", got, want)
	}
	if jsonFieldNames(reflect.TypeOf(outer{})) != nil || jsonFieldNames(reflect.TypeOf(&[]int{})) != nil {
		t.Error("jsonFieldNames of a non-pointer or a non-struct is not nil")
	}
}

// Nested is a struct embedded under a name of its own.
type Nested struct{ X string }

// TestStatusWriter: the status the metrics count is the one the client
// got — not an informational 1xx before it, 200 when nothing was written,
// 101 for a protocol switch or a hijacked connection.
func TestStatusWriter(t *testing.T) {
	for name, c := range map[string]struct {
		serve func(w http.ResponseWriter)
		want  int
	}{
		"nothing written":       {func(http.ResponseWriter) {}, 200},
		"body only":             {func(w http.ResponseWriter) { w.Write([]byte("x")) }, 200},
		"status":                {func(w http.ResponseWriter) { w.WriteHeader(404) }, 404},
		"early hints, then 201": {func(w http.ResponseWriter) { w.WriteHeader(103); w.WriteHeader(201) }, 201},
		"switching protocols":   {func(w http.ResponseWriter) { w.WriteHeader(101) }, 101},
		"second status ignored": {func(w http.ResponseWriter) { w.WriteHeader(204); w.WriteHeader(500) }, 204},
	} {
		sw := &statusWriter{ResponseWriter: httptest.NewRecorder()}
		c.serve(sw)
		if got := sw.status(); got != c.want {
			t.Errorf("%s: status %d, want %d", name, got, c.want)
		}
	}

	// Hijacking through http.ResponseController reaches the connection.
	got := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		conn, _, err := http.NewResponseController(sw).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			got <- 0
			return
		}
		conn.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n"))
		conn.Close()
		got <- sw.status()
	}))
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err == nil {
		res.Body.Close()
	}
	if s := <-got; s != 101 {
		t.Errorf("hijacked: status %d, want 101", s)
	}
}

// TestDecisionOf: every answer of forward auth is counted under a result,
// a failure to decide included.
func TestDecisionOf(t *testing.T) {
	for status, want := range map[int]string{
		200: "allowed", 302: "login", 401: "unauthenticated", 403: "forbidden",
		400: "bad_request", 429: "rate_limited", 500: "error", 503: "error",
	} {
		if got := decisionOf(status); got != want {
			t.Errorf("decisionOf(%d) = %q, want %q", status, got, want)
		}
	}
}

// TestOriginalErrorsHideTheQuery: a refused forward-auth request is logged
// with its error, which must not quote the original URL's query (it may
// hold the application's secrets).
func TestOriginalErrorsHideTheQuery(t *testing.T) {
	const secret = "code=s3cr3t-oauth-code"
	for name, h := range map[string]http.Header{
		"URL without path": {keyOriginalMethod: {"GET"}, keyOriginalURL: {"http://app.example.com?" + secret}},
		"URL not http":     {keyOriginalMethod: {"GET"}, keyOriginalURL: {"ftp://app.example.com/x?" + secret}},
		"URL bad host":     {keyOriginalMethod: {"GET"}, keyOriginalURL: {"http://a b/x?" + secret}},
		"URI relative":     {keyForwardedMethod: {"GET"}, keyForwardedURI: {"x?" + secret}},
		"URI control":      {keyForwardedMethod: {"GET"}, keyForwardedURI: {"/x\x01?" + secret}},
		"URI bad escape":   {keyForwardedMethod: {"GET"}, keyForwardedURI: {"/x%zz?" + secret}},
	} {
		_, err := parseOriginal(h)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: the error quotes the query: %v", name, err)
		}
	}
}

// TestForwardedValue: the Forwarded element gatehouse sends, quoted where
// RFC 7239's grammar needs it (an IPv6 address, a host with a port).
func TestForwardedValue(t *testing.T) {
	for _, c := range []struct {
		client string
		ipv6   bool
		proto  string
		host   string
		want   string
	}{
		{"203.0.113.5", false, "https", "app.example.com", `for=203.0.113.5;proto=https;host="app.example.com"`},
		{"2001:db8::1", true, "http", "app.example.com:8080", `for="[2001:db8::1]";proto=http;host="app.example.com:8080"`},
		{"", false, "http", "", `proto=http`},
	} {
		if got := forwardedValue(c.client, c.ipv6, c.proto, c.host); got != c.want {
			t.Errorf("forwardedValue(%q, %v, %q, %q) = %s, want %s", c.client, c.ipv6, c.proto, c.host, got, c.want)
		}
	}
}
