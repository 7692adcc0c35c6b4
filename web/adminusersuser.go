package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
)

// userPageData is one user's page: the profile, the edit form, the
// sessions and the action buttons that apply to the user as they are.
type userPageData struct {
	adminPage
	// Action is BASE/ui/admin/users/{id}, the forms' prefix; ListURL the
	// list.
	Action, ListURL string
	Profile         *gatehouse.User
	// Self is true on one's own page.
	Self                        bool
	Created, LastLogin, Updated string
	// LockedUntil is when the login lockout ends ("" when not locked).
	LockedUntil string
	TwoFactor   bool
	// Logins are the linked external logins; LoginsHidden says the
	// administrator may not see them (the user holds more permissions).
	Logins       []loginRow
	LoginsHidden bool
	Tokens       int
	Sessions     []sessionRow
	// Edit is the edit form (the user's fields, or the form as sent).
	Edit userForm
	// CanSendReset: the forgot-password flow is on and local login is
	// not disabled, so a reset link is worth mailing.
	CanSendReset bool
}

// Invited, Active and Disabled say the user's state, for the template.
func (d *userPageData) Invited() bool { return d.Profile.State == gatehouse.StateInvited }

// Active is true for an active user.
func (d *userPageData) Active() bool { return d.Profile.State == gatehouse.StateActive }

// Disabled is true for a disabled user.
func (d *userPageData) Disabled() bool { return d.Profile.State == gatehouse.StateDisabled }

// handleAdminUser is GET BASE/ui/admin/users/{id}; an unknown id is 404.
func (p *Pages) handleAdminUser(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	page.Notice = userNotice(r)
	d, err := p.userData(r, ps, page)
	if err != nil {
		return err
	}
	return render(w, http.StatusOK, p.views.adminUser, d)
}

