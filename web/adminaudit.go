package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpapi"
)

// The console's audit log (section:audit), as the management API's
// /audit: newest first, auditPerPage at a time, filtered by a user (their
// username or email), a kind and a time range. A filter it cannot use is
// the page again, 400, with the error next to its field.

// auditPerPage is how many events a page lists.
const auditPerPage = 50

// auditKinds are every kind of audit event, in the order the filter's
// select offers them (TestAuditKindsComplete keeps it whole).
var auditKinds = []gatehouse.AuditKind{
	gatehouse.AuditLoginSucceeded, gatehouse.AuditLoginFailed, gatehouse.AuditLockout, gatehouse.AuditLogout,
	gatehouse.AuditExternalLoginFailed, gatehouse.AuditReauthenticated, gatehouse.AuditSessionEnded,
	gatehouse.AuditPasswordChanged, gatehouse.AuditResetRequested, gatehouse.AuditPasswordReset,
	gatehouse.AuditTwoFactorAdded, gatehouse.AuditTwoFactorRemoved, gatehouse.AuditTwoFactorFailed,
	gatehouse.AuditTwoFactorReplay, gatehouse.AuditTwoFactorCodeSent, gatehouse.AuditRecoveryCodeUsed,
	gatehouse.AuditRecoveryCodesRenewed, gatehouse.AuditDeviceRemembered,
	gatehouse.AuditTokenCreated, gatehouse.AuditTokenRevoked,
	gatehouse.AuditIdentityLinked, gatehouse.AuditIdentityUnlinked,
	gatehouse.AuditUserCreated, gatehouse.AuditUserUpdated, gatehouse.AuditUserDisabled, gatehouse.AuditUserEnabled,
	gatehouse.AuditUserDeleted, gatehouse.AuditUserUnlocked, gatehouse.AuditGroupsMapped,
	gatehouse.AuditUserInvited, gatehouse.AuditInviteRevoked, gatehouse.AuditInviteVerified, gatehouse.AuditInviteAccepted,
	gatehouse.AuditGroupCreated, gatehouse.AuditGroupUpdated, gatehouse.AuditGroupDeleted,
	gatehouse.AuditPermissionDenied, gatehouse.AuditSetupCompleted,
}

// The layouts the time filters accept: a datetime-local input's (with or
// without seconds), a date's, and RFC 3339. Without a zone, UTC.
const (
	minuteLayout = "2006-01-02T15:04"
	secondLayout = "2006-01-02T15:04:05"
	dateLayout   = "2006-01-02"
)

// adminAuditData is the audit log page.
type adminAuditData struct {
	adminPage
	// The filters as sent, for the form.
	User, Kind, Since, Until string
	Kinds                    []gatehouse.AuditKind
	Events                   []auditRow
	// Total counts the events the filters select; First and Last number
	// the page's first and last among them (from 1).
	Total, First, Last int
	PrevURL, NextURL   string
	// Filtered says a filter is set (the empty state says so); Invalid
	// that the query could not be used (no events shown).
	Filtered, Invalid bool
}

// auditRow is an event as the page shows it.
type auditRow struct {
	Time, Kind, Actor, ActorURL, Target, TargetURL, Address, Details string
}

// auditQuery is what the page's query asks for, once read.
type auditQuery struct {
	filter gatehouse.AuditFilter
	fields map[string]string
}

// readAuditQuery reads the filters and the offset of q; fields names
// those it cannot use, by field.
func (p *Pages) readAuditQuery(r *http.Request, q url.Values) auditQuery {
	aq := auditQuery{filter: gatehouse.AuditFilter{Limit: auditPerPage}, fields: map[string]string{}}
	if login := strings.TrimSpace(q.Get("user")); login != "" {
		u, err := p.accounts.UserByLogin(r.Context(), login)
		if gatehouse.ErrorCode(err) == gatehouse.CodeNotFound {
			// An id names a user too (the management API's filter).
			u, err = p.accounts.User(r.Context(), login)
		}
		switch {
		case err == nil:
			aq.filter.UserID = u.ID
		case gatehouse.ErrorCode(err) == gatehouse.CodeNotFound:
			aq.fields["user"] = "No user has this username or email."
		default:
			aq.fields["user"] = "The user could not be looked up; try again."
		}
	}
	if kind := q.Get("kind"); kind != "" {
		if !slices.Contains(auditKinds, gatehouse.AuditKind(kind)) {
			aq.fields["kind"] = "Choose one of the kinds offered."
		}
		aq.filter.Kind = gatehouse.AuditKind(kind)
	}
	var ok bool
	if aq.filter.Since, _, ok = parseFilterTime(q.Get("since")); !ok {
		aq.fields["since"] = "Enter a date and time such as 2026-03-01T09:30 (UTC)."
	}
	until, dateOnly, ok := parseFilterTime(q.Get("until"))
	if !ok {
		aq.fields["until"] = "Enter a date and time such as 2026-03-01T17:00 (UTC)."
	}
	if dateOnly {
		// A day is until its end.
		until = until.AddDate(0, 0, 1)
	}
	aq.filter.Until = until
	if aq.fields["since"] == "" && aq.fields["until"] == "" && !aq.filter.Since.IsZero() && !until.IsZero() && !until.After(aq.filter.Since) {
		aq.fields["until"] = "Until must be later than since."
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			aq.fields["offset"] = "This page of the audit log does not exist: its link is broken."
		}
		aq.filter.Offset = n
	}
	return aq
}

