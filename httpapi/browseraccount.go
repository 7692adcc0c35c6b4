package httpapi

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/csrf"
	"github.com/gatehouse/gatehouse/oidclogin"
)

// PageSession is the full session of a browser on an account page: whose
// it is, the CSRF token its forms carry, and whether it proved a first
// factor recently enough for a sensitive change. The cookie's secret stays
// in this package.
type PageSession struct {
	User    *gatehouse.User
	Session *gatehouse.Session
	// CSRFToken is the session's CSRF token, for the forms' csrf_token
	// field.
	CSRFToken string
	// Recent reports whether the session is recently authenticated
	// (session.reauthenticate_after), as sensitive changes require.
	Recent bool
	token  string
}

// Session resolves the session cookie of r (sliding the session) for an
// account page: nil, nil when the browser has no live full session. Only
// the cookie counts, never an Authorization header. An unsafe request is
// checked as the JSON API checks it: same origin, and the session's CSRF
// token (the csrf_token form field), else 403 (see checkForm).
func (b *Browser) Session(r *http.Request) (*PageSession, error) {
	c, err := b.s.cookieSession(r, false)
	if err != nil || c == nil {
		return nil, err
	}
	if err := b.checkForm(r, c); err != nil {
		return nil, err
	}
	return b.pageSession(c.user, c.session, c.token), nil
}

// checkForm checks an unsafe request of a page as every cookie request is
// checked (same origin, the CSRF token). A page a browser navigates to
// cannot carry the token, so a safe request needs none, even with
// Config.CSRFEveryRequest: it changes nothing.
func (b *Browser) checkForm(r *http.Request, c *credentials) error {
	if !csrf.Unsafe(r.Method) {
		return nil
	}
	return b.s.checkAmbient(r, c)
}

func (b *Browser) pageSession(u *gatehouse.User, sess *gatehouse.Session, token string) *PageSession {
	return &PageSession{
		User: u, Session: sess, CSRFToken: csrf.Token(token),
		Recent: b.s.sessions.RecentlyAuthenticated(sess), token: token,
	}
}

// Now is the server's clock.
func (b *Browser) Now() time.Time { return b.s.now() }

// Actor is who acts for r in session ps.
func (b *Browser) Actor(r *http.Request, ps *PageSession) account.Actor {
	return account.Actor{User: ps.User, Client: b.s.client(r)}
}

// Logout ends session ps and clears the browser's session cookies.
// signOut is where the browser goes next to end its login at the
// provider whose login started the session ("" when none).
func (b *Browser) Logout(w http.ResponseWriter, r *http.Request, ps *PageSession) (signOut string, err error) {
	if err := b.s.accounts.Logout(r.Context(), b.Actor(r, ps), ps.Session); err != nil {
		return "", err
	}
	signOut, _ = b.s.signOutURL(r, ps.Session)
	b.ClearSession(w, r)
	return signOut, nil
}

// ClearSession tells the browser to forget its session (it was ended).
func (b *Browser) ClearSession(w http.ResponseWriter, r *http.Request) {
	secure := b.Secure(r)
	b.s.sessions.ClearCookie(w, secure)
	csrf.ClearCookie(w, secure, b.s.cookieDomain)
	w.Header().Set("Clear-Site-Data", `"cache"`)
}

// Reauthenticate proves a first factor again in session ps (see
// account.Service.Reauthenticate) and sets the session's new cookie; the
// answer is the session as it is now (new id, new CSRF token, recent).
func (b *Browser) Reauthenticate(w http.ResponseWriter, r *http.Request, ps *PageSession, proof account.Reauthentication) (*PageSession, error) {
	token, sess, err := b.s.accounts.Reauthenticate(r.Context(), b.Actor(r, ps), ps.Session, proof)
	if err != nil {
		return nil, err
	}
	b.s.sessions.SetCookie(w, token, sess, b.Secure(r))
	csrf.SetCookie(w, csrf.Token(token), b.Secure(r), b.s.cookieDomain)
	return b.pageSession(ps.User, sess, token), nil
}

// StartLink begins linking provider to the user of ps (after CanLink),
// sets the flow cookie and returns the provider's authorization URL, to
// which the browser is sent; the callback goes to rd (when allowed).
func (b *Browser) StartLink(w http.ResponseWriter, r *http.Request, ps *PageSession, provider, rd string) (string, error) {
	p := b.s.externalProvider(provider)
	if p == nil {
		return "", errNoProvider
	}
	if !ps.Recent {
		return "", account.ErrReauthenticationRequired
	}
	if err := b.s.accounts.CanLink(r.Context(), b.Actor(r, ps), provider); err != nil {
		return "", err
	}
	return b.s.startFlow(w, r, p, oidclogin.FlowState{RD: rd, LinkUser: ps.User.ID})
}

// EnrolmentSession resolves the partial session of a user who must enrol
// a second factor before anything else (gatehouse.ScopeEnrol), checked as
// Session checks a full one: nil, nil when the browser has none.
func (b *Browser) EnrolmentSession(r *http.Request) (*PageSession, error) {
	token, ok := b.s.sessions.ReadToken(r, b.Secure(r))
	if !ok {
		return nil, nil
	}
	u, sess, err := b.s.accounts.EnrolmentSession(r.Context(), token)
	if gatehouse.ErrorCode(err) == gatehouse.CodeUnauthenticated {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c := &credentials{user: u, via: viaSession, session: sess, token: token}
	if err := b.checkForm(r, c); err != nil {
		return nil, err
	}
	return b.pageSession(u, sess, token), nil
}

// FinishEnrolment turns the partial session ps, whose user has just
// enrolled, into a full session in a new cookie (see
// account.Service.FinishEnrolment).
func (b *Browser) FinishEnrolment(w http.ResponseWriter, r *http.Request, ps *PageSession) error {
	res, err := b.s.accounts.FinishEnrolment(r.Context(), ps.User, ps.Session, b.s.client(r))
	if err != nil {
		return err
	}
	secure := b.Secure(r)
	b.s.sessions.SetCookie(w, res.Token, res.Session, secure)
	csrf.SetCookie(w, csrf.Token(res.Token), secure, b.s.cookieDomain)
	return nil
}
