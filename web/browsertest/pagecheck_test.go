package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Environment variables of the page checks.
const (
	// axeEnv names axe-core's axe.min.js (from the npm package axe-core;
	// .ci/run fetches a pinned version and sets it).
	axeEnv = "GATEHOUSE_TEST_AXE"
	// screenshotsEnv names the directory the screenshots are written to
	// (relative to the module's root); unset, none are taken.
	screenshotsEnv = "GATEHOUSE_SCREENSHOTS"
)

// axeHowTo says how to get axe.min.js, for a skipped check.
const axeHowTo = axeEnv + " is unset, so no page is checked with axe-core: " +
	"`npm pack axe-core@4.11.0 && tar xzf axe-core-4.11.0.tgz package/axe.min.js` and set " +
	axeEnv + "=$PWD/package/axe.min.js (.ci/run does this)"

// Viewports the pages are checked and photographed at.
const (
	desktopWidth, desktopHeight = 1280, 800
	phoneWidth, phoneHeight     = 360, 740
)

// pageChecker runs the checks every page must pass: a title and one h1,
// no horizontal scrolling at phone width, and (with axe.min.js) no
// serious or critical axe-core violation in light or dark mode; and
// takes the screenshots when asked to.
type pageChecker struct {
	t        *testing.T
	axe      string // axe.min.js's source; "" skips axe
	shotsDir string // "" takes no screenshots
	checked  []string
}

func newPageChecker(t *testing.T) *pageChecker {
	t.Helper()
	c := &pageChecker{t: t}
	if path := os.Getenv(axeEnv); path != "" {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v", axeEnv, err)
		}
		c.axe = string(src)
	} else {
		t.Log(axeHowTo)
	}
	if dir := os.Getenv(screenshotsEnv); dir != "" {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(moduleRoot(t), dir)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		c.shotsDir = dir
	}
	return c
}

// check checks the page the tab shows, called name in failures; shot,
// when not "", names its screenshots (SHOT-desktop.png, SHOT-phone.png).
func (c *pageChecker) check(b *tab, name, shot string) {
	c.t.Helper()
	c.checked = append(c.checked, name)
	basics := eval[struct {
		Title string `json:"title"`
		H1s   int    `json:"h1s"`
	}](b, name+": read the title", `({title: document.title, h1s: document.querySelectorAll("h1").length})`)
	if strings.TrimSpace(basics.Title) == "" || basics.H1s != 1 {
		c.t.Errorf("%s: title %q and %d h1 elements, want a title and one h1", name, basics.Title, basics.H1s)
	}
	if c.axe != "" {
		for _, dark := range []bool{false, true} {
			b.darkMode(dark)
			for _, v := range c.axeViolations(b, name) {
				c.t.Errorf("%s (dark mode %v): axe-core %s", name, dark, v)
			}
		}
		b.darkMode(false)
	}

	b.run(name+": phone width", chromedp.EmulateViewport(phoneWidth, phoneHeight))
	if w := eval[int](b, name+": read the width", `document.documentElement.scrollWidth`); w > phoneWidth {
		wide := eval[[]string](b, name+": find the wide elements", `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > innerWidth).slice(0, 5).map(e => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right) + "px: " + e.textContent.trim().slice(0, 40))`)
		c.t.Errorf("%s: %d px wide at a %d px wide screen (it scrolls sideways); past the edge: %q", name, w, phoneWidth, wide)
	}
	c.screenshot(b, shot, "phone")
	b.run(name+": desktop width", chromedp.EmulateViewport(desktopWidth, desktopHeight))
	c.screenshot(b, shot, "desktop")
}

// axeViolation is a serious or critical axe-core violation.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

func (v axeViolation) String() string {
	return fmt.Sprintf("%s (%s): %s\n\t%s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
}

// axeViolations injects axe-core into the page (once per document: the
// DevTools protocol's evaluation is not subject to the page's CSP) and
// returns its serious and critical violations.
func (c *pageChecker) axeViolations(b *tab, name string) []axeViolation {
	c.t.Helper()
	if !eval[bool](b, name+": look for axe", `typeof window.axe === "object"`) {
		b.run(name+": inject axe-core", chromedp.Evaluate[chromedp.Void](c.axe))
	}
	// The QR code's rows are left out: a thousand cells of a table that
	// is one image (role img, with its label) to assistive technology,
	// which would take axe seconds.
	return eval[[]axeViolation](b, name+": run axe-core", `axe.run({exclude: [["table.qr tr"]]}, {resultTypes: ["violations"]}).then(r =>
  r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => n.target.join(" ") + ": " + (n.failureSummary || "").replace(/\s+/g, " "))})))`)
}

// maxShotHeight bounds a screenshot's height (CSS pixels): the route
// table's page is ten times longer, which a picture need not show.
const maxShotHeight = 2400

// screenshot saves the page (its top maxShotHeight pixels) as
// SHOT-KIND.png when screenshots are asked for and shot is not "".
func (c *pageChecker) screenshot(b *tab, shot, kind string) {
	c.t.Helper()
	if c.shotsDir == "" || shot == "" {
		return
	}
	size := eval[struct{ W, H float64 }](b, "measure "+shot,
		`({W: document.documentElement.clientWidth, H: Math.min(document.documentElement.scrollHeight, `+fmt.Sprint(maxShotHeight)+`)})`)
	png := get(b, "screenshot "+shot, func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		r, err := cdp.Call(ctx, tg, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format: page.CaptureScreenshotFormatPng, CaptureBeyondViewport: ptr(true),
			Clip: &page.Viewport{Width: size.W, Height: size.H, Scale: 1},
		})
		if err != nil {
			return nil, err
		}
		return r.Data, nil
	})
	path := filepath.Join(c.shotsDir, shot+"-"+kind+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

// moduleRoot is the directory of the module's go.mod, above the test's
// working directory (the package's).
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// TestAxeFindsViolations makes sure axe-core runs on the pages, under
// their CSP, and would report: the login page with its username's label
// removed has a critical violation (label).
func TestAxeFindsViolations(t *testing.T) {
	t.Parallel()
	c := newPageChecker(t)
	if c.axe == "" {
		t.Skip(axeHowTo)
	}
	s := startGatehouse(t)
	b := newTab(t)
	b.open(s.base+"/ui/login", "#username")
	if v := c.axeViolations(b, "login"); len(v) != 0 {
		t.Fatalf("the login page has violations already: %v", v)
	}
	b.run("remove the username's label", chromedp.Evaluate[chromedp.Void](`document.querySelector('label[for="username"]').remove()`))
	v := c.axeViolations(b, "login without a label")
	if len(v) == 0 || v[0].ID != "label" {
		t.Fatalf("axe-core found %v on a field without a label, want the label rule", v)
	}
}
