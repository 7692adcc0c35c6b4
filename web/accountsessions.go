package web

import (
	"net/http"

	"github.com/gatehouse/gatehouse/httpapi"
)

// sessionRows are the user's live sessions, this one marked.
func (p *Pages) sessionRows(r *http.Request, ps *httpapi.PageSession) ([]sessionRow, error) {
	list, err := p.accounts.UserSessions(r.Context(), ps.User.ID)
	if err != nil {
		return nil, err
	}
	rows := make([]sessionRow, 0, len(list))
	for _, s := range list {
		device := s.UserAgent
		if device == "" {
			device = "Unknown device"
		}
		rows = append(rows, sessionRow{
			ID: s.ID, Device: device, Address: s.ClientAddr,
			LastActivity: when(s.LastSeenAt, "—"), Current: s.ID == ps.Session.ID,
		})
	}
	return rows, nil
}

// handleEndSession is POST BASE/ui/account/sessions/end {id}: one of the
// user's sessions ends (another user's is 404, as in the JSON API). Ending
// this one logs the browser out.
func (p *Pages) handleEndSession(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	id := f.Get("id")
	if err := p.accounts.EndSession(r.Context(), p.browser.Actor(r, ps), id, ps.User.ID); err != nil {
		return err
	}
	if id == ps.Session.ID {
		p.browser.ClearSession(w, r)
		seeOther(w, p.base+"/ui/login")
		return nil
	}
	seeOther(w, p.accountURL("session"))
	return nil
}

// handleEndOtherSessions is POST BASE/ui/account/sessions/end-others:
// every session of the user but this one ends.
func (p *Pages) handleEndOtherSessions(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession) error {
	if _, err := p.accounts.EndUserSessions(r.Context(), p.browser.Actor(r, ps), ps.User.ID, ps.Session.ID); err != nil {
		return err
	}
	seeOther(w, p.accountURL("sessions"))
	return nil
}
