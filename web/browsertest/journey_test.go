package browsertest

import (
	"encoding/base32"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/otp"
)

// The people of the journey.
const (
	adminName     = "ada"
	adminPassword = "ada's own long pass phrase"
	inviteeName   = "ivy"
	inviteeEmail  = "ivy@example.com"
	inviteePass   = "ivy chose this long phrase"
)

// TestJourneyInChromium walks issue 14's journey in a real browser
// against the real server: first-run setup → login → enrol TOTP (the
// code computed from the key the page shows) → recovery codes → logout →
// login with password and TOTP → admin console → invite a user in a
// group allowing one part of the console → the mail captured by a real
// SMTP server → the invitee sets a password in a second browser context
// → sees only what the group allows (another part answers the 403 page)
// → the administrator disables them → the invitee's open page is
// refused on the next click (the login page).
func TestJourneyInChromium(t *testing.T) {
	t.Parallel()
	s := startGatehouse(t)
	admin := newTab(t)

	setupAdmin(t, s, admin)
	totpKey := enrolAuthenticator(t, s, admin)

	admin.click("log out", `form[action$="/ui/account/logout"] button`)
	admin.waitFor("the login page", "#username")
	admin.wantURLPrefix("after logging out", s.base+"/ui/login")

	// Password, then the second step; its code is the next period's
	// (the enrolment used the current one, and a code works once).
	admin.submit("log in with the password",
		[][2]string{{"#username", adminName}, {"#password", adminPassword}},
		`form button[type="submit"]`, "#code")
	if strings.Contains(admin.text("body"), "Your account") {
		t.Fatal("the account page was shown before the second factor")
	}
	code := otp.TOTP{Key: totpKey}.At(time.Now().Add(30 * time.Second))
	admin.submit("enter the TOTP code", [][2]string{{"#code", code}}, `form button[type="submit"]`, "#profile")
	admin.wantURLPrefix("after the second step", s.base+"/ui/account")

	admin.click("open the admin console", `a[href$="/ui/admin"]`)
	admin.waitFor("the console", "nav .admin-nav")
	if got := navLinks(admin); got != "Console|Users|Sessions|Groups|Audit log|Routes|Your account" {
		t.Errorf("the administrator's console navigation: %s", got)
	}

	inviteeID := inviteUser(t, s, admin)
	msg := s.mail.waitTo(t, inviteeEmail)
	link := mailLink(t, msg, s.base, "invite")

	// The invitee, in a browser context of their own.
	invitee := newTab(t)
	invitee.open(link, "#password")
	invitee.submit("choose a password", [][2]string{{"#password", inviteePass}}, `form button[type="submit"]`, "p.ok")
	if got := invitee.text("p.ok"); !strings.Contains(got, "you are logged in") {
		t.Fatalf("after accepting the invitation: %q", got)
	}
	invitee.open(s.base+"/ui/account", "#profile")
	if got := invitee.text("dl"); !strings.Contains(got, inviteeName) || !strings.Contains(got, auditorsGroup) {
		t.Errorf("the invitee's profile:\n%s", got)
	}

	// Only the audit log: the console's front page lists it alone, and
	// the users part answers the 403 page.
	invitee.click("open the admin console", `a[href$="/ui/admin"]`)
	invitee.waitFor("the console", "nav .admin-nav")
	if got := navLinks(invitee); got != "Console|Audit log|Your account" {
		t.Errorf("the invitee's console navigation: %s, want only the audit log", got)
	}
	invitee.open(s.base+"/ui/admin/users", "h1")
	if st, h1 := invitee.status(), invitee.text("h1"); st != http.StatusForbidden || h1 != "Not allowed" {
		t.Errorf("the users part for an auditor: %d %q, want the 403 page", st, h1)
	}
	invitee.open(s.base+"/ui/admin/audit", "main h1")
	if st := invitee.status(); st != http.StatusOK {
		t.Errorf("the audit log for an auditor: %d", st)
	}
	invitee.open(s.base+"/ui/admin", "nav .admin-nav")

	disableUser(t, s, admin, inviteeID)

	// The invitee's page is still open; the next click is refused.
	invitee.click("click the audit log's link", `.admin-nav a[href$="/ui/admin/audit"]`)
	invitee.waitFor("the login page", "#username")
	invitee.wantURLPrefix("the disabled invitee's next click", s.base+"/ui/login")
	// And logging in again is refused too.
	invitee.submit("log in as the disabled invitee",
		[][2]string{{"#username", inviteeName}, {"#password", inviteePass}},
		`form button[type="submit"]`, ".err")
	invitee.wantURLPrefix("the disabled invitee's login", s.base+"/ui/login")
}

// setupAdmin creates the first administrator on the setup page (the
// server's one-time link) and logs in with the password.
func setupAdmin(t *testing.T, s *gatehouseServer, b *tab) {
	t.Helper()
	setupURL := s.gh.SetupURL()
	if !strings.HasPrefix(setupURL, s.base+"/ui/setup?token=") {
		t.Fatalf("setup link %q", setupURL)
	}
	b.open(setupURL, "#username")
	b.submit("create the first administrator", [][2]string{
		{"#username", adminName}, {"#email", adminName + "@example.com"}, {"#name", "Ada Admin"}, {"#password", adminPassword},
	}, `form button[type="submit"]`, "p.ok")
	if got := b.text("p.ok"); !strings.Contains(got, adminName) {
		t.Fatalf("after setup: %q", got)
	}
	b.open(s.base+"/ui/login", "#username")
	b.submit("log in", [][2]string{{"#username", adminName}, {"#password", adminPassword}},
		`form button[type="submit"]`, "#profile")
	b.wantURLPrefix("after logging in", s.base+"/ui/account")
}

