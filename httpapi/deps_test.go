package httpapi_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sqlite"
)

// TestNewChecksDeps: a Server is not built without its services, nor with
// a session manager other than the account service's (the two would
// disagree on the cookie and the timeouts).
func TestNewChecksDeps(t *testing.T) {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sm := session.NewManager(store, session.DefaultConfig, time.Now, nil)
	other := session.NewManager(store, session.DefaultConfig, time.Now, nil)
	accounts := account.New(account.StoresOf(store), password.NewHasher(cheapParams, 0, 0), sm, account.DefaultConfig, time.Now, nil, nil)
	for _, tc := range []struct {
		name string
		deps httpapi.Deps
		want string
	}{
		{"none", httpapi.Deps{}, "required"},
		{"no sessions", httpapi.Deps{Accounts: accounts}, "required"},
		{"no accounts", httpapi.Deps{Sessions: sm}, "required"},
		{"another manager", httpapi.Deps{Accounts: accounts, Sessions: other}, "session manager of Deps.Accounts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := httpapi.New(httpapi.Config{}, tc.deps)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error saying %q", err, tc.want)
			}
		})
	}
	api, err := httpapi.New(httpapi.Config{}, httpapi.Deps{Accounts: accounts, Sessions: sm})
	if err != nil {
		t.Fatalf("New with the required deps: %v", err)
	}
	// Without Deps.Pages there are no pages: their routes answer 404 as
	// problem+json (an API-only server), not a page and not a 500.
	for _, target := range []string{"/auth/ui/login", "/auth/ui/setup?token=x", "/auth/ui/assets/gatehouse.css"} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", target, nil)
		r.Header.Set("Accept", "text/html")
		api.ServeHTTP(w, r)
		if w.Code != 404 || w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s without pages: %d %q", target, w.Code, w.Header().Get("Content-Type"))
		}
	}
}
