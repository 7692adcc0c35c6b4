package account_test

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
)

// TestEveryLoginFinishesTheSameWay: whatever a user owes after their
// first factor — nothing, an enrolment their group requires, or a second
// factor, which a remembered device skips — a password login and an
// external login end as the one rule says, and HTTP Basic, which cannot
// take a second step, refuses anything owed with the answer of a wrong
// password.
func TestEveryLoginFinishesTheSameWay(t *testing.T) {
	svc, _, clk := newExternalService(t, corp)
	ctx := context.Background()
	client := account.Client{Addr: "192.0.2.7", UserAgent: "test"}
	if err := svc.CreateGroup(ctx, account.Actor{}, &gatehouse.Group{Name: "ops", RequireTwoFactor: true}); err != nil {
		t.Fatal(err)
	}
	for _, nu := range []account.NewUser{
		{Username: "pia", Email: "pia@example.com", Password: casPassword},
		{Username: "gus", Email: "gus@example.com", Password: casPassword, Groups: []string{"ops"}},
	} {
		if _, err := svc.CreateUser(ctx, nu); err != nil {
			t.Fatal(err)
		}
	}
	_, recovery := enrolTOTP(t, svc, clk, "tara")
	for _, name := range []string{"pia", "gus", "tara"} {
		u, err := svc.User(ctx, mustLoginID(t, svc, name))
		if err != nil {
			t.Fatal(err)
		}
		link(t, svc, u, assertion("sub-"+name, ""))
	}
	external := func(name, device string) *account.LoginResult {
		t.Helper()
		res, err := svc.ExternalLogin(ctx, assertion("sub-"+name, ""), account.LoginRequest{Remember: true, Client: client, DeviceToken: device})
		if err != nil {
			t.Fatalf("external login of %s: %v", name, err)
		}
		return res
	}
	login := func(name, device string) *account.LoginResult {
		t.Helper()
		res, err := svc.Login(ctx, account.LoginRequest{Username: name, Password: casPassword, Remember: true, Client: client, DeviceToken: device})
		if err != nil {
			t.Fatalf("login of %s: %v", name, err)
		}
		return res
	}

	// Nothing owed: a full, remembered session; Basic works.
	res := login("pia", "")
	if res.Session == nil || res.Session.Scope != "" || !res.Session.Remember || res.EnrolmentRequired || res.PendingToken != "" || res.KnownDeviceToken == "" {
		t.Errorf("pia: %+v; want a full remembered session and a known-device cookie", res)
	}
	if _, err := svc.AuthenticateBasic(ctx, "pia", casPassword, client); err != nil {
		t.Errorf("Basic for pia: %v", err)
	}
	if res := external("pia", ""); res.Session == nil || res.Session.Scope != "" || !res.Session.Remember || res.PendingToken != "" || res.Session.Provider != "corp" {
		t.Errorf("pia, external: %+v; want a full remembered session of the provider", res)
	}

	// The group requires a second factor gus lacks: an enrolment session,
	// never remembered; Basic is refused.
	res = login("gus", "")
	if res.Session == nil || res.Session.Scope != gatehouse.ScopeEnrol || res.Session.Remember || !res.EnrolmentRequired || res.PendingToken != "" {
		t.Errorf("gus: %+v; want an enrolment session, not remembered", res)
	}
	if _, err := svc.AuthenticateBasic(ctx, "gus", casPassword, client); code(err) != gatehouse.CodeInvalidCredentials {
		t.Errorf("Basic for gus: %v; want %s", err, gatehouse.CodeInvalidCredentials)
	}
	if res := external("gus", ""); res.Session == nil || res.Session.Scope != gatehouse.ScopeEnrol || res.Session.Remember || !res.EnrolmentRequired {
		t.Errorf("gus, external: %+v; want an enrolment session, not remembered", res)
	}

	// tara has TOTP: a pending login, no session; Basic is refused.
	res = login("tara", "")
	if res.Session != nil || res.Token != "" || res.PendingToken == "" || len(res.Providers) == 0 {
		t.Fatalf("tara: %+v; want a pending login and no session", res)
	}
	if _, err := svc.AuthenticateBasic(ctx, "tara", casPassword, client); code(err) != gatehouse.CodeInvalidCredentials {
		t.Errorf("Basic for tara: %v; want %s", err, gatehouse.CodeInvalidCredentials)
	}
	if res := external("tara", ""); res.Session != nil || res.PendingToken == "" {
		t.Errorf("tara, external: %+v; want a pending login and no session", res)
	}

	// Her second step remembers the browser, which then skips it: a
	// two-factor session, and the device renewed, so the old cookie is
	// spent and brings back the second step.
	done, err := svc.VerifyCode(ctx, account.VerifyRequest{Token: res.PendingToken, Provider: gatehouse.ProviderRecoveryCode, Code: recovery[0], RememberDevice: true, Client: client})
	if err != nil || done.DeviceToken == "" {
		t.Fatalf("second step: %+v, %v; want a remembered device", done, err)
	}
	res = login("tara", done.DeviceToken)
	if res.Session == nil || !res.Session.TwoFactor || res.PendingToken != "" || res.DeviceToken == "" || res.DeviceToken == done.DeviceToken {
		t.Fatalf("tara on a remembered device: %+v; want a two-factor session and a renewed device", res)
	}
	if again := login("tara", done.DeviceToken); again.Session != nil || again.PendingToken == "" {
		t.Errorf("tara with the spent device cookie: %+v; want a pending login", again)
	}
	if again := login("tara", res.DeviceToken); again.Session == nil || !again.Session.TwoFactor || again.DeviceToken == "" {
		t.Fatalf("tara with the renewed device cookie: %+v; want a two-factor session", again)
	} else if ext := external("tara", again.DeviceToken); ext.Session == nil || !ext.Session.TwoFactor || ext.Session.Provider != "corp" {
		t.Errorf("tara, external, on a remembered device: %+v; want a two-factor session of the provider", ext)
	}
}

// mustLoginID returns the id of the user named name.
func mustLoginID(t *testing.T, svc *account.Service, name string) string {
	t.Helper()
	users, _, err := svc.ListUsers(context.Background(), account.UserFilter{Search: name})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Username == name {
			return u.ID
		}
	}
	t.Fatalf("no user %s", name)
	return ""
}