// enrolAuthenticator turns on TOTP from the account page: the key is read
// from the page, the code computed from it, and the recovery codes shown
// once. It returns the key and leaves the browser on the account page.
func enrolAuthenticator(t *testing.T, s *gatehouseServer, b *tab) []byte {
	t.Helper()
	b.click("set up an authenticator app", `form[action$="/ui/account/2fa/totp"] button`)
	b.waitFor("the key", "code.secret")
	key := keyShown(t, b)
	if n := eval[int](b, "count the QR code's modules", `document.querySelectorAll("table.qr td.on").length`); n < 100 {
		t.Errorf("the QR code has %d dark modules", n)
	}
	code := otp.TOTP{Key: key}.At(time.Now())
	b.submit("confirm the code", [][2]string{{"#code", code}}, `form[action$="/2fa/totp/confirm"] button`, "pre.codes")
	codes := strings.Fields(b.text("pre.codes"))
	if len(codes) < 8 {
		t.Fatalf("recovery codes shown: %q", codes)
	}
	// Saved by the user (the page shows them once): back on the account
	// page they are not shown again, and two-factor is on.
	b.click("continue to the account", `a[href$="/ui/account"]`)
	b.waitFor("the account page", "#profile")
	if body := b.text("body"); strings.Contains(body, codes[0]) || !strings.Contains(body, fmt.Sprintf("You have %d unused recovery codes", len(codes))) {
		t.Errorf("the account page after enrolment:\n%s", body)
	}
	return key
}

// otpKey decodes a TOTP key as the enrolment page shows it (base32,
// perhaps in groups), which must be at least 128 bits.
func otpKey(shown string) ([]byte, error) {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.ReplaceAll(shown, " ", "")))
	if err != nil {
		return nil, err
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("a key of %d bits, want at least 128", 8*len(key))
	}
	return key, nil
}

// navLinks is the console navigation's link texts, joined by |.
func navLinks(b *tab) string {
	b.t.Helper()
	return eval[string](b, "read the navigation", `[...document.querySelectorAll(".admin-nav a")].map(a => a.textContent.trim()).join("|")`)
}

// inviteUser invites ivy, in the auditors group, with the invitation
// form of the console's users page, and returns her id.
func inviteUser(t *testing.T, s *gatehouseServer, b *tab) string {
	t.Helper()
	b.click("open the users page", `.admin-nav a[href$="/ui/admin/users"]`)
	b.waitFor("the users page", "#invite")
	form := `form[action$="/ui/admin/users/invite"]`
	b.run("fill the invitation form",
		chromedp.SetValue(chromedp.CSS(form+` [name="username"]`), inviteeName),
		chromedp.SetValue(chromedp.CSS(form+` [name="email"]`), inviteeEmail),
		chromedp.Click(chromedp.CSS(form+` input[type="checkbox"][value="`+auditorsGroup+`"]`)),
	)
	b.click("send the invitation", form+` button[type="submit"]`)
	b.waitFor("the notice", ".ok")
	id := userID(t, s, b, inviteeName)
	if id == "" {
		t.Fatalf("no link to %s's page after inviting her%s", inviteeName, b.where())
	}
	return id
}

// userID finds the id of username from the users page's link to their
// page.
func userID(t *testing.T, s *gatehouseServer, b *tab, username string) string {
	t.Helper()
	b.open(s.base+"/ui/admin/users?q="+username, "h1")
	href := eval[string](b, "find the user's link", fmt.Sprintf(
		`([...document.querySelectorAll("a[href*='/ui/admin/users/']")].find(a => a.textContent.includes(%q)) || {}).pathname || ""`, username))
	_, id, _ := strings.Cut(href, "/ui/admin/users/")
	return id
}

// disableUser disables the user id with the form of their page in the
// console.
func disableUser(t *testing.T, s *gatehouseServer, b *tab, id string) {
	t.Helper()
	b.open(s.base+"/ui/admin/users/"+id, "h1")
	b.click("disable the user", `form[action$="/ui/admin/users/`+id+`/disable"] button`)
	b.waitFor("the notice", ".ok")
}

// apiCall calls the JSON API with the browser's session (and its CSRF
// token, from BASE/csrf) from the account page, whose CSP lets a script
// connect to its own origin, and decodes the answer into out.
func apiCall(t *testing.T, b *tab, s *gatehouseServer, method, path string, body any, want int, out any) {
	t.Helper()
	if loc := b.location(); loc != s.base+"/ui/account" && !strings.HasPrefix(loc, s.base+"/ui/account?") {
		b.open(s.base+"/ui/account", "#profile")
	}
	payload, _ := json.Marshal(body)
	js := fmt.Sprintf(`(async () => {
  const token = (await (await fetch(%q)).json()).csrfToken;
  const r = await fetch(%q, {method: %q, headers: {"Content-Type": "application/json", "X-CSRF-Token": token}, body: %s});
  return {status: r.status, body: await r.text()};
})()`, s.base+"/csrf", s.base+path, method, jsBody(body, payload))
	res := eval[struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}](b, method+" "+path, js)
	if res.Status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, res.Status, res.Body, want)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(res.Body), out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, res.Body)
		}
	}
}

// jsBody is the fetch body expression for body: its JSON as a string
// literal, or undefined.
func jsBody(body any, payload []byte) string {
	if body == nil {
		return "undefined"
	}
	lit, _ := json.Marshal(string(payload))
	return string(lit)
}
