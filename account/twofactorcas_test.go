package account_test

import (
	"context"
	"encoding/base32"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/otp"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sqlite"
)

const casPassword = "a long enough password"

// newTwoFactorService returns newService's Service with second factors on,
// its store and clock.
func newTwoFactorService(t *testing.T) (*account.Service, *sqlite.Store, *clock, *otp.Sealer) {
	t.Helper()
	svc, store, clk := newService(t)
	sealer, err := otp.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc.UseTwoFactor(account.TwoFactorDeps{Sealer: sealer, SMS: &codeSender{}}) // SetPhone needs SMS
	return svc, store, clk, sealer
}

// enrolTOTP creates user name with a password and TOTP on, through svc,
// and returns them and their recovery codes.
func enrolTOTP(t *testing.T, svc *account.Service, clk *clock, name string) (*gatehouse.User, []string) {
	t.Helper()
	ctx := context.Background()
	u, err := svc.CreateUser(ctx, account.NewUser{Username: name, Email: name + "@example.com", Password: casPassword})
	if err != nil {
		t.Fatal(err)
	}
	en, err := svc.BeginTOTP(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(en.Secret)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := svc.ConfirmTOTP(ctx, account.Actor{User: u}, u, otp.TOTP{Key: key}.At(clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return u, codes
}

// pendingLogin passes the password step of name on svc and returns the
// pending login's cookie secret.
func pendingLogin(t *testing.T, svc *account.Service, name, addr string) string {
	t.Helper()
	res, err := svc.Login(context.Background(), account.LoginRequest{Username: name, Password: casPassword, Client: account.Client{Addr: addr}})
	if err != nil || res.PendingToken == "" {
		t.Fatalf("the password step of %s: %+v, %v; want a pending login", name, res, err)
	}
	return res.PendingToken
}

// TestRecoveryCodeRaceAcrossServices: two Services on one store stand for
// two gatehouse processes, which share no lock. Second steps of several
// pending logins, split across both, race to use one recovery code while
// the user changes their phone on both: exactly one login gets in, the
// code is used up for good (no change of the settings written back over
// its use brings it back), and a phone change lands.
func TestRecoveryCodeRaceAcrossServices(t *testing.T) {
	a, store, clk, sealer := newTwoFactorService(t)
	b := account.New(account.StoresOf(store), password.NewHasher(cheap, 0, 0),
		session.NewManager(store, session.DefaultConfig, clk.Now, nil), account.DefaultConfig, clk.Now, nil, nil)
	b.UseTwoFactor(account.TwoFactorDeps{Sealer: sealer, SMS: &codeSender{}})
	ctx := context.Background()
	u, codes := enrolTOTP(t, a, clk, "tara")

	// Below the account's budget of failures, so that every wrong attempt
	// is answered invalid_code rather than too_many_attempts.
	const logins = 4
	services := []*account.Service{a, b}
	tokens := make([]string, logins)
	for i := range logins {
		tokens[i] = pendingLogin(t, services[i%2], "tara", "198.51.100.1")
	}
	errs := make([]error, logins)
	phoneErrs := make([]error, logins)
	var wg sync.WaitGroup
	for i := range logins {
		svc := services[i%2]
		wg.Go(func() {
			_, errs[i] = svc.VerifyCode(ctx, account.VerifyRequest{Token: tokens[i], Provider: gatehouse.ProviderRecoveryCode,
				Code: codes[0], Client: account.Client{Addr: "198.51.100.1"}})
		})
		wg.Go(func() {
			phoneErrs[i] = services[(i+1)%2].SetPhone(ctx, account.Actor{User: u}, u, "+1555555010"+string(rune('0'+i)), account.Proof{Recent: true})
		})
	}
	wg.Wait()
	in := 0
	for i, err := range errs {
		switch code(err) {
		case "":
			in++
		case gatehouse.CodeInvalidCode:
		default:
			t.Errorf("second step %d with the shared recovery code: %v, want success or %s", i, err, gatehouse.CodeInvalidCode)
		}
	}
	if in != 1 {
		t.Errorf("%d of %d second steps racing with one recovery code got in, want exactly 1", in, logins)
	}
	// A change that lost every try to the others gives up with conflict,
	// asking the user to try again; at least one lands.
	changed := 0
	for i, err := range phoneErrs {
		switch code(err) {
		case "":
			changed++
		case gatehouse.CodeConflict:
		default:
			t.Errorf("phone change %d racing with the second steps: %v", i, err)
		}
	}
	if changed == 0 {
		t.Errorf("none of %d phone changes racing with the second steps landed", logins)
	}

	st, err := b.TwoFactorStatusOf(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if st.RecoveryCodesRemaining != len(codes)-1 {
		t.Errorf("recovery codes remaining after one was used = %d, want %d", st.RecoveryCodesRemaining, len(codes)-1)
	}
	if st.Phone == "" {
		t.Error("the phone change was lost")
	}
	// Another code still works (and its success clears the failures the
	// race counted against the account).
	if _, err := b.VerifyCode(ctx, account.VerifyRequest{Token: pendingLogin(t, b, "tara", "198.51.100.3"),
		Provider: gatehouse.ProviderRecoveryCode, Code: codes[1], Client: account.Client{Addr: "198.51.100.3"}}); err != nil {
		t.Errorf("an unused recovery code: %v", err)
	}
	// The code stays used, on either process.
	for _, svc := range services {
		clk.Advance(time.Second)
		_, err := svc.VerifyCode(ctx, account.VerifyRequest{Token: pendingLogin(t, svc, "tara", "198.51.100.2"),
			Provider: gatehouse.ProviderRecoveryCode, Code: codes[0], Client: account.Client{Addr: "198.51.100.2"}})
		if code(err) != gatehouse.CodeInvalidCode {
			t.Errorf("the used recovery code again: %v, want %s", err, gatehouse.CodeInvalidCode)
		}
	}
}

// interleavedTwoFactor is a TwoFactorStore that runs before, once, just
// before each of the first tries PutTwoFactor calls: what another process
// does between a change's read and its write.
type interleavedTwoFactor struct {
	gatehouse.TwoFactorStore
	tries  int
	before func()
	puts   int
}

func (s *interleavedTwoFactor) PutTwoFactor(ctx context.Context, t *gatehouse.TwoFactor) error {
	s.puts++
	if s.puts <= s.tries {
		s.before()
	}
	return s.TwoFactorStore.PutTwoFactor(ctx, t)
}

// TestTwoFactorChangeRereadsAfterLostRace: a change of second-factor
// settings that loses the race to a use of a recovery code (by another
// process, between its read and its write) reads the settings again and
// decides again: the change lands and the code stays used. One that loses
// every try gives up with conflict and writes nothing.
func TestTwoFactorChangeRereadsAfterLostRace(t *testing.T) {
	_, store, clk, sealer := newTwoFactorService(t)
	stores := account.StoresOf(store)
	inter := &interleavedTwoFactor{TwoFactorStore: store}
	stores.TwoFactor = inter
	svc := account.New(stores, password.NewHasher(cheap, 0, 0),
		session.NewManager(store, session.DefaultConfig, clk.Now, nil), account.DefaultConfig, clk.Now, nil, nil)
	svc.UseTwoFactor(account.TwoFactorDeps{Sealer: sealer, SMS: &codeSender{}})
	ctx := context.Background()
	u, codes := enrolTOTP(t, svc, clk, "tara")

	// One lost race: the other process uses a recovery code.
	used := 0
	inter.puts, inter.tries, inter.before = 0, 1, func() {
		if err := store.UseRecoveryCode(ctx, u.ID, otp.HashRecoveryCode(otp.NormalizeRecoveryCode(codes[used]))); err != nil {
			t.Errorf("the other process's use of a recovery code: %v", err)
		}
		used++
	}
	if err := svc.SetPhone(ctx, account.Actor{User: u}, u, "+15555550123", account.Proof{Recent: true}); err != nil {
		t.Fatalf("SetPhone after a lost race: %v", err)
	}
	if inter.puts != 2 {
		t.Errorf("SetPhone wrote %d times, want 2 (a lost race, then a write of what it read again)", inter.puts)
	}
	st, err := svc.TwoFactorStatusOf(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if st.Phone == "" || st.RecoveryCodesRemaining != len(codes)-1 {
		t.Errorf("after SetPhone lost a race to a recovery code: phone %q, %d codes remaining; want a phone and %d",
			st.Phone, st.RecoveryCodesRemaining, len(codes)-1)
	}
	if err := store.UseRecoveryCode(ctx, u.ID, otp.HashRecoveryCode(otp.NormalizeRecoveryCode(codes[0]))); code(err) != gatehouse.CodeNotFound {
		t.Errorf("the recovery code used during SetPhone, again: %v, want not_found (used up)", err)
	}

	// Every try lost: conflict, and nothing of the change written.
	inter.puts, inter.tries = 0, 1000
	_, err = svc.RegenerateRecoveryCodes(ctx, account.Actor{User: u}, u, account.Proof{Recent: true})
	if code(err) != gatehouse.CodeConflict {
		t.Errorf("RegenerateRecoveryCodes losing every race: %v, want %s", err, gatehouse.CodeConflict)
	}
	if inter.puts < 2 || inter.puts > 5 {
		t.Errorf("RegenerateRecoveryCodes losing every race wrote %d times, want a few tries", inter.puts)
	}
	st, err = svc.TwoFactorStatusOf(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(codes) - used; st.RecoveryCodesRemaining != want {
		t.Errorf("recovery codes after a regeneration that gave up = %d, want %d (the old ones, less those used)", st.RecoveryCodesRemaining, want)
	}
}
