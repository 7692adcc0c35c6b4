package account_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sqlite"
)

func openSQLite(t *testing.T, name string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestThrottlesLiveInTheirOwnStore: with Stores.Throttles apart from the
// rest, failed logins are counted there, and only there, and still lock
// the account out.
func TestThrottlesLiveInTheirOwnStore(t *testing.T) {
	ctx := context.Background()
	db, counters := openSQLite(t, "db"), openSQLite(t, "counters")
	stores := account.StoresOf(db)
	stores.Throttles = counters
	clk := &clock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	sm := session.NewManager(db, session.DefaultConfig, clk.Now, nil)
	svc := account.New(stores, password.NewHasher(cheap, 0, 0), sm, account.DefaultConfig, clk.Now, nil, nil)
	const pw = "a long enough password"
	if _, err := svc.CreateUser(ctx, account.NewUser{Username: "alice", Email: "alice@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}
	client := account.Client{Addr: "192.0.2.7"}
	for i := range account.DefaultConfig.UserThrottle.MaxFailures {
		if _, err := svc.Login(ctx, account.LoginRequest{Username: "alice", Password: "wrong password " + fmt.Sprint(i), Client: client}); code(err) != gatehouse.CodeInvalidCredentials {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	if _, err := svc.Login(ctx, account.LoginRequest{Username: "alice", Password: pw, Client: client}); code(err) != gatehouse.CodeTooManyAttempts {
		t.Fatalf("right password after %d failures: %v, want %s", account.DefaultConfig.UserThrottle.MaxFailures, err, gatehouse.CodeTooManyAttempts)
	}
	// A day later every counter is stale: deleting them says where they were.
	later := clk.Now().Add(24 * time.Hour)
	window := account.DefaultConfig.UserThrottle.Window
	if n, err := db.DeleteStaleThrottles(ctx, later, window); err != nil || n != 0 {
		t.Errorf("counters in the main database: %d, %v; want none", n, err)
	}
	if n, err := counters.DeleteStaleThrottles(ctx, later, window); err != nil || n == 0 {
		t.Errorf("counters in Stores.Throttles: %d, %v; want some", n, err)
	}
}

// TestNewNamesAMissingStore: wiring without a required store fails at
// once, naming the field, rather than at the first request that needs it.
func TestNewNamesAMissingStore(t *testing.T) {
	stores := account.StoresOf(openSQLite(t, "db"))
	stores.Devices = nil
	stores.Logins = nil // optional: not what is reported
	defer func() {
		msg := fmt.Sprint(recover())
		if !strings.Contains(msg, "Stores.Devices") {
			t.Errorf("panic %q does not name Stores.Devices", msg)
		}
	}()
	account.New(stores, password.NewHasher(cheap, 0, 0), nil, account.DefaultConfig, time.Now, nil, nil)
	t.Error("New accepted Stores without Devices")
}
