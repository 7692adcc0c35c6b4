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

// beforeFirstUpdate is a UserStore that runs hook once, just before the
// first UpdateUser reaches the store: another process's change landing
// between a use case's read of a user and its write.
type beforeFirstUpdate struct {
	gatehouse.UserStore
	once sync.Once
	hook func()
}

func (s *beforeFirstUpdate) UpdateUser(ctx context.Context, u *gatehouse.User) error {
	s.once.Do(s.hook)
	return s.UserStore.UpdateUser(ctx, u)
}

// TestDisableLandsDuringPasswordChange: an administrator's process
// disables a user while the user's own process is changing their
// password, between its read of the user and its write. The password
// change loses the compare-and-swap, reads the user again and changes the
// password of the user as stored: the user stays disabled.
func TestDisableLandsDuringPasswordChange(t *testing.T) {
	admin, store, clk := newService(t)
	ctx := context.Background()
	u, err := admin.CreateUser(ctx, account.NewUser{Username: "dora", Email: "dora@example.com", Password: casPassword})
	if err != nil {
		t.Fatal(err)
	}
	stores := account.StoresOf(store)
	disabled := false
	stores.Users = &beforeFirstUpdate{UserStore: store, hook: func() {
		if _, err := admin.DisableUser(ctx, account.Actor{}, u.ID); err != nil {
			t.Errorf("DisableUser: %v", err)
		}
		disabled = true
	}}
	own := account.New(stores, password.NewHasher(cheap, 0, 0),
		session.NewManager(store, session.DefaultConfig, clk.Now, nil), account.DefaultConfig, clk.Now, nil, nil)

	err = own.ChangePassword(ctx, account.ChangePasswordRequest{User: u, CurrentPassword: casPassword, NewPassword: "quartz lantern velvet orbit 42"})
	if err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if !disabled {
		t.Fatal("the disable did not run between the read and the write")
	}
	got, err := store.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != gatehouse.StateDisabled {
		t.Errorf("state after the race = %q, want disabled", got.State)
	}
	if got.PasswordHash == u.PasswordHash {
		t.Error("the password change did not land after reading the user again")
	}
}

// TestDisableRacesPasswordChange: two Services on one store stand for two
// gatehouse processes. For several users, a disable on one races a
// password change on the other: every disable succeeds, and every user
// ends up disabled, whatever order the writes took.
func TestDisableRacesPasswordChange(t *testing.T) {
	a, store, clk := newService(t)
	b := account.New(account.StoresOf(store), password.NewHasher(cheap, 0, 0),
		session.NewManager(store, session.DefaultConfig, clk.Now, nil), account.DefaultConfig, clk.Now, nil, nil)
	ctx := context.Background()
	const n = 8
	users := make([]*gatehouse.User, n)
	for i := range n {
		u, err := a.CreateUser(ctx, account.NewUser{Username: "racer" + string(rune('a'+i)), Email: "racer" + string(rune('a'+i)) + "@example.com", Password: casPassword})
		if err != nil {
			t.Fatal(err)
		}
		users[i] = u
	}
	disableErrs, changeErrs := make([]error, n), make([]error, n)
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() { _, disableErrs[i] = a.DisableUser(ctx, account.Actor{}, u.ID) })
		wg.Go(func() {
			changeErrs[i] = b.ChangePassword(ctx, account.ChangePasswordRequest{User: u, CurrentPassword: casPassword, NewPassword: "quartz lantern velvet orbit 42"})
		})
	}
	wg.Wait()
	for i, u := range users {
		if disableErrs[i] != nil {
			t.Errorf("DisableUser(%s): %v", u.Username, disableErrs[i])
		}
		// A change that lost every race is a conflict, never anything else.
		if err := changeErrs[i]; err != nil && code(err) != gatehouse.CodeConflict {
			t.Errorf("ChangePassword(%s): %v, want success or a conflict", u.Username, err)
		}
		got, err := store.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != gatehouse.StateDisabled {
			t.Errorf("%s after the race: state %q, want disabled", u.Username, got.State)
		}
	}
}
