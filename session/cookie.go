package session

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/gatehouse/gatehouse"
)

// hostPrefix is the cookie name prefix that makes browsers insist on Secure,
// Path=/ and no Domain, so a sibling subdomain cannot plant the cookie.
const hostPrefix = "__Host-"

// securePrefix is the prefix of a cookie with a Domain (Config.CookieDomain),
// which cannot be __Host-: browsers still insist on Secure, so a page served
// over plain HTTP cannot plant or overwrite it.
const securePrefix = "__Secure-"

// CookieName returns the name of the session cookie: the configured name,
// over HTTPS with the __Host- prefix, or __Secure- when the cookie has a
// Domain (Config.CookieDomain).
func (m *Manager) CookieName(secure bool) string {
	if secure {
		return m.secureName
	}
	return m.cfg.CookieName
}

// CookieDomain is the Domain of the session cookie, "" for a host-only
// cookie (Config.CookieDomain).
func (m *Manager) CookieDomain() string { return m.cfg.CookieDomain }

// ReadToken returns the session token of a request's cookie, when it has one
// of the right shape. Over HTTPS only the cookie of the prefixed name
// (CookieName) counts, so a cookie set over plain HTTP (or, without a
// cookie domain, by a subdomain) is never taken for a session.
//
// It scans the Cookie headers itself rather than through
// http.Request.CookiesNamed, which allocates a Cookie for each: this runs
// on every request of every protected handler.
func (m *Manager) ReadToken(r *http.Request, secure bool) (string, bool) {
	name := m.cfg.CookieName
	if secure {
		name = m.secureName
	}
	for _, line := range r.Header["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if !ok || k != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if tok, ok := ParseToken(v); ok {
				return tok, true
			}
		}
	}
	return "", false
}

// SetCookie writes the session cookie for token. A remembered session gets a
// persistent cookie that ends with the session; any other a browser-session
// cookie, which also ends when the browser closes.
func (m *Manager) SetCookie(w http.ResponseWriter, token string, s *gatehouse.Session, secure bool) {
	c := &http.Cookie{
		Name:     m.CookieName(secure),
		Value:    token,
		Path:     "/",
		Domain:   m.cfg.CookieDomain,
		HttpOnly: true,
		Secure:   secure,
		SameSite: m.cfg.SameSite,
	}
	if s.Remember {
		c.Expires = s.ExpiresAt.UTC()
		c.MaxAge = max(1, int(s.ExpiresAt.Sub(m.now())/time.Second))
	}
	http.SetCookie(w, c)
}

// ClearCookie tells the browser to drop the session cookie: with the same
// Domain it was set with, or the browser would keep it.
func (m *Manager) ClearCookie(w http.ResponseWriter, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name:     m.CookieName(secure),
		Value:    "",
		Path:     "/",
		Domain:   m.cfg.CookieDomain,
		HttpOnly: true,
		Secure:   secure,
		SameSite: m.cfg.SameSite,
		MaxAge:   -1,
		Expires:  time.Unix(0, 0),
	})
}

// CheckCookieDomain checks a cookie domain (Config.CookieDomain, after
// its leading dot is dropped): "" (none), or a host name such as
// example.com, without scheme, port, path or wildcard, that is not a
// public suffix (com, co.uk, github.io: browsers refuse a cookie for
// those, and it would be shared with every other site under them).
func CheckCookieDomain(d string) error {
	if d == "" {
		return nil
	}
	bad := func(why string) error {
		return fmt.Errorf("cookie_domain %q %s", d, why)
	}
	switch {
	case strings.Contains(d, "://"):
		return bad("must be a domain such as example.com, not a URL")
	case strings.ContainsAny(d, ":/"):
		return bad("must be a domain such as example.com, without port or path")
	case strings.Contains(d, "*"):
		return bad("must be a domain such as example.com, without wildcard: it covers every subdomain by itself")
	case len(d) > 253:
		return bad("is longer than 253 characters")
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' ||
			strings.ContainsFunc(label, func(r rune) bool { return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_') }) {
			return bad("is not a domain such as example.com")
		}
	}
	if _, err := netip.ParseAddr(d); err == nil || !strings.Contains(d, ".") {
		return bad("must be a domain with a dot, such as example.com (an address or a single label cannot share cookies with subdomains)")
	}
	if ps, _ := publicsuffix.PublicSuffix(d); ps == d {
		return bad("is a public suffix: a cookie for it would be shared with every site under it, and browsers refuse it")
	}
	return nil
}

// UnderDomain reports whether host (lower case, without port) is the
// cookie domain d or a subdomain of it: a host the cookie is sent to.
func UnderDomain(host, d string) bool {
	return d != "" && (host == d || strings.HasSuffix(host, "."+d))
}
