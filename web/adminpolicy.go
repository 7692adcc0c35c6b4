package web

import (
	"net/http"

	"github.com/gatehouse/gatehouse/httpapi"
)

// handleAdminRoutes is not built yet.
func (p *Pages) handleAdminRoutes(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}
