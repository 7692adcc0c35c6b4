package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sqlite"
	"github.com/gatehouse/gatehouse/web"
)

// BenchmarkAdminConsolePages: the console's sessions, audit, groups and
// routes pages, server-side, with 100 users each with a session (the
// sessions page lists 50 of them, with their users; the audit log holds
// their 200 events). The issue asks < 5 ms p99; p99-ms reports it:
//
//	go test -run='^$' -bench=AdminConsolePages ./httpapi/
func BenchmarkAdminConsolePages(b *testing.B) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "gatehouse.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	sm := session.NewManager(store, session.DefaultConfig, time.Now, nil)
	accounts := account.New(account.StoresOf(store), password.NewHasher(cheapParams, 0, 0), sm, account.DefaultConfig, time.Now, nil, nil)
	api, err := httpapi.New(httpapi.Config{}, httpapi.Deps{Accounts: accounts, Sessions: sm, Pages: web.Constructor(accounts)})
	if err != nil {
		b.Fatal(err)
	}
	var cookie *http.Cookie
	for i := range 100 {
		name, groups := fmt.Sprintf("user%03d", i), []string(nil)
		if i == 0 {
			name, groups = "admin", []string{gatehouse.GroupAdministrators}
		}
		if _, err := accounts.CreateUser(ctx, account.NewUser{Username: name, Email: name + "@example.com", Password: adminPassword, Groups: groups}); err != nil {
			b.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{"username": name, "password": adminPassword})
		r := httptest.NewRequest("POST", "/auth/session", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("login %s: %d %s", name, w.Code, w.Body)
		}
		if i == 0 {
			for _, c := range w.Result().Cookies() {
				if c.Name == sm.CookieName(false) {
					cookie = c
				}
			}
		}
	}
	for _, path := range []string{"/auth/ui/admin/sessions", "/auth/ui/admin/audit", "/auth/ui/admin/groups", "/auth/ui/admin/routes?method=GET&path=/auth/management/api/v1/users&user=user042"} {
		b.Run(path, func(b *testing.B) {
			r := httptest.NewRequest("GET", path, nil)
			r.RemoteAddr = "192.0.2.10:40000"
			r.Header.Set("Accept", "text/html")
			r.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
			var took []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				start := time.Now()
				api.ServeHTTP(w, r)
				took = append(took, time.Since(start))
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s: %d %.300s", path, w.Code, w.Body)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
