package httpapi_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// The admin console's sessions (web/adminsessions.go), through the whole
// server.

const sessionsPath = "/auth/ui/admin/sessions"

var (
	// endSessionID finds the end forms' session ids.
	endSessionID = regexp.MustCompile(`<input type="hidden" name="id" value="([^"]+)">`)
	nextPageLink = regexp.MustCompile(`<a href="([^"]+)" rel="next">Next page</a>`)
)

// TestAdminSessionsPaging: more sessions than a page holds are listed 50
// at a time, newest first, through the Next link, each session on exactly
// one page, each row naming its user (linked), device and address.
func TestAdminSessionsPaging(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pat := e.createUser("pat", "pat@example.com", pwOf("pat"))
	for i := range 60 {
		c := e.browser()
		c.addr = "198.51.100." + string(rune('1'+i%9)) + ":5000"
		if w := c.login("pat", pwOf("pat")); w.Code != 200 {
			t.Fatalf("login %d: %d %s", i, w.Code, w.Body)
		}
	}
	// The administrator's session is the newest.
	e.clock.Advance(time.Minute)
	b, _ := e.consoleLogin("admin", adminPassword)
	first := b.consolePage(sessionsPath, 200, "<title>Sessions · Admin console</title>",
		`<a href="/auth/ui/admin/users/`+pat.ID+`">pat</a>`, "<td>198.51.100.", `rel="next">Next page</a>`)
	if strings.Contains(first, "Back to the first page") {
		t.Error("the first page links back to itself")
	}
	// The newest session, the administrator's own, heads the list.
	if !regexp.MustCompile(`<tr class="current">\s*<th scope="row"><a href="/auth/ui/admin/users/` + e.admin.ID + `">admin</a> <strong>\(your session\)</strong>`).MatchString(first) {
		t.Errorf("the administrator's own session is not marked first:\n%.2000s", first)
	}
	seen := map[string]int{}
	ids := endSessionID.FindAllStringSubmatch(first, -1)
	if len(ids) != 50 {
		t.Fatalf("first page lists %d sessions, want 50", len(ids))
	}
	for _, m := range ids {
		seen[m[1]]++
	}
	next := nextPageLink.FindStringSubmatch(first)
	second := b.consolePage(strings.ReplaceAll(next[1], "&amp;", "&"), 200, `<a href="/auth/ui/admin/sessions">Back to the first page</a>`)
	if nextPageLink.MatchString(second) {
		t.Error("the last page has a Next link")
	}
	ids = endSessionID.FindAllStringSubmatch(second, -1)
	for _, m := range ids {
		seen[m[1]]++
	}
	all, _, err := e.accounts.ListSessions(ctx, "", 500)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 61 || len(seen) != 61 || len(ids) != 11 {
		t.Fatalf("%d sessions, %d listed, %d on the second page; want 61, 61, 11", len(all), len(seen), len(ids))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("session %s listed %d times", id, n)
		}
	}
	// The end forms of the second page come back to it.
	after := regexp.MustCompile(`<input type="hidden" name="after" value="([^"]+)">`).FindStringSubmatch(second)
	if after == nil {
		t.Fatal("the second page's end forms do not come back to it")
	}
	_, csrfTok := b.accountPage()
	w := b.postForm(sessionsPath+"/end", csrfTok, url.Values{"id": {ids[0][1]}, "after": {after[1]}})
	wantSeeOther(t, w, sessionsPath+"?"+url.Values{"after": {after[1]}, "done": {"session_ended"}}.Encode())
	b.consolePage(w.Header().Get("Location"), 200, "The session was ended.", "Back to the first page")

	// A cursor no page made is a 400 page, not a 500.
	b.consolePage(sessionsPath+"?after=garbage", 400, `role="alert">This page of sessions does not exist`, "Back to the first page")
	b.consolePage(sessionsPath+"?after="+strings.Repeat("x", 600), 400, "This page of sessions does not exist")
}

// TestAdminSessionsEnd: ending a session logs its browser out and takes
// it off the list; a session gone already is said so; ending one's own
// session logs one out, to the login page. Without the CSRF token nothing
// ends.
func TestAdminSessionsEnd(t *testing.T) {
	e := newEnv(t)
	e.createUser("pat", "pat@example.com", pwOf("pat"))
	victim, _ := e.consoleLogin("pat", pwOf("pat"))
	e.clock.Advance(time.Minute)
	b, csrfTok := e.consoleLogin("admin", adminPassword)
	page := b.consolePage(sessionsPath, 200, "(your session)", "End it and log out")
	ids := endSessionID.FindAllStringSubmatch(page, -1)
	if len(ids) != 2 {
		t.Fatalf("%d sessions listed, want 2:\n%s", len(ids), page)
	}
	ownID, patID := ids[0][1], ids[1][1]

	wantProblem(t, b.postForm(sessionsPath+"/end", "", url.Values{"id": {patID}}), 403, gatehouse.CodeCSRFFailed)
	victim.accountPage()

	wantSeeOther(t, b.postForm(sessionsPath+"/end", csrfTok, url.Values{"id": {patID}}), sessionsPath+"?done=session_ended")
	after := b.consolePage(sessionsPath+"?done=session_ended", 200, `role="status">The session was ended.`)
	if strings.Contains(after, patID) {
		t.Error("the ended session is still listed")
	}
	wantSeeOther(t, victim.do("GET", accountPath, ""), loginAgain)
	events, _, _ := e.accounts.ListAudit(context.Background(), accountAuditKind(string(gatehouse.AuditSessionEnded)))
	if len(events) != 1 || events[0].TargetID != patID || events[0].ActorID != e.admin.ID {
		t.Errorf("session.ended audit: %+v", events)
	}

	// Gone already: said on the page, 404.
	wantStrictPage(t, b.postForm(sessionsPath+"/end", csrfTok, url.Values{"id": {patID}}), 404, `role="alert">That session has ended already.`)

	// One's own: logged out.
	w := b.postForm(sessionsPath+"/end", csrfTok, url.Values{"id": {ownID}})
	wantSeeOther(t, w, "/auth/ui/login")
	if b.cookies["gh_session"] != nil {
		t.Error("the session cookie is still set after ending one's own session")
	}
	wantSeeOther(t, b.do("GET", sessionsPath, ""), "/auth/ui/login?rd=%2Fauth%2Fui%2Fadmin%2Fsessions")
}
