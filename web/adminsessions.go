package web

import (
	"cmp"
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpapi"
)

// The console's sessions (section:users), as the management API's
// /sessions: every session, newest first, a page of sessionsPerPage at a
// time by the store's cursor (a session store has no cheap count, so no
// page numbers), each with a button to end it.

// sessionsPerPage is how many sessions a page lists.
const sessionsPerPage = 50

// maxSessionCursor is the longest ?after= read, as the management API's
// cursor; a store's are far shorter.
const maxSessionCursor = 512

// adminSessionsData is the sessions page.
type adminSessionsData struct {
	adminPage
	Sessions []adminSessionRow
	// After is this page's cursor ("" for the first page), for the end
	// forms to come back to it; NextURL the following page, FirstURL the
	// first ("" on the first page).
	After, NextURL, FirstURL string
}

// adminSessionRow is a session in the list.
type adminSessionRow struct {
	ID string
	// User is the username, or the id of a user gone meanwhile; "" for a
	// guest session. UserURL is the user's console page.
	User, UserURL                          string
	Device, Address, Created, LastActivity string
	Provider                               string
	Current                                bool
}

// handleAdminSessions is GET BASE/ui/admin/sessions?after=: a page of
// sessions. A cursor the store did not make is a 400 page saying so.
func (p *Pages) handleAdminSessions(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	d := &adminSessionsData{adminPage: page.current("sessions"), After: r.URL.Query().Get("after")}
	d.Notice = adminNotice(r)
	if len(d.After) > maxSessionCursor {
		return p.renderBadCursor(w, d)
	}
	list, next, err := p.accounts.ListSessions(r.Context(), d.After, sessionsPerPage)
	if gatehouse.ErrorCode(err) == gatehouse.CodeValidation {
		return p.renderBadCursor(w, d)
	}
	if err != nil {
		return err
	}
	if d.Sessions, err = p.adminSessionRows(r, ps, list); err != nil {
		return err
	}
	if next != "" {
		d.NextURL = p.adminURL("/sessions", url.Values{"after": {next}})
	}
	if d.After != "" {
		d.FirstURL = p.adminURL("/sessions", nil)
	}
	return render(w, http.StatusOK, p.views.adminSessions, d)
}

// renderBadCursor answers a sessions page asked for with a cursor no page
// gave: 400, and a link to the first page.
func (p *Pages) renderBadCursor(w http.ResponseWriter, d *adminSessionsData) error {
	d.After, d.FirstURL = "", p.adminURL("/sessions", nil)
	d.Errors = append(d.Errors, "This page of sessions does not exist: its link is not one the list made. Start again from the first page.")
	return render(w, http.StatusBadRequest, p.views.adminSessions, d)
}

// adminSessionRows are list's sessions as the page shows them, each user
// looked up once.
func (p *Pages) adminSessionRows(r *http.Request, ps *httpapi.PageSession, list []*gatehouse.Session) ([]adminSessionRow, error) {
	names := map[string]string{}
	rows := make([]adminSessionRow, 0, len(list))
	for _, s := range list {
		row := adminSessionRow{
			ID: s.ID, Device: s.UserAgent, Address: s.ClientAddr, Provider: s.Provider,
			Created: when(s.CreatedAt, "—"), LastActivity: when(s.LastSeenAt, "—"), Current: s.ID == ps.Session.ID,
		}
		if row.Device == "" {
			row.Device = "Unknown device"
		}
		if s.UserID != "" {
			name, seen := names[s.UserID]
			if !seen {
				n, err := p.accounts.Username(r.Context(), s.UserID)
				if err != nil {
					return nil, err
				}
				name = cmp.Or(n, s.UserID)
				names[s.UserID] = name
			}
			row.User, row.UserURL = name, p.adminURL("/users/"+url.PathEscape(s.UserID), nil)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// handleAdminEndSession is POST BASE/ui/admin/sessions/end {id, after}: as
// DELETE …/sessions/{id}, the session ends, then 303 back to the page it
// was listed on. Ending this browser's own session logs it out (to the
// login page). A session gone meanwhile, or one of a user holding
// permissions the administrator lacks, is the page with why.
func (p *Pages) handleAdminEndSession(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	id, after := f.Get("id"), f.Get("after")
	if len(after) > maxSessionCursor {
		after = ""
	}
	err = p.accounts.EndSession(r.Context(), p.browser.Actor(r, ps), id, "")
	if err == nil {
		if id == ps.Session.ID {
			p.browser.ClearSession(w, r)
			seeOther(w, p.base+"/ui/login")
			return nil
		}
		q := url.Values{"done": {"session_ended"}}
		if after != "" {
			q.Set("after", after)
		}
		seeOther(w, p.adminURL("/sessions", q))
		return nil
	}
	ge, status, ok := refusal(err)
	if !ok {
		return err
	}
	msg := ge.Message
	if ge.Code == gatehouse.CodeNotFound {
		msg = "That session has ended already."
	}
	d := &adminSessionsData{adminPage: page.current("sessions")}
	d.Errors = append(d.Errors, msg)
	list, next, err := p.accounts.ListSessions(r.Context(), "", sessionsPerPage)
	if err != nil {
		return err
	}
	if d.Sessions, err = p.adminSessionRows(r, ps, list); err != nil {
		return err
	}
	if next != "" {
		d.NextURL = p.adminURL("/sessions", url.Values{"after": {next}})
	}
	return render(w, status, p.views.adminSessions, d)
}
