package account_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
)

// TestLoginNameKeyIsTheStoresFold: the name a failure counts against is
// folded the way the store compares names, so two accounts the store
// tells apart never share a counter. "admın" (dotless ı) is another
// account than "admin", but ToLower(ToUpper) folds both to "admin": its
// owner could then reset the wait of "admin" by logging in as themself
// between guesses, and a wait of "admin" would refuse them.
func TestLoginNameKeyIsTheStoresFold(t *testing.T) {
	svc, _, _ := newService(t)
	ctx := context.Background()
	const pw = "a long enough password"
	for _, name := range []string{"admin", "admın"} {
		if _, err := svc.CreateUser(ctx, account.NewUser{Username: name, Email: name + "@example.test", Password: pw}); err != nil {
			t.Fatal(err)
		}
	}
	// Use many addresses so that only the name's counter can refuse.
	addr := 0
	guess := func() error {
		addr++
		_, err := svc.Login(ctx, account.LoginRequest{Username: "admin", Password: "a wrong guess", Client: account.Client{Addr: "198.51.100." + strconv.Itoa(addr)}})
		return err
	}
	for range 4 {
		if err := guess(); code(err) != gatehouse.CodeInvalidCredentials {
			t.Fatalf("guess: %v, want %s", err, gatehouse.CodeInvalidCredentials)
		}
	}
	if _, err := svc.Login(ctx, account.LoginRequest{Username: "admın", Password: pw, Client: account.Client{Addr: "203.0.113.7"}}); err != nil {
		t.Fatalf("the other account's own login: %v", err)
	}
	if err := guess(); code(err) != gatehouse.CodeInvalidCredentials {
		t.Fatalf("fifth guess: %v, want %s", err, gatehouse.CodeInvalidCredentials)
	}
	if err := guess(); code(err) != gatehouse.CodeTooManyAttempts {
		t.Errorf("sixth guess after another account's login: %v, want %s (that login must not reset the name's count)", err, gatehouse.CodeTooManyAttempts)
	}
	// And the wait of "admin" is not the other account's.
	if _, err := svc.Login(ctx, account.LoginRequest{Username: "admın", Password: pw, Client: account.Client{Addr: "203.0.113.7"}}); err != nil {
		t.Errorf("the other account's login while admin waits: %v, want success", err)
	}
}
