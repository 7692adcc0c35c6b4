package account_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
)

// TestSweepKeepsGuestThrottle: the sweeper does not forget the count of
// guest sessions of an address while its window (longer than the login
// throttles') still runs, which would let the address past the limit.
func TestSweepKeepsGuestThrottle(t *testing.T) {
	ctx := context.Background()
	cfg := account.DefaultConfig
	cfg.Guest = true
	cfg.GuestThrottle = gatehouse.ThrottleRule{MaxFailures: 2, Window: 24 * time.Hour, Lockout: time.Hour}
	svc, _, clk := newServiceWith(t, cfg)
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
