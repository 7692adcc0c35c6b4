package web

import (
	"errors"
	"net/http"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpapi"
)

// The enrolment part of the account page: a user whose group requires a
// second factor and who has none gets, after the password, a partial
// session good only for enrolling (and logging out). The account page
// shows such a browser only this: set up an authenticator app (the QR
// code and the secret, then a code from the app), the recovery codes once,
// and the session becomes a full one. A full session enrols through the
// same two forms, from the account page's two-factor section, once it has
// authenticated recently (as POST BASE/2fa/totp asks).

// enrolPageData is the enrolment page at one of its steps.
type enrolPageData struct {
	Action, CSRFToken, AccountURL string
	// Full says the session is a full one (enrolling from the account
	// page), not the partial enrolment session.
	Full bool
	// Stale says the partial session is too old to enrol: log in again.
	Stale bool
	// Scan is the step with the new secret (Secret, QR) and the code form;
	// Codes, the recovery codes once enrolled.
	Scan      bool
	Secret    string
	QR        [][]bool
	CodeError string
	Codes     []string
}

// enrolData is the enrolment page of session ps, full or partial. Only a
// partial session can be stale here: a full one re-authenticates instead.
func (p *Pages) enrolData(ps *httpapi.PageSession, full bool) enrolPageData {
	return enrolPageData{
		Action: p.base + "/ui/account", CSRFToken: ps.CSRFToken, AccountURL: p.accountURL(""),
		Full: full, Stale: !full && !ps.Recent,
	}
}

// handleAccount is GET BASE/ui/account: the account page for a full
// session, the enrolment page for a partial one, else the login page.
func (p *Pages) handleAccount(w http.ResponseWriter, r *http.Request) error {
	ps, err := p.browser.Session(r)
	if err != nil {
		return err
	}
	if ps != nil {
		return p.handleAccountPage(w, r, ps)
	}
	es, err := p.enrolmentSession(w, r)
	if err != nil {
		return noSessionOK(err)
	}
	return render(w, http.StatusOK, p.views.enrol, p.enrolData(es, false))
}

// noSessionOK is err, but nil for errNoSession (answered already).
func noSessionOK(err error) error {
	if errors.Is(err, errNoSession) {
		return nil
	}
	return err
}

// enrolmentSession is the browser's partial enrolment session, or
// errNoSession after a 303 to the login page.
func (p *Pages) enrolmentSession(w http.ResponseWriter, r *http.Request) (*httpapi.PageSession, error) {
	es, err := p.browser.EnrolmentSession(r)
	if err != nil {
		return nil, err
	}
	if es == nil {
		p.toLogin(w)
		return nil, errNoSession
	}
	return es, nil
}

// enrolRoute is route for the enrolment's forms, which take a full
// session (full is true) or the partial enrolment session.
func (p *Pages) enrolRoute(pattern string, h func(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, full bool) error) {
	p.route(pattern, func(w http.ResponseWriter, r *http.Request) error {
		ps, err := p.browser.Session(r)
		if err != nil {
			return err
		}
		if ps != nil {
			return h(w, r, ps, true)
		}
		es, err := p.enrolmentSession(w, r)
		if err != nil {
			return noSessionOK(err)
		}
		return h(w, r, es, false)
	})
}

// handleBeginEnrol is POST BASE/ui/account/2fa/totp: a new secret, shown
// in this answer only (never in a URL), as a QR code and as text, with
// the form for the app's first code. A full session not recently
// authenticated gets the re-authentication form first, which then begins.
func (p *Pages) handleBeginEnrol(w http.ResponseWriter, r *http.Request, es *httpapi.PageSession, full bool) error {
	if full && !es.Recent {
		return p.renderReauth(w, r, es, http.StatusOK, reauthData{Then: thenEnrol})
	}
	d := p.enrolData(es, full)
	if d.Stale {
		return render(w, http.StatusForbidden, p.views.enrol, d)
	}
	e, err := p.accounts.BeginTOTP(r.Context(), es.User)
	if err != nil {
		return err
	}
	qr, err := qrcode.New(e.OtpauthURL, qrcode.Medium)
	if err != nil {
		return err
	}
	d.Scan, d.Secret, d.QR = true, e.Secret, qr.Bitmap()
	return render(w, http.StatusOK, p.views.enrol, d)
}

// handleConfirmEnrol is POST BASE/ui/account/2fa/totp/confirm {code}:
// two-factor is on, the recovery codes are shown once, and the session is
// a full one from now (a new cookie). A full session that has gone stale
// meanwhile re-authenticates and starts over with a new key.
func (p *Pages) handleConfirmEnrol(w http.ResponseWriter, r *http.Request, es *httpapi.PageSession, full bool) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	if full && !es.Recent {
		return p.renderReauth(w, r, es, http.StatusOK, reauthData{Then: thenEnrol})
	}
	d := p.enrolData(es, full)
	if d.Stale {
		return render(w, http.StatusForbidden, p.views.enrol, d)
	}
	codes, err := p.accounts.ConfirmTOTP(r.Context(), p.browser.Actor(r, es), es.User, f.Get("code"))
	var ge *gatehouse.Error
	switch {
	case err == nil:
	case errors.As(err, &ge) && (ge.Code == gatehouse.CodeInvalidCode || ge.Code == gatehouse.CodeValidation):
		// The secret is not shown again: the app has it, or the user
		// starts over with a new one.
		d.Scan, d.CodeError = true, "That code is not right. Enter the code your app shows now, or start again."
		return render(w, http.StatusUnprocessableEntity, p.views.enrol, d)
	default:
		return err
	}
	if !full {
		if err := p.browser.FinishEnrolment(w, r, es); err != nil {
			return err
		}
	}
	d.Codes = codes
	return render(w, http.StatusOK, p.views.enrol, d)
}
