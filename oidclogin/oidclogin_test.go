package oidclogin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testop"
)

const redirectURL = "https://gatehouse.example/auth/external/corp/callback"

// newProvider is a Provider for op, changed by opts.
func newProvider(t *testing.T, op *testop.OP, opts ...func(*Config)) *Provider {
	t.Helper()
	cfg := Config{
		ID: "corp", Issuer: op.Issuer(), ClientID: op.ClientID(), ClientSecret: op.ClientSecret(),
		RedirectURL: redirectURL, GroupsClaim: "groups",
		PostLogoutRedirectURL: "https://gatehouse.example/auth/ui/login",
	}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// authorize starts a login and lets the OP answer it: the callback's
// query and the flow the browser would have kept.
func authorize(t *testing.T, p *Provider, op *testop.OP) (url.Values, Flow) {
	t.Helper()
	authURL, f, err := p.Start(context.Background())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	cb, err := url.Parse(op.Authorize(t, nil, authURL))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cb.String(), redirectURL+"?") {
		t.Fatalf("callback %s, want %s", cb, redirectURL)
	}
	return cb.Query(), f
}

func login(t *testing.T, p *Provider, op *testop.OP) (*Claims, error) {
	t.Helper()
	q, f := authorize(t, p, op)
	return p.Finish(context.Background(), q, f)
}

func mustLogin(t *testing.T, p *Provider, op *testop.OP) *Claims {
	t.Helper()
	c, err := login(t, p, op)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

// wantRefused checks that err is a *RefusedError whose reason contains
// reason.
func wantRefused(t *testing.T, err error, reason string) {
	t.Helper()
	var re *RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want refused %q", err, reason)
	}
	if !strings.Contains(re.Reason, reason) {
		t.Fatalf("refused %q, want %q", re.Reason, reason)
	}
	if errors.Is(err, ErrUnavailable) {
		t.Fatalf("refused and unavailable: %v", err)
	}
}

