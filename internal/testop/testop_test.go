package testop_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/testop"
)

const callback = "http://127.0.0.1:1/callback"

// login runs one authorization code flow against op as a relying party
// would (go-oidc and x/oauth2) and returns the verified ID token's claims,
// or the error of the exchange or the verification.
func login(t *testing.T, op *testop.OP) (map[string]any, error) {
	t.Helper()
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, op.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := oauth2.Config{
		ClientID: op.ClientID(), ClientSecret: op.ClientSecret(),
		Endpoint: provider.Endpoint(), RedirectURL: callback,
		Scopes: []string{oidc.ScopeOpenID, "email", "profile"},
	}
	verifier, nonce, state := oauth2.GenerateVerifier(), rand.Text(), rand.Text()
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	cb, err := url.Parse(op.Authorize(t, nil, authURL))
	if err != nil {
		t.Fatal(err)
	}
	if got := cb.Query().Get("state"); got != state {
		t.Fatalf("state = %q, want %q", got, state)
	}
	tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, err
	}
	raw, _ := tok.Extra("id_token").(string)
	idToken, err := provider.Verifier(&oidc.Config{ClientID: op.ClientID()}).Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	if idToken.Nonce != nonce {
		t.Fatalf("nonce = %q, want %q", idToken.Nonce, nonce)
	}
	var claims map[string]any
	if err := idToken.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	return claims, nil
}

func TestFlow(t *testing.T) {
	op := testop.Start(t)
	op.NextUser(testop.User{Subject: "s1", Email: "a@example.org", EmailVerified: true,
		Name: "A", Groups: []string{"ops"}, AMR: []string{"pwd", "otp"}, ACR: "mfa"})
	claims, err := login(t, op)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"sub": "s1", "email": "a@example.org", "email_verified": true, "name": "A", "acr": "mfa"} {
		if claims[k] != want {
			t.Errorf("%s = %v, want %v", k, claims[k], want)
		}
	}
	if g, _ := json.Marshal(claims["groups"]); string(g) != `["ops"]` {
		t.Errorf("groups = %s", g)
	}
	if a, _ := json.Marshal(claims["amr"]); string(a) != `["pwd","otp"]` {
		t.Errorf("amr = %s", a)
	}

	op.NextUser(testop.User{Subject: "s2", Email: "b@example.org", EmailOnlyInUserinfo: true})
	claims, err = login(t, op)
	if err != nil {
		t.Fatal(err)
	}
	if claims["sub"] != "s2" || claims["email"] != nil {
		t.Errorf("EmailOnlyInUserinfo: claims %v", claims)
	}
}

func TestPKCERequiredAndChecked(t *testing.T) {
	op := testop.Start(t)
	q := url.Values{"client_id": {op.ClientID()}, "response_type": {"code"}, "scope": {"openid"},
		"state": {"st"}, "redirect_uri": {callback}}
	cb := op.Authorize(t, nil, op.Issuer()+"/authorize?"+q.Encode())
	if !strings.Contains(cb, "error=invalid_request") || !strings.Contains(cb, "state=st") {
		t.Errorf("no PKCE: redirected to %s", cb)
	}
	q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier()))
	q.Set("code_challenge_method", "S256")
	u, _ := url.Parse(op.Authorize(t, nil, op.Issuer()+"/authorize?"+q.Encode()))
	conf := oauth2.Config{ClientID: op.ClientID(), ClientSecret: op.ClientSecret(), RedirectURL: callback,
		Endpoint: oauth2.Endpoint{TokenURL: op.Issuer() + "/token"}}
	_, err := conf.Exchange(context.Background(), u.Query().Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
	var re *oauth2.RetrieveError
	if !asRetrieve(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("wrong verifier: %v, want invalid_grant", err)
	}
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	r, ok := err.(*oauth2.RetrieveError)
	*re = r
	return ok
}