// parseFilterTime reads a time filter ("" is no bound); dateOnly says it
// was a date without a time.
func parseFilterTime(v string) (t time.Time, dateOnly, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false, true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), false, true
	}
	for _, layout := range []string{minuteLayout, secondLayout, dateLayout} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, layout == dateLayout, true
		}
	}
	return time.Time{}, false, false
}

// auditPageURL is the audit page with the filters of q at offset.
func (p *Pages) auditPageURL(q url.Values, offset int) string {
	v := url.Values{}
	for _, k := range []string{"user", "kind", "since", "until"} {
		if s := q.Get(k); s != "" {
			v.Set(k, s)
		}
	}
	if offset > 0 {
		v.Set("offset", strconv.Itoa(offset))
	}
	return p.adminURL("/audit", v)
}

// handleAdminAudit is GET BASE/ui/admin/audit?user=&kind=&since=&until=&offset=.
func (p *Pages) handleAdminAudit(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	q := r.URL.Query()
	d := &adminAuditData{
		adminPage: page.current("audit"), Kinds: auditKinds,
		User: q.Get("user"), Kind: q.Get("kind"), Since: q.Get("since"), Until: q.Get("until"),
	}
	d.Filtered = d.User != "" || d.Kind != "" || d.Since != "" || d.Until != ""
	aq := p.readAuditQuery(r, q)
	if len(aq.fields) > 0 {
		d.Invalid = true
		for k, v := range aq.fields {
			if k == "offset" {
				d.Errors = append(d.Errors, v)
				continue
			}
			d.FieldErrors[k] = v
		}
		return render(w, http.StatusBadRequest, p.views.adminAudit, d)
	}
	events, total, err := p.accounts.ListAudit(r.Context(), aq.filter)
	if err != nil {
		return err
	}
	d.Total = total
	off := aq.filter.Offset
	if len(events) > 0 {
		d.First, d.Last = off+1, off+len(events)
	}
	if off > 0 {
		d.PrevURL = p.auditPageURL(q, max(0, off-auditPerPage))
	}
	if off+len(events) < total {
		d.NextURL = p.auditPageURL(q, off+auditPerPage)
	}
	// A target that is a user is shown by username, linked to their page;
	// each looked up once.
	targets := map[string]string{}
	for _, e := range events {
		row := p.auditRow(e)
		if e.TargetID != "" {
			name, seen := targets[e.TargetID]
			if !seen {
				n, err := p.accounts.Username(r.Context(), e.TargetID)
				if err != nil {
					return err
				}
				name = n
				targets[e.TargetID] = name
			}
			if name != "" {
				row.Target, row.TargetURL = name, p.adminURL("/users/"+url.PathEscape(e.TargetID), nil)
			}
		}
		d.Events = append(d.Events, row)
	}
	return render(w, http.StatusOK, p.views.adminAudit, d)
}

// auditRow is e as the page shows it: the actor linked to their page, the
// details as key=value in key order.
func (p *Pages) auditRow(e *gatehouse.AuditEvent) auditRow {
	row := auditRow{
		Time: e.Time.UTC().Format("2006-01-02 15:04:05 UTC"), Kind: string(e.Kind),
		Actor: e.ActorName, Target: e.TargetID, Address: e.ClientAddr,
	}
	if e.ActorID != "" {
		row.ActorURL = p.adminURL("/users/"+url.PathEscape(e.ActorID), nil)
		if row.Actor == "" {
			row.Actor = e.ActorID
		}
	}
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+e.Detail[k])
	}
	row.Details = strings.Join(parts, " ")
	return row
}
