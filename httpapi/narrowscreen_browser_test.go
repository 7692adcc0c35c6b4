package httpapi_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// tapTargetsTooSmall lists, as "tag#id: height", the visible controls of
// the page shorter than 44 CSS pixels (a checkbox counts by its label,
// the whole of which is the target).
const tapTargetsTooSmall = `(() => {
  const small = [];
  for (const el of document.querySelectorAll("input, select, button, textarea, a.ext")) {
    if (el.type === "hidden") continue;
    const target = el.type === "checkbox" ? el.closest("label") : el;
    const r = target.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue; // not shown
    if (r.height < 44) small.push(target.tagName.toLowerCase() + "#" + (el.id || el.name) + ": " + r.height);
  }
  return small;
})()`

// overflowing lists the elements whose right edge is past the viewport's,
// outside a table (which may scroll in its own box).
const overflowing = `(() => {
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest("table") && el.tagName !== "TABLE" && getComputedStyle(el).position !== "absolute") continue;
    const r = el.getBoundingClientRect();
    if (r.right > 360.5) out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + "." + el.className + ": " + r.right);
  }
  return out.slice(0, 10);
})()`

// TestPagesFitNarrowScreenInChromium: at 360×740 CSS pixels (a small
// phone), the login, forgot-password, reset, setup and account pages (the
// account with its tables filled) do not scroll sideways, and every input,
// select and button is at least 44 pixels tall, to be tapped.
func TestPagesFitNarrowScreenInChromium(t *testing.T) {
	ln, ghURL := listenLoopback(t)
	e := newEnv(t)
	e.clock.Advance(time.Since(e.clock.Now()))
	e.createUser("lena", "lena.with.a.rather.long.address@example.com", pwOf("lena"))
	serveOn(t, ln, e.api)
	// A second session, from a browser with a long user agent, and a
	// token, so that the account page's tables have rows.
	other := e.browser()
	if w := other.postLogin(url.Values{"username": {"lena"}, "password": {pwOf("lena")}}, header("User-Agent", "Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36")); w.Code != 303 {
		t.Fatalf("login: %d", w.Code)
	}
	_, csrfTok := other.accountPage()
	if w := other.postForm(accountPath+"/tokens", csrfTok, url.Values{"name": {"deployment-pipeline-of-the-website"}, "expiry": {"30"}}); w.Code != 201 {
		t.Fatalf("token: %d %s", w.Code, w.Body)
	}

	ctx := headlessTab(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile, chromedp.EmulatePortrait)); err != nil {
		t.Fatal(err)
	}
	check := func(name string) {
		t.Helper()
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if width > 360 {
			wide, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](overflowing))
			t.Errorf("%s: the page is %d px wide at 360: %q", name, width, wide)
		}
		small, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](tapTargetsTooSmall))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(small) > 0 {
			t.Errorf("%s: controls shorter than 44 px: %q", name, small)
		}
	}
	pages := []struct{ name, path, ready string }{
		{"login", "/auth/ui/login", "#username"},
		{"forgot password", "/auth/ui/forgot", "#email"},
		{"reset", "/auth/ui/reset?userId=u&token=t", "#password"},
		{"setup", "/auth/ui/setup", "h1"},
	}
	for _, p := range pages {
		if err := chromedp.Do(ctx, chromedp.Navigate(ghURL+p.path), chromedp.WaitVisible(chromedp.CSS(p.ready))); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		check(p.name)
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(ghURL+"/auth/ui/login"),
		chromedp.SetValue(chromedp.CSS("#username"), "lena"),
		chromedp.SetValue(chromedp.CSS("#password"), pwOf("lena")),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#token_name")),
	)
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil || !strings.Contains(text, "deployment-pipeline-of-the-website") || !strings.Contains(text, "Pixel 8 Pro") {
		t.Fatalf("the account page lacks its rows: %v", err)
	}
	check("account")
	// The enrolment page, with its QR code.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form[action$="/2fa/totp"] button`)), chromedp.WaitVisible(chromedp.CSS("table.qr"))); err != nil {
		t.Fatalf("enrolment: %v", err)
	}
	check("enrolment")
}
