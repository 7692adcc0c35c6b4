package httpapi_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// The admin console's audit log (web/adminaudit.go), through the whole
// server.

const auditPath = "/auth/ui/admin/audit"

// auditKindCell finds the kind column of the event rows.
var auditKindCell = regexp.MustCompile(`UTC</th>\n<td>([a-z_.]+)</td>`)

// auditKindsListed are the kinds of the events page lists, in order.
func auditKindsListed(page string) []string {
	var kinds []string
	for _, m := range auditKindCell.FindAllStringSubmatch(page, -1) {
		kinds = append(kinds, m[1])
	}
	return kinds
}

// TestAdminAuditFilters: the log filters by kind, by user (username or
// email), and by time (since included, until not; a date until its end);
// each row shows its time in UTC, actor, target, address and details.
func TestAdminAuditFilters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bob := e.createUser("bob", "bob@example.com", pwOf("bob"))
	e.createUser("carol", "carol@example.com", pwOf("carol"))
	e.clock.Advance(time.Hour) // 2026-03-01 10:00
	for range 3 {
		e.browser().login("bob", "not bob's password")
	}
	e.clock.Advance(26 * time.Hour) // 2026-03-02 12:00
	b, _ := e.consoleLogin("admin", adminPassword)
	if err := e.accounts.CreateGroup(ctx, accountActor(), &gatehouse.Group{Name: "ops"}); err != nil {
		t.Fatal(err)
	}
	carol, _ := e.consoleLogin("carol", pwOf("carol"))
	carol.consolePage(auditPath, 403, "Not allowed")

	all := b.consolePage(auditPath, 200, "<title>Audit log · Admin console</title>", `<option value="login.failed">login.failed</option>`,
		`<option value="two_factor.device_remembered">`, "Time (UTC)", "<th scope=\"row\">2026-03-02 12:00:00 UTC</th>",
		"<code>method=GET path=/auth/ui/admin/audit</code>", "<td>192.0.2.10</td>")
	if !strings.Contains(all, "<p role=\"status\">Showing 1–") {
		t.Errorf("no count of the events shown:\n%s", all)
	}

	for _, tc := range []struct {
		name  string
		query url.Values
		want  []string // kinds listed, newest first
		total int
	}{
		{"kind", url.Values{"kind": {"login.failed"}}, []string{"login.failed", "login.failed", "login.failed"}, 3},
		{"username and kind", url.Values{"user": {"bob"}, "kind": {"login.failed"}}, []string{"login.failed", "login.failed", "login.failed"}, 3},
		{"email", url.Values{"user": {"BOB@example.com"}}, []string{"login.failed", "login.failed", "login.failed", "user.created"}, 4},
		{"user id", url.Values{"user": {bob.ID}}, []string{"login.failed", "login.failed", "login.failed", "user.created"}, 4},
		{"since", url.Values{"since": {"2026-03-01T09:30"}, "until": {"2026-03-01T11:00"}}, []string{"login.failed", "login.failed", "login.failed"}, 3},
		{"until a day", url.Values{"until": {"2026-03-01"}}, []string{"login.failed", "login.failed", "login.failed", "user.created", "user.created", "user.created"}, 6},
		{"until excluded", url.Values{"since": {"2026-03-01T09:00:00Z"}, "until": {"2026-03-01T10:00:00Z"}}, []string{"user.created", "user.created", "user.created"}, 3},
		{"since a time", url.Values{"since": {"2026-03-02T12:00"}, "kind": {"group.created"}}, []string{"group.created"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := b.consolePage(auditPath+"?"+tc.query.Encode(), 200, fmt.Sprintf("Showing 1–%d of %d events", tc.total, tc.total), "Clear the filters")
			if got := auditKindsListed(page); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("listed %v, want %v", got, tc.want)
			}
			// The form shows the filters as sent.
			for k, v := range tc.query {
				if k == "kind" {
					if !strings.Contains(page, `<option value="`+v[0]+`" selected>`) {
						t.Errorf("kind %s not selected", v[0])
					}
					continue
				}
				if !strings.Contains(page, `name="`+k+`"`) || !strings.Contains(page, `value="`+v[0]+`"`) {
					t.Errorf("the form lost %s=%s", k, v[0])
				}
			}
		})
	}
	// bob's failed logins name him as their target, linked to his page;
	// the administrator's login, as its actor.
	b.consolePage(auditPath+"?kind=login.failed", 200, "<td>Anonymous</td>\n<td><a href=\"/auth/ui/admin/users/"+bob.ID+"\">bob</a></td>")
	b.consolePage(auditPath+"?kind=login.succeeded", 200, "<td><a href=\"/auth/ui/admin/users/"+e.admin.ID+"\">admin</a></td>")
	b.consolePage(auditPath+"?kind=user.deleted", 200, "No event matches these filters.")
}

