package httpapi_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/httpapi"
)

// chromiumPath is Debian's chromium (package chromium).
const chromiumPath = "/usr/bin/chromium"

// corsPage is the front end the browser test loads from another origin:
// call makes a credentialed fetch to gatehouse and reports its status and
// JSON, or the error fetch rejected with.
const corsPage = `<!doctype html>
<meta charset="utf-8">
<title>front end</title>
<script>
const GATEHOUSE = %q;
async function call(method, path, body, token) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers["X-CSRF-Token"] = token;
  try {
    const r = await fetch(GATEHOUSE + path, {
      method, credentials: "include", headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let json = null;
    try { json = await r.json(); } catch (e) {}
    return {status: r.status, json};
  } catch (e) {
    return {error: e.name + ": " + e.message};
  }
}
</script>
`

// fetchResult is what call returns.
type fetchResult struct {
	Status int            `json:"status"`
	JSON   map[string]any `json:"json"`
	Error  string         `json:"error"`
}

// serveOn serves h on ln until the test ends.
func serveOn(t *testing.T, ln net.Listener, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

func listenLoopback(t *testing.T) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, "http://" + ln.Addr().String()
}

// TestCORSInChromium runs Kirby's cross-origin front end in a real browser:
// gatehouse on one loopback port, the front end on a second (another
// origin, but the same site, so the SameSite=Lax session cookie goes along)
// that logs in with fetch(…, {credentials: "include"}), reads the CSRF token
// and makes a protected PATCH; and a page on a third port, not an allowed
// origin, whose attempts fail in the browser.
func TestCORSInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("needs %s: install the Debian package chromium (%v)", chromiumPath, err)
	}
	ghLn, ghURL := listenLoopback(t)
	appLn, appOrigin := listenLoopback(t)
	evilLn, evilOrigin := listenLoopback(t)

	e := newEnv(t, withCORS(httpapi.CORS{AllowedOrigins: []string{appOrigin}, AllowCredentials: true, MaxAge: time.Minute}))
	// Real time: the browser judges cookie lifetimes by its own clock.
	e.clock.Advance(time.Since(e.clock.Now()))
	adminID := e.userID("admin")
	serveOn(t, ghLn, e.api)
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, corsPage, ghURL+"/auth")
	})
	serveOn(t, appLn, page)
	serveOn(t, evilLn, page)

	// One browser for every subtest; each page in a tab of its own.
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
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	// The first run starts the browser, which lives as long as its
	// context: no timeout on it, but a bound on the wait.
	within(t, "start chromium", func() error { return chromedp.Do(browserCtx) })

	// open loads the page of origin in a new tab and returns a function
	// that evaluates a call in it.
	open := func(t *testing.T, origin string) func(js string) fetchResult {
		t.Helper()
		tab, cancelTab := chromedp.NewContext(browserCtx)
		t.Cleanup(cancelTab)
		within(t, "open a tab", func() error { return chromedp.Do(tab) })
		ctx, cancel := context.WithTimeout(tab, 30*time.Second)
		t.Cleanup(cancel)
		if err := chromedp.Do(ctx, chromedp.Navigate(origin+"/")); err != nil {
			t.Fatalf("open %s: %v", origin, err)
		}
		return func(js string) fetchResult {
			t.Helper()
			res, err := chromedp.Run(ctx, chromedp.Evaluate[fetchResult](js, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatalf("%s: %v", js, err)
			}
			return res
		}
	}
	login := fmt.Sprintf(`call("POST", "/session", {username: "admin", password: %q})`, adminPassword)

	t.Run("allowed origin", func(t *testing.T) {
		call := open(t, appOrigin)
		res := call(login)
		token, _ := res.JSON["csrfToken"].(string)
		if res.Status != 200 || token == "" {
			t.Fatalf("login from %s: %+v", appOrigin, res)
		}
		// The session cookie came back with the credentialed fetch.
		if res = call(`call("GET", "/session")`); res.Status != 200 || res.JSON["csrfToken"] != token {
			t.Fatalf("GET /session: %+v", res)
		}
		// A protected PATCH with the token: preflighted, then done.
		res = call(fmt.Sprintf(`call("PATCH", "/management/api/v1/users/%s", {name: "Ada from the front end"}, %q)`, adminID, token))
		if res.Status != 200 || res.JSON["name"] != "Ada from the front end" {
			t.Fatalf("PATCH with the CSRF token: %+v", res)
		}
		// Without the token: a readable 403 csrf_failed, nothing changed.
		res = call(fmt.Sprintf(`call("PATCH", "/management/api/v1/users/%s", {name: "Mallory"})`, adminID))
		if res.Status != 403 || res.JSON["code"] != "csrf_failed" {
			t.Fatalf("PATCH without the CSRF token: %+v", res)
		}
		u, err := e.store.UserByLogin(context.Background(), "admin")
		if err != nil || u.Name != "Ada from the front end" {
			t.Fatalf("user after the PATCHes: %+v, %v", u, err)
		}
	})

	t.Run("origin not allowed", func(t *testing.T) {
		call := open(t, evilOrigin)
		// The browser holds a session cookie for gatehouse's host now (from
		// the subtest above, or from this login attempt): none of these
		// answers may reach the script.
		for _, js := range []string{
			login,
			`call("GET", "/session")`,
			fmt.Sprintf(`call("PATCH", "/management/api/v1/users/%s", {name: "Mallory"}, "guess")`, adminID),
			`call("DELETE", "/session")`,
		} {
			if res := call(js); res.Error == "" || !strings.HasPrefix(res.Error, "TypeError") {
				t.Errorf("%s from %s: %+v, want fetch to reject with a TypeError", js, evilOrigin, res)
			}
		}
		u, err := e.store.UserByLogin(context.Background(), "admin")
		if err != nil || u.Name == "Mallory" {
			t.Fatalf("user changed from an origin that is not allowed: %+v, %v", u, err)
		}
	})
}

// within runs f, failing the test when it has not returned in 30 seconds
// (the test's cleanup then stops the browser, which ends f).
func within(t *testing.T, what string, f func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no answer in 30s", what)
	}
}
