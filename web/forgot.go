package web

import (
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse"
)

// The forgot-password page (GET and POST BASE/ui/forgot): the form version
// of POST BASE/password/forgot. It answers the same whether or not the
// address belongs to an account (the use case mails in the background),
// so the page cannot be used to learn who has an account here.

type forgotPageData struct {
	Action, LoginURL, Email string
	// Unavailable says password reset is off here (reset disabled, or
	// local login disabled): the page says so, with no form.
	Unavailable bool
	Sent        bool
	EmailError  string
}

func (p *Pages) forgotData() forgotPageData {
	return forgotPageData{
		Action: p.base + "/ui/forgot", LoginURL: p.base + "/ui/login",
		Unavailable: !p.forgotOffered(),
	}
}

// forgotOffered reports whether a password can be reset by mail here.
func (p *Pages) forgotOffered() bool {
	return p.accounts.AllowPasswordReset() && !p.accounts.LocalLoginDisabled()
}

// handleForgotPage is GET BASE/ui/forgot.
func (p *Pages) handleForgotPage(w http.ResponseWriter, r *http.Request) error {
	d := p.forgotData()
	if d.Unavailable {
		return render(w, http.StatusForbidden, p.views.forgot, d)
	}
	return render(w, http.StatusOK, p.views.forgot, d)
}

// handleForgotForm is POST BASE/ui/forgot {email}.
func (p *Pages) handleForgotForm(w http.ResponseWriter, r *http.Request) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	d := p.forgotData()
	d.Email = f.Get("email")
	err = p.accounts.ForgotPassword(r.Context(), d.Email, p.browser.Client(r))
	var ge *gatehouse.Error
	switch {
	case err == nil:
		d.Sent, d.Email = true, ""
		return render(w, http.StatusOK, p.views.forgot, d)
	case !errors.As(err, &ge):
		return err
	}
	switch ge.Code {
	case gatehouse.CodePasswordResetDisabled, gatehouse.CodeLocalLoginDisabled:
		d.Unavailable = true
		return render(w, http.StatusForbidden, p.views.forgot, d)
	case gatehouse.CodeValidation:
		d.EmailError = ge.Fields["email"]
		if d.EmailError == "" {
			d.EmailError = ge.Message
		}
		return render(w, http.StatusUnprocessableEntity, p.views.forgot, d)
	case gatehouse.CodeTooManyAttempts:
		w.Header().Set("Retry-After", retryAfter(ge.RetryAfter))
		d.EmailError = tooManyText(ge.RetryAfter)
		return render(w, http.StatusTooManyRequests, p.views.forgot, d)
	}
	return err
}
