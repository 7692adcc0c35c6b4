package httpapi_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/session"
)

// TestTimeoutWarningInChromium runs the account page's timeout warning in
// a real browser, under the page's own CSP: with less than two minutes
// left the hidden warning shows, and "Stay logged in" extends the session,
// which asking for the seconds left never does.
func TestTimeoutWarningInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("needs %s: install the Debian package chromium (%v)", chromiumPath, err)
	}
	ln, ghURL := listenLoopback(t)
	e := newEnv(t, func(_ *httpapi.Config, _ *account.Config, s *session.Config) {
		s.IdleTimeout, s.TouchInterval = 100*time.Second, time.Second
	})
	// Real time: the browser judges cookie lifetimes by its own clock.
	e.clock.Advance(time.Since(e.clock.Now()))
	e.createUser("lena", "lena@example.com", pwOf("lena"))
	serveOn(t, ln, e.api)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	within(t, "start chromium", func() error { return chromedp.Do(browserCtx) })
	ctx, cancel := context.WithTimeout(browserCtx, 30*time.Second)
	t.Cleanup(cancel)

	err := chromedp.Do(ctx,
		chromedp.Navigate(ghURL+"/auth/ui/login"),
		chromedp.SetValue(chromedp.CSS("#username"), "lena"),
		chromedp.SetValue(chromedp.CSS("#password"), pwOf("lena")),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#timeout-warning")),
	)
	if err != nil {
		t.Fatalf("log in and wait for the warning: %v", err)
	}
	message, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#timeout-message")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(message, "Your session ends in less than") {
		t.Fatalf("warning %q", message)
	}
	remaining := func() int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("/auth/session/remaining").then(r => r.json()).then(d => d.seconds)`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	e.clock.Advance(60 * time.Second)
	if n := remaining(); n > 45 {
		t.Fatalf("%d seconds left after a minute of a 100-second session", n)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#stay-logged-in"))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for remaining() < 90 {
		if time.Now().After(deadline) {
			t.Fatal("stay logged in did not extend the session")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
