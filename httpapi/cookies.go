package httpapi

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/session"
)

// A hostCookie is one of gatehouse's HttpOnly cookies besides the session
// cookie (which the session manager names): Path=/, with the __Host- prefix
// and Secure over HTTPS, so no subdomain can set or read it.
type hostCookie struct {
	name     string
	sameSite http.SameSite
}

var (
	// pendingCookie carries a login waiting for its second factor:
	// SameSite=Strict, since the second step is never a cross-site request.
	pendingCookie = hostCookie{"gh_pending", http.SameSiteStrictMode}
	// deviceCookie carries a device remembered for two-factor:
	// SameSite=Lax like the session cookie, so a login from a link works.
	deviceCookie = hostCookie{"gh_device", http.SameSiteLaxMode}
	// knownCookie carries a known device: a browser that has logged in as a
	// user, whose failed logins then count against this browser alone
	// (account.LoginRequest.KnownDevice). Not the remembered device of
	// two-factor, which skips a second step: this one only changes which
	// budget a failure spends. SameSite=Strict: logins are same-site.
	knownCookie = hostCookie{"gh_known", http.SameSiteStrictMode}
)

// nameFor is the cookie's name over HTTPS (secure) or plain HTTP.
func (c hostCookie) nameFor(secure bool) string {
	if secure {
		return "__Host-" + c.name
	}
	return c.name
}

// setCookie sets c to value until expires; an empty value sets nothing.
func (s *Server) setCookie(w http.ResponseWriter, c hostCookie, value string, expires time.Time, secure bool) {
	if value == "" {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: c.nameFor(secure), Value: value, Path: "/", HttpOnly: true, Secure: secure,
		SameSite: c.sameSite, Expires: expires.UTC(), MaxAge: max(1, int(expires.Sub(s.now())/time.Second)),
	})
}

// clearCookie tells the browser to forget c.
func (s *Server) clearCookie(w http.ResponseWriter, c hostCookie, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name: c.nameFor(secure), Value: "", Path: "/", HttpOnly: true, Secure: secure,
		SameSite: c.sameSite, MaxAge: -1,
	})
}

// cookieValue is r's value of c, "" when none.
func (s *Server) cookieValue(r *http.Request, c hostCookie) string {
	v, err := r.Cookie(c.nameFor(s.in(r).secure))
	if err != nil {
		return ""
	}
	return v.Value
}

// cookieToken is r's value of c when it has the form of a token
// (session.ParseToken), else "".
func (s *Server) cookieToken(r *http.Request, c hostCookie) string {
	tok, _ := session.ParseToken(s.cookieValue(r, c))
	return tok
}
