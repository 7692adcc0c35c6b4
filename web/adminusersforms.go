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

// userFields are the fields of the list page's create or invite form, for
// the "userfields" template: ids and error keys start with Prefix.
type userFields struct {
	Prefix           string
	Form             userForm
	Errors           map[string]string
	UsernameOptional bool
}

// CreateFields are the create form's fields.
func (d *usersPageData) CreateFields() userFields {
	return userFields{Prefix: "create_", Form: d.Create, Errors: d.FieldErrors}
}

// InviteFields are the invite form's fields; the username defaults to the
// email address, as in POST …/users/invite.
func (d *usersPageData) InviteFields() userFields {
	return userFields{Prefix: "invite_", Form: d.Invite, Errors: d.FieldErrors, UsernameOptional: true}
}

// sentUserForm is a create or invite form as posted.
type sentUserForm struct {
	Username, Email, Name, Password string
	Groups                          []string
}

func readUserForm(w http.ResponseWriter, r *http.Request) (sentUserForm, error) {
	f, err := readForm(w, r)
	if err != nil {
		return sentUserForm{}, err
	}
	return sentUserForm{
		Username: strings.TrimSpace(f.Get("username")), Email: strings.TrimSpace(f.Get("email")),
		Name: strings.TrimSpace(f.Get("name")), Password: f.Get("password"), Groups: f["group"],
	}, nil
}

// handleAdminCreateUser is POST BASE/ui/admin/users {username, email,
// name, password, group…}: as POST …/management/api/v1/users, an active
// user with that password (required, and held to the password policy).
// Done: 303 to the new user's page.
func (p *Pages) handleAdminCreateUser(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	sf, err := readUserForm(w, r)
	if err != nil {
		return err
	}
	u, err := p.accounts.CreateUser(r.Context(), account.NewUser{
		Username: sf.Username, Email: sf.Email, Name: sf.Name, Password: sf.Password, Groups: sf.Groups,
		By: p.browser.Actor(r, ps),
	})
	if err == nil {
		seeOther(w, p.adminURL("/users/"+url.PathEscape(u.ID), url.Values{"done": {"created"}}))
		return nil
	}
	return p.userFormRefused(w, r, page, "create_", sf, err)
}

// handleAdminInviteUser is POST BASE/ui/admin/users/invite {email, name,
// username, group…}: as POST …/management/api/v1/users/invite, an invited
// user who is mailed a link to choose a password. Done: 303 to the list.
func (p *Pages) handleAdminInviteUser(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	sf, err := readUserForm(w, r)
	if err != nil {
		return err
	}
	_, err = p.accounts.Invite(r.Context(), account.NewInvite{
		Email: sf.Email, Name: sf.Name, Username: sf.Username, Groups: sf.Groups, By: p.browser.Actor(r, ps),
	})
	if err == nil {
		seeOther(w, p.adminURL("/users", url.Values{"done": {"invited"}}))
		return nil
	}
	return p.userFormRefused(w, r, page, "invite_", sf, err)
}

// userFormRefused shows the list page again with the create or invite
// form (prefix) as sent and err next to its field: a wrong field or a
// password the policy refuses (422), a username or email taken (409),
// groups the administrator may not grant (403). Other errors are not the
// form's: they go to the error path.
func (p *Pages) userFormRefused(w http.ResponseWriter, r *http.Request, page adminPage, prefix string, sf sentUserForm, err error) error {
	var ge *gatehouse.Error
	if !errors.As(err, &ge) {
		return err
	}
	fields := map[string]string{}
	var status int
	switch ge.Code {
	case gatehouse.CodeValidation:
		status = http.StatusUnprocessableEntity
		for k, v := range ge.Fields {
			fields[prefix+k] = v
		}
	case gatehouse.CodePasswordPolicy:
		status, fields[prefix+"password"] = http.StatusUnprocessableEntity, strings.Join(messages(ge), " ")
	case gatehouse.CodeConflict:
		// The store does not say which of the two is taken; its message
		// names both.
		status, fields[prefix+"username"] = http.StatusConflict, ge.Message
	case gatehouse.CodePermissionDenied:
		status, fields[prefix+"groups"] = http.StatusForbidden, ge.Message
	default:
		return err
	}
	d, err := p.usersData(r, page, usersQuery{Page: 1})
	if err != nil {
		return err
	}
	form := userForm{Username: sf.Username, Email: sf.Email, Name: sf.Name}
	if form.Groups, err = p.groupOptions(r, sf.Groups); err != nil {
		return err
	}
	if prefix == "create_" {
		d.Create = form
	} else {
		d.Invite = form
	}
	d.FieldErrors = fields
	if len(d.FieldErrors) == 0 || hasUnshownField(fields, prefix) {
		d.Errors = messages(ge)
	}
	return render(w, status, p.views.adminUsers, d)
}

// hasUnshownField reports whether fields has an error the form has no
// field for (it is then shown at the top too).
func hasUnshownField(fields map[string]string, prefix string) bool {
	for k := range fields {
		switch strings.TrimPrefix(k, prefix) {
		case "username", "email", "name", "password", "groups":
		default:
			return true
		}
	}
	return false
}
