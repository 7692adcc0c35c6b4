package session

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCookieDomain: with a cookie domain the session cookie carries it,
// is named __Secure- over HTTPS (a __Host- cookie cannot have a Domain),
// is cleared with the same Domain, and only that name is read.
func TestCookieDomain(t *testing.T) {
	e := newFakeEnv(t, Config{CookieDomain: ".Example.COM"})
	if got := e.m.CookieDomain(); got != "example.com" {
		t.Errorf("CookieDomain = %q, want example.com (dot dropped, lower case)", got)
	}
	for _, tt := range []struct {
		secure bool
		name   string
	}{{false, "gh_session"}, {true, "__Secure-gh_session"}} {
		if got := e.m.CookieName(tt.secure); got != tt.name {
			t.Errorf("CookieName(%v) = %q, want %q", tt.secure, got, tt.name)
		}
		tok, s := e.create(t, "u", CreateOptions{})
		rec := httptest.NewRecorder()
		e.m.SetCookie(rec, tok, s, tt.secure)
		got, raw := oneCookie(t, rec)
		if got.Name != tt.name || got.Domain != "example.com" || got.Secure != tt.secure || got.Path != "/" || !got.HttpOnly {
			t.Errorf("SetCookie(secure=%v) = %s", tt.secure, raw)
		}
		rec = httptest.NewRecorder()
		e.m.ClearCookie(rec, tt.secure)
		got, raw = oneCookie(t, rec)
		if got.Name != tt.name || got.Domain != "example.com" || got.MaxAge >= 0 {
			t.Errorf("ClearCookie(secure=%v) = %s, want the same name and Domain, expired", tt.secure, raw)
		}

		for _, name := range []string{"gh_session", "__Host-gh_session", "__Secure-gh_session"} {
			r := httptest.NewRequest("GET", "/", nil)
			r.AddCookie(&http.Cookie{Name: name, Value: tok})
			_, ok := e.m.ReadToken(r, tt.secure)
			if ok != (name == tt.name) {
				t.Errorf("ReadToken(secure=%v) of cookie %s: found=%v", tt.secure, name, ok)
			}
		}
	}
}

func TestCheckCookieDomain(t *testing.T) {
	for _, d := range []string{"", "example.com", "auth.example.co.uk", "example.test", "my-site.github.io"} {
		if err := CheckCookieDomain(d); err != nil {
			t.Errorf("CheckCookieDomain(%q) = %v", d, err)
		}
	}
	for d, want := range map[string]string{
		"https://example.com": "URL",
		"example.com:443":     "port",
		"example.com/app":     "path",
		"*.example.com":       "wildcard",
		"com":                 "dot",
		"localhost":           "dot",
		"192.0.2.1":           "address",
		"co.uk":               "public suffix",
		"github.io":           "public suffix",
		"exa mple.com":        "not a domain",
		"example..com":        "not a domain",
	} {
		if err := CheckCookieDomain(d); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckCookieDomain(%q) = %v, want an error saying %q", d, err, want)
		}
	}
	if err := (Config{CookieDomain: "co.uk"}).Validate(); err == nil {
		t.Error("Validate accepts a public suffix as the cookie domain")
	}
}
