package web

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
)

// expiryOption is a choice of how long a new API token lasts.
type expiryOption struct {
	Value, Label string
}

// expiries are the choices of the token form; the first is the default.
// "never" makes a token that does not expire.
var expiries = []expiryOption{
	{"30", "30 days"}, {"7", "7 days"}, {"90", "90 days"}, {"365", "1 year"}, {"never", "Never"},
}

// addTokens adds the user's API tokens to d, and their permissions as the
// token form's choices.
func (p *Pages) addTokens(r *http.Request, ps *httpapi.PageSession, d *accountPageData) error {
	list, err := p.accounts.UserTokens(r.Context(), ps.User.ID)
	if err != nil {
		return err
	}
	for _, t := range list {
		perms := "All of yours"
		if len(t.Permissions) > 0 {
			perms = strings.Join(t.Permissions, ", ")
		}
		d.Tokens = append(d.Tokens, tokenRow{
			ID: t.ID, Name: t.Name, Hint: t.Hint, Permissions: perms, Created: when(t.CreatedAt, "—"),
			Expires: when(t.ExpiresAt, "never"), LastUsed: when(t.LastUsedAt, "never"),
		})
	}
	perms, err := p.tokenPermissions(r, ps.User)
	if err != nil {
		return err
	}
	for _, perm := range perms {
		d.Permissions = append(d.Permissions, permissionOption{Name: perm})
	}
	if d.Expiry == "" {
		d.Expiry = expiries[0].Value
	}
	return nil
}

// tokenPermissions are the permissions a token of u may be limited to:
// u's own; for a user with every permission ("*"), that, and each one
// gatehouse and the groups know of.
func (p *Pages) tokenPermissions(r *http.Request, u *gatehouse.User) ([]string, error) {
	perms, err := p.accounts.Permissions(r.Context(), u)
	if err != nil || !slices.Contains(perms, gatehouse.PermissionAll) {
		return perms, err
	}
	groups, err := p.accounts.ListGroups(r.Context())
	if err != nil {
		return nil, err
	}
	known := []string{httpapi.PermUsers, httpapi.PermSettings, httpapi.PermAudit}
	for _, g := range groups {
		known = append(known, g.Permissions...)
	}
	slices.Sort(known)
	// "*" sorts first: the broadest choice heads the list.
	return slices.Compact(append([]string{gatehouse.PermissionAll}, known...)), nil
}

// tokenCreatedData is the page that shows a new token's secret, once.
type tokenCreatedData struct {
	Name, Secret, Expires, Permissions, AccountURL string
}

// handleCreateToken is POST BASE/ui/account/tokens {name, expiry,
// permission…}: as POST BASE/tokens, a new API token limited to the ticked
// permissions (none ticked: all of the user's). Its secret is shown in
// this answer only, never after a redirect (it would sit in a URL or a
// cookie). A session not recently authenticated gets the
// re-authentication form first.
func (p *Pages) handleCreateToken(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	if !ps.Recent {
		return p.renderReauth(w, r, ps, http.StatusOK, reauthData{})
	}
	name, expiry, perms := f.Get("name"), f.Get("expiry"), f["permission"]
	nt := account.NewToken{Name: name, Permissions: perms}
	fields := map[string]string{}
	switch days, err := strconv.Atoi(expiry); {
	case expiry == "never":
	case err == nil && slices.ContainsFunc(expiries, func(e expiryOption) bool { return e.Value == expiry }):
		nt.ExpiresAt = p.browser.Now().Add(time.Duration(days) * 24 * time.Hour)
	default:
		fields["expiry"] = "Choose one of the expiries offered."
	}
	var secret string
	var t *gatehouse.Token
	if len(fields) == 0 {
		secret, t, err = p.accounts.CreateToken(r.Context(), p.browser.Actor(r, ps), ps.User, nt)
		var ge *gatehouse.Error
		switch {
		case err == nil:
		case errors.As(err, &ge) && ge.Code == gatehouse.CodeValidation:
			for k, v := range ge.Fields {
				fields[tokenFormField(k)] = v
			}
		default:
			return err
		}
	}
	if len(fields) > 0 {
		d, err := p.accountData(r, ps)
		if err != nil {
			return err
		}
		// The form again as it was sent.
		d.TokenName, d.Expiry, d.FieldErrors = name, expiry, fields
		for i := range d.Permissions {
			d.Permissions[i].Checked = slices.Contains(perms, d.Permissions[i].Name)
		}
		return render(w, http.StatusUnprocessableEntity, p.views.account, d)
	}
	permText := "All of yours"
	if len(t.Permissions) > 0 {
		permText = strings.Join(t.Permissions, ", ")
	}
	return render(w, http.StatusCreated, p.views.tokenCreated, tokenCreatedData{
		Name: t.Name, Secret: secret, Expires: when(t.ExpiresAt, "never"), Permissions: permText, AccountURL: p.accountURL(""),
	})
}

// tokenFormField is the form's name of a field of account.NewToken's
// validation.
func tokenFormField(field string) string {
	switch field {
	case "expiresAt":
		return "expiry"
	case "permissions":
		return "permission"
	}
	return field
}

// handleRevokeToken is POST BASE/ui/account/tokens/revoke {id}; another
// user's token is 404, as in the JSON API.
func (p *Pages) handleRevokeToken(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	if err := p.accounts.RevokeToken(r.Context(), p.browser.Actor(r, ps), f.Get("id"), ps.User.ID); err != nil {
		return err
	}
	seeOther(w, p.accountURL("token_revoked"))
	return nil
}
