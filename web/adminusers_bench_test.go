package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/sqlite"
)

// benchUsers is how many users BenchmarkAdminUsersPage lists (issue 14:
// the page time at 100,000 users).
const benchUsers = 100_000

// BenchmarkAdminUsersPage renders GET BASE/ui/admin/users, through the
// whole server as gatehouse serve runs it (SQLite), over 100,000 users:
// the first, a middle and the last page of 50, and two searches. The
// users are written straight into the store in batches (through the
// account service one by one would hash 100,000 passwords).
//
//	go test -run='^$' -bench=AdminUsersPage -benchtime=50x ./web/
func BenchmarkAdminUsersPage(b *testing.B) {
	dir := b.TempDir()
	fillUsers(b, filepath.Join(dir, "gatehouse.db"), benchUsers)
	gh, err := server.Open(context.Background(), server.Config{
		DataDir: dir, Logger: slog.New(slog.DiscardHandler),
		Groups: map[string][]string{gatehouse.GroupAdministrators: {gatehouse.PermissionAll}},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer gh.Close()
	if _, err := gh.Accounts().CreateUser(context.Background(), account.NewUser{
		Username: "root", Email: "root@example.com", Password: "a long and unusual passphrase 42",
		Groups: []string{gatehouse.GroupAdministrators},
	}); err != nil {
		b.Fatal(err)
	}
	cookies := pageLogin(b, gh, "root", "a long and unusual passphrase 42")
	last := (benchUsers + 1 + 49) / 50 // the users and root
	for _, c := range []struct{ name, query, want string }{
		{"first", "", "showing 1–50"},
		{"middle", fmt.Sprintf("?page=%d", last/2), fmt.Sprintf("showing %d–", (last/2-1)*50+1)},
		{"last", fmt.Sprintf("?page=%d", last), fmt.Sprintf("showing %d–%d", (last-1)*50+1, benchUsers+1)},
		{"search", "?q=user0420", "100 users, showing 1–50"},
		{"search-deep", "?q=person&page=1000", "showing 49951–50000"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				r := httptest.NewRequest("GET", "/auth/ui/admin/users"+c.query, nil)
				for _, ck := range cookies {
					r.AddCookie(ck)
				}
				w := httptest.NewRecorder()
				gh.ServeHTTP(w, r)
				if w.Code != 200 || !strings.Contains(w.Body.String(), c.want) {
					b.Fatalf("%s: %d, want 200 with %q:\n%.3000s", c.name, w.Code, c.want, w.Body)
				}
			}
		})
	}
}

// fillUsers writes n active users user000000… into a new SQLite database
// at path, in batches of one write transaction each. Every other user's
// name contains "Person" (a search that matches half of them).
func fillUsers(b *testing.B, path string, n int) {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	const batch = 5000
	for from := 0; from < n; from += batch {
		users := make([]*gatehouse.User, 0, batch)
		for i := from; i < min(from+batch, n); i++ {
			name := fmt.Sprintf("Member %d", i)
			if i%2 == 0 {
				name = fmt.Sprintf("Person %d", i)
			}
			users = append(users, &gatehouse.User{
				ID: gatehouse.NewID(), Username: fmt.Sprintf("user%06d", i), Email: fmt.Sprintf("user%06d@example.com", i),
				Name: name, State: gatehouse.StateActive, SecurityStamp: "s", Groups: []string{}, CreatedAt: now, UpdatedAt: now,
			})
		}
		for _, err := range st.CreateUsers(ctx, users) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// pageLogin logs in with the login page's form and returns the session's
// cookies.
func pageLogin(tb testing.TB, h http.Handler, username, pw string) []*http.Cookie {
	tb.Helper()
	w := do(h, "POST", "/auth/ui/login", url.Values{"username": {username}, "password": {pw}})
	if w.Code != http.StatusSeeOther {
		tb.Fatalf("login: %d %s", w.Code, w.Body)
	}
	return w.Result().Cookies()
}

// BenchmarkAdminUsersStore is the store's part of
// BenchmarkAdminUsersPage: ListUsers over the same 100,000 users, with
// the page's filters (the count and the page in one read transaction).
// "past-end" pages beyond the last user: the count and the offset's walk,
// no row.
//
//	go test -run='^$' -bench=AdminUsersStore -benchtime=20x ./web/
func BenchmarkAdminUsersStore(b *testing.B) {
	dir := b.TempDir()
	p := filepath.Join(dir, "gatehouse.db")
	fillUsers(b, p, benchUsers)
	st, err := sqlite.Open(context.Background(), p)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for _, c := range []struct {
		name string
		f    gatehouse.UserFilter
	}{
		{"first", gatehouse.UserFilter{Limit: 50}},
		{"last", gatehouse.UserFilter{Offset: 99950, Limit: 50}},
		{"past-end", gatehouse.UserFilter{Offset: 200000, Limit: 50}},
		{"search", gatehouse.UserFilter{Search: "user0420", Limit: 50}},
		{"search-nomatch", gatehouse.UserFilter{Search: "zzzz", Limit: 50}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := st.ListUsers(context.Background(), c.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
