package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/policy"
)

// FuzzParseOriginal feeds arbitrary forward auth headers to parseOriginal.
// It must never panic, and what it accepts must be one unambiguous
// request: a valid method, a cleaned path without dot segments, and the
// URL url.ParseRequestURI makes of the URI (parseRequestURI's fast path
// must not read a URI differently).
func FuzzParseOriginal(f *testing.F) {
	f.Add("GET", "/app/x?y=1", "http://app.example.com/app/x?y=1", "", "", "http", "app.example.com")
	f.Add("POST", "/app/caf%C3%A9", "", "", "", "", "")
	f.Add("", "", "", "DELETE", "/app/servers/7?", "https", "example.com:8443")
	f.Add("GET", "/a/../b", "https://[::1]:8443/a/../b", "", "", "", "")
	f.Add("GET", "/a?b?c", "", "GET", "/a?b?c", "HTTP", "APP.example.com")
	f.Add("GET", "/%zz", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, oMethod, oURI, oURL, fMethod, fURI, fProto, fHost string) {
		h := http.Header{}
		for k, v := range map[string]string{
			keyOriginalMethod: oMethod, keyOriginalURI: oURI, keyOriginalURL: oURL,
			keyForwardedMethod: fMethod, keyForwardedURI: fURI,
			keyForwardedProto: fProto, keyForwardedHost: fHost,
		} {
			if v != "" {
				h[k] = []string{v}
			}
		}
		o, err := parseOriginal(h)
		if err != nil {
			return
		}
		if !validMethod(o.method) {
			t.Fatalf("accepted method %q", o.method)
		}
		if o.scheme != "" && o.scheme != "http" && o.scheme != "https" {
			t.Fatalf("accepted scheme %q", o.scheme)
		}
		if o.host != "" && !validHost(o.host) {
			t.Fatalf("accepted host %q", o.host)
		}
		if strings.Contains(o.path, "..") || strings.Contains(o.path, "//") {
			t.Fatalf("accepted path %q (URI %q)", o.path, o.uri)
		}
		if again, err := policy.CleanPath(o.path); err != nil || again != o.path {
			t.Fatalf("path %q is not clean: %q, %v", o.path, again, err)
		}
		want, err := url.ParseRequestURI(o.uri)
		if err != nil {
			t.Fatalf("accepted URI %q that url.ParseRequestURI refuses: %v", o.uri, err)
		}
		if *want != o.url {
			t.Fatalf("URI %q: parsed %#v, url.ParseRequestURI %#v", o.uri, o.url, *want)
		}
	})
}

// FuzzHeaderKind: the reverse proxy's header classification folds a name
// on the stack (lower case, "_" as "-"); it must agree with the plain
// reading of the lists for every name, whatever its length, case or
// spelling, so that no spelling of an identity or override header slips
// through.
func FuzzHeaderKind(f *testing.F) {
	f.Add("X-Forwarded-User")
	f.Add("x_http_method_override")
	f.Add("REMOTE_USER")
	f.Add("X-Auth-Request-Preferred-Username")
	f.Add("X-My-Thing")
	f.Add("X-Corp-" + strings.Repeat("a", 80))
	f.Add("True-Client-IP")
	hr := newHeaderRules([]string{"X-My-Thing", "X-Corp-*"})
	f.Fuzz(func(t *testing.T, k string) {
		got := hr.kindOf(k)
		folded := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
		want := keepHeader
		switch {
		case slices.Contains(identityHeaders, folded), slices.Contains(overrideHeaders, folded), folded == "x-my-thing":
			want = stripHeader
		case slices.Contains(clientAddressHeaders, folded):
			want = untrustedHeader
		case strings.HasPrefix(folded, "x-corp-") || slices.ContainsFunc(identityPrefixes, func(p string) bool { return strings.HasPrefix(folded, p) }):
			want = stripHeader
		}
		if got != want {
			t.Fatalf("kindOf(%q) = %d, want %d", k, got, want)
		}
	})
}

// FuzzMethodParam: whatever the query, methodParamIn never panics, and
// it finds every parameter that Go's own query parser reads as one of the
// names PHP turns into _method.
func FuzzMethodParam(f *testing.F) {
	f.Add("_method=DELETE")
	f.Add("a=1&%5Fmethod=PUT")
	f.Add("+method=x&b")
	f.Add("%zz=1&.method")
	f.Fuzz(func(t *testing.T, q string) {
		got := methodParamIn(q)
		vs, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		for k := range vs {
			if len(k) == 7 && k[1:] == "method" && strings.IndexByte("_. [", k[0]) >= 0 && !got {
				t.Fatalf("methodParamIn(%q) missed %q", q, k)
			}
		}
	})
}
