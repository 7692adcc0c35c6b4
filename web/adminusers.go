package web

import (
	"net/http"

	"github.com/gatehouse/gatehouse/httpapi"
)

// handleAdminUsers is not built yet.
func (p *Pages) handleAdminUsers(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}

// handleAdminCreateUser is not built yet.
func (p *Pages) handleAdminCreateUser(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}

// handleAdminInviteUser is not built yet.
func (p *Pages) handleAdminInviteUser(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}

// handleAdminUser is not built yet.
func (p *Pages) handleAdminUser(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}

// handleAdminUpdateUser is not built yet.
func (p *Pages) handleAdminUpdateUser(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}

// handleAdminDisableUser is not built yet.
func (p *Pages) handleAdminDisableUser(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}

// handleAdminEnableUser is not built yet.
func (p *Pages) handleAdminEnableUser(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}

// handleAdminUnlockUser is not built yet.
func (p *Pages) handleAdminUnlockUser(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}

// handleAdminResetTwoFactor is not built yet.
func (p *Pages) handleAdminResetTwoFactor(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}

// handleAdminSendReset is not built yet.
func (p *Pages) handleAdminSendReset(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}

// handleAdminResendInvite is not built yet.
func (p *Pages) handleAdminResendInvite(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}

// handleAdminEndUserSessions is not built yet.
func (p *Pages) handleAdminEndUserSessions(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}

// handleAdminDeleteUser is not built yet.
func (p *Pages) handleAdminDeleteUser(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}
