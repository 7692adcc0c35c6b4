package web

import (
	"net/http"

	"github.com/gatehouse/gatehouse/httpapi"
)

// handleAdminSessions is not built yet.
func (p *Pages) handleAdminSessions(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}

// handleAdminEndSession is not built yet.
func (p *Pages) handleAdminEndSession(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}
