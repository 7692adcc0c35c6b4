package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/server"
)

// The pages' render benchmark (issue 14, "Performance": pages render
// server-side in < 5 ms p99 with 100 users and 100 sessions listed). Each
// page is a GET through the whole server as `gatehouse serve` wires it
// (server.Open, SQLite in a temporary directory, every middleware), with
// a fresh recorder per request; besides ns/op, each reports the p50 and
// p99 of its requests' latencies. Run with (BENCHMARKS.md, "Pages"):
//
//	go test -run='^$' -bench=Pages -benchtime=2000x ./web/

// pageBenchUsers is how many users the server has, and pageBenchSessions how many
// sessions the account page's user has.
const pageBenchUsers, pageBenchSessions = 100, 100

// pagesFixture is a server with pageBenchUsers users, one of whom (lena) has
// pageBenchSessions sessions, and the cookies of a session of lena and of
// the administrator.
type pagesFixture struct {
	gh          *server.Gatehouse
	lena, admin []*http.Cookie
}

const benchPassword = "a long and unusual passphrase 42"

// newPagesFixture builds the fixture: about 200 argon2id hashes with the
// default parameters (each user created, each of lena's logins), a few
// seconds.
func newPagesFixture(b *testing.B) *pagesFixture {
	b.Helper()
	ctx := context.Background()
	gh, err := server.Open(ctx, server.Config{DataDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { gh.Close() })
	setup, err := url.Parse(gh.SetupURL())
	if err != nil {
		b.Fatal(err)
	}
	w := post(gh, "/auth/ui/setup", url.Values{"token": {setup.Query().Get("token")}, "username": {"root"}, "email": {"root@example.com"}, "password": {benchPassword}}, nil)
	if w.Code != http.StatusCreated {
		b.Fatalf("setup: %d %s", w.Code, w.Body)
	}
	// lena and 98 others: 100 users with root. Two at a time, the
	// machine's cores.
	names := []string{"lena"}
	for i := len(names) + 1; i < pageBenchUsers; i++ {
		names = append(names, fmt.Sprintf("user%03d", i))
	}
	parallel(b, len(names), func(i int) error {
		_, err := gh.Accounts().CreateUser(ctx, account.NewUser{
			Username: names[i], Email: names[i] + "@example.com", Name: "User " + names[i], Password: benchPassword,
		})
		return err
	})
	f := &pagesFixture{gh: gh}
	var mu sync.Mutex
	parallel(b, pageBenchSessions, func(i int) error {
		w := post(gh, "/auth/ui/login", url.Values{"username": {"lena"}, "password": {benchPassword}},
			http.Header{"User-Agent": {fmt.Sprintf("BenchBrowser/%d.0 (device %d)", i, i)}})
		if w.Code != http.StatusSeeOther {
			return fmt.Errorf("login %d: %d %s", i, w.Code, w.Body)
		}
		mu.Lock()
		f.lena = w.Result().Cookies()
		mu.Unlock()
		return nil
	})
	w = post(gh, "/auth/ui/login", url.Values{"username": {"root"}, "password": {benchPassword}}, nil)
	if w.Code != http.StatusSeeOther {
		b.Fatalf("admin login: %d %s", w.Code, w.Body)
	}
	f.admin = w.Result().Cookies()
	return f
}

// parallel runs do(0…n-1) on two goroutines, failing b on an error.
func parallel(b *testing.B, n int, do func(i int) error) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range 2 {
		wg.Go(func() {
			for i := range next {
				if err := do(i); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// post posts form v to the server, as a browser of the same origin.
func post(h http.Handler, path string, v url.Values, header http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", path, strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range header {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// get is GET path with cookies, as a browser asking for a page.
func get(h http.Handler, path string, cookies []*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path, nil)
	r.Header.Set("Accept", "text/html")
	for _, c := range cookies {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// benchPage measures GET path with cookies: ns/op, and the p50 and p99 of
// the requests' latencies in milliseconds. check looks at the first
// answer, so that a broken page is not measured as a fast one.
func benchPage(b *testing.B, h http.Handler, path string, cookies []*http.Cookie, check func(body string) error) {
	w := get(h, path, cookies)
	if w.Code != http.StatusOK {
		b.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
	}
	if err := check(w.Body.String()); err != nil {
		b.Fatalf("GET %s: %v", path, err)
	}
	var latencies []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		w := get(h, path, cookies)
		latencies = append(latencies, time.Since(start))
		if w.Code != http.StatusOK {
			b.Fatalf("GET %s: %d", path, w.Code)
		}
	}
	slices.Sort(latencies)
	at := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// atLeast is a check that the page holds s at least n times.
func atLeast(n int, s string) func(string) error {
	return func(body string) error {
		if c := strings.Count(body, s); c < n {
			return fmt.Errorf("%d times %q, want at least %d", c, s, n)
		}
		return nil
	}
}

// adminPageSize is how many users, or sessions, a page of the admin
// console lists.
const adminPageSize = 50

// BenchmarkPages renders each page through the whole server: the account
// page of a user with 100 sessions (each listed with its button), the
// login page, and the admin console's lists of users and of sessions (a
// page of 50 of the 100 users and 101 sessions each).
func BenchmarkPages(b *testing.B) {
	f := newPagesFixture(b)
	b.Run("account-100-sessions", func(b *testing.B) {
		benchPage(b, f.gh, "/auth/ui/account", f.lena, atLeast(pageBenchSessions, "BenchBrowser/"))
	})
	b.Run("login", func(b *testing.B) {
		benchPage(b, f.gh, "/auth/ui/login", nil, atLeast(1, `<input id="password"`))
	})
	b.Run("admin-users", func(b *testing.B) {
		benchPage(b, f.gh, "/auth/ui/admin/users", f.admin, atLeast(adminPageSize, "@example.com</td>"))
	})
	b.Run("admin-sessions", func(b *testing.B) {
		benchPage(b, f.gh, "/auth/ui/admin/sessions", f.admin, atLeast(adminPageSize-1, "BenchBrowser/"))
	})
}