func wantUnavailable(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

func TestFullFlow(t *testing.T) {
	op := testop.Start(t)
	op.NextUser(testop.User{Subject: "sub-1", Email: "ada@corp.example", EmailVerified: true,
		Name: "Ada L", PreferredUsername: "ada", Groups: []string{"ops", "dev"},
		AMR: []string{"pwd", "mfa"}, ACR: "urn:mace:incommon:iap:silver"})
	p := newProvider(t, op)

	authURL, f, err := p.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	q := u.Query()
	for k, want := range map[string]string{"response_type": "code", "client_id": op.ClientID(), "redirect_uri": redirectURL,
		"state": f.State, "nonce": f.Nonce, "code_challenge_method": "S256", "scope": "openid email profile"} {
		if q.Get(k) != want {
			t.Errorf("auth URL %s = %q, want %q", k, q.Get(k), want)
		}
	}
	for name, v := range map[string]string{"state": f.State, "nonce": f.Nonce, "verifier": f.Verifier} {
		if len(v) < 43 { // 256 bits in base64url
			t.Errorf("%s %q is shorter than 256 bits", name, v)
		}
	}
	if q.Get("code_challenge") == "" || q.Get("code_challenge") == f.Verifier {
		t.Errorf("code_challenge %q", q.Get("code_challenge"))
	}

	cb, _ := url.Parse(op.Authorize(t, nil, authURL))
	c, err := p.Finish(context.Background(), cb.Query(), f)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "sub-1" || c.Email != "ada@corp.example" || !c.EmailVerified || c.Name != "Ada L" ||
		c.PreferredUsername != "ada" || !slices.Equal(c.Groups, []string{"ops", "dev"}) ||
		!slices.Equal(c.AMR, []string{"pwd", "mfa"}) || c.ACR != "urn:mace:incommon:iap:silver" || c.IDToken == "" {
		t.Errorf("claims = %+v", c)
	}
	if n := op.Requests(testop.UserinfoPath); n != 0 {
		t.Errorf("userinfo asked %d times though the ID token had everything", n)
	}

	// The code is single-use: the same callback again proves nothing.
	_, err = p.Finish(context.Background(), cb.Query(), f)
	wantRefused(t, err, "code exchange refused")
}

func TestClaimsFromUserinfo(t *testing.T) {
	op := testop.Start(t)
	p := newProvider(t, op)
	op.NextUser(testop.User{Subject: "sub-2", Email: "bob@corp.example", EmailVerified: true, Name: "Bob",
		Groups: []string{"ops"}, EmailOnlyInUserinfo: true, GroupsOnlyInUserinfo: true})
	c := mustLogin(t, p, op)
	if c.Email != "bob@corp.example" || !c.EmailVerified || !slices.Equal(c.Groups, []string{"ops"}) || c.Name != "Bob" {
		t.Errorf("claims = %+v", c)
	}
	if n := op.Requests(testop.UserinfoPath); n != 1 {
		t.Errorf("userinfo requests = %d, want 1", n)
	}

	// email in the token, email_verified only in userinfo (for the same
	// email): verified.
	op.NextUser(testop.User{Subject: "sub-3", Email: "eve@corp.example", EmailVerified: true})
	op.TamperIDToken(func(c map[string]any) { delete(c, "email_verified") })
	if c := mustLogin(t, p, op); c.Email != "eve@corp.example" || !c.EmailVerified {
		t.Errorf("email_verified from userinfo: %+v", c)
	}
	// … but not for another email than the token's.
	op.TamperIDToken(func(c map[string]any) { delete(c, "email_verified"); c["email"] = "mallory@corp.example" })
	if c := mustLogin(t, p, op); c.Email != "mallory@corp.example" || c.EmailVerified {
		t.Errorf("userinfo verified another email: %+v", c)
	}
	op.NextUser(testop.User{Subject: "sub-2", Email: "bob@corp.example", EmailVerified: true, EmailOnlyInUserinfo: true})

	// Userinfo failing is not a login with the email missing.
	op.FailNext(testop.UserinfoPath, http.StatusBadGateway)
	_, err := login(t, p, op)
	wantUnavailable(t, err)

	// Userinfo refusing the access token proves nothing.
	op.FailNext(testop.UserinfoPath, http.StatusUnauthorized)
	_, err = login(t, p, op)
	wantRefused(t, err, "userinfo refused")

	// Userinfo about someone else.
	op.TamperIDToken(func(c map[string]any) { c["sub"] = "sub-other" })
	_, err = login(t, p, op)
	wantRefused(t, err, "userinfo subject")
}

func TestClaimShapes(t *testing.T) {
	op := testop.Start(t)
	p := newProvider(t, op)
	op.NextUser(testop.User{Subject: "s", Email: "c@corp.example"})
	op.TamperIDToken(func(c map[string]any) {
		c["email_verified"] = "true" // Cognito and others send a string
		c["groups"] = "admins"       // a single group as a string
		c["amr"] = "hwk"
	})
	c := mustLogin(t, p, op)
	if !c.EmailVerified || !slices.Equal(c.Groups, []string{"admins"}) || !slices.Equal(c.AMR, []string{"hwk"}) {
		t.Errorf("claims = %+v", c)
	}

	op.TamperIDToken(func(c map[string]any) { delete(c, "email_verified") })
	if c := mustLogin(t, p, op); c.EmailVerified {
		t.Error("no email_verified claim: verified")
	}
	op.TamperIDToken(func(c map[string]any) { c["email_verified"] = "yes" })
	if c := mustLogin(t, p, op); c.EmailVerified {
		t.Error(`email_verified "yes": verified`)
	}

	// No groups claim configured: none read.
	p2 := newProvider(t, op, func(c *Config) { c.GroupsClaim = "" })
	op.NextUser(testop.User{Subject: "s", Email: "c@corp.example", Groups: []string{"ops"}})
	if c := mustLogin(t, p2, op); c.Groups != nil {
		t.Errorf("groups = %v without groups_claim", c.Groups)
	}
}

func TestStateMismatch(t *testing.T) {
	op := testop.Start(t)
	p := newProvider(t, op)
	q, f := authorize(t, p, op)
	other := f
	other.State = strings.Repeat("A", len(f.State))
	_, err := p.Finish(context.Background(), q, other)
	wantRefused(t, err, "state mismatch")

	q.Del("state")
	_, err = p.Finish(context.Background(), q, f)
	wantRefused(t, err, "state mismatch")

	_, err = p.Finish(context.Background(), url.Values{"code": {"x"}}, Flow{})
	wantRefused(t, err, "flow incomplete")
}

func TestNonceMismatch(t *testing.T) {
	op := testop.Start(t)
	p := newProvider(t, op)
	op.TamperIDToken(func(c map[string]any) { c["nonce"] = "an-attackers-nonce" })
	_, err := login(t, p, op)
	wantRefused(t, err, "nonce mismatch")

	op.TamperIDToken(func(c map[string]any) { delete(c, "nonce") })
	_, err = login(t, p, op)
	wantRefused(t, err, "nonce mismatch")
}

func TestPKCEMismatch(t *testing.T) {
	op := testop.Start(t)
	p := newProvider(t, op)
	q, f := authorize(t, p, op)
	_, other, err := p.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f.Verifier = other.Verifier // a code stolen from another browser's flow
	_, err = p.Finish(context.Background(), q, f)
	wantRefused(t, err, "code exchange refused: invalid_grant")
}

func TestIDTokenRefused(t *testing.T) {
	op := testop.Start(t)
	p := newProvider(t, op)
	for _, tc := range []struct {
		name, reason string
		tamper       func(c map[string]any)
	}{
		{"wrong audience", "another client (aud)", func(c map[string]any) { c["aud"] = "another-client" }},
		{"wrong issuer", "another issuer (iss)", func(c map[string]any) { c["iss"] = "https://evil.example" }},
		{"expired", "ID token expired", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }},
		{"issued in the future", "issued in the future", func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() }},
		{"several audiences without azp", "azp", func(c map[string]any) { c["aud"] = []string{op.ClientID(), "other"} }},
		{"azp of another client", "azp", func(c map[string]any) { c["azp"] = "other" }},
		{"no subject", "no subject", func(c map[string]any) { delete(c, "sub") }},
		{"not valid yet", "not valid yet", func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op.TamperIDToken(tc.tamper)
			_, err := login(t, p, op)
			wantRefused(t, err, tc.reason)
		})
	}
	t.Run("several audiences with our azp", func(t *testing.T) {
		op.TamperIDToken(func(c map[string]any) { c["aud"] = []string{op.ClientID(), "other"}; c["azp"] = op.ClientID() })
		mustLogin(t, p, op)
	})
	t.Run("expired by the clock", func(t *testing.T) {
		later := newProvider(t, op, func(c *Config) { c.Now = func() time.Time { return time.Now().Add(11 * time.Minute) } })
		_, err := login(t, later, op)
		wantRefused(t, err, "ID token expired")
	})
	t.Run("wrongly signed", func(t *testing.T) {
		op.SignNextWithForeignKey()
		_, err := login(t, p, op)
		wantRefused(t, err, "bad signature")
	})
}

