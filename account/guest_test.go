package account_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sqlite"
)

// TestSweepKeepsGuestThrottle: the sweeper does not forget the count of
// guest sessions of an address while its window (longer than the login
// throttles') still runs, which would let the address past the limit.
func TestSweepKeepsGuestThrottle(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clk := &clock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	cfg := account.DefaultConfig
	cfg.Guest = true
	cfg.GuestThrottle = gatehouse.ThrottleRule{MaxFailures: 2, Window: 24 * time.Hour, Lockout: time.Hour}
	sm := session.NewManager(store, session.DefaultConfig, clk.Now, nil)
	svc := account.New(store, password.NewHasher(cheap, 0, 0), sm, cfg, clk.Now, nil, nil)
	client := account.Client{Addr: "192.0.2.1"}
	if _, _, err := svc.StartGuest(ctx, client, ""); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if err := svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.StartGuest(ctx, client, ""); code(err) != gatehouse.CodeTooManyAttempts {
		t.Errorf("second guest session within the window after a sweep: %v, want too many attempts", err)
	}
}
