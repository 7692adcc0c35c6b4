package account_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
)

// TestAddressLimitsCountIPv6Networks: one IPv6 host can send from any
// address of its /64, so the per-address login limit counts the /64: the
// failures of 2001:db8:1:2::1 and 2001:db8:1:2::2 add up, while another
// /64 and IPv4 addresses count apart.
func TestAddressLimitsCountIPv6Networks(t *testing.T) {
	ctx := context.Background()
	cfg := account.DefaultConfig
	cfg.AddrThrottle = gatehouse.ThrottleRule{MaxFailures: 4, Window: 15 * time.Minute, Lockout: 15 * time.Minute}
	svc, store, _ := newServiceWith(t, cfg)
	if _, err := svc.CreateUser(ctx, account.NewUser{Username: "ivy", Email: "ivy@example.com", Password: "a long enough password"}); err != nil {
		t.Fatal(err)
	}
	login := func(name, addr string) error {
		_, err := svc.Login(ctx, account.LoginRequest{Username: name, Password: "wrong guess", Client: account.Client{Addr: addr}})
		return err
	}
	// Four failures from four addresses of one /64, each under another
	// name so that no name's own limit is reached.
	for i, addr := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3", "2001:db8:1:2::4"} {
		if err := login("guess"+string(rune('a'+i)), addr); code(err) != gatehouse.CodeInvalidCredentials {
			t.Fatalf("failure %d from %s: %v", i+1, addr, err)
		}
	}
	if err := login("ivy", "2001:db8:1:2::99"); code(err) != gatehouse.CodeTooManyAttempts {
		t.Errorf("another address of the same /64: %v, want too many attempts", err)
	}
	if err := login("ivy", "2001:db8:1:3::1"); code(err) != gatehouse.CodeInvalidCredentials {
		t.Errorf("another /64: %v, want invalid credentials", err)
	}
	if err := login("ivy", "192.0.2.7"); code(err) != gatehouse.CodeInvalidCredentials {
		t.Errorf("an IPv4 address: %v, want invalid credentials", err)
	}

	// Forgot-password requests are limited per network the same way.
	for i := range 3 {
		if err := svc.ForgotPassword(ctx, "nobody@example.com", account.Client{Addr: "2001:db8:7:7::" + string(rune('1'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	svc.WaitBackground()
	if th, _ := store.Throttle(ctx, "forgot:addr:2001:db8:7:7::/64"); th.Failures != 3 {
		t.Errorf("forgot throttle of the /64 = %+v, want 3 failures", th)
	}
}
