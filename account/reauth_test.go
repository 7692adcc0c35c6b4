package account_test

import (
	"context"
	"encoding/base32"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/otp"
)

// TestSensitiveChangesNeedProof: the use cases that change a second
// factor or the phone refuse the zero Proof (fail closed, whatever the HTTP
// layer does), accept a recent session or the right password, and check a
// password that is given even when the session is recent.
func TestSensitiveChangesNeedProof(t *testing.T) {
	svc, store, _ := newService(t)
	sealer, err := otp.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc.UseTwoFactor(account.TwoFactorDeps{Sealer: sealer, SMS: &codeSender{}}) // SetPhone needs SMS
	ctx := context.Background()
	const pw = "a long enough password"
	u, err := svc.CreateUser(ctx, account.NewUser{Username: "tara", Email: "tara@example.com", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	a := account.Actor{User: u, Client: account.Client{Addr: "192.0.2.1"}}
	for _, tt := range []struct {
		name  string
		proof account.Proof
		want  gatehouse.Code
	}{
		{"nothing", account.Proof{}, gatehouse.CodeReauthenticationRequired},
		{"wrong password", account.Proof{Password: "wrong"}, gatehouse.CodeInvalidCredentials},
		{"wrong password, recent session", account.Proof{Password: "wrong", Recent: true}, gatehouse.CodeInvalidCredentials},
		{"recent session", account.Proof{Recent: true}, ""},
		{"password", account.Proof{Password: pw}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := svc.SetPhone(ctx, a, u, "+4915123456789", tt.proof)
			if code(err) != tt.want {
				t.Fatalf("SetPhone = %v, want %q", err, tt.want)
			}
			tf, _ := store.TwoFactor(ctx, u.ID)
			if tt.want != "" && tf != nil && tf.Phone != "" {
				t.Errorf("a refused SetPhone set the phone")
			}
			if tt.want != "" {
				return
			}
			if err := svc.SetPhone(ctx, a, u, "", account.Proof{Recent: true}); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := svc.RegenerateRecoveryCodes(ctx, a, u, account.Proof{}); code(err) != gatehouse.CodeReauthenticationRequired {
		t.Errorf("RegenerateRecoveryCodes without proof = %v", err)
	}
	if err := svc.DisableTOTP(ctx, a, u, account.Proof{}); code(err) != gatehouse.CodeReauthenticationRequired {
		t.Errorf("DisableTOTP without proof = %v", err)
	}
}

// TestLoginAndReauthenticate: a login's session proved its password at
// login; re-authenticating rekeys it (the old token stops working) and
// moves the proof to now; a wrong password changes nothing.
func TestLoginAndReauthenticate(t *testing.T) {
	svc, _, clk := newService(t)
	ctx := context.Background()
	const pw = "a long enough password"
	if _, err := svc.CreateUser(ctx, account.NewUser{Username: "tara", Email: "tara@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Login(ctx, account.LoginRequest{Username: "tara", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Session.AuthenticatedAt.Equal(clk.Now()) {
		t.Errorf("AuthenticatedAt after login = %v, want %v", res.Session.AuthenticatedAt, clk.Now())
	}
	clk.Advance(15 * time.Minute)
	u, sess, err := svc.Authenticate(ctx, res.Token)
	if err != nil {
		t.Fatal(err)
	}
	if svc.Sessions().RecentlyAuthenticated(sess) {
		t.Fatal("a 15-minute-old login counts as recent")
	}
	a := account.Actor{User: u}
	if _, _, err := svc.Reauthenticate(ctx, a, sess, account.Reauthentication{Password: "wrong"}); code(err) != gatehouse.CodeInvalidCredentials {
		t.Fatalf("Reauthenticate(wrong) = %v", err)
	}
	if _, _, err := svc.Reauthenticate(ctx, a, sess, account.Reauthentication{Password: ""}); code(err) != gatehouse.CodeValidation {
		t.Fatalf("Reauthenticate(\"\") = %v", err)
	}
	if _, _, err := svc.Authenticate(ctx, res.Token); err != nil {
		t.Fatalf("a failed re-authentication ended the session: %v", err)
	}
	tok, next, err := svc.Reauthenticate(ctx, a, sess, account.Reauthentication{Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	// A new secret and a new public id, recent from now.
	if tok == res.Token || next.ID == sess.ID || !next.AuthenticatedAt.Equal(clk.Now()) || !svc.Sessions().RecentlyAuthenticated(next) {
		t.Errorf("after Reauthenticate: token changed %v, id changed %v, session %+v", tok != res.Token, next.ID != sess.ID, next)
	}
	if _, _, err := svc.Authenticate(ctx, res.Token); code(err) != gatehouse.CodeUnauthenticated {
		t.Errorf("old token after Reauthenticate = %v, want unauthenticated", err)
	}
	if _, got, err := svc.Authenticate(ctx, tok); err != nil || got.ID != next.ID {
		t.Errorf("new token: session %v, %v; want id %q", got, err, next.ID)
	}
	if list, err := svc.UserSessions(ctx, u.ID); err != nil || len(list) != 1 || list[0].ID != next.ID {
		t.Errorf("UserSessions after Reauthenticate = %v, %v; want only %q", list, err, next.ID)
	}
	// The old session, as a caller still holding it would pass it, cannot
	// be rekeyed a second time.
	if _, _, err := svc.Reauthenticate(ctx, a, sess, account.Reauthentication{Password: pw}); code(err) != gatehouse.CodeUnauthenticated {
		t.Errorf("Reauthenticate of the replaced session = %v, want unauthenticated", err)
	}
}

// TestFailedPasswordConfirmationsAudited: a wrong password given to
// confirm a change (the password change, a second factor's) is audited
// like a failed login, not only counted.
func TestFailedPasswordConfirmationsAudited(t *testing.T) {
	svc, _, _ := newService(t)
	sealer, err := otp.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc.UseTwoFactor(account.TwoFactorDeps{Sealer: sealer})
	ctx := context.Background()
	u, err := svc.CreateUser(ctx, account.NewUser{Username: "tara", Email: "tara@example.com", Password: "a long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	a := account.Actor{User: u}
	if err := svc.ChangePassword(ctx, account.ChangePasswordRequest{User: u, CurrentPassword: "wrong", NewPassword: "another long password"}); code(err) != gatehouse.CodeInvalidCredentials {
		t.Fatalf("ChangePassword(wrong) = %v", err)
	}
	if err := svc.SetPhone(ctx, a, u, "", account.Proof{Password: "wrong"}); code(err) != gatehouse.CodeInvalidCredentials {
		t.Fatalf("SetPhone(wrong) = %v", err)
	}
	events, _, err := svc.ListAudit(ctx, gatehouse.AuditFilter{Kind: gatehouse.AuditLoginFailed})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range events {
		if e.TargetID == u.ID && e.Detail["reason"] == "password_confirmation" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d audited password confirmations, want 2: %+v", n, events)
	}
}

// TestReauthenticateWithCode: a user without a password re-authenticates
// with a second factor's code, each TOTP step and recovery code once; a
// user with a password may not (validation, the code not used); the shape
// is exactly one of a password or a provider with its code.
func TestReauthenticateWithCode(t *testing.T) {
	svc, store, clk := newService(t)
	sealer, err := otp.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc.UseTwoFactor(account.TwoFactorDeps{Sealer: sealer})
	ctx := context.Background()
	const pw = "a long enough password"
	// enrolled returns a session of a new user with TOTP on, its key and
	// recovery codes.
	enrolled := func(name string) (account.Actor, *gatehouse.Session, []byte, []string) {
		t.Helper()
		u, err := svc.CreateUser(ctx, account.NewUser{Username: name, Email: name + "@example.com", Password: pw})
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
		res, err := svc.Login(ctx, account.LoginRequest{Username: name, Password: pw})
		if err != nil || res.PendingToken == "" {
			t.Fatalf("login: %+v, %v", res, err)
		}
		clk.Advance(30 * time.Second)
		res, err = svc.VerifyCode(ctx, account.VerifyRequest{Token: res.PendingToken, Provider: gatehouse.ProviderRecoveryCode, Code: codes[9]})
		if err != nil {
			t.Fatal(err)
		}
		return account.Actor{User: u}, res.Session, key, codes
	}

	a, sess, key, codes := enrolled("tara")
	clk.Advance(time.Minute)
	totp := otp.TOTP{Key: key}.At(clk.Now())
	for _, tt := range []struct {
		name string
		r    account.Reauthentication
		want gatehouse.Code
	}{
		{"nothing", account.Reauthentication{}, gatehouse.CodeValidation},
		{"password and code", account.Reauthentication{Password: pw, Provider: gatehouse.ProviderTOTP, Code: totp}, gatehouse.CodeValidation},
		{"password and provider", account.Reauthentication{Password: pw, Provider: gatehouse.ProviderTOTP}, gatehouse.CodeValidation},
		{"provider only", account.Reauthentication{Provider: gatehouse.ProviderTOTP}, gatehouse.CodeValidation},
		{"code only", account.Reauthentication{Code: totp}, gatehouse.CodeValidation},
		{"email", account.Reauthentication{Provider: gatehouse.ProviderEmail, Code: "123456"}, gatehouse.CodeValidation},
		{"sms", account.Reauthentication{Provider: gatehouse.ProviderSMS, Code: "123456"}, gatehouse.CodeValidation},
		{"unknown provider", account.Reauthentication{Provider: "pigeon", Code: "123456"}, gatehouse.CodeValidation},
		// A user who has a password must give it.
		{"totp of a user with a password", account.Reauthentication{Provider: gatehouse.ProviderTOTP, Code: totp}, gatehouse.CodeValidation},
		{"recovery code of a user with a password", account.Reauthentication{Provider: gatehouse.ProviderRecoveryCode, Code: codes[0]}, gatehouse.CodeValidation},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := svc.Reauthenticate(ctx, a, sess, tt.r); code(err) != tt.want {
				t.Fatalf("Reauthenticate = %v, want %q", err, tt.want)
			}
		})
	}
	if tf, _ := store.TwoFactor(ctx, a.User.ID); len(tf.RecoveryCodes) != 9 {
		t.Errorf("%d recovery codes left after refused re-authentications, want 9", len(tf.RecoveryCodes))
	}

	// Without a password, the same codes prove it, once each.
	if err := store.SetPasswordHash(ctx, a.User.ID, a.User.PasswordHash, ""); err != nil {
		t.Fatal(err)
	}
	tok, next, err := svc.Reauthenticate(ctx, a, sess, account.Reauthentication{Provider: gatehouse.ProviderTOTP, Code: totp})
	if err != nil {
		t.Fatalf("Reauthenticate(totp) = %v", err)
	}
	if tok == "" || next.ID == sess.ID || !svc.Sessions().RecentlyAuthenticated(next) {
		t.Errorf("after Reauthenticate(totp): session %+v", next)
	}
	sess = next
	if _, _, err := svc.Reauthenticate(ctx, a, sess, account.Reauthentication{Provider: gatehouse.ProviderTOTP, Code: totp}); code(err) != gatehouse.CodeInvalidCredentials {
		t.Errorf("the same TOTP code again = %v, want invalid_credentials", err)
	}
	if _, next, err = svc.Reauthenticate(ctx, a, sess, account.Reauthentication{Provider: gatehouse.ProviderRecoveryCode, Code: codes[0]}); err != nil {
		t.Fatalf("Reauthenticate(recovery_code) = %v", err)
	}
	sess = next
	if _, _, err := svc.Reauthenticate(ctx, a, sess, account.Reauthentication{Provider: gatehouse.ProviderRecoveryCode, Code: codes[0]}); code(err) != gatehouse.CodeInvalidCredentials {
		t.Errorf("the same recovery code again = %v, want invalid_credentials", err)
	}
	// Used up in the store, where the login's second step looks too.
	if tf, _ := store.TwoFactor(ctx, a.User.ID); len(tf.RecoveryCodes) != 8 {
		t.Errorf("%d recovery codes left, want 8", len(tf.RecoveryCodes))
	}

	// Neither a password nor a second factor: nothing proves it.
	b, bsess, _, _ := enrolled("bert")
	if err := svc.DisableTOTP(ctx, b, b.User, account.Proof{Password: pw}); err != nil {
		t.Fatal(err)
	}
	if err := store.SetPasswordHash(ctx, b.User.ID, b.User.PasswordHash, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Reauthenticate(ctx, b, bsess, account.Reauthentication{Provider: gatehouse.ProviderTOTP, Code: "123456"}); code(err) != gatehouse.CodeInvalidCredentials {
		t.Errorf("Reauthenticate of a user with no factor = %v, want invalid_credentials", err)
	}
}
