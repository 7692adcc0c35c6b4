package browsertest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium (package chromium).
const chromiumPath = "/usr/bin/chromium"

// stepTimeout bounds one step of a browser test: a page that never comes
// fails the test instead of hanging it.
const stepTimeout = 30 * time.Second

// theBrowser is the chromium every test of the package shares (each in
// a browser context of its own); nil when it could not be started, and
// then browserSkip says why.
var (
	theBrowser  context.Context
	browserSkip string
)

// TestMain starts chromium once for the whole package (headless, a fresh
// profile in a temporary directory) and stops it at the end.
func TestMain(m *testing.M) {
	os.Exit(runWithBrowser(m))
}

func runWithBrowser(m *testing.M) int {
	if _, err := os.Stat(chromiumPath); err != nil {
		browserSkip = fmt.Sprintf("needs %s: install the Debian package chromium (%v)", chromiumPath, err)
		return m.Run()
	}
	profile, err := os.MkdirTemp("", "gatehouse-browsertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(profile)
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
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(profile),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err = <-done:
	case <-time.After(stepTimeout):
		err = fmt.Errorf("no answer in %s", stepTimeout)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "start chromium: %v\n", err)
		return 1
	}
	theBrowser = ctx
	return m.Run()
}

// tab is a tab in a browser context of its own (its own cookies, like a
// fresh profile), closed when the test ends.
type tab struct {
	t   *testing.T
	ctx context.Context
}

// newTab opens a tab in a new browser context, skipping the test without
// chromium.
func newTab(t *testing.T) *tab {
	t.Helper()
	if theBrowser == nil {
		t.Skip(browserSkip)
	}
	ctx, cancel := chromedp.NewContext(theBrowser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first run opens the tab, which lives as long as the context
	// that run gets: no timeout on it, but a bound on the wait.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("open a tab: %v", err)
		}
	case <-time.After(stepTimeout):
		t.Fatalf("open a tab: no answer in %s", stepTimeout)
	}
	b := &tab{t: t, ctx: ctx}
	b.run("open a tab", chromedp.EmulateViewport(1280, 800))
	return b
}

// try runs steps in the tab, bounded by stepTimeout.
func (b *tab) try(steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// run runs steps, failing the test with where the browser is if they
// fail.
func (b *tab) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := b.try(steps...); err != nil {
		b.t.Fatalf("%s: %v%s", what, err, b.where())
	}
}

// get runs an action that reads something from the tab, failing the
// test with where the browser is if it fails.
func get[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v%s", what, err, b.where())
	}
	return v
}

// eval evaluates a JavaScript expression (awaiting a promise) in the
// page.
func eval[T any](b *tab, what, expr string) T {
	b.t.Helper()
	return get(b, what, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// open navigates to url and waits until sel is visible.
func (b *tab) open(url, sel string) {
	b.t.Helper()
	b.run("open "+url, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// waitFor waits until the page shows an element matching sel.
func (b *tab) waitFor(what, sel string) {
	b.t.Helper()
	b.run("wait for "+what+" ("+sel+")", chromedp.WaitVisible(chromedp.CSS(sel)))
}

// where describes the page the browser is at, for a failure message.
func (b *tab) where() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
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
func (b *tab) location() string {
	b.t.Helper()
	return get(b, "read the location", chromedp.Location())
}

// wantURLPrefix fails the test unless the page's URL starts with prefix.
func (b *tab) wantURLPrefix(what, prefix string) {
	b.t.Helper()
	if got := b.location(); !strings.HasPrefix(got, prefix) {
		b.t.Fatalf("%s: at %s, want %s…%s", what, got, prefix, b.where())
	}
}

// text is the visible text of the first element matching sel.
func (b *tab) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(get(b, "read "+sel, chromedp.Text(chromedp.CSS(sel))))
}

// status is the HTTP status of the page's document.
func (b *tab) status() int {
	b.t.Helper()
	return eval[int](b, "read the status", `performance.getEntriesByType("navigation")[0].responseStatus`)
}

// submit fills fields (selector → value, in order), clicks button and
// waits for the next page to show next.
func (b *tab) submit(what string, fields [][2]string, button, next string) {
	b.t.Helper()
	var steps []chromedp.Action[chromedp.Void]
	for _, f := range fields {
		steps = append(steps, chromedp.SetValue(chromedp.CSS(f[0]), f[1]))
	}
	b.run(what, steps...)
	b.click(what, button)
	b.waitFor(what, next)
}

// click clicks the element matching sel and waits for the page it leads
// to (so that a later wait cannot be satisfied by the page before).
func (b *tab) click(what, sel string) {
	b.t.Helper()
	ctx, cancel := stepContext(b)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("%s: click %s: %v%s", what, sel, err, b.where())
	}
}

// darkMode emulates the system's dark (true) or light colour scheme.
func (b *tab) darkMode(dark bool) {
	b.t.Helper()
	scheme := "light"
	if dark {
		scheme = "dark"
	}
	b.run("emulate prefers-color-scheme: "+scheme, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	}))
}

// stepContext is the tab's context bounded by stepTimeout, for an action
// run directly (such as chromedp.RunResponse).
func stepContext(b *tab) (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, stepTimeout)
}
