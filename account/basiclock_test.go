package account_test

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
)

// TestBasicCacheDoesNotOutlastALock: Basic credentials verified a moment
// ago skip the password hash, but not a wait that began since: otherwise
// every guess during the wait would be tried against the cache, unthrottled
// and uncounted, and the right one let in.
func TestBasicCacheDoesNotOutlastALock(t *testing.T) {
	svc, _, _ := newService(t)
	ctx := context.Background()
	const pw = "a long enough password"
	if _, err := svc.CreateUser(ctx, account.NewUser{Username: "erin", Email: "erin@example.test", Password: pw}); err != nil {
		t.Fatal(err)
	}
	script := account.Client{Addr: "192.0.2.10"}
	if _, err := svc.AuthenticateBasic(ctx, "erin", pw, script); err != nil {
		t.Fatalf("the owner's script: %v", err)
	}
	attacker := account.Client{Addr: "203.0.113.66"}
	for range 5 {
		if _, err := svc.AuthenticateBasic(ctx, "erin", "a wrong guess", attacker); code(err) != gatehouse.CodeInvalidCredentials {
			t.Fatalf("wrong guess: %v", err)
		}
	}
	if _, err := svc.AuthenticateBasic(ctx, "erin", pw, attacker); code(err) != gatehouse.CodeTooManyAttempts {
		t.Errorf("the right guess while the name waits: %v, want %s", err, gatehouse.CodeTooManyAttempts)
	}
}
