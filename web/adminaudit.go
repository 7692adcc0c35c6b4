package web

import (
	"net/http"

	"github.com/gatehouse/gatehouse/httpapi"
)

// handleAdminAudit is not built yet.
func (p *Pages) handleAdminAudit(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	return p.notBuilt(w, r, ps, page)
}