func TestKeyRotation(t *testing.T) {
	op := testop.Start(t)
	p := newProvider(t, op)
	mustLogin(t, p, op)
	mustLogin(t, p, op)
	if n := op.Requests(testop.JWKSPath); n != 1 {
		t.Errorf("JWKS fetched %d times for one key, want 1", n)
	}
	op.RotateKey()
	mustLogin(t, p, op)
	if n := op.Requests(testop.JWKSPath); n != 2 {
		t.Errorf("JWKS fetched %d times after rotation, want 2", n)
	}
}

func TestIssParameter(t *testing.T) {
	op := testop.Start(t)
	op.IssParameter(true)
	p := newProvider(t, op)

	q, f := authorize(t, p, op)
	if q.Get("iss") != op.Issuer() {
		t.Fatalf("OP sent iss %q", q.Get("iss"))
	}
	if _, err := p.Finish(context.Background(), q, f); err != nil {
		t.Fatalf("right iss: %v", err)
	}

	q, f = authorize(t, p, op)
	q.Set("iss", "https://evil.example")
	_, err := p.Finish(context.Background(), q, f)
	wantRefused(t, err, "issuer mismatch")

	// The provider promised iss: its absence is a response from elsewhere.
	q, f = authorize(t, p, op)
	q.Del("iss")
	_, err = p.Finish(context.Background(), q, f)
	wantRefused(t, err, "iss missing")

	// A provider that did not promise it: a wrong one is still refused.
	op2 := testop.Start(t)
	p2 := newProvider(t, op2)
	q, f = authorize(t, p2, op2)
	q.Set("iss", op.Issuer())
	_, err = p2.Finish(context.Background(), q, f)
	wantRefused(t, err, "issuer mismatch")
}

