package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/session"
)

// knownBrowser logs name in from a fresh browser and returns a browser
// that holds only the known-device cookie it was given: the owner's own
// browser after logging out.
func (e *env) knownBrowser(name, pw string) *browser {
	e.t.Helper()
	b := e.browser()
	if w := b.login(name, pw); w.Code != 200 {
		e.t.Fatalf("login as %s: %d %s", name, w.Code, w.Body)
	}
	c := b.cookies["gh_known"]
	if c == nil {
		e.t.Fatalf("login as %s set no gh_known cookie; cookies %v", name, b.cookies)
	}
	if !c.HttpOnly || c.Path != "/" || c.SameSite != http.SameSiteStrictMode || c.MaxAge <= 0 {
		e.t.Errorf("gh_known cookie = %+v, want HttpOnly, Path=/, SameSite=Strict, persistent", c)
	}
	known := e.browser()
	known.cookies["gh_known"] = c
	return known
}

// TestKnownDeviceSurvivesAttack: an attacker who spends the sole
// administrator's untrusted budget, and keeps guessing for an hour, does
// not keep the administrator's own browser out.
func TestKnownDeviceSurvivesAttack(t *testing.T) {
	e := newEnv(t)
	owner := e.knownBrowser("admin", adminPassword)
	laptop := e.knownBrowser("admin", adminPassword)
	attacker := e.browser()
	attacker.addr = "203.0.113.66:5555"
	refused := 0
	for range 240 { // every 15 seconds for an hour
		w := attacker.login("admin", "guess")
		if w.Code == 429 {
			refused++
		}
		e.clock.Advance(15 * time.Second)
	}
	if refused == 0 {
		t.Fatal("the attacker was never refused")
	}
	// Between the attacker's guesses, strangers are refused…
	attacker.login("admin", "guess")
	wantProblem(t, e.browser().login("admin", adminPassword), 429, gatehouse.CodeTooManyAttempts)
	// …and the owner's browser logs in, by username or email.
	for _, name := range []string{"admin", "Admin@Example.com"} {
		if w := owner.login(name, adminPassword); w.Code != 200 {
			t.Fatalf("owner's known browser as %s: %d %s, want 200", name, w.Code, w.Body)
		}
	}
	// The owner's typos count against the owner's browser alone: it is
	// locked after five, while another known browser is not.
	for range 5 {
		wantProblem(t, owner.login("admin", "typo"), 401, gatehouse.CodeInvalidCredentials)
	}
	wantProblem(t, owner.login("admin", adminPassword), 429, gatehouse.CodeTooManyAttempts)
	if w := laptop.login("admin", adminPassword); w.Code != 200 {
		t.Errorf("another known browser: %d", w.Code)
	}
}

// TestUntrustedGuessesPerHour counts the guesses an attacker gets checked
// in an hour of untrusted attempts at one name, for a few strategies,
// against the README's bound of 20 (TestBackoffBound in the root package
// checks every strategy against the rule itself).
func TestUntrustedGuessesPerHour(t *testing.T) {
	const bound = 20
	strategies := []struct {
		name string
		next func(w int) time.Duration // how long to wait after an answer with Retry-After w (0: none)
	}{
		{"every 15 seconds", func(int) time.Duration { return 15 * time.Second }},
		{"as soon as allowed", func(w int) time.Duration { return time.Duration(w) * time.Second }},
		{"pause a window after each wait", func(w int) time.Duration {
			if w > 0 {
				return time.Duration(w)*time.Second + 15*time.Minute
			}
			return 0
		}},
	}
	for _, st := range strategies {
		t.Run(st.name, func(t *testing.T) {
			e := newEnv(t)
			end := e.clock.Now().Add(time.Hour)
			checked := 0
			for i := 0; e.clock.Now().Before(end); i++ {
				b := e.browser()
				b.addr = "198.51.100." + strconv.Itoa(i%200+1) + ":1"
				w := b.login("admin", "guess "+strconv.Itoa(i))
				ra := 0
				switch w.Code {
				case 401:
					checked++
				case 429:
					ra, _ = strconv.Atoi(w.Header().Get("Retry-After"))
				default:
					t.Fatalf("guess: %d %s", w.Code, w.Body)
				}
				if d := st.next(ra); d > 0 {
					e.clock.Advance(d)
				} else if w.Code == 429 {
					e.clock.Advance(time.Second)
				}
			}
			if checked > bound {
				t.Errorf("%d guesses checked in an hour, want at most %d", checked, bound)
			}
			t.Logf("%d guesses checked in an hour", checked)
		})
	}
}

