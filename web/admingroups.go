package web

import (
	"net/http"

	"github.com/gatehouse/gatehouse/httpapi"
)

// handleAdminGroups is not built yet.
func (p *Pages) handleAdminGroups(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}

// handleAdminCreateGroup is not built yet.
func (p *Pages) handleAdminCreateGroup(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}

// handleAdminGroup is not built yet.
func (p *Pages) handleAdminGroup(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}

// handleAdminUpdateGroup is not built yet.
func (p *Pages) handleAdminUpdateGroup(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}

// handleAdminDeleteGroup is not built yet.
func (p *Pages) handleAdminDeleteGroup(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}
