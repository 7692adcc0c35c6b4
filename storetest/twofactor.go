package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// hashOf returns the SHA-256 of s, as the server hashes recovery codes and
// cookie secrets.
func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// newTwoFactor returns settings of userID with every field set: a confirmed
// and a pending TOTP key, a phone and the recovery codes named, given in
// an order that is not their hashes' order.
func newTwoFactor(userID string, codes ...string) *gatehouse.TwoFactor {
	tf := &gatehouse.TwoFactor{
		UserID:       userID,
		TOTPSecret:   []byte("sealed secret of " + userID),
		TOTPPending:  []byte("sealed pending secret of " + userID),
		TOTPLastStep: 58_000_000,
		Phone:        "+15555550123",
		UpdatedAt:    base,
	}
	for _, c := range codes {
		tf.RecoveryCodes = append(tf.RecoveryCodes, hashOf(c))
	}
	slices.SortFunc(tf.RecoveryCodes, func(a, b []byte) int { return -bytes.Compare(a, b) })
	return tf
}

// sortedCodes returns a copy of tf with its recovery codes sorted as
// TwoFactor returns them, and without its Version, which wantTwoFactor
// does not compare.
func sortedCodes(tf *gatehouse.TwoFactor) *gatehouse.TwoFactor {
	c := *tf
	c.RecoveryCodes = slices.Clone(tf.RecoveryCodes)
	slices.SortFunc(c.RecoveryCodes, bytes.Compare)
	c.Version = 0
	return &c
}

// readTwoFactor returns the settings of userID or fails t.
func readTwoFactor(t *testing.T, s gatehouse.TwoFactorStore, userID string) *gatehouse.TwoFactor {
	t.Helper()
	tf, err := s.TwoFactor(t.Context(), userID)
	if err != nil {
		t.Fatalf("TwoFactor: %v", err)
	}
	return tf
}

// putTwoFactor stores tf or fails t.
func putTwoFactor(t *testing.T, s gatehouse.TwoFactorStore, tf *gatehouse.TwoFactor) *gatehouse.TwoFactor {
	t.Helper()
	if err := s.PutTwoFactor(t.Context(), tf); err != nil {
		t.Fatalf("PutTwoFactor: %v", err)
	}
	return tf
}

// wantTwoFactor fails t unless TwoFactor returns want, its recovery codes
// sorted byte-wise, whatever its Version, which must not be 0.
func wantTwoFactor(t *testing.T, s gatehouse.TwoFactorStore, want *gatehouse.TwoFactor) {
	t.Helper()
	got := readTwoFactor(t, s, want.UserID)
	if got.Version == 0 {
		t.Errorf("TwoFactor: Version of stored settings = 0, want a version")
	}
	if d := diff(sortedCodes(want), sortedCodes(got)); d != "" {
		t.Errorf("TwoFactor mismatch (-want +got):\n%s", d)
	}
	if !slices.IsSortedFunc(got.RecoveryCodes, bytes.Compare) {
		t.Errorf("TwoFactor: RecoveryCodes are not sorted byte-wise")
	}
	for name, b := range map[string][]byte{"TOTPSecret": got.TOTPSecret, "TOTPPending": got.TOTPPending} {
		if b != nil && len(b) == 0 {
			t.Errorf("TwoFactor: %s is empty but not nil", name)
		}
	}
	if got.RecoveryCodes != nil && len(got.RecoveryCodes) == 0 {
		t.Errorf("TwoFactor: RecoveryCodes is empty but not nil")
	}
	wantUTC(t, "UpdatedAt", got.UpdatedAt)
}

// wantNoTwoFactor fails t unless userID has no settings.
func wantNoTwoFactor(t *testing.T, s gatehouse.TwoFactorStore, userID string) {
	t.Helper()
	_, err := s.TwoFactor(t.Context(), userID)
	wantNotFound(t, err)
}

// TwoFactorStores are the stores RunTwoFactor checks: the second-factor
// settings, and the users they belong to, which may live in another store.
type TwoFactorStores struct {
	gatehouse.TwoFactorStore
	// UserStore holds the settings' users; the suite creates and deletes
	// users with it.
	gatehouse.UserStore
}

