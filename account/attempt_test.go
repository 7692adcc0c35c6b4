package account_test

import (
	"context"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
)

// TestParallelGuessesSplitAcrossServices: two Services on one store stand
// for two gatehouse processes, which share no lock. Wrong passwords fired
// at both at once get exactly MaxFailures verified before the name waits;
// every other attempt is refused, never verified.
func TestParallelGuessesSplitAcrossServices(t *testing.T) {
	a, store, clk := newService(t)
	b := account.New(account.StoresOf(store), password.NewHasher(cheap, 0, 0),
		session.NewManager(store, session.DefaultConfig, clk.Now, nil), account.DefaultConfig, clk.Now, nil, nil)
	ctx := context.Background()
	if _, err := a.CreateUser(ctx, account.NewUser{Username: "alice", Email: "alice@example.test", Password: "a long enough password"}); err != nil {
		t.Fatal(err)
	}
	const attempts = 24
	codes := make([]gatehouse.Code, attempts)
	var wg sync.WaitGroup
	for i := range attempts {
		svc := a
		if i%2 == 1 {
			svc = b
		}
		wg.Go(func() {
			// Each from its own address, so that only the name's budget
			// (5, before its first wait) can stop them.
			client := account.Client{Addr: "198.51.100." + string(rune('1'+i%9))}
			_, err := svc.Login(ctx, account.LoginRequest{Username: "alice", Password: "a wrong guess", Client: client})
			codes[i] = code(err)
		})
	}
	wg.Wait()
	verified, refused := 0, 0
	for _, c := range codes {
		switch c {
		case gatehouse.CodeInvalidCredentials:
			verified++
		case gatehouse.CodeTooManyAttempts:
			refused++
		default:
			t.Errorf("a parallel wrong guess answered %q", c)
		}
	}
	if want := account.DefaultConfig.UserThrottle.MaxFailures; verified != want || refused != attempts-want {
		t.Errorf("%d parallel guesses across two services: %d verified and %d refused, want %d and %d",
			attempts, verified, refused, want, attempts-want)
	}
	// The right password is refused too while the name waits, on both.
	for _, svc := range []*account.Service{a, b} {
		if _, err := svc.Login(ctx, account.LoginRequest{Username: "alice", Password: "a long enough password", Client: account.Client{Addr: "192.0.2.1"}}); code(err) != gatehouse.CodeTooManyAttempts {
			t.Errorf("the right password while the name waits: %v, want %s", err, gatehouse.CodeTooManyAttempts)
		}
	}
}

// TestParallelRightPasswordsAreNotRefused: a script that sends more Basic
// requests at once than the name's budget, with the right password and a
// cold cache, is let in every time: attempts beyond the budget wait for
// the pending ones instead of being refused, and successes count nothing.
func TestParallelRightPasswordsAreNotRefused(t *testing.T) {
	svc, store, _ := newService(t)
	ctx := context.Background()
	const pw = "a long enough password"
	if _, err := svc.CreateUser(ctx, account.NewUser{Username: "ci", Email: "ci@example.test", Password: pw}); err != nil {
		t.Fatal(err)
	}
	const parallel = 12
	errs := make([]error, parallel)
	var wg sync.WaitGroup
	for i := range parallel {
		wg.Go(func() {
			_, errs[i] = svc.AuthenticateBasic(ctx, "ci", pw, account.Client{Addr: "192.0.2.10"})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d of the script: %v", i, err)
		}
	}
	th, err := store.Throttle(ctx, "login:name:ci")
	if err != nil {
		t.Fatal(err)
	}
	if th.Failures != 0 || th.Pending != 0 || !th.LockedUntil.IsZero() {
		t.Errorf("the name's throttle after %d right passwords: %+v, want no failure, no wait and nothing pending", parallel, th)
	}
}
