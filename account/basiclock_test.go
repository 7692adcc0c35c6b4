package account_test

import (
	"context"
	"testing"
	"time"

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

// TestBasicCacheFoldsNamesAsTheStore: the Basic cache answers a name only
// as the store would: "admİn" (dotted İ, which lower-cases to "i") is not
// "admin" to the store, so it is not to the cache either.
func TestBasicCacheFoldsNamesAsTheStore(t *testing.T) {
	svc, _, _ := newService(t)
	ctx := context.Background()
	const pw = "a long enough password"
	if _, err := svc.CreateUser(ctx, account.NewUser{Username: "admin", Email: "admin@example.test", Password: pw}); err != nil {
		t.Fatal(err)
	}
	client := account.Client{Addr: "192.0.2.10"}
	if _, err := svc.AuthenticateBasic(ctx, "ADMIN", pw, client); err != nil {
		t.Fatalf("admin: %v", err)
	}
	if _, err := svc.AuthenticateBasic(ctx, "admİn", pw, client); code(err) != gatehouse.CodeInvalidCredentials {
		t.Errorf("admİn: %v, want %s (no such user)", err, gatehouse.CodeInvalidCredentials)
	}
	if _, err := svc.AuthenticateBasic(ctx, "Admin", pw, client); err != nil {
		t.Errorf("Admin, another spelling of admin: %v", err)
	}
}

// TestBasicSuccessForgivesNoGuesses: a script's Basic credentials are
// verified again every minute (when their cache entry ends); were each
// success to forget the name's failures, an attacker would get four
// guesses a minute between them, not the bound of the name's waits.
func TestBasicSuccessForgivesNoGuesses(t *testing.T) {
	svc, _, clk := newService(t)
	ctx := context.Background()
	const pw = "a long enough password"
	if _, err := svc.CreateUser(ctx, account.NewUser{Username: "fred", Email: "fred@example.test", Password: pw}); err != nil {
		t.Fatal(err)
	}
	script, attacker := account.Client{Addr: "192.0.2.10"}, account.Client{Addr: "203.0.113.66"}
	for range 4 {
		if _, err := svc.AuthenticateBasic(ctx, "fred", "a wrong guess", attacker); code(err) != gatehouse.CodeInvalidCredentials {
			t.Fatalf("wrong guess: %v", err)
		}
	}
	clk.Advance(time.Minute)
	if _, err := svc.AuthenticateBasic(ctx, "fred", pw, script); err != nil {
		t.Fatalf("the owner's script: %v", err)
	}
	if _, err := svc.AuthenticateBasic(ctx, "fred", "a fifth guess", attacker); code(err) != gatehouse.CodeInvalidCredentials {
		t.Fatalf("fifth guess: %v", err)
	}
	if _, err := svc.AuthenticateBasic(ctx, "fred", "a sixth guess", attacker); code(err) != gatehouse.CodeTooManyAttempts {
		t.Errorf("sixth guess after the script's success: %v, want %s", err, gatehouse.CodeTooManyAttempts)
	}
}
