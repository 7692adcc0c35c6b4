package oidclogin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testop"
)

// sink is a server a redirect would lead to; it counts what reaches it.
func sink(t *testing.T) (url string, hits *atomic.Int32) {
	hits = new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "sink", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/steal", hits
}

func wantRedirectRefused(t *testing.T, err error, hits *atomic.Int32) {
	t.Helper()
	wantUnavailable(t, err)
	if !strings.Contains(err.Error(), "redirect") {
		t.Errorf("error does not say redirect: %v", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the redirect was followed (%d requests)", n)
	}
}

// TestRedirectsNotFollowed: no request to the provider follows a
// redirect, with gatehouse's client or the caller's (which is left
// unchanged).
func TestRedirectsNotFollowed(t *testing.T) {
	op := testop.Start(t)
	to, hits := sink(t)
	callers := &http.Client{}
	for name, opts := range map[string][]func(*Config){
		"default client":  nil,
		"caller's client": {func(c *Config) { c.HTTPClient = callers }},
	} {
		t.Run(name, func(t *testing.T) {
			t.Run("token", func(t *testing.T) {
				p := newProvider(t, op, opts...)
				q, f := authorize(t, p, op)
				op.RedirectNext(testop.TokenPath, to, http.StatusTemporaryRedirect) // would re-POST code, verifier, secret
				_, err := p.Finish(context.Background(), q, f)
				wantRedirectRefused(t, err, hits)
			})
			t.Run("userinfo", func(t *testing.T) {
				p := newProvider(t, op, opts...)
				op.NextUser(testop.User{Subject: "s", Email: "u@corp.example", EmailVerified: true, EmailOnlyInUserinfo: true})
				q, f := authorize(t, p, op)
				op.RedirectNext(testop.UserinfoPath, to, http.StatusFound)
				_, err := p.Finish(context.Background(), q, f)
				wantRedirectRefused(t, err, hits)
			})
			t.Run("JWKS", func(t *testing.T) {
				p := newProvider(t, op, opts...)
				q, f := authorize(t, p, op)
				op.RedirectNext(testop.JWKSPath, to, http.StatusFound)
				_, err := p.Finish(context.Background(), q, f)
				wantUnavailable(t, err)
				if n := hits.Load(); n != 0 {
					t.Errorf("the redirect was followed (%d requests)", n)
				}
			})
			t.Run("discovery", func(t *testing.T) {
				p := newProvider(t, op, opts...)
				op.RedirectNext(testop.DiscoveryPath, to, http.StatusMovedPermanently)
				_, _, err := p.Start(context.Background())
				wantRedirectRefused(t, err, hits)
			})
		})
	}
	if callers.CheckRedirect != nil {
		t.Error("the caller's HTTP client was changed")
	}
}

// discoveryServer serves over https a discovery document for its own
// URL as issuer, with endpoints at https paths of its own but for those
// in override.
func discoveryServer(t *testing.T, override map[string]string) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc := map[string]any{
			"issuer":                                srv.URL,
			"authorization_endpoint":                srv.URL + "/authorize",
			"token_endpoint":                        srv.URL + "/token",
			"jwks_uri":                              srv.URL + "/jwks",
			"userinfo_endpoint":                     srv.URL + "/userinfo",
			"end_session_endpoint":                  srv.URL + "/end_session",
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		}
		for k, v := range override {
			doc[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestEndpointsAsSafeAsIssuer: an https issuer's document may not send
// anything over http, not even to a loopback host.
func TestEndpointsAsSafeAsIssuer(t *testing.T) {
	start := func(override map[string]string) error {
		srv := discoveryServer(t, override)
		p, err := New(Config{ID: "corp", Issuer: srv.URL, ClientID: "c", ClientSecret: "s", RedirectURL: redirectURL, HTTPClient: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = p.Start(context.Background())
		return err
	}
	if err := start(nil); err != nil {
		t.Fatalf("all https: %v", err)
	}
	for _, endpoint := range []string{"authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint", "end_session_endpoint"} {
		for _, u := range []string{"http://localhost:8080/x", "http://127.0.0.1/x", "http://sso.example.com/x"} {
			err := start(map[string]string{endpoint: u})
			wantUnavailable(t, err)
			if !strings.Contains(err.Error(), endpoint) {
				t.Errorf("%s %s: %v", endpoint, u, err)
			}
		}
	}
}

func TestCheckEndpoint(t *testing.T) {
	for _, tc := range []struct {
		issuer, endpoint string
		ok               bool
	}{
		{"https://sso.example.com", "https://other.example.com/token", true},
		{"https://sso.example.com", "http://localhost/token", false},
		{"https://sso.example.com", "http://[::1]:8080/token", false},
		{"https://sso.example.com", "http://sso.example.com/token", false},
		{"http://127.0.0.1:9000/oidc", "http://127.0.0.1:9000/oidc/token", true},
		{"http://127.0.0.1:9000/oidc", "http://localhost:9001/token", true},
		{"http://127.0.0.1:9000/oidc", "https://sso.example.com/token", true},
		{"http://127.0.0.1:9000/oidc", "http://sso.example.com/token", false},
		{"https://sso.example.com", "/token", false},
		{"https://sso.example.com", "ftp://sso.example.com/token", false},
	} {
		if err := checkEndpoint(tc.issuer, tc.endpoint); (err == nil) != tc.ok {
			t.Errorf("checkEndpoint(%s, %s) = %v, want ok %v", tc.issuer, tc.endpoint, err, tc.ok)
		}
	}
}
