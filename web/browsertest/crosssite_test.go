package browsertest

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/httpapi"
)

// victimName is the user the attack page tries to harm (and whose
// password a login-CSRF form tries to log the administrator in as).
const (
	victimName     = "vic"
	victimPassword = "vic's long pass phrase"
	victimGroup    = "editors"
)

// attackPage is the attacker's page: one form per form route of the
// pages, each posting what a real request would (but no CSRF token: the
// attacker cannot read it) into an iframe of its own; with ?auto its
// script submits them all as the page loads.
var attackPage = template.Must(template.New("attack").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Win a prize</title></head><body>
{{range $i, $f := .Forms}}<form id="f{{$i}}" method="post" action="{{$f.Action}}" target="frame{{$i}}">
{{range $k, $v := $f.Fields}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<button id="b{{$i}}" type="submit">Claim prize {{$i}}</button>
</form>
<iframe name="frame{{$i}}" title="prize {{$i}}"></iframe>
{{end}}{{if .Auto}}<script src="/attack.js"></script>{{end}}</body></html>`))

// attackScript submits every form of the attack page as soon as it loads.
const attackScript = `for (const f of document.forms) f.submit();`

// attackPageData is what the attack page shows: its forms, and whether
// its script submits them.
type attackPageData struct {
	Forms []attackForm
	Auto  bool
}

// attackForm is one form of the attack page.
type attackForm struct {
	Route  string // METHOD /auth/ui/… as registered
	Action string
	Fields map[string]string
}

// TestCrossSiteFormsRefused lures a logged-in administrator to pages on
// two other loopback origins — one on the same site (127.0.0.1, another
// port: SameSite=Lax cookies go along, so only the server's check stands
// in the way) and one cross-site (localhost) — whose forms post to every
// form route of the pages (enumerated from httpapi's route list, so a
// new form cannot escape this test), their path parameters filled with
// real ids. Each must be refused (403, logged as a cross-origin refusal),
// and nothing may change: the victim is neither disabled nor deleted,
// no user, group or token is created, the administrator's password,
// session, two-factor and login are as before, and no mail is sent.
func TestCrossSiteFormsRefused(t *testing.T) {
	t.Parallel()
	s := startGatehouse(t)
	admin := newTab(t)
	setupAdmin(t, s, admin)

	// What the forms aim at: a victim user, a group, the administrator's
	// own session and a personal token.
	var victim struct{ ID string }
	apiCall(t, admin, s, "POST", "/management/api/v1/groups", map[string]any{"name": victimGroup, "permissions": []string{httpapi.PermAudit}}, http.StatusCreated, nil)
	apiCall(t, admin, s, "POST", "/management/api/v1/users",
		map[string]any{"username": victimName, "email": victimName + "@example.com", "password": victimPassword, "groups": []string{victimGroup}},
		http.StatusCreated, &victim)
	var sessions struct {
		Items []struct{ ID string }
	}
	apiCall(t, admin, s, "GET", "/sessions", nil, http.StatusOK, &sessions)
	var created struct{ Token struct{ ID string } }
	apiCall(t, admin, s, "POST", "/tokens", map[string]any{"name": "ci"}, http.StatusCreated, &created)
	token := created.Token
	if victim.ID == "" || len(sessions.Items) != 1 || token.ID == "" {
		t.Fatalf("setting the targets up: victim %q, sessions %+v, token %q", victim.ID, sessions, token.ID)
	}
	before := snapshotState(t, s, admin, victim.ID)

	forms := attackForms(t, s, victim.ID, sessions.Items[0].ID, token.ID)
	for _, origin := range attackOrigins(t, forms) {
		t.Run(origin.name, func(t *testing.T) { attack(t, s, admin, origin, forms) })
	}

	if after := snapshotState(t, s, admin, victim.ID); after != before {
		t.Errorf("the attack changed something:\nbefore: %s\nafter:  %s", before, after)
	}
	// The administrator is still logged in as herself (no login CSRF, no
	// logout), and her password still works.
	admin.open(s.base+"/ui/account", "#profile")
	if got := admin.text("dl"); !strings.Contains(got, adminName) {
		t.Errorf("after the attack the account page shows:\n%s", got)
	}
	other := newTab(t)
	other.open(s.base+"/ui/login", "#username")
	other.submit("log in with the old password", [][2]string{{"#username", adminName}, {"#password", adminPassword}},
		`form button[type="submit"]`, "#profile")
	// No mail went out (forgot password, invitations, resets).
	select {
	case m := <-s.mail.got:
		t.Errorf("the attack sent a mail:\n%s", m)
	default:
	}
}

// attackForms is a form for every POST route of the pages, as httpapi
// registers them, aimed at s with the path parameters filled in.
func attackForms(t *testing.T, s *gatehouseServer, userID, sessionID, tokenID string) []attackForm {
	t.Helper()
	routes, err := httpapi.BuiltinRoutes(s.gh.BasePath())
	if err != nil {
		t.Fatal(err)
	}
	params := strings.NewReplacer("{id}", userID, "{name}", victimGroup)
	var forms []attackForm
	for _, r := range routes {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.Path, s.gh.BasePath()+"/ui/") {
			continue
		}
		path := params.Replace(r.Path)
		if strings.Contains(path, "{") {
			t.Fatalf("%s %s: a path parameter this test cannot fill; add it", r.Method, r.Path)
		}
		forms = append(forms, attackForm{Route: r.Method + " " + r.Path, Action: s.url + path, Fields: attackFields(path, sessionID, tokenID)})
	}
	if len(forms) < 30 {
		t.Fatalf("only %d form routes found", len(forms))
	}
	return forms
}

// attack opens the attack page at origin in the administrator's tab: its
// script (a file, as the attacker's CSP-free page may have) submits every
// form at once, each into an iframe of its own. Each request must be
// refused as cross-origin (the server logs the refusal with the path and
// the attacker's origin), and answered 403.
func attack(t *testing.T, s *gatehouseServer, b *tab, origin attackOrigin, forms []attackForm) {
	var mu sync.Mutex
	statuses := map[string]int64{}
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventResponseReceived); ok && strings.HasPrefix(e.Response.URL, s.base) {
			mu.Lock()
			statuses[e.Response.URL] = e.Response.Status
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	b.run("enable network events", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
		return err
	}))
	b.open(origin.url+"?auto=1", "#b0")

	// The server logs a refusal before the tab sees its answer: wait for
	// both (on a loaded machine the answers trail the log).
	missing := forms
	answered := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, f := range forms {
			if _, seen := statuses[f.Action]; !seen {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(stepTimeout)
	for (len(missing) > 0 || !answered()) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		log := s.log.String()
		missing = slices.DeleteFunc(slices.Clone(missing), func(f attackForm) bool {
			return strings.Contains(log, `msg="cross-origin request refused" method=POST path=`+strings.TrimPrefix(f.Action, s.url)+` origin=`+origin.origin)
		})
	}
	for _, f := range missing {
		t.Errorf("%s from %s: no cross-origin refusal logged", f.Route, origin.origin)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, f := range forms {
		if st, seen := statuses[f.Action]; !seen {
			t.Errorf("%s from %s: the tab saw no answer", f.Route, origin.origin)
		} else if st != http.StatusForbidden {
			t.Errorf("%s from %s: %d, want 403", f.Route, origin.origin, st)
		}
	}
}

// attackFields is what a form posted to path would carry to do harm, but
// for the CSRF token, which the attacker cannot know.
func attackFields(path, sessionID, tokenID string) map[string]string {
	f := map[string]string{
		// Login CSRF: log the victim's browser in as someone else.
		"username": victimName, "password": victimPassword, "email": victimName + "@example.com",
		"current_password": adminPassword, "new_password": "the attacker's new phrase",
		"name": "attacker", "group": "administrators", "groups": "administrators",
		"permission": httpapi.PermUsers, "provider": "totp", "code": "000000",
		"token": "forged", "userId": "forged", "expiry": "30d",
	}
	switch {
	case strings.HasSuffix(path, "/tokens/revoke"):
		f["id"] = tokenID
	case strings.Contains(path, "sessions"):
		f["id"] = sessionID
	}
	return f
}

// attackOrigin is where the attack page is served from.
type attackOrigin struct{ name, origin, url string }

// attackOrigins serves the attack page on another port of 127.0.0.1 (the
// same site as gatehouse: its SameSite=Lax cookies are sent) and names
// the same server as localhost too (another site).
func attackOrigins(t *testing.T, forms []attackForm) []attackOrigin {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/attack.js" {
			w.Header().Set("Content-Type", "text/javascript")
			io.WriteString(w, attackScript)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := attackPage.Execute(w, attackPageData{Forms: forms, Auto: r.URL.Query().Has("auto")}); err != nil {
			t.Error(err)
		}
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	var origins []attackOrigin
	for _, o := range []struct{ name, host string }{{"same site, another origin", "127.0.0.1"}, {"another site", "localhost"}} {
		origin := "http://" + o.host + ":" + port
		origins = append(origins, attackOrigin{o.name, origin, origin + "/"})
	}
	return origins
}

// snapshotState is what the attack must not change, read through the
// management and account APIs with the administrator's session: the
// users, the groups, the victim, the administrator's tokens, sessions
// and two-factor state.
func snapshotState(t *testing.T, s *gatehouseServer, b *tab, victimID string) string {
	t.Helper()
	var parts []string
	for _, path := range []string{
		"/management/api/v1/users", "/management/api/v1/groups", "/management/api/v1/users/" + victimID,
		"/management/api/v1/users/" + victimID + "/sessions", "/tokens", "/2fa",
	} {
		var v any
		apiCall(t, b, s, "GET", path, nil, http.StatusOK, &v)
		parts = append(parts, fmt.Sprintf("%s=%v", path, stripVolatile(v)))
	}
	var sessions struct{ Items []struct{ ID string } }
	apiCall(t, b, s, "GET", "/sessions", nil, http.StatusOK, &sessions)
	parts = append(parts, fmt.Sprintf("/sessions=%v", sessions.Items))
	return strings.Join(parts, " ")
}

// stripVolatile drops what changes by itself between two reads (last
// activity, last use) from a decoded JSON answer.
func stripVolatile(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			switch k {
			case "lastSeenAt", "lastUsedAt", "expiresAt", "idleExpiresAt", "secondsUntilTimeout":
				continue
			}
			out[k] = stripVolatile(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = stripVolatile(e)
		}
		return out
	}
	return v
}