func TestTamperForeignKeyRotate(t *testing.T) {
	op := testop.Start(t)
	op.TamperIDToken(func(c map[string]any) { c["email"] = "mallory@example.org" })
	claims, err := login(t, op)
	if err != nil || claims["email"] != "mallory@example.org" {
		t.Fatalf("tampered: %v %v", claims["email"], err)
	}
	claims, err = login(t, op)
	if err != nil || claims["email"] != testop.DefaultUser.Email {
		t.Fatalf("tampering applies once: %v %v", claims["email"], err)
	}

	op.SignNextWithForeignKey()
	if _, err := login(t, op); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("foreign key: err = %v, want a signature error", err)
	}

	before := jwksKids(t, op)
	op.RotateKey()
	after := jwksKids(t, op)
	if len(after) != 1 || after[0] == before[0] {
		t.Fatalf("kids before %v after %v", before, after)
	}
	if _, err := login(t, op); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
}

func jwksKids(t *testing.T, op *testop.OP) []string {
	resp, err := http.Get(op.Issuer() + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct{ Keys []struct{ Kid string } }
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

func TestDownUpDiscoveryDenyFail(t *testing.T) {
	op := testop.Start(t)
	discovery := func() (map[string]any, error) {
		resp, err := http.Get(op.Issuer() + "/.well-known/openid-configuration")
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var doc map[string]any
		return doc, json.NewDecoder(resp.Body).Decode(&doc)
	}
	doc, err := discovery()
	if err != nil || doc["end_session_endpoint"] == nil || doc["authorization_response_iss_parameter_supported"] != nil {
		t.Fatalf("discovery: %v %v", doc, err)
	}
	op.EndSessionEndpoint(false)
	op.IssParameter(true)
	doc, _ = discovery()
	if doc["end_session_endpoint"] != nil || doc["authorization_response_iss_parameter_supported"] != true {
		t.Fatalf("discovery after toggles: %v", doc)
	}
	if n := op.Requests(testop.DiscoveryPath); n != 2 {
		t.Errorf("discovery requests = %d, want 2", n)
	}

	op.Down()
	if _, err := discovery(); err == nil {
		t.Fatal("down: discovery answered")
	}
	op.Up()
	if _, err := discovery(); err != nil {
		t.Fatalf("up again: %v", err)
	}

	op.FailNext(testop.DiscoveryPath, http.StatusServiceUnavailable)
	resp, err := http.Get(op.Issuer() + "/.well-known/openid-configuration")
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("FailNext: %v %v", resp, err)
	}
	resp.Body.Close()

	op.DenyNext("access_denied")
	q := url.Values{"client_id": {op.ClientID()}, "response_type": {"code"}, "scope": {"openid"},
		"state": {"st"}, "redirect_uri": {callback}}
	cb, _ := url.Parse(op.Authorize(t, nil, op.Issuer()+"/authorize?"+q.Encode()))
	if cb.Query().Get("error") != "access_denied" || cb.Query().Get("state") != "st" || cb.Query().Get("iss") != op.Issuer() {
		t.Errorf("deny: %s", cb)
	}
}

func TestBlackHoleAndRedirect(t *testing.T) {
	op := testop.Start(t)
	op.BlackHole()
	c := &http.Client{Timeout: 200 * time.Millisecond}
	if _, err := c.Get(op.Issuer() + "/.well-known/openid-configuration"); err == nil {
		t.Fatal("black hole: discovery answered")
	}
	op.Up()
	resp, err := c.Get(op.Issuer() + "/.well-known/openid-configuration")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after Up: %v %v", resp, err)
	}
	resp.Body.Close()

	op.RedirectNext(testop.TokenPath, "https://elsewhere.example/token", http.StatusTemporaryRedirect)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = c.Post(op.Issuer()+"/token", "application/x-www-form-urlencoded", nil)
	if err != nil || resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "https://elsewhere.example/token" {
		t.Fatalf("RedirectNext: %v %v", resp, err)
	}
	resp.Body.Close()
}

// With its login page on, the OP answers the authorization with a page
// whose link goes to the callback; Authorize follows it like the redirect.
func TestLoginPage(t *testing.T) {
	op := testop.Start(t)
	op.LoginPage(true)
	op.NextUser(testop.User{Subject: "s-page", Email: "p@example.org", EmailVerified: true})
	claims, err := login(t, op)
	if err != nil {
		t.Fatal(err)
	}
	if claims["sub"] != "s-page" {
		t.Errorf("claims %v", claims)
	}
}