// RunTwoFactor checks a gatehouse.TwoFactorStore. newStores must return
// new, empty, migrated stores on every call. Besides its doc comments,
// it holds stores to these rules:
//
//   - TwoFactor returns RecoveryCodes sorted byte-wise (bytes.Compare), and
//     nil when there are none; an empty TOTPSecret or TOTPPending comes
//     back nil; so "empty" has one form, whether stored nil or empty.
//   - PutTwoFactor for a user that does not exist is ErrNotFound, like
//     CreateSession; recovery codes with an empty hash, or the same hash
//     twice, are CodeValidation and store nothing.
//   - UseTOTPStep and UseRecoveryCode for a user without settings are
//     ErrNotFound, and change nothing but the step or the code.
//   - DeleteUser removes the user's settings and recovery codes; a new
//     user with the old id inherits none of them.
//   - PutTwoFactor is a compare-and-swap on Version: of writers that read
//     the same settings, from any number of processes, exactly one writes
//     them back; every use of a code changes the Version, so settings read
//     before it are never written back over it; settings deleted and
//     created again never take up a version read before.
func RunTwoFactor(t *testing.T, newStores func(t *testing.T) TwoFactorStores) {
	// setup returns stores with the users alice and bob.
	setup := func(t *testing.T) (TwoFactorStores, *gatehouse.User, *gatehouse.User) {
		s := newStores(t)
		return s, createUser(t, s, newUser("alice")), createUser(t, s, newUser("bob"))
	}

	t.Run("TwoFactorMissing", func(t *testing.T) {
		s, alice, _ := setup(t)
		wantNoTwoFactor(t, s, alice.ID)
		wantNoTwoFactor(t, s, gatehouse.NewID())
		wantNoTwoFactor(t, s, "")
	})

	t.Run("PutAndTwoFactor", func(t *testing.T) {
		s, alice, bob := setup(t)
		tf := putTwoFactor(t, s, newTwoFactor(alice.ID, "code1", "code2", "code3", "code4", "code5"))
		wantTwoFactor(t, s, tf)
		got, err := s.TwoFactor(t.Context(), alice.ID)
		check(t, err)
		if !got.Enabled() {
			t.Error("Enabled() of settings with a TOTP secret = false, want true")
		}
		if len(got.RecoveryCodes) != 5 {
			t.Errorf("TwoFactor returned %d recovery codes, want 5", len(got.RecoveryCodes))
		}
		wantNoTwoFactor(t, s, bob.ID)

		// An enrolment not yet confirmed, with nothing else, in another
		// zone; empty slices come back nil.
		pending := &gatehouse.TwoFactor{
			UserID:        bob.ID,
			TOTPSecret:    []byte{},
			TOTPPending:   []byte("sealed"),
			RecoveryCodes: [][]byte{},
			UpdatedAt:     base.Add(time.Hour).In(time.FixedZone("UTC+9", 9*3600)),
		}
		putTwoFactor(t, s, pending)
		wantTwoFactor(t, s, pending)
		got, err = s.TwoFactor(t.Context(), bob.ID)
		check(t, err)
		if got.TOTPSecret != nil || got.RecoveryCodes != nil || got.Phone != "" || got.TOTPLastStep != 0 {
			t.Errorf("TwoFactor of bare settings = %+v, want nil TOTPSecret and RecoveryCodes, no phone, step 0", got)
		}
		if got.Enabled() {
			t.Error("Enabled() of settings without a TOTP secret = true, want false")
		}
		wantTwoFactor(t, s, tf)

		// Hashes of other lengths, sharing prefixes, sort byte-wise.
		odd := newTwoFactor(alice.ID)
		odd.RecoveryCodes = [][]byte{{2}, {1, 0xff}, {1}, {0xff}, {1, 0}, {0, 0, 0}}
		odd.Version = readTwoFactor(t, s, alice.ID).Version
		putTwoFactor(t, s, odd)
		got, err = s.TwoFactor(t.Context(), alice.ID)
		check(t, err)
		want := [][]byte{{0, 0, 0}, {1}, {1, 0}, {1, 0xff}, {2}, {0xff}}
		if d := diff(want, got.RecoveryCodes); d != "" {
			t.Errorf("RecoveryCodes not sorted byte-wise (-want +got):\n%s", d)
		}
	})

	t.Run("PutTwoFactorReplaces", func(t *testing.T) {
		s, alice, bob := setup(t)
		putTwoFactor(t, s, newTwoFactor(alice.ID, "old1", "old2", "shared"))
		b := putTwoFactor(t, s, newTwoFactor(bob.ID, "bob1"))

		next := newTwoFactor(alice.ID, "shared", "new1")
		next.TOTPSecret, next.TOTPPending = []byte("another sealed secret"), nil
		next.TOTPLastStep = 12
		next.Phone = ""
		next.UpdatedAt = base.Add(time.Hour)
		next.Version = readTwoFactor(t, s, alice.ID).Version
		putTwoFactor(t, s, next)
		wantTwoFactor(t, s, next)
		wantNotFound(t, s.UseRecoveryCode(t.Context(), alice.ID, hashOf("old1")))
		check(t, s.UseRecoveryCode(t.Context(), alice.ID, hashOf("new1")))
		wantTwoFactor(t, s, b)

		// Replacing with no codes leaves none.
		none := newTwoFactor(alice.ID)
		none.Version = readTwoFactor(t, s, alice.ID).Version
		putTwoFactor(t, s, none)
		wantTwoFactor(t, s, none)
		got, err := s.TwoFactor(t.Context(), alice.ID)
		check(t, err)
		if got.RecoveryCodes != nil {
			t.Errorf("RecoveryCodes after replacing with none = %x, want nil", got.RecoveryCodes)
		}
		wantNotFound(t, s.UseRecoveryCode(t.Context(), alice.ID, hashOf("shared")))
		wantTwoFactor(t, s, b)
	})

	t.Run("PutTwoFactorMissingUser", func(t *testing.T) {
		s, alice, _ := setup(t)
		orphan := newTwoFactor(gatehouse.NewID(), "code")
		wantNotFound(t, s.PutTwoFactor(t.Context(), orphan))
		wantNoTwoFactor(t, s, orphan.UserID)
		wantNotFound(t, s.UseRecoveryCode(t.Context(), orphan.UserID, hashOf("code")))

		check(t, s.DeleteUser(t.Context(), alice.ID))
		wantNotFound(t, s.PutTwoFactor(t.Context(), newTwoFactor(alice.ID, "code")))
		wantNoTwoFactor(t, s, alice.ID)
	})

	t.Run("PutTwoFactorInvalidCodes", func(t *testing.T) {
		s, alice, bob := setup(t)
		tf := putTwoFactor(t, s, newTwoFactor(alice.ID, "code1", "code2"))
		for _, codes := range [][][]byte{
			{hashOf("a"), hashOf("b"), hashOf("a")},
			{hashOf("a"), nil},
			{{}},
		} {
			bad := newTwoFactor(alice.ID)
			bad.TOTPLastStep, bad.RecoveryCodes = 1, codes
			wantCode(t, s.PutTwoFactor(t.Context(), bad), gatehouse.CodeValidation)
			bad.UserID = bob.ID
			wantCode(t, s.PutTwoFactor(t.Context(), bad), gatehouse.CodeValidation)
		}
		wantTwoFactor(t, s, tf)
		wantNoTwoFactor(t, s, bob.ID)
	})

	t.Run("DeleteTwoFactor", func(t *testing.T) {
		s, alice, bob := setup(t)
		putTwoFactor(t, s, newTwoFactor(alice.ID, "code1", "code2"))
		b := putTwoFactor(t, s, newTwoFactor(bob.ID, "code1"))
		check(t, s.DeleteTwoFactor(t.Context(), alice.ID))
		wantNoTwoFactor(t, s, alice.ID)
		wantNotFound(t, s.UseRecoveryCode(t.Context(), alice.ID, hashOf("code1")))
		wantNotFound(t, s.UseTOTPStep(t.Context(), alice.ID, 60_000_000))
		wantTwoFactor(t, s, b)
		wantUser(t, s, alice)

		if err := s.DeleteTwoFactor(t.Context(), alice.ID); err != nil {
			t.Errorf("DeleteTwoFactor(deleted) = %v, want nil", err)
		}
		if err := s.DeleteTwoFactor(t.Context(), gatehouse.NewID()); err != nil {
			t.Errorf("DeleteTwoFactor(unknown user) = %v, want nil", err)
		}

		// New settings do not bring the old codes back.
		again := newTwoFactor(alice.ID)
		again.TOTPLastStep = 0
		putTwoFactor(t, s, again)
		wantTwoFactor(t, s, again)
		wantNotFound(t, s.UseRecoveryCode(t.Context(), alice.ID, hashOf("code2")))
		wantTwoFactor(t, s, b)
	})

	t.Run("UseTOTPStep", func(t *testing.T) {
		s, alice, bob := setup(t)
		tf := putTwoFactor(t, s, newTwoFactor(alice.ID, "code"))
		b := putTwoFactor(t, s, newTwoFactor(bob.ID))
		last := tf.TOTPLastStep
		for _, step := range []int64{last - 1, last, 0, -1} {
			wantCode(t, s.UseTOTPStep(t.Context(), alice.ID, step), gatehouse.CodeConflict)
		}
		wantTwoFactor(t, s, tf)

		check(t, s.UseTOTPStep(t.Context(), alice.ID, last+1))
		want := *tf
		want.TOTPLastStep = last + 1
		wantTwoFactor(t, s, &want)
		// The step just used is a replay; a later one is not, even far later.
		wantCode(t, s.UseTOTPStep(t.Context(), alice.ID, last+1), gatehouse.CodeConflict)
		check(t, s.UseTOTPStep(t.Context(), alice.ID, last+100))
		want.TOTPLastStep = last + 100
		wantTwoFactor(t, s, &want)
		wantCode(t, s.UseTOTPStep(t.Context(), alice.ID, last+2), gatehouse.CodeConflict)
		wantTwoFactor(t, s, &want)
		wantTwoFactor(t, s, b)

		// From a fresh row's step 0.
		fresh := newTwoFactor(bob.ID)
		fresh.TOTPLastStep = 0
		fresh.Version = b.Version
		putTwoFactor(t, s, fresh)
		wantCode(t, s.UseTOTPStep(t.Context(), bob.ID, 0), gatehouse.CodeConflict)
		check(t, s.UseTOTPStep(t.Context(), bob.ID, 1))

		wantNotFound(t, s.UseTOTPStep(t.Context(), gatehouse.NewID(), last+200))
		carol := createUser(t, s, newUser("carol"))
		wantNotFound(t, s.UseTOTPStep(t.Context(), carol.ID, last+200))
		wantNoTwoFactor(t, s, carol.ID)
	})

	t.Run("UseTOTPStepConcurrentSameStep", func(t *testing.T) {
		s, alice, _ := setup(t)
		tf := putTwoFactor(t, s, newTwoFactor(alice.ID))
		step := tf.TOTPLastStep + 1
		const n = 20
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = s.UseTOTPStep(context.WithoutCancel(t.Context()), alice.ID, step) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			wantCode(t, err, gatehouse.CodeConflict)
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent uses of one step succeeded, want exactly 1", ok, n)
		}
		want := *tf
		want.TOTPLastStep = step
		wantTwoFactor(t, s, &want)
	})

	t.Run("UseTOTPStepConcurrentSteps", func(t *testing.T) {
		// Of concurrent uses of different steps, the latest always succeeds
		// and is what stays; the others fail as replays or succeed.
		s, alice, _ := setup(t)
		tf := putTwoFactor(t, s, newTwoFactor(alice.ID))
		const n = 20
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = s.UseTOTPStep(context.WithoutCancel(t.Context()), alice.ID, tf.TOTPLastStep+1+int64(i))
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				wantCode(t, err, gatehouse.CodeConflict)
			}
		}
		if errs[n-1] != nil {
			t.Errorf("the use of the latest step failed: %v", errs[n-1])
		}
		want := *tf
		want.TOTPLastStep = tf.TOTPLastStep + n
		wantTwoFactor(t, s, &want)
	})

	t.Run("UseRecoveryCode", func(t *testing.T) {
		s, alice, bob := setup(t)
		tf := putTwoFactor(t, s, newTwoFactor(alice.ID, "a", "b", "c", "shared"))
		b := putTwoFactor(t, s, newTwoFactor(bob.ID, "bob", "shared"))

		check(t, s.UseRecoveryCode(t.Context(), alice.ID, hashOf("b")))
		want := newTwoFactor(alice.ID, "a", "c", "shared")
		wantTwoFactor(t, s, want)
		// A code is used once.
		wantNotFound(t, s.UseRecoveryCode(t.Context(), alice.ID, hashOf("b")))
		// Another user's code is not one's own, and using one's own copy of
		// a hash another user has leaves theirs.
		wantNotFound(t, s.UseRecoveryCode(t.Context(), alice.ID, hashOf("bob")))
		check(t, s.UseRecoveryCode(t.Context(), alice.ID, hashOf("shared")))
		wantTwoFactor(t, s, b)
		for _, h := range [][]byte{hashOf("z"), hashOf("a")[:16], append(hashOf("a"), 0), nil, {}} {
			wantNotFound(t, s.UseRecoveryCode(t.Context(), alice.ID, h))
		}
		wantNotFound(t, s.UseRecoveryCode(t.Context(), gatehouse.NewID(), hashOf("a")))
		wantNotFound(t, s.UseRecoveryCode(t.Context(), "", hashOf("a")))

		// Using the last code leaves the settings, without codes.
		check(t, s.UseRecoveryCode(t.Context(), alice.ID, hashOf("a")))
		check(t, s.UseRecoveryCode(t.Context(), alice.ID, hashOf("c")))
		none := *tf
		none.RecoveryCodes = nil
		wantTwoFactor(t, s, &none)
		got, err := s.TwoFactor(t.Context(), alice.ID)
		check(t, err)
		if got.RecoveryCodes != nil {
			t.Errorf("RecoveryCodes after using them all = %x, want nil", got.RecoveryCodes)
		}
		wantTwoFactor(t, s, b)
	})

	t.Run("UseRecoveryCodeConcurrent", func(t *testing.T) {
		s, alice, _ := setup(t)
		tf := putTwoFactor(t, s, newTwoFactor(alice.ID, "once", "other"))
		const n = 20
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = s.UseRecoveryCode(context.WithoutCancel(t.Context()), alice.ID, hashOf("once")) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			wantNotFound(t, err)
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent uses of one recovery code succeeded, want exactly 1", ok, n)
		}
		want := *tf
		want.RecoveryCodes = [][]byte{hashOf("other")}
		wantTwoFactor(t, s, &want)
	})

	t.Run("UseRecoveryCodesConcurrent", func(t *testing.T) {
		// Concurrent uses of different codes all succeed.
		s, alice, _ := setup(t)
		const n = 20
		codes := make([]string, n)
		for i := range codes {
			codes[i] = string(rune('A' + i))
		}
		tf := putTwoFactor(t, s, newTwoFactor(alice.ID, codes...))
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = s.UseRecoveryCode(context.WithoutCancel(t.Context()), alice.ID, hashOf(codes[i])) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("UseRecoveryCode(%q) = %v, want nil", codes[i], err)
			}
		}
		want := *tf
		want.RecoveryCodes = nil
		wantTwoFactor(t, s, &want)
	})

	t.Run("PutTwoFactorCompareAndSwap", func(t *testing.T) {
		s, alice, bob := setup(t)
		tf := putTwoFactor(t, s, newTwoFactor(alice.ID, "a", "b"))
		b := putTwoFactor(t, s, newTwoFactor(bob.ID, "bob"))
		if tf.Version == 0 {
			t.Fatal("PutTwoFactor left Version 0, want the new version")
		}
		if got := readTwoFactor(t, s, alice.ID); got.Version != tf.Version {
			t.Errorf("TwoFactor Version = %d, want %d, the version PutTwoFactor set", got.Version, tf.Version)
		}

		// Creating settings that exist is a conflict, and changes nothing.
		again := newTwoFactor(alice.ID, "x")
		wantCode(t, s.PutTwoFactor(t.Context(), again), gatehouse.CodeConflict)
		if again.Version != 0 {
			t.Errorf("a refused PutTwoFactor set Version to %d, want it left 0", again.Version)
		}
		wantTwoFactor(t, s, tf)

		// Writing back what was read succeeds once, with a new version; the
		// version read is then stale.
		read := readTwoFactor(t, s, alice.ID)
		stale := *read
		read.Phone = "+15555550199"
		putTwoFactor(t, s, read)
		if read.Version == stale.Version {
			t.Error("PutTwoFactor kept the version it replaced")
		}
		wantTwoFactor(t, s, read)
		stale.Phone = "+15555550100"
		err := s.PutTwoFactor(t.Context(), &stale)
		wantCode(t, err, gatehouse.CodeConflict)
		if !errors.Is(err, gatehouse.ErrConflict) {
			t.Errorf("a stale PutTwoFactor = %v, want errors.Is ErrConflict", err)
		}
		wantTwoFactor(t, s, read)

		// A use of a code changes the version: settings read before it are
		// not written back over it (the code stays used, the step stays).
		before := readTwoFactor(t, s, alice.ID)
		check(t, s.UseRecoveryCode(t.Context(), alice.ID, hashOf("a")))
		afterCode := readTwoFactor(t, s, alice.ID)
		if afterCode.Version == before.Version {
			t.Error("UseRecoveryCode kept the version")
		}
		before.Phone = ""
		wantCode(t, s.PutTwoFactor(t.Context(), before), gatehouse.CodeConflict)
		wantNotFound(t, s.UseRecoveryCode(t.Context(), alice.ID, hashOf("a")))
		check(t, s.UseTOTPStep(t.Context(), alice.ID, afterCode.TOTPLastStep+1))
		afterStep := readTwoFactor(t, s, alice.ID)
		if afterStep.Version == afterCode.Version {
			t.Error("UseTOTPStep kept the version")
		}
		afterCode.Phone = ""
		wantCode(t, s.PutTwoFactor(t.Context(), afterCode), gatehouse.CodeConflict)
		wantCode(t, s.UseTOTPStep(t.Context(), alice.ID, afterCode.TOTPLastStep+1), gatehouse.CodeConflict)

		// Uses that change nothing keep the version.
		wantNotFound(t, s.UseRecoveryCode(t.Context(), alice.ID, hashOf("a")))
		wantCode(t, s.UseTOTPStep(t.Context(), alice.ID, afterStep.TOTPLastStep), gatehouse.CodeConflict)
		if got := readTwoFactor(t, s, alice.ID); got.Version != afterStep.Version {
			t.Errorf("refused uses changed the version from %d to %d", afterStep.Version, got.Version)
		}
		wantTwoFactor(t, s, afterStep)
		wantTwoFactor(t, s, b)

		// Settings deleted, or deleted and created again, are not those
		// read: a writer that read them before is refused, and does not
		// bring the old secret back.
		check(t, s.DeleteTwoFactor(t.Context(), alice.ID))
		old := *afterStep
		wantCode(t, s.PutTwoFactor(t.Context(), &old), gatehouse.CodeConflict)
		wantNoTwoFactor(t, s, alice.ID)
		fresh := putTwoFactor(t, s, &gatehouse.TwoFactor{UserID: alice.ID, TOTPPending: []byte("new pending"), UpdatedAt: base})
		wantCode(t, s.PutTwoFactor(t.Context(), &old), gatehouse.CodeConflict)
		wantTwoFactor(t, s, fresh)

		// Settings of a user deleted since they were read: a conflict too
		// (the caller reads again, and finds none).
		read = readTwoFactor(t, s, bob.ID)
		check(t, s.DeleteUser(t.Context(), bob.ID))
		wantCode(t, s.PutTwoFactor(t.Context(), read), gatehouse.CodeConflict)
		wantNoTwoFactor(t, s, bob.ID)
	})

	t.Run("PutTwoFactorConcurrent", func(t *testing.T) {
		// Writers that read the same settings race to write them back:
		// exactly one wins, and what is stored is the winner's.
		s, alice, _ := setup(t)
		putTwoFactor(t, s, newTwoFactor(alice.ID, "code"))
		read := readTwoFactor(t, s, alice.ID)
		const n = 20
		writes := make([]*gatehouse.TwoFactor, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			w := *read
			w.Phone = "+1555555" + string(rune('1'+i/10)) + string(rune('0'+i%10)) + "00"
			writes[i] = &w
			wg.Go(func() { errs[i] = s.PutTwoFactor(context.WithoutCancel(t.Context()), writes[i]) })
		}
		wg.Wait()
		var winner *gatehouse.TwoFactor
		for i, err := range errs {
			if err == nil {
				if winner != nil {
					t.Errorf("two writers of the same version succeeded: %q and %q", winner.Phone, writes[i].Phone)
				}
				winner = writes[i]
				continue
			}
			wantCode(t, err, gatehouse.CodeConflict)
		}
		if winner == nil {
			t.Fatalf("none of %d writers of the version read succeeded", n)
		}
		wantTwoFactor(t, s, winner)
		if got := readTwoFactor(t, s, alice.ID); got.Version != winner.Version {
			t.Errorf("stored Version = %d, want the winner's %d", got.Version, winner.Version)
		}
	})

	t.Run("UseRecoveryCodeRacingPut", func(t *testing.T) {
		// Uses of a recovery code race with writers of settings read while
		// the code was unused: the code is used exactly once, and no writer
		// brings it back.
		s, alice, _ := setup(t)
		putTwoFactor(t, s, newTwoFactor(alice.ID, "once", "other"))
		read := readTwoFactor(t, s, alice.ID)
		const n = 20
		useErrs := make([]error, n)
		putErrs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			w := *read
			w.Phone = ""
			wg.Go(func() { putErrs[i] = s.PutTwoFactor(context.WithoutCancel(t.Context()), &w) })
			wg.Go(func() { useErrs[i] = s.UseRecoveryCode(context.WithoutCancel(t.Context()), alice.ID, hashOf("once")) })
		}
		wg.Wait()
		used, put := 0, 0
		for i := range n {
			if useErrs[i] == nil {
				used++
			} else {
				wantNotFound(t, useErrs[i])
			}
			if putErrs[i] == nil {
				put++
			} else {
				wantCode(t, putErrs[i], gatehouse.CodeConflict)
			}
		}
		if used != 1 || put > 1 {
			t.Errorf("%d uses of one recovery code and %d writes of one version succeeded, want 1 and at most 1", used, put)
		}
		wantNotFound(t, s.UseRecoveryCode(t.Context(), alice.ID, hashOf("once")))
		if got := readTwoFactor(t, s, alice.ID); len(got.RecoveryCodes) != 1 || !bytes.Equal(got.RecoveryCodes[0], hashOf("other")) {
			t.Errorf("recovery codes after the race = %x, want only the other one", got.RecoveryCodes)
		}
	})

	t.Run("DeleteUserDeletesTwoFactor", func(t *testing.T) {
		s, alice, bob := setup(t)
		putTwoFactor(t, s, newTwoFactor(alice.ID, "a1", "a2"))
		b := putTwoFactor(t, s, newTwoFactor(bob.ID, "a1"))

		check(t, s.DeleteUser(t.Context(), alice.ID))
		wantNoTwoFactor(t, s, alice.ID)
		wantNotFound(t, s.UseRecoveryCode(t.Context(), alice.ID, hashOf("a1")))
		wantNotFound(t, s.UseTOTPStep(t.Context(), alice.ID, 60_000_000))
		wantTwoFactor(t, s, b)

		// A new user with the old id inherits nothing.
		again := newUser("alice")
		again.ID = alice.ID
		createUser(t, s, again)
		wantNoTwoFactor(t, s, alice.ID)
		fresh := newTwoFactor(alice.ID)
		putTwoFactor(t, s, fresh)
		wantTwoFactor(t, s, fresh)
		wantNotFound(t, s.UseRecoveryCode(t.Context(), alice.ID, hashOf("a2")))
	})
}
