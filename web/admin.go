package web

import (
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpapi"
)

// The admin console (BASE/ui/admin/…): each part needs the permission its
// JSON twin in the management API needs — users and all sessions
// section:users, groups and the route table section:settings, the audit
// log section:audit — and a part one may not use is neither linked nor
// served (403, audited as permission.denied). The front page lists the
// parts one may use. Forms post with csrf_token and answer 303 back to
// their page with a notice (post/redirect/get), or the page again with
// the errors next to the fields.

// adminSections are the console's parts, in the navigation's order.
var adminSections = []adminSection{
	{Key: "users", Title: "Users", Permission: httpapi.PermUsers},
	{Key: "sessions", Title: "Sessions", Permission: httpapi.PermUsers},
	{Key: "groups", Title: "Groups", Permission: httpapi.PermSettings},
	{Key: "audit", Title: "Audit log", Permission: httpapi.PermAudit},
	{Key: "routes", Title: "Routes", Permission: httpapi.PermSettings},
}

type adminSection struct {
	Key, Title, Permission string
}

// adminNavLink is a link of the console's navigation.
type adminNavLink struct {
	key        string // the section's Key
	Title, URL string
	Current    bool
}

// adminPage is what every console page shows: the navigation, the
// signed-in user, the CSRF token of its forms, a notice and errors.
// Each page embeds it.
type adminPage struct {
	Base      string // BASE/ui/admin
	Account   string // BASE/ui/account
	CSRFToken string
	User      *gatehouse.User
	Nav       []adminNavLink
	Notice    string
	Errors    []string
	// FieldErrors are the errors of one form's fields, by field name.
	FieldErrors map[string]string
}

// adminURL is the console's path below BASE/ui/admin ("" for its front
// page) with query q (nil for none).
func (p *Pages) adminURL(path string, q url.Values) string {
	u := p.base + "/ui/admin" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// adminHandler is a console handler: the session is full and holds the
// part's permission; perms are all its user's permissions.
type adminHandler func(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error

// adminRoute registers a console handler that needs permission perm
// ("" for any signed-in person). Without a session the browser goes to
// the login page, and back to this page afterwards (to the console's
// front page after a form); without the permission it gets the 403 page.
func (p *Pages) adminRoute(pattern, perm string, h adminHandler) {
	p.route(pattern, func(w http.ResponseWriter, r *http.Request) error {
		ps, err := p.browser.Session(r)
		if err != nil {
			return err
		}
		if ps == nil {
			back := p.adminURL("", nil)
			if r.Method == http.MethodGet {
				back = r.URL.RequestURI()
			}
			seeOther(w, p.base+"/ui/login?"+url.Values{"rd": {back}}.Encode())
			return nil
		}
		perms, err := p.accounts.Permissions(r.Context(), ps.User)
		if err != nil {
			return err
		}
		page := p.adminPageOf(ps, perms)
		if perm != "" && !gatehouse.HasPermission(perms, perm) {
			p.accounts.RecordDenial(r.Context(), p.browser.Actor(r, ps), r.Method, r.URL.Path)
			return render(w, http.StatusForbidden, p.views.adminForbidden, page)
		}
		return h(w, r, ps, page)
	})
}

// adminPageOf is the common part of a console page for ps's user with
// perms: the navigation shows the parts perms allow.
func (p *Pages) adminPageOf(ps *httpapi.PageSession, perms []string) adminPage {
	page := adminPage{
		Base: p.adminURL("", nil), Account: p.accountURL(""), CSRFToken: ps.CSRFToken,
		User: ps.User, FieldErrors: map[string]string{},
	}
	for _, s := range adminSections {
		if gatehouse.HasPermission(perms, s.Permission) {
			page.Nav = append(page.Nav, adminNavLink{key: s.Key, Title: s.Title, URL: p.adminURL("/"+s.Key, nil)})
		}
	}
	return page
}

// current marks the navigation link of section key as the current page.
func (a adminPage) current(key string) adminPage {
	nav := make([]adminNavLink, len(a.Nav))
	copy(nav, a.Nav)
	for i := range nav {
		nav[i].Current = nav[i].key == key
	}
	a.Nav = nav
	return a
}

// hasAdminPart reports whether perms allow some part of the console (the
// account page then links to it).
func hasAdminPart(perms []string) bool {
	for _, s := range adminSections {
		if gatehouse.HasPermission(perms, s.Permission) {
			return true
		}
	}
	return false
}

// handleAdminHome is GET BASE/ui/admin: the parts the user may use, or a
// page saying there are none (403).
func (p *Pages) handleAdminHome(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	if len(page.Nav) == 0 {
		p.accounts.RecordDenial(r.Context(), p.browser.Actor(r, ps), r.Method, r.URL.Path)
		return render(w, http.StatusForbidden, p.views.adminForbidden, page)
	}
	return render(w, http.StatusOK, p.views.adminHome, page)
}

// adminNotices are what a console form's 303 says (?done=…): a fixed
// list, so a link cannot make the page say something else.
var adminNotices = map[string]string{}

// adminNotice is the notice the request's ?done= names, "" for none: among
// adminNotices, or the notices of the groups and sessions parts
// (partNotices).
func adminNotice(r *http.Request) string {
	done := r.URL.Query().Get("done")
	if n, ok := adminNotices[done]; ok {
		return n
	}
	return partNotices[done]
}
