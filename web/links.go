package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// The pages behind mailed links: they work without JavaScript, and opening
// one (as a mail scanner does) never uses its token; only the form post
// does.

type linkPageData struct {
	Title, Intro, Action, Button string
	UserID, Token                string
	// NewPassword is the password field; a refused password's reasons
	// are its Error.
	NewPassword newPasswordField
	Done        string
	Invalid     bool
}

// resetPage is the reset page for the link's userID and token.
func (p *Pages) resetPage(userID, token string) linkPageData {
	return linkPageData{
		Title: "Choose a new password", Action: p.base + "/ui/reset", Button: "Set password",
		UserID: userID, Token: token, NewPassword: p.newPassword("password", "password", "New password"),
	}
}

// invitePage is the invitation page for the link's userID and token.
func (p *Pages) invitePage(userID, token string) linkPageData {
	return linkPageData{
		Title: "Accept your invitation", Intro: "Choose a password to activate your account.",
		Action: p.base + "/ui/invite", Button: "Activate account",
		UserID: userID, Token: token, NewPassword: p.newPassword("password", "password", "New password"),
	}
}

// handleResetPage is GET BASE/ui/reset: the form behind a reset link.
func (p *Pages) handleResetPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := p.resetPage(q.Get("userId"), q.Get("token"))
	d.Invalid = d.UserID == "" || d.Token == ""
	return render(w, http.StatusOK, p.views.link, d)
}

// handleResetForm is POST BASE/ui/reset.
func (p *Pages) handleResetForm(w http.ResponseWriter, r *http.Request) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	d := p.resetPage(f.Get("userId"), f.Get("token"))
	if p.accounts.LocalLoginDisabled() {
		// An operator's recovery link: it logs the user in, through the
		// login page's second step when one is owed.
		res, err := p.accounts.RecoverAccess(r.Context(), d.UserID, d.Token, f.Get("password"), p.browser.LoginRequest(r))
		if err != nil {
			return p.linkPageError(w, err, d)
		}
		return p.finishLogin(w, r, res, p.loginData(""))
	}
	err = p.accounts.ResetPassword(r.Context(), d.UserID, d.Token, f.Get("password"), p.browser.Client(r))
	if err == nil {
		d.Done = "Your password was changed. You can log in with it now."
		return render(w, http.StatusOK, p.views.link, d)
	}
	return p.linkPageError(w, err, d)
}

// handleInvitePage is GET BASE/ui/invite: the form behind an invitation.
func (p *Pages) handleInvitePage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := p.invitePage(q.Get("userId"), q.Get("token"))
	d.Invalid = d.UserID == "" || d.Token == ""
	return render(w, http.StatusOK, p.views.link, d)
}

// handleInviteForm is POST BASE/ui/invite: verifies the invitation and sets
// the password in one step, then logs the new user in.
func (p *Pages) handleInviteForm(w http.ResponseWriter, r *http.Request) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	d := p.invitePage(f.Get("userId"), f.Get("token"))
	// One step: the link is checked first (so only a link holder learns
	// what the password rules say about the user), then the password, and
	// the link is used up only once the password is hashed, so a refused
	// password or a busy server leaves it valid.
	res, err := p.accounts.AcceptInviteLink(r.Context(), d.UserID, d.Token, f.Get("password"), p.browser.Client(r), p.browser.LoginRequest(r).PreviousToken)
	if err != nil {
		return p.linkPageError(w, err, d)
	}
	p.browser.EndLogin(w, r, res)
	d.Done = "Welcome, " + res.User.Username + ": your account is active and you are logged in."
	return render(w, http.StatusOK, p.views.link, d)
}

// linkPageError shows a use-case error on a link page: the form again with
// what is wrong, or the invalid-link notice.
func (p *Pages) linkPageError(w http.ResponseWriter, err error, d linkPageData) error {
	var ge *gatehouse.Error
	if !errors.As(err, &ge) {
		return err
	}
	switch ge.Code {
	case gatehouse.CodeInvalidToken, gatehouse.CodeNotInvited, gatehouse.CodeUnauthenticated:
		d.Invalid = true
		return render(w, http.StatusBadRequest, p.views.link, d)
	case gatehouse.CodeValidation, gatehouse.CodePasswordPolicy:
		d.NewPassword.Error = strings.Join(messages(ge), " ")
		return render(w, http.StatusUnprocessableEntity, p.views.link, d)
	default:
		return err
	}
}
