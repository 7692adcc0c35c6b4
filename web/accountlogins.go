package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
)

// addLogins adds the user's linked external logins to d, and the
// providers they may link themselves (allow_manual_linking) and have not.
func (p *Pages) addLogins(r *http.Request, ps *httpapi.PageSession, d *accountPageData) error {
	providers := p.accounts.ExternalProviders()
	if len(providers) == 0 {
		return nil
	}
	list, err := p.accounts.Identities(r.Context(), p.browser.Actor(r, ps), ps.User.ID)
	if err != nil {
		return err
	}
	linked := map[string]bool{}
	for _, id := range list {
		name := id.Provider
		if c, ok := p.accounts.ExternalProvider(id.Provider); ok {
			name = c.Name
		}
		linked[id.Provider] = true
		d.Logins = append(d.Logins, loginRow{
			Provider: id.Provider, Name: name, Email: id.Email,
			LinkedAt: when(id.LinkedAt, "—"), LastUsedAt: when(id.LastUsedAt, "never"),
		})
	}
	for _, c := range providers {
		if c.AllowManualLinking && !linked[c.ID] {
			d.CanLink = append(d.CanLink, providerOption{ID: c.ID, Name: c.Name})
		}
	}
	return nil
}

// handleLink is POST BASE/ui/account/logins/link {provider}: the browser
// goes to the provider to link its account, and comes back to the account
// page. Linking is a new way in: a session not recently authenticated gets
// the re-authentication form first, which continues here.
func (p *Pages) handleLink(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	provider := f.Get("provider")
	if !ps.Recent {
		return p.renderReauth(w, r, ps, http.StatusOK, reauthData{Then: "link:" + provider})
	}
	return p.startLink(w, r, ps, provider)
}

// startLink sends the browser to provider to link it to ps's user.
func (p *Pages) startLink(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, provider string) error {
	authURL, err := p.browser.StartLink(w, r, ps, provider, p.accountURL("linked"))
	if err != nil {
		return p.accountError(w, r, ps, err)
	}
	seeOther(w, authURL)
	return nil
}

// handleUnlink is POST BASE/ui/account/logins/unlink {provider}. The last
// way left to log in cannot be removed: the page says so.
func (p *Pages) handleUnlink(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	if err := p.accounts.UnlinkIdentity(r.Context(), p.browser.Actor(r, ps), ps.User.ID, f.Get("provider")); err != nil {
		return p.accountError(w, r, ps, err)
	}
	seeOther(w, p.accountURL("unlinked"))
	return nil
}

// accountError shows a refusal the user can act on at the top of the
// account page, with its status; anything else is answered as problem+json.
func (p *Pages) accountError(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, err error) error {
	var ge *gatehouse.Error
	if !errors.As(err, &ge) {
		return err
	}
	var status int
	switch ge.Code {
	case gatehouse.CodeLastLoginMethod:
		status = http.StatusConflict
	case gatehouse.CodeManualLinkingDisabled, gatehouse.CodeValidation:
		status = http.StatusBadRequest
	case gatehouse.CodeNotFound, gatehouse.CodeNotLinked:
		status = http.StatusNotFound
	case gatehouse.CodeProviderUnavailable:
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", retryAfter(ge.RetryAfter))
	case gatehouse.CodeConflict:
		status = http.StatusConflict
	default:
		return err
	}
	return p.renderAccount(w, r, ps, status, func(d *accountPageData) { d.Errors = append(d.Errors, ge.Message) })
}

// reauthData is the re-authentication page: Then is what it continues
// with ("link:<provider>", thenEnrol, or "" for the account page).
type reauthData struct {
	Action, CSRFToken, Then, AccountURL string
	// Password asks for the password; otherwise a second factor's code.
	Password    bool
	FieldErrors map[string]string
	// Again are the user's linked providers: logging in there again is a
	// first factor proved just now, and for a user with neither a
	// password nor a second factor the only way to confirm.
	Again []httpapi.ExternalButton
}

func (p *Pages) renderReauth(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, status int, d reauthData) error {
	d.Action, d.CSRFToken, d.AccountURL = p.base+"/ui/account/reauthenticate", ps.CSRFToken, p.accountURL("")
	d.Password = p.usesPassword(ps.User)
	if ids, err := p.accounts.Identities(r.Context(), account.Actor{User: ps.User}, ps.User.ID); err == nil {
		for _, b := range p.browser.ExternalButtons(p.accountURL("")) {
			for _, id := range ids {
				if id.Provider == b.ID {
					d.Again = append(d.Again, b)
				}
			}
		}
	}
	if d.FieldErrors == nil {
		d.FieldErrors = map[string]string{}
	}
	return render(w, status, p.views.reauth, d)
}

// handleReauthenticate is POST BASE/ui/account/reauthenticate {password}
// or {provider, code} (a TOTP or recovery code, for a user without a
// password), as POST BASE/session/reauthenticate; then what the form
// continues with.
func (p *Pages) handleReauthenticate(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	d := reauthData{Then: f.Get("then")}
	proof := account.Reauthentication{Password: f.Get("password")}
	if proof.Password == "" {
		proof.Provider, proof.Code = f.Get("provider"), f.Get("code")
	}
	next, err := p.browser.Reauthenticate(w, r, ps, proof)
	if err != nil {
		var ge *gatehouse.Error
		if !errors.As(err, &ge) {
			return err
		}
		field := "password"
		if !p.usesPassword(ps.User) {
			field = "code"
		}
		status := http.StatusUnprocessableEntity
		switch ge.Code {
		case gatehouse.CodeValidation:
			d.FieldErrors = map[string]string{field: strings.Join(messages(ge), " ")}
		case gatehouse.CodeInvalidCredentials, gatehouse.CodeInvalidCode:
			status, d.FieldErrors = http.StatusUnauthorized, map[string]string{field: "That is not right. Try again."}
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
		case gatehouse.CodeTooManyAttempts:
			w.Header().Set("Retry-After", retryAfter(ge.RetryAfter))
			status, d.FieldErrors = http.StatusTooManyRequests, map[string]string{field: tooManyText(ge.RetryAfter)}
		default:
			return err
		}
		return p.renderReauth(w, r, ps, status, d)
	}
	if provider, ok := strings.CutPrefix(d.Then, "link:"); ok {
		return p.startLink(w, r, next, provider)
	}
	if d.Then == thenEnrol {
		return p.handleBeginEnrol(w, r, next, true)
	}
	seeOther(w, p.accountURL("reauthenticated"))
	return nil
}
