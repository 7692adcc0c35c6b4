package httpapi

import (
	"context"
	"net/http"

	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/policy"
)

// Pages are the pages people see (package web): the routes under BASE/ui/
// that routes.go lists as pages are served by its ServeHTTP, behind every
// middleware of the server (security headers, cross-origin protection,
// metrics, forward auth). The external-login callback, a browser endpoint
// of this package, ends on its pages too.
type Pages interface {
	http.Handler
	// LoginEnded answers a browser whose login has just ended with a
	// session (its cookies set by Browser.EndLogin): a 303 to rd (allowed
	// already; "" for the default), or the page saying the user must set up
	// two-factor first (res.EnrolmentRequired).
	LoginEnded(w http.ResponseWriter, r *http.Request, res *account.LoginResult, rd string, remember bool) error
	// ExternalLoginFailed writes the error page of an external login with
	// status and message (the headers of the status are set already).
	ExternalLoginFailed(w http.ResponseWriter, r *http.Request, status int, message string) error
}

// Browser is what the pages need from the HTTP layer, and nothing else:
// how a request came in (HTTPS, the client behind trusted proxies), where
// rd may go, the login cookies, the identity providers' buttons and
// problem+json answers. Get it from Server.Browser.
type Browser struct{ s *Server }

// Browser returns the HTTP layer's surface for the pages (see Deps.Pages).
func (s *Server) Browser() *Browser { return &Browser{s: s} }

// BasePath is the base path everything is served under, such as /auth.
func (b *Browser) BasePath() string { return b.s.base }

// Secure reports whether r came over HTTPS (directly, or through a trusted
// proxy that says so).
func (b *Browser) Secure(r *http.Request) bool { return b.s.in(r).secure }

// Client describes r's origin for the use cases: the address behind the
// trusted proxies and the user agent.
func (b *Browser) Client(r *http.Request) account.Client { return b.s.client(r) }

// AllowedRedirect returns rd when a login may redirect there afterwards
// (a relative path, or a host of Config.RedirectDomains), else "".
func (b *Browser) AllowedRedirect(rd string) string { return b.s.gw.allowedRedirect(rd) }

// LoginRequest is a login request from r's browser with what its cookies
// say: the client, the session it had (ended by the login), the remembered
// device and the known device. The caller adds the credentials.
func (b *Browser) LoginRequest(r *http.Request) account.LoginRequest {
	prev, _ := b.s.sessions.ReadToken(r, b.Secure(r))
	return account.LoginRequest{
		Client: b.s.client(r), PreviousToken: prev, DeviceToken: b.s.cookieToken(r, deviceCookie),
		KnownDevice: b.s.cookieValue(r, knownCookie),
	}
}

// PendingToken is the pending login of r's browser (a login waiting for
// its second factor), "" when none.
func (b *Browser) PendingToken(r *http.Request) string { return b.s.cookieToken(r, pendingCookie) }

// KnownDevice is the known-device cookie of r's browser, "" when none.
func (b *Browser) KnownDevice(r *http.Request) string { return b.s.cookieValue(r, knownCookie) }

// ClearPending tells the browser to forget its pending login.
func (b *Browser) ClearPending(w http.ResponseWriter, r *http.Request) {
	b.s.clearCookie(w, pendingCookie, b.Secure(r))
}

// EndLogin sets the cookies of a successful login step (see
// setLoginCookies): the pending-login cookie when a second factor is owed,
// otherwise the session, XSRF-TOKEN and device cookies.
func (b *Browser) EndLogin(w http.ResponseWriter, r *http.Request, res *account.LoginResult) {
	b.s.setLoginCookies(w, r, res, pendingCookie)
}

// ExternalButton starts a login with an identity provider.
type ExternalButton struct {
	// ID is the provider's configured id; Name its name as people know
	// it; URL starts the login.
	ID, Name, URL string
}

// ExternalButtons are the login buttons of the identity providers, in
// configured order, each going to rd afterwards (when allowed).
func (b *Browser) ExternalButtons(rd string) []ExternalButton {
	rd = b.AllowedRedirect(rd)
	var out []ExternalButton
	for _, p := range b.s.external {
		c := p.Config()
		out = append(out, ExternalButton{ID: c.ID, Name: c.Name, URL: b.s.externalLoginURL(c.ID, rd)})
	}
	return out
}

// WriteError answers err as every endpoint does: problem+json, a store
// failure as 503, an internal error logged and answered generically.
func (b *Browser) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	b.s.writeError(w, r, err)
}

// RouteTable is the configured route table (nil when there is none) and
// gatehouse's own routes with what each requires, as policy explain sees
// them.
func (b *Browser) RouteTable() (*policy.Table, []account.BuiltinRoute) {
	return b.s.cfg.Routes, b.s.builtin
}

// Explain decides req as GET BASE/management/api/v1/policy/explain does:
// the route table's decision and the rule that made it.
func (b *Browser) Explain(ctx context.Context, req account.ExplainRequest) (*account.Explanation, error) {
	return b.s.accounts.Explain(ctx, b.s.cfg.Routes, b.s.builtin, req)
}
