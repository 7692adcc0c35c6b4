// Package csrf implements gatehouse's defences against cross-site request
// forgery: per-session synchronizer tokens, and (through the standard
// library's http.CrossOriginProtection) refusal of cross-origin unsafe
// requests.
//
// A session's token is an HMAC of a fixed label keyed with the session's
// secret. It is therefore bound to the session, needs no storage, cannot be
// computed from anything the server stores (only the hash of the secret is
// stored), and reveals nothing about the secret even though it is readable by
// scripts in the XSRF-TOKEN cookie.
package csrf

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"mime"
	"net/http"
	"net/url"
)

// HeaderNames are the request headers a token is accepted from, in the
// order they are looked at: duplistatus's X-CSRF-Token, Kirby's X-CSRF, and
// the X-XSRF-TOKEN that Angular (and Umbraco's backoffice) sends.
var HeaderNames = []string{"X-CSRF-Token", "X-CSRF", "X-XSRF-TOKEN"}

// FormField is the form field a token is accepted from in HTML form posts.
const FormField = "csrf_token"

// CookieName is the script-readable cookie that carries the token for SPA
// frameworks.
const CookieName = "XSRF-TOKEN"

// maxFormBytes bounds how much of a form body is read to find the token.
const maxFormBytes = 64 << 10

// label is what the HMAC signs; versioned so the derivation can change.
var label = []byte("gatehouse csrf token v1")

// Token returns the CSRF token of the session whose secret is sessionToken.
func Token(sessionToken string) string {
	mac := hmac.New(sha256.New, []byte(sessionToken))
	mac.Write(label)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Valid reports whether presented is the CSRF token of the session whose
// secret is sessionToken. The comparison takes the same time wherever the
// first difference is.
func Valid(sessionToken, presented string) bool {
	if sessionToken == "" || presented == "" {
		return false
	}
	want := Token(sessionToken)
	return subtle.ConstantTimeCompare([]byte(want), []byte(presented)) == 1
}

// FromRequest returns the token a request presents: the first non-empty of
// HeaderNames, else the csrf_token field of a URL-encoded form body. Reading
// the form does not consume the body: it is put back for the handler.
func FromRequest(r *http.Request) string {
	for _, h := range HeaderNames {
		if v := r.Header.Get(h); v != "" {
			return v
		}
	}
	return fromForm(r)
}

func fromForm(r *http.Request) string {
	if r.Body == nil || r.Body == http.NoBody {
		return ""
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return ""
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBytes+1))
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
	if err != nil || len(body) > maxFormBytes {
		return ""
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return ""
	}
	return vals.Get(FormField)
}

// Unsafe reports whether method can change state, and so needs a token.
func Unsafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// SetCookie writes the XSRF-TOKEN cookie: readable by scripts (that is its
// point), SameSite=Strict, Secure over HTTPS. It is a browser-session
// cookie; GET of the current session sets it again when it is gone.
// domain is the session cookie's Domain ("" for host-only): the token
// goes wherever the session does, so a front end on any subdomain the
// session is valid on can read it.
func SetCookie(w http.ResponseWriter, token string, secure bool, domain string) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    token,
		Path:     "/",
		Domain:   domain,
		Secure:   secure,
		SameSite: http.SameSiteStrictMode,
	})
}

// ClearCookie tells the browser to drop the XSRF-TOKEN cookie set with
// domain.
func ClearCookie(w http.ResponseWriter, secure bool, domain string) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    "",
		Path:     "/",
		Domain:   domain,
		Secure:   secure,
		SameSite: http.SameSiteStrictMode,
		MaxAge:   -1,
	})
}

// NewCrossOriginProtection returns the standard library's cross-origin
// check, trusting the given origins (scheme://host[:port], compared whole,
// so http://example.com does not pass for https://example.com). deny answers
// refused requests.
func NewCrossOriginProtection(trustedOrigins []string, deny http.Handler) (*http.CrossOriginProtection, error) {
	p := http.NewCrossOriginProtection()
	for _, o := range trustedOrigins {
		if err := p.AddTrustedOrigin(o); err != nil {
			return nil, err
		}
	}
	if deny != nil {
		p.SetDenyHandler(deny)
	}
	return p, nil
}
