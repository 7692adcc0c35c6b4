package httpapi_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sqlite"
)

// TestLoginFloodGetsRetryAfter sends more concurrent logins than the
// hashing pool takes: the excess waits briefly, then is told to come back
// (503 with Retry-After), and nothing fails with a 500.
func TestLoginFloodGetsRetryAfter(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// One hashing slot, a queue wait far shorter than one hash.
	params := password.Params{Memory: 8 << 10, Time: 4, Threads: 1, SaltLen: 16, KeyLen: 32}
	sm := session.NewManager(store, session.DefaultConfig, time.Now, nil)
	accounts := account.New(account.StoresOf(store), password.NewHasher(params, 1, time.Millisecond), sm, account.DefaultConfig, time.Now, nil, nil)
	if _, err := account.New(account.StoresOf(store), password.NewHasher(params, 0, 0), sm, account.DefaultConfig, time.Now, nil, nil).CreateUser(ctx, account.NewUser{Username: "admin", Email: "a@example.com", Password: adminPassword}); err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(httpapi.Config{}, httpapi.Deps{Accounts: accounts, Sessions: sm})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	codes := make([]int, n)
	retry := make([]string, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Distinct names: logins for one account are serialised on
			// purpose, which would hide the pool's limit.
			r := httptest.NewRequest("POST", "/auth/session", strings.NewReader(`{"username":"user`+strconv.Itoa(i)+`","password":"`+adminPassword+`"}`))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			<-start
			api.ServeHTTP(w, r)
			codes[i], retry[i] = w.Code, w.Header().Get("Retry-After")
		}()
	}
	close(start)
	wg.Wait()
	ok, busy := 0, 0
	for i, c := range codes {
		switch c {
		case 401: // unknown users, answered after a full verification
			ok++
		case 503:
			busy++
			if retry[i] == "" {
				t.Error("503 without Retry-After")
			}
		default:
			t.Errorf("login %d answered %d", i, c)
		}
	}
	if ok == 0 || busy == 0 {
		t.Errorf("%d answered, %d told to retry; want some of each", ok, busy)
	}
}
