package account_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
)

// An account at an auto-creating provider with an address its provider did
// not verify makes a user holding that address; the address's owner,
// logging in later with it verified at an auto-linking provider, must not
// be linked into that user (whose maker keeps logging in through the
// first provider).
func TestExternalLoginNeverLinksIntoAnUnverifiedMadeUser(t *testing.T) {
	open := account.ExternalProvider{ID: "open", AutoCreate: true}
	corpP := account.ExternalProvider{ID: "corp", AutoLinkVerifiedEmail: true}
	svc, store, _ := newExternalService(t, open, corpP)
	ctx := context.Background()

	att := account.ExternalAssertion{Provider: "open", Subject: "attacker", Email: "victim@corp.example", EmailVerified: false}
	res, err := svc.ExternalLogin(ctx, att, account.LoginRequest{Client: extClient})
	if err != nil {
		t.Fatalf("auto-create: %v", err)
	}
	made := res.User
	if made.EmailConfirmed {
		t.Fatal("a user made from an unverified address has it confirmed")
	}
	vic := account.ExternalAssertion{Provider: "corp", Subject: "victim", Email: "victim@corp.example", EmailVerified: true}
	res2, err := svc.ExternalLogin(ctx, vic, account.LoginRequest{Client: extClient})
	if err == nil {
		t.Fatalf("the verified owner logged in as %s (the made user is %s)", res2.User.ID, made.ID)
	}
	if code(err) != gatehouse.CodeNotLinked {
		t.Fatalf("err = %v, want not_linked", err)
	}
	ids, err := store.UserIdentities(ctx, made.ID)
	if err != nil || len(ids) != 1 || ids[0].Provider != "open" {
		t.Fatalf("identities of the made user = %v, %v; want only its own", ids, err)
	}
	// The same provider with both rules: still refused, never merged.
	both := account.ExternalProvider{ID: "corp", AutoCreate: true, AutoLinkVerifiedEmail: true}
	svc2, _, _ := newExternalService(t, both)
	if _, err := svc2.ExternalLogin(ctx, account.ExternalAssertion{Provider: "corp", Subject: "attacker", Email: "victim@corp.example"}, account.LoginRequest{Client: extClient}); err != nil {
		t.Fatal(err)
	}
	res3, err := svc2.ExternalLogin(ctx, account.ExternalAssertion{Provider: "corp", Subject: "victim", Email: "victim@corp.example", EmailVerified: true}, account.LoginRequest{Client: extClient})
	if err == nil {
		t.Fatalf("the verified owner was let into the squatting user %s", res3.User.ID)
	}
}

// A mailed reset link sets a password; it never logs anyone in.
func TestRecoverAccessRefusesMailedLinks(t *testing.T) {
	svc, _, _ := newExternalService(t, corp)
	ctx := context.Background()
	u := createUser(t, svc, "remy")
	for _, kind := range []string{"reset", ""} {
		link, err := svc.IssueResetLink(ctx, u, kind)
		if err != nil {
			t.Fatal(err)
		}
		id, tok := resetLinkParts(t, link)
		// Local login is on: neither a mailed nor an operator's link logs in here.
		res, err := svc.RecoverAccess(ctx, id, tok, "violet kettle under snow", account.LoginRequest{Client: extClient})
		if err == nil {
			t.Fatalf("kind %q: a reset link started session %s", kind, res.Session.ID)
		}
		if code(err) != gatehouse.CodeInvalidToken {
			t.Fatalf("kind %q: err = %v, want invalid_token", kind, err)
		}
	}
}

// A preferred_username shaped like an address does not become a username
// that takes the address from its owner.
func TestCreatedUsernameIsNeverAnAddress(t *testing.T) {
	p := account.ExternalProvider{ID: "corp", AutoCreate: true}
	svc, _, _ := newExternalService(t, p)
	ctx := context.Background()
	res, err := svc.ExternalLogin(ctx, account.ExternalAssertion{Provider: "corp", Subject: "s1", Email: "att@evil.example", Username: "boss@corp.example"}, account.LoginRequest{Client: extClient})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res.User.Username, "@") {
		t.Fatalf("username %q", res.User.Username)
	}
	if _, err := svc.CreateUser(ctx, account.NewUser{Username: "boss", Email: "boss@corp.example", Password: casPassword}); err != nil {
		t.Fatalf("the address's owner cannot be created: %v", err)
	}
}
