package httpapi

import (
	"net/http"
	"time"
)

// knownCookie is the cookie of a known device: a browser that has logged
// in as a user, whose failed logins then count against this browser alone
// (account.LoginRequest.KnownDevice). Not the remembered device of
// two-factor (deviceCookie), which skips a second step: this one only
// changes which budget a failure spends.
const knownCookie = "gh_known"

func (s *Server) knownCookieName(secure bool) string {
	if secure {
		return "__Host-" + knownCookie
	}
	return knownCookie
}

// setKnownCookie sets the known-device cookie: HttpOnly, persistent, and
// SameSite=Strict, since logins are always same-site requests.
func (s *Server) setKnownCookie(w http.ResponseWriter, token string, expires time.Time, secure bool) {
	if token == "" {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.knownCookieName(secure), Value: token, Path: "/", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteStrictMode, Expires: expires.UTC(), MaxAge: max(1, int(expires.Sub(s.now())/time.Second)),
	})
}

// knownToken is the known-device cookie of r, "" when none; the account
// layer checks its signature.
func (s *Server) knownToken(r *http.Request) string {
	c, err := r.Cookie(s.knownCookieName(s.proxies.isHTTPS(r)))
	if err != nil {
		return ""
	}
	return c.Value
}