// TestAdminAuditBadFilters: a filter the page cannot use is the page,
// 400, with the error next to its field, never a 500.
func TestAdminAuditBadFilters(t *testing.T) {
	e := newEnv(t)
	b, _ := e.consoleLogin("admin", adminPassword)
	for _, tc := range []struct {
		query  string
		field  string
		errMsg string
	}{
		{"user=nobody%40example.com", "audit_user", "No user has this username or email."},
		{"kind=login.exploded", "audit_kind", "Choose one of the kinds offered."},
		{"since=yesterday", "audit_since", "Enter a date and time"},
		{"until=2026-13-01T00:00", "audit_until", "Enter a date and time"},
		{"since=2026-03-02T00:00&until=2026-03-01T00:00", "audit_until", "Until must be later than since."},
	} {
		w := b.do("GET", auditPath+"?"+tc.query, "")
		wantStrictPage(t, w, 400, fieldError(tc.field, tc.errMsg), `id="`+tc.field+`" `, `aria-describedby="`+tc.field+`-error"`)
		if strings.Contains(w.Body.String(), "Showing") {
			t.Errorf("%s: events shown for a filter that was refused", tc.query)
		}
	}
	for _, offset := range []string{"-1", "x"} {
		wantStrictPage(t, b.do("GET", auditPath+"?offset="+offset, ""), 400, `role="alert">This page of the audit log does not exist`)
	}
}

// TestAdminAuditPaging: 50 events a page, newest first, with Previous and
// Next links that keep the filters, and "showing a–b of N".
func TestAdminAuditPaging(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 120 {
		e.clock.Advance(time.Second)
		if err := e.accounts.CreateGroup(ctx, accountActor(), &gatehouse.Group{Name: fmt.Sprintf("g%03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := e.consoleLogin("admin", adminPassword)
	q := auditPath + "?kind=group.created"
	first := b.consolePage(q, 200, "Showing 1–50 of 120 events", `<td>g119</td>`,
		`<a href="/auth/ui/admin/audit?kind=group.created&amp;offset=50" rel="next">Next page</a>`)
	if strings.Contains(first, "Previous page") || strings.Contains(first, "<td>g069</td>") {
		t.Error("the first page links back, or lists an event of the second")
	}
	b.consolePage(q+"&offset=50", 200, "Showing 51–100 of 120 events", "<td>g069</td>", "<td>g020</td>",
		`<a href="/auth/ui/admin/audit?kind=group.created" rel="prev">Previous page</a>`,
		`<a href="/auth/ui/admin/audit?kind=group.created&amp;offset=100" rel="next">Next page</a>`)
	last := b.consolePage(q+"&offset=100", 200, "Showing 101–120 of 120 events", "<td>g000</td>", `offset=50" rel="prev">Previous page</a>`)
	if strings.Contains(last, "Next page") {
		t.Error("the last page has a Next link")
	}
	if n := len(auditKindsListed(last)); n != 20 {
		t.Errorf("the last page lists %d events, want 20", n)
	}
	b.consolePage(q+"&offset=500", 200, "There are no more events.", `rel="prev">Previous page</a>`)
}
