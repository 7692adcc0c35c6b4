package web

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpapi"
)

// The account page (GET BASE/ui/account) and its forms: a person with a
// full session sees and changes their own account, with the same use
// cases the JSON API calls. Every form posts to BASE/ui/account/… with the
// session's CSRF token in csrf_token (httpapi.Browser.Session refuses a
// post without it, or from another origin), and answers 303 back to the
// page with a notice (post/redirect/get), or the page again with what is
// wrong next to the field.

// accountPageData is what the account page shows.
type accountPageData struct {
	Action string // BASE/ui/account, the forms' prefix
	// RemainingURL and ExtendURL are what the timeout warning's script
	// asks: the seconds left (never extending the session), and the
	// session itself (extending it).
	RemainingURL, ExtendURL string
	CSRFToken               string
	User                    *gatehouse.User
	TwoFactor               bool
	// TwoFactorAvailable says second factors are on here: without them the
	// page offers no enrolment (its POST would answer 404).
	TwoFactorAvailable bool
	// TwoFactorRequiredBy names the user's groups that require two-factor;
	// the page then offers no way to turn it off (the POST would answer
	// 409) and says why.
	TwoFactorRequiredBy string
	// RecoveryCodesLeft counts the unused recovery codes (two-factor on).
	RecoveryCodesLeft int
	// ProveWithPassword says the two-factor forms ask for the password;
	// otherwise for a code of the second factor.
	ProveWithPassword bool
	Notice            string
	// Errors are the page's own errors; FieldErrors those of one form's
	// fields, by field name.
	Errors      []string
	FieldErrors map[string]string

	Sessions []sessionRow

	// PasswordForm shows the password change form (absent with
	// deny_local_login, or for a user without a password); NewPassword
	// is its new-password field.
	PasswordForm bool
	NewPassword  newPasswordField

	// Logins are the linked external logins; CanLink the providers the
	// user may link themselves.
	Logins  []loginRow
	CanLink []providerOption

	// AdminURL is the admin console, when the user's groups allow some
	// part of it ("" otherwise).
	AdminURL string

	Tokens      []tokenRow
	Permissions []permissionOption
	TokenName   string
	Expiry      string
	Expiries    []expiryOption
}

type sessionRow struct {
	ID, Device, Address, LastActivity string
	Current                           bool
}

type loginRow struct {
	Provider, Name, Email, LinkedAt, LastUsedAt string
}

type providerOption struct{ ID, Name string }

type tokenRow struct {
	ID, Name, Hint, Permissions, Created, Expires, LastUsed string
}

type permissionOption struct {
	Name    string
	Checked bool
}

// notices are what a form's 303 back to the page says (?done=…): a fixed
// list, so a link cannot make the page say something else.
var notices = map[string]string{
	"password":        "Your password was changed. Your other sessions were ended.",
	"session":         "The session was ended.",
	"sessions":        "Your other sessions were ended.",
	"unlinked":        "The external login was removed.",
	"linked":          "The external login was linked.",
	"token_revoked":   "The token was revoked.",
	"reauthenticated": "You confirmed your identity; you can go on.",
	"two_factor_off":  "Two-factor authentication is off.",
}

// timeLayout is how the pages write a time (UTC, to the minute).
const timeLayout = "2006-01-02 15:04 UTC"

func when(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format(timeLayout)
}

// accountURL is the account page with the notice done ("" for none).
func (p *Pages) accountURL(done string) string {
	u := p.base + "/ui/account"
	if done != "" {
		u += "?" + url.Values{"done": {done}}.Encode()
	}
	return u
}

// errNoSession tells a page handler that the browser has no full session;
// the handler has answered already (303 to the login page).
var errNoSession = errors.New("no session")

// session is the browser's full session for an account page or form, or
// errNoSession after a 303 to the login page (going back to the account
// page afterwards). A form without its CSRF token, or from another
// origin, is refused (403).
func (p *Pages) session(w http.ResponseWriter, r *http.Request) (*httpapi.PageSession, error) {
	ps, err := p.browser.Session(r)
	if err != nil {
		return nil, err
	}
	if ps == nil {
		p.toLogin(w)
		return nil, errNoSession
	}
	return ps, nil
}

