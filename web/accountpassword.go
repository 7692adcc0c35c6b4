package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
)

// handleChangePassword is POST BASE/ui/account/password {current_password,
// new_password}: as POST BASE/password, the user's other sessions end. A
// wrong current password or a new one the policy refuses is shown next to
// its field.
func (p *Pages) handleChangePassword(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	err = p.accounts.ChangePassword(r.Context(), account.ChangePasswordRequest{
		User: ps.User, Session: ps.Session, CurrentPassword: f.Get("current_password"),
		NewPassword: f.Get("new_password"), Client: p.browser.Client(r),
	})
	if err == nil {
		seeOther(w, p.accountURL("password"))
		return nil
	}
	var ge *gatehouse.Error
	if !errors.As(err, &ge) {
		return err
	}
	fields := map[string]string{}
	status := http.StatusUnprocessableEntity
	switch ge.Code {
	case gatehouse.CodeValidation:
		fields["current_password"] = ge.Fields["currentPassword"]
		fields["new_password"] = ge.Fields["newPassword"]
	case gatehouse.CodePasswordPolicy:
		fields["new_password"] = strings.Join(messages(ge), " ")
	case gatehouse.CodeInvalidCredentials:
		status, fields["current_password"] = http.StatusUnauthorized, ge.Message
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
	case gatehouse.CodeTooManyAttempts:
		w.Header().Set("Retry-After", retryAfter(ge.RetryAfter))
		status, fields["current_password"] = http.StatusTooManyRequests, tooManyText(ge.RetryAfter)
	case gatehouse.CodeConflict:
		status, fields["new_password"] = http.StatusConflict, ge.Message
	default:
		return err
	}
	return p.renderAccount(w, r, ps, status, func(d *accountPageData) {
		for k, v := range fields {
			if v != "" {
				d.FieldErrors[k] = v
			}
		}
		d.NewPassword.Error = fields["new_password"]
	})
}
