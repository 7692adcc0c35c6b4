package session

import (
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// hostPrefix is the cookie name prefix that makes browsers insist on Secure,
// Path=/ and no Domain, so a sibling subdomain cannot plant the cookie.
const hostPrefix = "__Host-"

// CookieName returns the name of the session cookie: the configured name,
// with the __Host- prefix when the request came over HTTPS.
func (m *Manager) CookieName(secure bool) string {
	if secure {
		return m.hostName
	}
	return m.cfg.CookieName
}

// ReadToken returns the session token of a request's cookie, when it has one
// of the right shape. Over HTTPS only the __Host- cookie counts, so a cookie
// set over plain HTTP or by a subdomain is never taken for a session.
//
// It scans the Cookie headers itself rather than through
// http.Request.CookiesNamed, which allocates a Cookie for each: this runs
// on every request of every protected handler.
func (m *Manager) ReadToken(r *http.Request, secure bool) (string, bool) {
	name := m.cfg.CookieName
	if secure {
		name = m.hostName
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

// ClearCookie tells the browser to drop the session cookie.
func (m *Manager) ClearCookie(w http.ResponseWriter, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name:     m.CookieName(secure),
		Value:    "",
		Path:     "/",
		HttpOnly: true,
		Secure:   secure,
		SameSite: m.cfg.SameSite,
		MaxAge:   -1,
		Expires:  time.Unix(0, 0),
	})
}
