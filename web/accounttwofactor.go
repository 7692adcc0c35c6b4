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

// The two-factor section of the account page, for a full session: set up
// an authenticator app (the enrolment's forms, accountenrol.go), turn it
// off, and new recovery codes. Turning it off and new codes each need the
// user's proof in the same form, every time: the password, or for a user
// without one (or with local login disabled) a code of the second factor,
// checked as re-authentication checks it.
//
// Recovery codes are secrets: they are shown only in the answer to the
// POST that made them, in a read-only text area to copy, or, when the form
// asked for it (download), as that same answer, a text file to save. They
// are never posted back to be downloaded later, nor kept to be fetched.

// thenEnrol is the re-authentication form's continuation that begins an
// authenticator-app enrolment.
const thenEnrol = "totp"

// recoveryFileName is the name a downloaded set of recovery codes is saved
// under.
const recoveryFileName = "gatehouse-recovery-codes.txt"

// recoveryCodesData is the page that shows new recovery codes, once.
type recoveryCodesData struct {
	Codes      string
	Count      int
	AccountURL string
}

// twoFactorProof is what a two-factor form proves the user with: the
// field names of its password, or of its provider and code, prefixed
// (the account page has several such forms, and an id is unique).
type twoFactorProof struct{ prefix string }

// prove checks the proof form f carries for the user of ps. A user who
// uses a password gives it (checked by the use case itself); anyone else
// gives a code, with which the session re-authenticates (a new cookie).
// It returns the proof for the use case and the session as it is now.
func (tp twoFactorProof) prove(p *Pages, w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, f url.Values) (account.Proof, *httpapi.PageSession, error) {
	get := func(k string) string { return f.Get(tp.prefix + k) }
	if p.usesPassword(ps.User) {
		pw := get("password")
		if pw == "" {
			return account.Proof{}, ps, fieldError(tp.prefix+"password", "Enter your password.")
		}
		return account.Proof{Password: pw}, ps, nil
	}
	code := get("code")
	if code == "" {
		return account.Proof{}, ps, fieldError(tp.prefix+"code", "Enter a code.")
	}
	next, err := p.browser.Reauthenticate(w, r, ps, account.Reauthentication{Provider: get("provider"), Code: code})
	if err != nil {
		return account.Proof{}, ps, err
	}
	return account.Proof{Recent: true}, next, nil
}

// field is the form field the proof's errors are shown next to.
func (tp twoFactorProof) field(p *Pages, u *gatehouse.User) string {
	if p.usesPassword(u) {
		return tp.prefix + "password"
	}
	return tp.prefix + "code"
}

// fieldError is a validation error of one form field.
func fieldError(field, msg string) error {
	return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The request is not valid.", Fields: map[string]string{field: msg}}
}

// twoFactorFormError shows err of a two-factor form on the account page:
// a wrong or missing proof next to its field, a refusal (a group requires
// two-factor, none is set up) at the top; anything else is returned.
func (p *Pages) twoFactorFormError(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, tp twoFactorProof, err error) error {
	var ge *gatehouse.Error
	if !errors.As(err, &ge) {
		return err
	}
	field := tp.field(p, ps.User)
	status, fields, top := http.StatusUnprocessableEntity, map[string]string{}, ""
	switch ge.Code {
	case gatehouse.CodeValidation:
		if msg, ok := ge.Fields[field]; ok {
			fields[field] = msg
		} else {
			fields[field] = strings.Join(messages(ge), " ")
		}
	case gatehouse.CodeInvalidCredentials, gatehouse.CodeInvalidCode:
		status, fields[field] = http.StatusUnauthorized, "That is not right. Try again."
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
	case gatehouse.CodeTooManyAttempts:
		w.Header().Set("Retry-After", retryAfter(ge.RetryAfter))
		status, fields[field] = http.StatusTooManyRequests, tooManyText(ge.RetryAfter)
	case gatehouse.CodeConflict:
		status, top = http.StatusConflict, ge.Message
	default:
		return err
	}
	return p.renderAccount(w, r, ps, status, func(d *accountPageData) {
		for k, v := range fields {
			d.FieldErrors[k] = v
		}
		if top != "" {
			d.Errors = append(d.Errors, top)
		}
	})
}

var (
	disableProof  = twoFactorProof{prefix: "off_"}
	recoveryProof = twoFactorProof{prefix: "rc_"}
)

// handleDisableTwoFactor is POST BASE/ui/account/2fa/disable {off_password}
// or {off_provider, off_code}: as DELETE BASE/2fa/totp, two-factor is off
// (unless a group of the user requires it).
func (p *Pages) handleDisableTwoFactor(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	proof, ps, err := disableProof.prove(p, w, r, ps, f)
	if err == nil {
		err = p.accounts.DisableTOTP(r.Context(), p.browser.Actor(r, ps), ps.User, proof)
	}
	if err != nil {
		return p.twoFactorFormError(w, r, ps, disableProof, err)
	}
	seeOther(w, p.accountURL("two_factor_off"))
	return nil
}

// handleRecoveryCodes is POST BASE/ui/account/2fa/recovery-codes
// {rc_password} or {rc_provider, rc_code}, and download: as POST
// BASE/2fa/recovery-codes, new codes, the old ones void. The answer shows
// them once; with download ticked, it is the text file itself.
func (p *Pages) handleRecoveryCodes(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	proof, ps, err := recoveryProof.prove(p, w, r, ps, f)
	var codes []string
	if err == nil {
		codes, err = p.accounts.RegenerateRecoveryCodes(r.Context(), p.browser.Actor(r, ps), ps.User, proof)
	}
	if err != nil {
		return p.twoFactorFormError(w, r, ps, recoveryProof, err)
	}
	text := strings.Join(codes, "\n") + "\n"
	if checked(f.Get("download")) {
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="`+recoveryFileName+`"`)
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(text))
		return nil
	}
	return render(w, http.StatusOK, p.views.recoveryCodes, recoveryCodesData{Codes: text, Count: len(codes), AccountURL: p.accountURL("")})
}

// proofFields is one form's proof fields on the account page (template
// "proof"): the password, or the provider and code, named with Prefix.
type proofFields struct {
	Prefix   string
	Password bool
	errors   map[string]string
}

// Error is the message shown next to the field name ("password", "code"),
// or "".
func (f proofFields) Error(name string) string { return f.errors[f.Prefix+name] }

// proofOf is the proof fields of the account page's form with prefix.
func proofOf(d *accountPageData, prefix string) proofFields {
	return proofFields{Prefix: prefix, Password: d.ProveWithPassword, errors: d.FieldErrors}
}

// requiredByText says which of the user's groups require two-factor
// ("Your group staff requires …"), or "" for none.
func requiredByText(groups []string) string {
	switch len(groups) {
	case 0:
		return ""
	case 1:
		return "Your group " + groups[0] + " requires two-factor authentication, so it cannot be turned off."
	}
	return "Your groups " + strings.Join(groups[:len(groups)-1], ", ") + " and " + groups[len(groups)-1] +
		" require two-factor authentication, so it cannot be turned off."
}