func TestProviderError(t *testing.T) {
	op := testop.Start(t)
	p := newProvider(t, op)
	op.DenyNext("access_denied")
	_, err := login(t, p, op)
	wantRefused(t, err, "access_denied")

	// An error code that is not one (free text) is not echoed.
	q, f := authorize(t, p, op)
	q.Del("code")
	q.Set("error", "<script>alert(1)</script>")
	_, err = p.Finish(context.Background(), q, f)
	wantRefused(t, err, "provider error")
	if strings.Contains(err.Error(), "script") {
		t.Errorf("error echoes the provider's text: %v", err)
	}

	// An error with someone else's state is a forged callback first.
	_, f = authorize(t, p, op)
	_, err = p.Finish(context.Background(), url.Values{"error": {"access_denied"}, "state": {"forged"}}, f)
	wantRefused(t, err, "state mismatch")
}

func TestProviderDown(t *testing.T) {
	op := testop.Start(t)

	t.Run("at start", func(t *testing.T) {
		p := newProvider(t, op)
		op.Down()
		_, _, err := p.Start(context.Background())
		op.Up()
		wantUnavailable(t, err)
	})
	t.Run("at finish", func(t *testing.T) {
		p := newProvider(t, op)
		q, f := authorize(t, p, op)
		op.Down()
		_, err := p.Finish(context.Background(), q, f)
		op.Up()
		wantUnavailable(t, err)
	})
	t.Run("token endpoint failing", func(t *testing.T) {
		p := newProvider(t, op)
		q, f := authorize(t, p, op)
		op.FailNext(testop.TokenPath, http.StatusServiceUnavailable)
		_, err := p.Finish(context.Background(), q, f)
		wantUnavailable(t, err)
	})
	t.Run("JWKS failing", func(t *testing.T) {
		p := newProvider(t, op) // keys not fetched yet
		q, f := authorize(t, p, op)
		op.FailNext(testop.JWKSPath, http.StatusInternalServerError)
		_, err := p.Finish(context.Background(), q, f)
		wantUnavailable(t, err)
	})
	t.Run("discovery failing", func(t *testing.T) {
		p := newProvider(t, op)
		op.FailNext(testop.DiscoveryPath, http.StatusInternalServerError)
		_, _, err := p.Start(context.Background())
		wantUnavailable(t, err)
		// The failure was not cached.
		if _, _, err := p.Start(context.Background()); err != nil {
			t.Fatalf("after the failure: %v", err)
		}
	})
}

