package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// headlessTab starts a headless chromium with a fresh profile for the
// test and returns a tab's context, which ends after 60 seconds or with
// the test. It skips the test without chromium.
func headlessTab(t *testing.T, opts ...chromedp.ContextOption) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("needs %s: install the Debian package chromium (%v)", chromiumPath, err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, opts...)
	t.Cleanup(cancelBrowser)
	within(t, "start chromium", func() error { return chromedp.Do(browserCtx) })
	ctx, cancel := context.WithTimeout(browserCtx, 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// seenRequest is a request as the server received it: everything a
// secret could travel in.
type seenRequest struct {
	Method, URL, Headers, Body string
}

func (r seenRequest) contains(s string) bool {
	return strings.Contains(r.URL, s) || strings.Contains(r.Headers, s) || strings.Contains(r.Body, s)
}

// requestLog records every request before the handler sees it.
type requestLog struct {
	mu   sync.Mutex
	seen []seenRequest
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var headers strings.Builder
		r.Header.Write(&headers)
		l.mu.Lock()
		l.seen = append(l.seen, seenRequest{Method: r.Method, URL: r.URL.String(), Headers: headers.String(), Body: string(body)})
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// carrying returns the requests seen so far that contain s.
func (l *requestLog) carrying(s string) []seenRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []seenRequest
	for _, r := range l.seen {
		if r.contains(s) {
			out = append(out, r)
		}
	}
	return out
}

func (l *requestLog) count(method, path string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.seen {
		if r.Method == method && strings.HasPrefix(r.URL, path) {
			n++
		}
	}
	return n
}

// TestPasswordPolicyHintsInChromium: on the account page, as a password
// is typed into the new-password field, its live region says which rule
// the password does not meet yet (too short), and stops once it does;
// the policy is fetched once, and nothing the browser sends, to gatehouse
// or anywhere, carries the typed password until the form is submitted —
// whose post does (so the checks below could see it).
func TestPasswordPolicyHintsInChromium(t *testing.T) {
	ln, ghURL := listenLoopback(t)
	e := newEnv(t)
	e.clock.Advance(time.Since(e.clock.Now()))
	e.createUser("lena", "lena@example.com", pwOf("lena"))
	var log requestLog
	serveOn(t, ln, log.wrap(e.api))

	// What the browser sends, as it sends it (any origin).
	var sentMu sync.Mutex
	var sent []seenRequest
	ctx := headlessTab(t, chromedp.WithListener(func(ev any) {
		if ev, ok := ev.(*network.EventRequestWillBeSent); ok {
			var body strings.Builder
			for _, p := range ev.Request.PostDataEntries {
				body.Write(p.Bytes)
			}
			var headers strings.Builder
			for k, v := range ev.Request.Headers {
				headers.WriteString(k)
				if s, ok := v.(string); ok {
					headers.WriteString(": " + s + "\n")
				}
			}
			sentMu.Lock()
			sent = append(sent, seenRequest{Method: ev.Request.Method, URL: ev.Request.URL, Headers: headers.String(), Body: body.String()})
			sentMu.Unlock()
		}
	}))
	sentCarrying := func(s string) []seenRequest {
		sentMu.Lock()
		defer sentMu.Unlock()
		var out []seenRequest
		for _, r := range sent {
			if r.contains(s) {
				out = append(out, r)
			}
		}
		return out
	}

	err := chromedp.Do(ctx,
		chromedp.Navigate(ghURL+"/auth/ui/login"),
		chromedp.SetValue(chromedp.CSS("#username"), "lena"),
		chromedp.SetValue(chromedp.CSS("#password"), pwOf("lena")),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#new_password")),
	)
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
	region := `document.getElementById("new_password-policy")`
	// Too short: the reason shows.
	const typedStart, typedRest = "Qz7tulip", " orbit velvet lantern 4"
	regionText := func(what string, steps ...chromedp.Action[chromedp.Void]) string {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#new_password-policy")))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return text
	}
	status := regionText("type a short password",
		chromedp.SendKeys(chromedp.CSS("#new_password"), typedStart),
		chromedp.Poll[chromedp.Void](region+`.textContent.includes("Still needed")`),
	)
	if status != "Still needed: at least 12 characters." {
		t.Errorf("short password: the region says %q", status)
	}
	described, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("new_password").getAttribute("aria-describedby")`))
	if err != nil || !strings.Contains(described, "new_password-policy") {
		t.Errorf("the field is not described by its live region: %q %v", described, err)
	}
	// Long enough: the reason is gone.
	status = regionText("type the rest",
		chromedp.SendKeys(chromedp.CSS("#new_password"), typedRest),
		chromedp.Poll[chromedp.Void](`!`+region+`.textContent.includes("Still needed")`),
	)
	if !strings.Contains(status, "checked when you submit") {
		t.Errorf("good password: the region says %q", status)
	}
	if n := log.count("GET", "/auth/password/policy"); n != 1 {
		t.Errorf("the policy was fetched %d times, want once", n)
	}
	for _, s := range []string{typedStart, typedRest} {
		if got := log.carrying(s); len(got) > 0 {
			t.Errorf("before submit, the server got the typed password in %+v", got)
		}
		if got := sentCarrying(s); len(got) > 0 {
			t.Errorf("before submit, the browser sent the typed password in %+v", got)
		}
	}

	// Submitting sends it, once, in the form's post.
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#current_password"), pwOf("lena")),
		chromedp.Submit(chromedp.CSS("#new_password")),
		chromedp.WaitVisible(chromedp.CSS(`p.ok[role="status"]`)),
	)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	got := log.carrying("Qz7tulip+orbit+velvet+lantern+4")
	if len(got) != 1 || got[0].Method != "POST" || got[0].URL != "/auth/ui/account/password" {
		t.Errorf("after submit, the password went in %+v, want the one form post", got)
	}
}