// userData is the page of the user r's path names, as they are now.
func (p *Pages) userData(r *http.Request, ps *httpapi.PageSession, page adminPage) (*userPageData, error) {
	ctx := r.Context()
	id := r.PathValue("id")
	u, err := p.accounts.User(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &userPageData{
		adminPage: page.current("users"), Action: p.adminURL("/users/"+url.PathEscape(u.ID), nil),
		ListURL: p.adminURL("/users", nil), Profile: u, Self: u.ID == ps.User.ID,
		Created: when(u.CreatedAt, "—"), Updated: when(u.UpdatedAt, "—"), LastLogin: when(u.LastLoginAt, "never"),
		CanSendReset: p.accounts.AllowPasswordReset() && !p.accounts.LocalLoginDisabled(),
		Edit:         userForm{Username: u.Username, Email: u.Email, Name: u.Name},
	}
	if d.Edit.Groups, err = p.groupOptions(r, u.Groups); err != nil {
		return nil, err
	}
	until, err := p.accounts.LockedUntil(ctx, u)
	if err != nil {
		return nil, err
	}
	d.LockedUntil = when(until, "")
	st, err := p.accounts.TwoFactorStatusOf(ctx, u)
	if err != nil {
		return nil, err
	}
	d.TwoFactor = st.Enabled
	tokens, err := p.accounts.UserTokens(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	d.Tokens = len(tokens)
	if err := p.addUserLogins(r, ps, d); err != nil {
		return nil, err
	}
	list, err := p.accounts.UserSessions(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, s := range list {
		device := s.UserAgent
		if device == "" {
			device = "Unknown device"
		}
		d.Sessions = append(d.Sessions, sessionRow{
			ID: s.ID, Device: device, Address: s.ClientAddr,
			LastActivity: when(s.LastSeenAt, "—"), Current: s.ID == ps.Session.ID,
		})
	}
	return d, nil
}

// addUserLogins adds the user's linked external logins to d; an
// administrator the use case refuses them to sees that they are hidden.
func (p *Pages) addUserLogins(r *http.Request, ps *httpapi.PageSession, d *userPageData) error {
	ids, err := p.accounts.Identities(r.Context(), p.browser.Actor(r, ps), d.Profile.ID)
	if gatehouse.ErrorCode(err) == gatehouse.CodePermissionDenied {
		d.LoginsHidden = true
		return nil
	}
	if err != nil {
		return err
	}
	for _, id := range ids {
		name := id.Provider
		if ep, ok := p.accounts.ExternalProvider(id.Provider); ok {
			name = ep.Name
		}
		d.Logins = append(d.Logins, loginRow{
			Provider: id.Provider, Name: name, Email: id.Email,
			LinkedAt: when(id.LinkedAt, "—"), LastUsedAt: when(id.LastUsedAt, "never"),
		})
	}
	return nil
}

// handleAdminUpdateUser is POST BASE/ui/admin/users/{id}/update
// {username, email, name, group…}: as PATCH …/users/{id}, every field
// and the groups as ticked (none ticked: no group). Group changes take
// effect on the user's very next request. Changing one's own email
// address (where resets go) needs a recently authenticated session, as
// in the JSON API.
func (p *Pages) handleAdminUpdateUser(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	username, email, name := strings.TrimSpace(f.Get("username")), strings.TrimSpace(f.Get("email")), strings.TrimSpace(f.Get("name"))
	groups := f["group"]
	if groups == nil {
		groups = []string{}
	}
	if id == ps.User.ID && email != ps.User.Email && !ps.Recent {
		err = errConfirmFirst
	} else {
		_, err = p.accounts.UpdateUser(r.Context(), p.browser.Actor(r, ps), id, account.UserUpdate{
			Username: &username, Email: &email, Name: &name, Groups: &groups,
		})
	}
	if err == nil {
		seeOther(w, p.adminURL("/users/"+url.PathEscape(id), url.Values{"done": {"updated"}}))
		return nil
	}
	return p.userRefused(w, r, ps, page, err, func(d *userPageData) error {
		d.Edit = userForm{Username: username, Email: email, Name: name}
		d.Edit.Groups, err = p.groupOptions(r, groups)
		return err
	})
}

// errConfirmFirst refuses a change to one's own account that the JSON API
// allows only a recently authenticated session.
var errConfirmFirst = gatehouse.Errorf(gatehouse.CodeReauthenticationRequired,
	"Confirm your identity first: on your account page, confirm with your password or second factor, then try again.")

// userRefused shows the user's page again with what the use case
// refused: a field's error next to it in the edit form, any other refusal
// (the last administrator, a more powerful account, a state that does not
// allow the action) at the top, with the refusal's status. edit, when not
// nil, puts the edit form back as it was sent. An unknown user, and
// errors that are no refusal, go to the error path.
func (p *Pages) userRefused(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage, err error, edit func(*userPageData) error) error {
	var ge *gatehouse.Error
	if !errors.As(err, &ge) {
		return err
	}
	status, ok := refusalStatus[ge.Code]
	if !ok {
		return err
	}
	d, derr := p.userData(r, ps, page)
	if derr != nil {
		return derr
	}
	if edit != nil {
		if err := edit(d); err != nil {
			return err
		}
	}
	for k, v := range ge.Fields {
		switch k {
		case "username", "email", "name":
			d.FieldErrors["edit_"+k] = v
		case "confirm":
			d.FieldErrors["delete_confirm"] = v
		default:
			d.Errors = append(d.Errors, v)
		}
	}
	if len(ge.Fields) == 0 {
		// No field to put it next to: at the top, announced.
		d.Errors = append(d.Errors, ge.Message)
	}
	if ge.Code == gatehouse.CodeConflict && edit != nil {
		// A taken username or email: the store does not say which.
		d.FieldErrors["edit_username"] = ge.Message
		d.Errors = nil
	}
	return render(w, status, p.views.adminUser, d)
}

// refusalStatus are the refusals a user's page shows itself, and their
// status (as the JSON API answers them).
var refusalStatus = map[gatehouse.Code]int{
	gatehouse.CodeValidation:               http.StatusUnprocessableEntity,
	gatehouse.CodeConflict:                 http.StatusConflict,
	gatehouse.CodePermissionDenied:         http.StatusForbidden,
	gatehouse.CodeReauthenticationRequired: http.StatusForbidden,
	gatehouse.CodePasswordResetDisabled:    http.StatusForbidden,
	gatehouse.CodeLocalLoginDisabled:       http.StatusForbidden,
}
