package main

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/internal/testop"
	"github.com/gatehouse/gatehouse/otp"
)

// chromiumPath is Debian's chromium (package chromium).
const chromiumPath = "/usr/bin/chromium"

// helloApp is the application behind gatehouse in TestExternalLoginInChromium:
// it greets the Remote-User gatehouse sends, and its Sign out button does
// what a front end does: DELETE /auth/session with the CSRF token from the
// XSRF-TOKEN cookie, then follows signOutRedirectUrl to the provider.
const helloApp = `<!doctype html>
<meta charset="utf-8">
<title>hello app</title>
<p id="hello">Hello, %s</p>
<button id="signout" onclick="signOut()">Sign out</button>
<p id="status"></p>
<script>
async function signOut() {
  const m = document.cookie.match(/(?:^|; )XSRF-TOKEN=([^;]*)/);
  const r = await fetch("/auth/session", {
    method: "DELETE",
    headers: {"X-CSRF-Token": m ? decodeURIComponent(m[1]) : ""},
  });
  if (r.status === 200) {
    const body = await r.json();
    location.href = body.signOutRedirectUrl;
    return;
  }
  document.getElementById("status").textContent = "sign-out answered " + r.status;
}
</script>
`

// TestExternalLoginInChromium walks a browser through an external login
// on the real `gatehouse serve` in gateway mode: an OpenID provider
// (testop) on one loopback port, gatehouse on another with that provider
// in oidc:, and an application behind /app/** that shows who gatehouse
// says is there. The user has a password and TOTP, and the provider's
// account is linked by its verified email on first use; an account
// nobody has is refused with the "not linked" page.
func TestExternalLoginInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("needs %s: install the Debian package chromium (%v)", chromiumPath, err)
	}
	op := testop.Start(t)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, helloApp, html.EscapeString(r.Header.Get("Remote-User")))
	}))
	t.Cleanup(app.Close)

	port := freePort(t)
	addr := "127.0.0.1:" + port
	// The browser knows gatehouse as localhost and the provider as
	// 127.0.0.1: two sites, so the provider's redirect back is a
	// cross-site navigation, as in production, which the SameSite=Lax flow
	// and pending cookies must survive.
	front := "http://localhost:" + port
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	const password = "a long phrase she chose herself"
	createUser(t, data, "tess", password) // tess@example.com
	secret := writeFile(t, dir, "op-secret", op.ClientSecret()+"\n")
	cfg := writeFile(t, dir, "gatehouse.yaml", fmt.Sprintf(`public_url: %s
upstream: %s
routes:
  - path: /app/**
    access: authenticated
oidc:
  - id: testop
    name: Test OP
    issuer: %s
    client_id: %s
    client_secret_file: %s
    auto_link_verified_email: true
`, front, app.URL, op.Issuer(), op.ClientID(), secret))
	srv := startServe(t, nil, "--config", cfg, "--addr", addr, "--data", data)
	op.LoginPage(true)
	api, totp := enrolTOTP(t, srv.base, "tess", password)

	t.Run("login, second factor, app, sign-out at the provider", func(t *testing.T) {
		op.NextUser(testop.User{Subject: "op-tess", Email: "tess@example.com", EmailVerified: true, Name: "Tess", PreferredUsername: "tess-at-op"})
		b := newBrowser(t)

		// Not logged in: the application's page sends the browser to
		// the login page, with a button for the provider.
		b.run("open the app", chromedp.Navigate(front+"/app/hello"))
		b.waitFor("the login page", "a.ext")
		b.wantURL("the login page", front+"/auth/ui/login?rd=%2Fapp%2Fhello")
		if got := b.text("a.ext"); got != "Log in with Test OP" {
			t.Fatalf("provider button: %q", got)
		}

		// The button goes to the provider, whose own page the user
		// continues from: the way back is a cross-site navigation (from
		// 127.0.0.1 to localhost), which carries only SameSite=Lax
		// cookies. Back at gatehouse, the login page asks for the second
		// factor.
		b.run("click the provider's button", chromedp.Click(chromedp.CSS("a.ext")))
		b.waitFor("the provider's page", "#continue")
		b.run("continue at the provider", chromedp.Click(chromedp.CSS("#continue")))
		b.waitFor("the second-step form", "#code")
		b.wantURL("the second-step form", front+"/auth/ui/login?rd=%2Fapp%2Fhello")
		if got := b.text("#provider"); !strings.Contains(got, "Authenticator app") {
			t.Fatalf("second factors offered: %q", got)
		}
		if strings.Contains(b.text("body"), "Hello") {
			t.Fatal("the app was shown before the second factor")
		}

		// The code: the next step's, within the accepted window and
		// unused (the enrolment used the current one).
		code := otp.TOTP{Key: totp}.At(time.Now().Add(30 * time.Second))
		b.run("submit the code",
			chromedp.SendKeys(chromedp.CSS("#code"), code),
			chromedp.Submit(chromedp.CSS("#code")))
		b.waitFor("the app", "#hello")
		b.wantURL("the app", front+"/app/hello")
		if got := b.text("#hello"); got != "Hello, tess" {
			t.Fatalf("the app shows %q, want the user gatehouse logged in", got)
		}
		// The provider's account is linked to tess now (by its verified
		// email), as her own list of logins shows.
		r := doJSON(t, api, "GET", srv.base+"/logins", nil, nil)
		var logins []map[string]any
		if err := json.Unmarshal([]byte(r.raw), &logins); r.status != 200 || err != nil || len(logins) != 1 ||
			logins[0]["provider"] != "testop" || logins[0]["email"] != "tess@example.com" || logins[0]["emailVerified"] != true {
			t.Fatalf("tess's logins: %d %s", r.status, r.raw)
		}

		// Sign out: gatehouse ends the session and names the provider's
		// sign-out, which sends the browser back to the login page.
		b.run("click Sign out", chromedp.Click(chromedp.CSS("#signout")))
		b.waitFor("the login page after signing out", "a.ext")
		if loc := b.location(); !strings.HasPrefix(loc, front+"/auth/ui/login") {
			t.Fatalf("after signing out: at %s, want the login page", loc)
		}
		end, err := url.Parse(op.LastEndSessionURL())
		if err != nil || end.Query().Get("id_token_hint") == "" || end.Query().Get("post_logout_redirect_uri") != front+"/auth/ui/login" {
			t.Fatalf("the provider's end-session request: %q", op.LastEndSessionURL())
		}

		// The session is over: the app needs a login again.
		b.run("open the app again", chromedp.Navigate(front+"/app/hello"))
		b.waitFor("the login page", "a.ext")
		b.wantURL("the app after signing out", front+"/auth/ui/login?rd=%2Fapp%2Fhello")
	})

	t.Run("an account linked to nobody", func(t *testing.T) {
		op.NextUser(testop.User{Subject: "op-stranger", Email: "stranger@example.org", EmailVerified: true, Name: "Stranger"})
		b := newBrowser(t)
		b.run("open the login page", chromedp.Navigate(front+"/auth/ui/login?rd=%2Fapp%2Fhello"))
		b.waitFor("the login page", "a.ext")
		b.run("click the provider's button", chromedp.Click(chromedp.CSS("a.ext")))
		b.waitFor("the provider's page", "#continue")
		b.run("continue at the provider", chromedp.Click(chromedp.CSS("#continue")))
		// The refusal page's way back (the login page has no such link,
		// so this waits for the navigation to end).
		b.waitFor("the refusal", `a[href="/auth/ui/login"]`)
		if loc := b.location(); !strings.HasPrefix(loc, front+"/auth/external/testop/callback?") {
			t.Fatalf("refused at %s, want the callback", loc)
		}
		status := browserGet(b, "read the status", chromedp.Evaluate[int](`performance.getEntriesByType("navigation")[0].responseStatus`))
		if status != http.StatusForbidden {
			t.Errorf("the callback answered %d, want 403", status)
		}
		if body := b.text("body"); !strings.Contains(body, "Sign-in failed") || !strings.Contains(body, "Your Test OP account is not linked to a user here.") {
			t.Errorf("the refusal page says:\n%s", body)
		}

		// And no session came of it.
		b.run("open the app", chromedp.Navigate(front+"/app/hello"))
		b.waitFor("the login page", "a.ext")
		b.wantURL("the app", front+"/auth/ui/login?rd=%2Fapp%2Fhello")
	})
}