// toLogin sends the browser to the login page, and back to the account
// page afterwards.
func (p *Pages) toLogin(w http.ResponseWriter) {
	seeOther(w, p.base+"/ui/login?"+url.Values{"rd": {p.accountURL("")}}.Encode())
}

// seeOther answers 303 to loc.
func seeOther(w http.ResponseWriter, loc string) {
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusSeeOther)
}

// accountRoute is route for the account's handlers, which get the
// session: without one, the browser went to the login page already.
func (p *Pages) accountRoute(pattern string, h func(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession) error) {
	p.route(pattern, func(w http.ResponseWriter, r *http.Request) error {
		ps, err := p.session(w, r)
		if err != nil {
			return noSessionOK(err)
		}
		return h(w, r, ps)
	})
}

// handleAccountPage is GET BASE/ui/account.
func (p *Pages) handleAccountPage(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession) error {
	d, err := p.accountData(r, ps)
	if err != nil {
		return err
	}
	d.Notice = notices[r.URL.Query().Get("done")]
	return render(w, http.StatusOK, p.views.account, d)
}

// accountData is the account page of ps's user as it is now.
func (p *Pages) accountData(r *http.Request, ps *httpapi.PageSession) (*accountPageData, error) {
	ctx := r.Context()
	u := ps.User
	d := &accountPageData{
		Action: p.base + "/ui/account", CSRFToken: ps.CSRFToken, User: u, FieldErrors: map[string]string{},
		RemainingURL: p.base + "/session/remaining", ExtendURL: p.base + "/session",
		PasswordForm: p.usesPassword(u), Expiries: expiries,
		NewPassword: p.newPassword("new_password", "new_password", "New password"),
	}
	st, err := p.accounts.TwoFactorStatusOf(ctx, u)
	if err != nil {
		return nil, err
	}
	d.TwoFactor, d.RecoveryCodesLeft, d.ProveWithPassword = st.Enabled, st.RecoveryCodesRemaining, d.PasswordForm
	d.TwoFactorAvailable = p.accounts.TwoFactorAvailable()
	if d.TwoFactor {
		required, err := p.accounts.GroupsRequiringTwoFactor(ctx, u)
		if err != nil {
			return nil, err
		}
		d.TwoFactorRequiredBy = requiredByText(required)
	}
	perms, err := p.accounts.Permissions(ctx, u)
	if err != nil {
		return nil, err
	}
	if hasAdminPart(perms) {
		d.AdminURL = p.adminURL("", nil)
	}
	if d.Sessions, err = p.sessionRows(r, ps); err != nil {
		return nil, err
	}
	if err := p.addLogins(r, ps, d); err != nil {
		return nil, err
	}
	if err := p.addTokens(r, ps, d); err != nil {
		return nil, err
	}
	return d, nil
}

// usesPassword reports whether u logs in (and re-authenticates) with a
// password here: u has one, and local login is not disabled.
func (p *Pages) usesPassword(u *gatehouse.User) bool {
	return u.PasswordHash != "" && !p.accounts.LocalLoginDisabled()
}

// renderAccount shows the account page with status and the form errors
// set by edit.
func (p *Pages) renderAccount(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, status int, edit func(*accountPageData)) error {
	d, err := p.accountData(r, ps)
	if err != nil {
		return err
	}
	edit(d)
	return render(w, status, p.views.account, d)
}

// handleLogout is POST BASE/ui/account/logout (a full session, or the
// partial one of a user who must enrol): the session ends, then the
// browser goes to the provider's sign-out (a session an external login
// with one started), or to the login page.
func (p *Pages) handleLogout(w http.ResponseWriter, r *http.Request) error {
	ps, err := p.browser.Session(r)
	if err == nil && ps == nil {
		ps, err = p.enrolmentSession(w, r)
	}
	if err != nil {
		return noSessionOK(err)
	}
	signOut, err := p.browser.Logout(w, r, ps)
	if err != nil {
		return err
	}
	if signOut == "" {
		signOut = p.base + "/ui/login"
	}
	seeOther(w, signOut)
	return nil
}
