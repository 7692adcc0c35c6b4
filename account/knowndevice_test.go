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

// TestKnownDeviceSecret: a known-device token is trusted by every service
// with the same secret (another process, a restart), and by no other —
// nor by a service without a secret, whose key is random.
func TestKnownDeviceSecret(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clk := &clock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	sm := session.NewManager(store, session.DefaultConfig, clk.Now, nil)
	svc := func(secret string) *account.Service {
		cfg := account.DefaultConfig
		cfg.KnownDeviceSecret = []byte(secret)
		return account.New(account.StoresOf(store), password.NewHasher(cheap, 0, 0), sm, cfg, clk.Now, nil, nil)
	}
	first := svc("the secret in secrets.key")
	const pw = "a long enough password"
	if _, err := first.CreateUser(ctx, account.NewUser{Username: "owner", Email: "owner@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}
	res, err := first.Login(ctx, account.LoginRequest{Username: "owner", Password: pw, Client: account.Client{Addr: "192.0.2.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.KnownDeviceToken == "" || !res.KnownDeviceExpiresAt.Equal(clk.Now().Add(account.KnownDeviceTTL)) {
		t.Fatalf("known device = %q until %v, want a token for %v", res.KnownDeviceToken, res.KnownDeviceExpiresAt, account.KnownDeviceTTL)
	}
	// Spend the name's untrusted budget.
	for range 5 {
		first.Login(ctx, account.LoginRequest{Username: "owner", Password: "guess", Client: account.Client{Addr: "203.0.113.9"}})
	}
	for _, tt := range []struct {
		name   string
		svc    *account.Service
		wantOK bool
	}{
		{"same service", first, true},
		{"same secret", svc("the secret in secrets.key"), true},
		{"other secret", svc("another secret"), false},
		{"no secret", svc(""), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.svc.Login(ctx, account.LoginRequest{Username: "owner", Password: pw, KnownDevice: res.KnownDeviceToken, Client: account.Client{Addr: "192.0.2.1"}})
			if tt.wantOK && err != nil {
				t.Errorf("login with the known device: %v, want success", err)
			}
			if !tt.wantOK && code(err) != gatehouse.CodeTooManyAttempts {
				t.Errorf("login with a token of another key: %v, want %s", err, gatehouse.CodeTooManyAttempts)
			}
		})
	}
}

// TestBasicThrottleRevealsNoAccount: Basic auth counts per submitted name
// too, so a wait on an email address does not show on the username.
func TestBasicThrottleRevealsNoAccount(t *testing.T) {
	svc, _, _ := newService(t)
	ctx := context.Background()
	const pw = "a long enough password"
	if _, err := svc.CreateUser(ctx, account.NewUser{Username: "dora", Email: "dora@example.test", Password: pw}); err != nil {
		t.Fatal(err)
	}
	client := account.Client{Addr: "203.0.113.5"}
	for range 5 {
		if _, err := svc.AuthenticateBasic(ctx, "dora@example.test", "wrong", client); code(err) != gatehouse.CodeInvalidCredentials {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if _, err := svc.AuthenticateBasic(ctx, "dora@example.test", pw, client); code(err) != gatehouse.CodeTooManyAttempts {
		t.Errorf("the waiting name: %v, want %s", err, gatehouse.CodeTooManyAttempts)
	}
	for _, name := range []string{"dora", "nadia"} {
		if _, err := svc.AuthenticateBasic(ctx, name, "wrong", client); code(err) != gatehouse.CodeInvalidCredentials {
			t.Errorf("%s after failures as dora's email: %v, want %s", name, err, gatehouse.CodeInvalidCredentials)
		}
	}
}
