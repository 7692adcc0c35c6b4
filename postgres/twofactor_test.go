package postgres_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/storetest"
)

func TestTwoFactor(t *testing.T) {
	storetest.RunTwoFactor(t, func(t *testing.T) storetest.TwoFactorStores {
		s := open(t)
		return storetest.TwoFactorStores{TwoFactorStore: s, UserStore: s}
	})
}

// testUser creates a user in s.
func testUser(t *testing.T, s gatehouse.UserStore, name string) *gatehouse.User {
	t.Helper()
	now := time.Date(2025, time.March, 14, 15, 0, 0, 0, time.UTC)
	u := &gatehouse.User{ID: gatehouse.NewID(), Username: name, Email: name + "@example.com",
		State: gatehouse.StateActive, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// Processes race to use one recovery code and to write back settings read
// before it was used: the code is used once, and stays used.
func TestRecoveryCodeAcrossProcesses(t *testing.T) {
	db := freshDatabase(t)
	a, b := openAt(t, db), openAt(t, db)
	alice := testUser(t, a, "alice")
	hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	for round := range 10 {
		tf := &gatehouse.TwoFactor{UserID: alice.ID, TOTPSecret: []byte("sealed"),
			RecoveryCodes: [][]byte{hash("once"), hash("other")}, UpdatedAt: time.Now()}
		if err := a.DeleteTwoFactor(t.Context(), alice.ID); err != nil {
			t.Fatal(err)
		}
		if err := a.PutTwoFactor(t.Context(), tf); err != nil {
			t.Fatal(err)
		}
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			uses int
		)
		for i, s := range []*postgres.Store{a, b, a, b} {
			wg.Go(func() {
				err := s.UseRecoveryCode(context.WithoutCancel(t.Context()), alice.ID, hash("once"))
				switch {
				case err == nil:
					mu.Lock()
					uses++
					mu.Unlock()
				case !errors.Is(err, gatehouse.ErrNotFound):
					t.Errorf("round %d: UseRecoveryCode %d: %v", round, i, err)
				}
			})
			stale := *tf
			wg.Go(func() {
				err := s.PutTwoFactor(context.WithoutCancel(t.Context()), &stale)
				if err != nil && !errors.Is(err, gatehouse.ErrConflict) {
					t.Errorf("round %d: PutTwoFactor %d: %v", round, i, err)
				}
			})
		}
		wg.Wait()
		if uses != 1 {
			t.Errorf("round %d: %d uses of one code succeeded, want 1", round, uses)
		}
		got, err := b.TwoFactor(t.Context(), alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.RecoveryCodes) != 1 || string(got.RecoveryCodes[0]) != string(hash("other")) {
			t.Errorf("round %d: recovery codes after the race = %x, want only the other one", round, got.RecoveryCodes)
		}
	}
}

// A phone that is not text is refused with the field named.
func TestTwoFactorPhoneText(t *testing.T) {
	s := open(t)
	alice := testUser(t, s, "alice")
	err := s.PutTwoFactor(t.Context(), &gatehouse.TwoFactor{UserID: alice.ID, Phone: "+1555\x00", UpdatedAt: time.Now()})
	var ge *gatehouse.Error
	if !errors.As(err, &ge) || ge.Code != gatehouse.CodeValidation || ge.Fields["phone"] == "" {
		t.Errorf("PutTwoFactor with a NUL in the phone = %v, want CodeValidation naming phone", err)
	}
	if _, err := s.TwoFactor(t.Context(), alice.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("TwoFactor after the refused write = %v, want ErrNotFound", err)
	}
}
