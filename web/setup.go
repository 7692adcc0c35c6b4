package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
)

type setupPageData struct {
	Action, Token, Username, Email, Name string
	// NewPassword is the password field; a refused password's reasons
	// are its Error, other errors are the page's Errors.
	NewPassword   newPasswordField
	Errors        []string
	Done, NoToken bool
}

// handleSetupPage is GET BASE/ui/setup?token=…: the form behind the setup
// link. Opening it does not use the token up; only the form post does.
func (p *Pages) handleSetupPage(w http.ResponseWriter, r *http.Request) error {
	d := setupPageData{Action: p.base + "/ui/setup", Token: r.URL.Query().Get("token"), NewPassword: p.newPassword("password", "password", "Password")}
	d.NoToken = d.Token == "" || !p.accounts.SetupPending()
	return render(w, http.StatusOK, p.views.setup, d)
}

// handleSetupForm is POST BASE/ui/setup: the form version of POST BASE/setup,
// so the first administrator can be created without a script.
func (p *Pages) handleSetupForm(w http.ResponseWriter, r *http.Request) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	d := setupPageData{
		Action: p.base + "/ui/setup", Token: f.Get("token"),
		Username: f.Get("username"), Email: f.Get("email"), Name: f.Get("name"),
		NewPassword: p.newPassword("password", "password", "Password"),
	}
	u, err := p.accounts.CompleteSetup(r.Context(), d.Token, account.NewUser{
		Username: d.Username, Email: d.Email, Name: d.Name, Password: f.Get("password"),
	})
	var ge *gatehouse.Error
	switch {
	case err == nil:
		d.Done, d.Username = true, u.Username
		return render(w, http.StatusCreated, p.views.setup, d)
	case gatehouse.ErrorCode(err) == gatehouse.CodeInvalidToken:
		d.NoToken = true
		return render(w, http.StatusBadRequest, p.views.setup, d)
	case errors.As(err, &ge) && ge.Code == gatehouse.CodePasswordPolicy:
		d.NewPassword.Error = strings.Join(messages(ge), " ")
		return render(w, http.StatusUnprocessableEntity, p.views.setup, d)
	case errors.As(err, &ge) && (ge.Code == gatehouse.CodeValidation || ge.Code == gatehouse.CodeConflict):
		d.Errors = messages(ge)
		return render(w, http.StatusUnprocessableEntity, p.views.setup, d)
	default:
		return err
	}
}
