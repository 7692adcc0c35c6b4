package web

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
)

// The action buttons of a user's page: each is its own form (csrf_token
// only, but for delete's confirmation box) posting to
// BASE/ui/admin/users/{id}/<action>, calling the use case its twin in the
// management API calls, and answering 303 back to the user's page with a
// notice, or the page again with the refusal at the top.

// userAction is what one button does to the user with id; done names its
// notice.
type userAction struct {
	done string
	do   func(ctx context.Context, a account.Actor, id string) error
}

// act runs action on the user r's path names, for ps's user.
func (p *Pages) act(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage, action userAction) error {
	if _, err := readForm(w, r); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := action.do(r.Context(), p.browser.Actor(r, ps), id); err != nil {
		return p.userRefused(w, r, ps, page, err, nil)
	}
	seeOther(w, p.adminURL("/users/"+url.PathEscape(id), url.Values{"done": {action.done}}))
	return nil
}

// handleAdminDisableUser is POST …/users/{id}/disable: the user can no
// longer log in; their sessions, devices and tokens end at once.
func (p *Pages) handleAdminDisableUser(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.act(w, r, ps, page, userAction{"disabled", func(ctx context.Context, a account.Actor, id string) error {
		_, err := p.accounts.DisableUser(ctx, a, id)
		return err
	}})
}

// handleAdminEnableUser is POST …/users/{id}/enable.
func (p *Pages) handleAdminEnableUser(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.act(w, r, ps, page, userAction{"enabled", func(ctx context.Context, a account.Actor, id string) error {
		_, err := p.accounts.EnableUser(ctx, a, id)
		return err
	}})
}

// handleAdminUnlockUser is POST …/users/{id}/unlock: the login lockout
// of the user's username and email ends.
func (p *Pages) handleAdminUnlockUser(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.act(w, r, ps, page, userAction{"unlocked", p.accounts.UnlockUser})
}

// handleAdminResetTwoFactor is POST …/users/{id}/reset-two-factor: the
// user's second factors and recovery codes are removed. On one's own
// account it needs a recently authenticated session, as in the JSON API
// (otherwise it would be turning off one's second factor without proof).
func (p *Pages) handleAdminResetTwoFactor(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.act(w, r, ps, page, userAction{"two_factor_reset", func(ctx context.Context, a account.Actor, id string) error {
		if id == ps.User.ID && !ps.Recent {
			return errConfirmFirst
		}
		return p.accounts.ResetTwoFactor(ctx, a, id)
	}})
}

// handleAdminSendReset is POST …/users/{id}/reset-password: the user is
// mailed a reset link; nobody sets the password for them.
func (p *Pages) handleAdminSendReset(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.act(w, r, ps, page, userAction{"reset_sent", func(ctx context.Context, a account.Actor, id string) error {
		if !p.accounts.AllowPasswordReset() {
			return gatehouse.Errorf(gatehouse.CodePasswordResetDisabled, "Password reset is turned off.")
		}
		if p.accounts.LocalLoginDisabled() {
			return gatehouse.Errorf(gatehouse.CodeLocalLoginDisabled, "Login with a password is turned off: a reset link would not help.")
		}
		return p.accounts.SendResetLink(ctx, a, id)
	}})
}

// handleAdminResendInvite is POST …/users/{id}/invite: an invited user
// is mailed a fresh link; the earlier ones stop working.
func (p *Pages) handleAdminResendInvite(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.act(w, r, ps, page, userAction{"invitation_resent", p.accounts.ResendInvite})
}

// handleAdminEndUserSessions is POST …/users/{id}/sessions/end: every
// session of the user ends (one's own included, this one too).
func (p *Pages) handleAdminEndUserSessions(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.act(w, r, ps, page, userAction{"sessions_ended", func(ctx context.Context, a account.Actor, id string) error {
		_, err := p.accounts.EndUserSessions(ctx, a, id, "")
		return err
	}})
}

// handleAdminDeleteUser is POST …/users/{id}/delete {confirm}: the user
// is deleted, only with the box "I understand" ticked (no script asks).
// Done: 303 to the list.
func (p *Pages) handleAdminDeleteUser(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if f.Get("confirm") != "yes" {
		return p.userRefused(w, r, ps, page, &gatehouse.Error{
			Code: gatehouse.CodeValidation, Message: "Tick “I understand” to delete the user.",
			Fields: map[string]string{"confirm": "Tick “I understand” to delete the user."},
		}, nil)
	}
	if err := p.accounts.DeleteUser(r.Context(), p.browser.Actor(r, ps), id); err != nil {
		return p.userRefused(w, r, ps, page, err, nil)
	}
	seeOther(w, p.adminURL("/users", url.Values{"done": {"deleted"}}))
	return nil
}