// TestThrottleRevealsNoAccount: failures count per submitted name, so a
// wait on dora's email does not show on "dora" (which would confirm that
// the name owns the email), and a waiting made-up name answers exactly
// like a waiting real one.
func TestThrottleRevealsNoAccount(t *testing.T) {
	e := newEnv(t)
	e.createUser("dora", "dora@example.test", pwOf("dora"))
	for range 5 {
		wantProblem(t, e.browser().login("dora@example.test", "wrong"), 401, gatehouse.CodeInvalidCredentials)
	}
	wantProblem(t, e.browser().login("dora@example.test", "wrong"), 429, gatehouse.CodeTooManyAttempts)
	dora, madeUp := e.browser().login("dora", "wrong"), e.browser().login("nadia", "wrong")
	wantSameAnswer(t, "dora after failures as her email", dora, "a made-up name", madeUp)
	wantProblem(t, dora, 401, gatehouse.CodeInvalidCredentials)

	for range 4 {
		e.browser().login("nadia", "wrong")
	}
	real, fake := e.browser().login("dora@example.test", "wrong"), e.browser().login("nadia", "wrong")
	wantSameAnswer(t, "a waiting real name", real, "a waiting made-up name", fake)
	wantProblem(t, fake, 429, gatehouse.CodeTooManyAttempts)
}

func wantSameAnswer(t *testing.T, what string, w *httptest.ResponseRecorder, otherWhat string, other *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != other.Code || withoutRequestID(w.Body.String()) != withoutRequestID(other.Body.String()) {
		t.Errorf("%s answers %d %s; %s answers %d %s", what, w.Code, w.Body, otherWhat, other.Code, other.Body)
	}
	for _, h := range []string{"Retry-After", "Content-Type", "Set-Cookie"} {
		if a, b := w.Header().Values(h), other.Header().Values(h); len(a) != len(b) || (len(a) > 0 && a[0] != b[0]) {
			t.Errorf("%s: %s %q; %s %q", h, what, a, otherWhat, b)
		}
	}
}

// TestBadKnownDeviceIsUntrusted: a forged, tampered, expired or another
// user's known-device cookie earns nothing: its failures count against
// the name, and it is refused while the name waits.
func TestBadKnownDeviceIsUntrusted(t *testing.T) {
	e := newEnv(t)
	e.createUser("eve", "eve@example.com", pwOf("eve"))
	adminCookie := e.knownBrowser("admin", adminPassword).cookies["gh_known"].Value
	eveCookie := e.knownBrowser("eve", pwOf("eve")).cookies["gh_known"].Value
	tampered := []byte(adminCookie)
	tampered[len(tampered)/2] ^= 1
	for _, tt := range []struct {
		name, cookie string
		age          time.Duration
	}{
		{"forged", "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0},
		{"tampered", string(tampered), 0},
		{"another user's", eveCookie, 0},
		{"expired", adminCookie, account.KnownDeviceTTL},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Advance(tt.age)
			b := e.browser()
			b.cookies["gh_known"] = &http.Cookie{Name: "gh_known", Value: tt.cookie}
			for range 5 {
				wantProblem(t, b.login("admin", "wrong"), 401, gatehouse.CodeInvalidCredentials)
			}
			// The failures counted against the name: a stranger waits too…
			wantProblem(t, e.browser().login("admin", adminPassword), 429, gatehouse.CodeTooManyAttempts)
			// …and so does the bad cookie.
			wantProblem(t, b.login("admin", adminPassword), 429, gatehouse.CodeTooManyAttempts)
			if err := e.accounts.Unlock(t.Context(), "admin"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestKnownDevicePassesAddressLimit: behind one address (an office NAT),
// a known browser still logs in after the address limit refuses strangers.
func TestKnownDevicePassesAddressLimit(t *testing.T) {
	e := newEnv(t, func(_ *httpapi.Config, a *account.Config, _ *session.Config) {
		a.AddrThrottle.MaxFailures = 10
	})
	owner := e.knownBrowser("admin", adminPassword)
	owner.addr = "203.0.113.66:1"
	attacker := e.browser()
	attacker.addr = "203.0.113.66:5555"
	for i := range 10 {
		wantProblem(t, attacker.login("user"+strconv.Itoa(i), "guess"), 401, gatehouse.CodeInvalidCredentials)
	}
	colleague := e.browser()
	colleague.addr = "203.0.113.66:7"
	wantProblem(t, colleague.login("admin", adminPassword), 429, gatehouse.CodeTooManyAttempts)
	if w := owner.login("admin", adminPassword); w.Code != 200 {
		t.Errorf("known browser behind the locked address: %d %s, want 200", w.Code, w.Body)
	}
}

// TestKnownDeviceCookieOverHTTPS: over HTTPS the cookie is __Host-gh_known
// and Secure, and it is read back under that name.
func TestKnownDeviceCookieOverHTTPS(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.https = true
	if w := b.login("admin", adminPassword); w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	c := b.cookies["__Host-gh_known"]
	if c == nil || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" {
		t.Fatalf("known-device cookie over HTTPS = %+v, want __Host-gh_known, Secure, HttpOnly, Path=/", c)
	}
	if b.cookies["gh_known"] != nil {
		t.Error("gh_known set over HTTPS too")
	}
	for range 5 {
		e.browser().login("admin", "guess")
	}
	owner := e.browser()
	owner.https = true
	owner.cookies[c.Name] = c
	if w := owner.login("admin", adminPassword); w.Code != 200 {
		t.Errorf("known browser over HTTPS: %d %s", w.Code, w.Body)
	}
}