// enrolTOTP logs username in through the JSON API, enrols an
// authenticator app and confirms it, and returns the logged-in client and
// the TOTP key.
func enrolTOTP(t *testing.T, base, username, password string) (*http.Client, []byte) {
	t.Helper()
	c := newClient(t)
	r := login(t, c, base, username, password)
	if r.status != 200 {
		t.Fatalf("password login: %d %s", r.status, r.raw)
	}
	h := map[string]string{"X-CSRF-Token": field(r.body, "csrfToken")}
	r = doJSON(t, c, "POST", base+"/2fa/totp", nil, h)
	if r.status != 200 {
		t.Fatalf("enrol TOTP: %d %s", r.status, r.raw)
	}
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(field(r.body, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	r = doJSON(t, c, "POST", base+"/2fa/totp/confirm", map[string]any{"code": otp.TOTP{Key: key}.At(time.Now())}, h)
	if r.status != 200 {
		t.Fatalf("confirm TOTP: %d %s", r.status, r.raw)
	}
	return c, key
}

// browserTab is a tab of a headless chromium with a profile of its own,
// stopped when the test ends.
type browserTab struct {
	t   *testing.T
	tab context.Context
}

// stepTimeout bounds one step of a browser test: a page that never comes
// fails the test instead of hanging it.
const stepTimeout = 30 * time.Second

func newBrowser(t *testing.T) *browserTab {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, // as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	// The first run starts the browser, which lives as long as its
	// context: no timeout on that context, but a bound on the wait.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(tab) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("start chromium: %v", err)
		}
	case <-time.After(stepTimeout):
		t.Fatalf("start chromium: no answer in %s", stepTimeout)
	}
	return &browserTab{t: t, tab: tab}
}