func TestDiscoveryCache(t *testing.T) {
	op := testop.Start(t)
	p := newProvider(t, op, func(c *Config) { c.DiscoveryTTL = time.Minute })
	now := time.Now()
	var mu sync.Mutex
	p.cacheNow = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	for range 3 {
		if _, _, err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	mustLogin(t, p, op)
	if n := op.Requests(testop.DiscoveryPath); n != 1 {
		t.Fatalf("discovery read %d times within the TTL, want 1", n)
	}

	advance(61 * time.Second)
	op.EndSessionEndpoint(false) // a change the next read must see
	if _, ok := p.SignOutURL(context.Background(), "tok"); ok {
		t.Error("sign-out URL from the stale document after the TTL")
	}
	if n := op.Requests(testop.DiscoveryPath); n != 2 {
		t.Fatalf("discovery read %d times after the TTL, want 2", n)
	}

	// A failed re-read keeps the document at hand and is tried again.
	advance(61 * time.Second)
	op.FailNext(testop.DiscoveryPath, http.StatusInternalServerError)
	if _, _, err := p.Start(context.Background()); err != nil {
		t.Fatalf("with a cached document and the provider failing: %v", err)
	}
	if _, _, err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := op.Requests(testop.DiscoveryPath); n != 4 {
		t.Fatalf("discovery read %d times, want 4 (failure retried)", n)
	}
}

func TestSignOutURL(t *testing.T) {
	op := testop.Start(t)
	p := newProvider(t, op)
	c := mustLogin(t, p, op)
	s, ok := p.SignOutURL(context.Background(), c.IDToken)
	if !ok {
		t.Fatal("no sign-out URL")
	}
	u, _ := url.Parse(s)
	q := u.Query()
	if !strings.HasPrefix(s, op.Issuer()+"/end_session?") || q.Get("id_token_hint") != c.IDToken ||
		q.Get("client_id") != op.ClientID() || q.Get("post_logout_redirect_uri") != "https://gatehouse.example/auth/ui/login" {
		t.Errorf("sign-out URL %s", s)
	}

	op.EndSessionEndpoint(false)
	if _, ok := newProvider(t, op).SignOutURL(context.Background(), c.IDToken); ok {
		t.Error("sign-out URL without an end_session_endpoint")
	}
	op.Down()
	if _, ok := newProvider(t, op).SignOutURL(context.Background(), c.IDToken); ok {
		t.Error("sign-out URL with the provider down")
	}
}

func TestNew(t *testing.T) {
	good := Config{ID: "corp", Issuer: "https://sso.example.com", ClientID: "c", RedirectURL: redirectURL}
	p, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := p.Config(); !slices.Equal(cfg.Scopes, []string{"openid", "email", "profile"}) || cfg.Name != "corp" {
		t.Errorf("defaults: %+v", cfg)
	}
	withScopes := good
	withScopes.Scopes = []string{"email", "groups"}
	if p, _ := New(withScopes); !slices.Equal(p.Config().Scopes, []string{"openid", "email", "groups"}) {
		t.Errorf("openid not added: %v", p.Config().Scopes)
	}
	for name, change := range map[string]func(*Config){
		"no id":               func(c *Config) { c.ID = "" },
		"id with a slash":     func(c *Config) { c.ID = "a/b" },
		"http issuer":         func(c *Config) { c.Issuer = "http://sso.example.com" },
		"relative issuer":     func(c *Config) { c.Issuer = "sso.example.com" },
		"issuer with query":   func(c *Config) { c.Issuer = "https://sso.example.com/?x=1" },
		"no client id":        func(c *Config) { c.ClientID = "" },
		"relative redirect":   func(c *Config) { c.RedirectURL = "/auth/callback" },
		"relative logout":     func(c *Config) { c.PostLogoutRedirectURL = "/" },
		"scope with a space":  func(c *Config) { c.Scopes = []string{"openid email"} },
		"negative TTL":        func(c *Config) { c.DiscoveryTTL = -time.Second },
		"ftp issuer":          func(c *Config) { c.Issuer = "ftp://sso.example.com" },
		"http on a LAN issue": func(c *Config) { c.Issuer = "http://10.0.0.1/" },
	} {
		cfg := good
		change(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, iss := range []string{"http://127.0.0.1:9000/oidc", "http://localhost:9000", "http://[::1]:9000"} {
		cfg := good
		cfg.Issuer = iss
		if _, err := New(cfg); err != nil {
			t.Errorf("loopback issuer %s: %v", iss, err)
		}
	}
}

// TestConcurrentLogins: one Provider serves many callbacks at once (run
// with -race), discovery read once.
func TestConcurrentLogins(t *testing.T) {
	op := testop.Start(t)
	p := newProvider(t, op)
	t.Run("group", func(t *testing.T) {
		for i := range 8 {
			t.Run(strings.Repeat("x", i+1), func(t *testing.T) {
				t.Parallel()
				mustLogin(t, p, op)
			})
		}
	})
	if n := op.Requests(testop.DiscoveryPath); n != 1 {
		t.Errorf("discovery read %d times, want 1", n)
	}
}
