// Package web serves the pages people see: html/template files and one
// stylesheet, embedded, rendered on the server and working without
// JavaScript. Its pages call the same account use cases as the JSON API;
// what they need from the HTTP layer (how a request came in, where rd may
// go, the cookies that end a login, problem+json answers) comes through
// httpapi.Browser, and the server mounts them (httpapi.Deps.Pages), so
// every middleware of the server stands in front of them.
package web

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse"

	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
)

// Pages serves gatehouse's pages under BASE/ui/. It implements
// httpapi.Pages.
type Pages struct {
	accounts *account.Service
	browser  *httpapi.Browser
	base     string
	mux      *http.ServeMux
	views    views
}

var _ httpapi.Pages = (*Pages)(nil)

// New returns the pages over the account service and the HTTP layer's
// browser surface.
func New(accounts *account.Service, browser *httpapi.Browser) *Pages {
	p := &Pages{accounts: accounts, browser: browser, base: browser.BasePath(), mux: http.NewServeMux()}
	p.views = parseViews(p.base)
	p.route("GET /ui/login", p.handleLoginPage)
	p.route("POST /ui/login", p.handleLoginForm)
	p.route("GET /ui/setup", p.handleSetupPage)
	p.route("POST /ui/setup", p.handleSetupForm)
	p.route("GET /ui/reset", p.handleResetPage)
	p.route("POST /ui/reset", p.handleResetForm)
	p.route("GET /ui/forgot", p.handleForgotPage)
	p.route("POST /ui/forgot", p.handleForgotForm)
	p.route("GET /ui/invite", p.handleInvitePage)
	p.route("POST /ui/invite", p.handleInviteForm)
	p.route("GET /ui/assets/{file}", p.handleAsset)
	p.route("GET /ui/account", p.handleAccount)
	p.route("POST /ui/account/logout", p.handleLogout)
	p.enrolRoute("POST /ui/account/2fa/totp", p.handleBeginEnrol)
	p.enrolRoute("POST /ui/account/2fa/totp/confirm", p.handleConfirmEnrol)
	p.accountRoute("POST /ui/account/2fa/disable", p.handleDisableTwoFactor)
	p.accountRoute("POST /ui/account/2fa/recovery-codes", p.handleRecoveryCodes)
	p.accountRoute("POST /ui/account/sessions/end", p.handleEndSession)
	p.accountRoute("POST /ui/account/sessions/end-others", p.handleEndOtherSessions)
	p.accountRoute("POST /ui/account/password", p.handleChangePassword)
	p.accountRoute("POST /ui/account/reauthenticate", p.handleReauthenticate)
	p.accountRoute("POST /ui/account/logins/link", p.handleLink)
	p.accountRoute("POST /ui/account/logins/unlink", p.handleUnlink)
	p.accountRoute("POST /ui/account/tokens", p.handleCreateToken)
	p.accountRoute("POST /ui/account/tokens/revoke", p.handleRevokeToken)
	p.adminRoute("GET /ui/admin", "", p.handleAdminHome)
	p.adminRoutes()
	p.mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.browser.WriteError(w, r, errNotFound)
	}))
	return p
}

// Constructor is New for httpapi.Deps.Pages, which builds the pages once
// the server (and so its Browser) exists.
func Constructor(accounts *account.Service) func(*httpapi.Browser) httpapi.Pages {
	return func(b *httpapi.Browser) httpapi.Pages { return New(accounts, b) }
}

// ServeHTTP serves the pages; the server routes only its page routes here
// (httpapi's routes.go lists them), so anything else is a 404.
func (p *Pages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mux.ServeHTTP(w, r)
}

var errNotFound = gatehouse.Errorf(gatehouse.CodeNotFound, "No such page.")

// handlerFunc is a page handler that returns its error instead of writing
// it: errors a page does not show itself are answered as by every endpoint
// (problem+json), once.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (p *Pages) route(pattern string, h handlerFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	p.mux.Handle(method+" "+p.base+path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			p.browser.WriteError(w, r, err)
		}
	}))
}
