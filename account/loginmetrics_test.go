package account_test

import (
	"context"
	"encoding/base32"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/otp"
)

// TestOnLogin: Config.OnLogin hears every login and credential check by
// method and outcome, telling apart what the client is answered alike (a
// disabled account, a wrong password).
func TestOnLogin(t *testing.T) {
	type login struct {
		Method  gatehouse.LoginMethod
		Outcome gatehouse.LoginOutcome
	}
	var got []login
	cfg := account.DefaultConfig
	cfg.OnLogin = func(m gatehouse.LoginMethod, o gatehouse.LoginOutcome) { got = append(got, login{m, o}) }
	svc, _, clk := newServiceWith(t, cfg)
	sealer, err := otp.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc.UseTwoFactor(account.TwoFactorDeps{Sealer: sealer})
	ctx := context.Background()
	client := account.Client{Addr: "192.0.2.7"}
	want := func(step string, w ...login) {
		t.Helper()
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("%s: OnLogin heard (-want +got):\n%s", step, diff)
		}
		got = nil
	}
	pw := func(name, password string) (*account.LoginResult, error) {
		return svc.Login(ctx, account.LoginRequest{Username: name, Password: password, Client: client})
	}

	ann := createUser(t, svc, "ann")
	pw("ann", casPassword)
	pw("ann", "wrong password")
	pw("nobody", "wrong password")
	pw("ann", "")
	want("password", login{"password", "success"}, login{"password", "invalid_credentials"},
		login{"password", "invalid_credentials"}, login{"password", "refused"})

	// A second factor: the password step owes it; a wrong code, then the
	// right one.
	tf := createUser(t, svc, "tom")
	en, err := svc.BeginTOTP(ctx, tf)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(en.Secret)
	if _, err := svc.ConfirmTOTP(ctx, account.Actor{User: tf}, tf, otp.TOTP{Key: key}.At(clk.Now())); err != nil {
		t.Fatal(err)
	}
	got = nil
	res, err := pw("tom", casPassword)
	if err != nil || res.PendingToken == "" {
		t.Fatalf("tom's password step: %v", err)
	}
	svc.VerifyCode(ctx, account.VerifyRequest{Token: res.PendingToken, Provider: "totp", Code: "000000", Client: client})
	clk.Advance(time.Minute) // past the step used to confirm
	if _, err := svc.VerifyCode(ctx, account.VerifyRequest{Token: res.PendingToken, Provider: "totp", Code: otp.TOTP{Key: key}.At(clk.Now()), Client: client}); err != nil {
		t.Fatalf("right code: %v", err)
	}
	want("two-factor", login{"password", "two_factor_required"}, login{"two_factor", "two_factor_failed"}, login{"two_factor", "success"})

	// Basic and API tokens, checked at every request.
	secret, _, err := svc.CreateToken(ctx, account.Actor{User: ann}, ann, account.NewToken{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	svc.AuthenticateBasic(ctx, "ann", casPassword, client)
	svc.AuthenticateBasic(ctx, "ann", "wrong password", client)
	svc.AuthenticateToken(ctx, secret)
	svc.AuthenticateToken(ctx, "gh_not_a_token")
	want("basic and token", login{"basic", "success"}, login{"basic", "invalid_credentials"},
		login{"token", "success"}, login{"token", "invalid_credentials"})

	// A disabled account: answered as a wrong password, counted as what
	// it is; a wrong password for it is still a wrong password.
	if _, err := svc.DisableUser(ctx, account.Actor{}, ann.ID); err != nil {
		t.Fatal(err)
	}
	got = nil
	if _, err := pw("ann", casPassword); gatehouse.ErrorCode(err) != gatehouse.CodeInvalidCredentials {
		t.Fatalf("disabled ann's login: %v, want invalid_credentials", err)
	}
	pw("ann", "wrong password")
	svc.AuthenticateToken(ctx, secret) // disabling revoked it
	want("disabled", login{"password", "disabled"}, login{"password", "invalid_credentials"}, login{"token", "invalid_credentials"})
}