// try runs steps in the tab, bounded by stepTimeout.
func (b *browserTab) try(steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.tab, stepTimeout)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// run runs steps, failing the test with where the browser is if they
// fail.
func (b *browserTab) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := b.try(steps...); err != nil {
		b.t.Fatalf("%s: %v%s", what, err, b.where())
	}
}

// browserGet runs an action that reads something from the tab, bounded by
// stepTimeout, failing the test with where the browser is if it fails.
func browserGet[T any](b *browserTab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v%s", what, err, b.where())
	}
	return v
}

// waitFor waits until the page shows an element matching the CSS
// selector sel.
func (b *browserTab) waitFor(what, sel string) {
	b.t.Helper()
	b.run("wait for "+what+" ("+sel+")", chromedp.WaitVisible(chromedp.CSS(sel)))
}

// where describes the page the browser is at, for a failure message.
func (b *browserTab) where() string {
	ctx, cancel := context.WithTimeout(b.tab, stepTimeout)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return fmt.Sprintf("\n(and the page cannot be read: %v)", err)
	}
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		return fmt.Sprintf("\nthe browser is at %s (its text cannot be read: %v)", loc, err)
	}
	return fmt.Sprintf("\nthe browser is at %s, showing:\n%s", loc, body)
}

// location is the URL of the page.
func (b *browserTab) location() string {
	b.t.Helper()
	return browserGet(b, "read the location", chromedp.Location())
}

// wantURL fails the test unless the browser is at want.
func (b *browserTab) wantURL(what, want string) {
	b.t.Helper()
	if got := b.location(); got != want {
		b.t.Fatalf("%s: at %s, want %s%s", what, got, want, b.where())
	}
}

// text is the visible text of the first element matching the CSS
// selector sel.
func (b *browserTab) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(browserGet(b, "read "+sel, chromedp.Text(chromedp.CSS(sel))))
}
