// Package oidclogin signs people in with OpenID Connect providers: the
// authorization code flow with PKCE (S256), state and nonce kept in a
// sealed cookie of the browser (Flow, Sealer), the ID token verified
// (issuer, audience, azp, expiry, nonce, signature by the provider's JWKS,
// following key rotation), the authorization response's iss checked (RFC
// 9207), claims completed from the userinfo endpoint, discovery cached and
// refreshed, and the provider's sign-out URL (RP-Initiated Logout).
//
// It knows nothing of users or sessions: what a login proves is a Claims,
// which the account service turns into a session.
package oidclogin

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Config is one provider, as configured (the oidc: list).
type Config struct {
	// ID names the provider in paths (BASE/external/{id}/login) and in
	// stored identities; Name is shown on buttons; Icon is an optional
	// image URL for the button.
	ID, Name, Icon string
	// Issuer is the provider's issuer URL; discovery is read from
	// Issuer + "/.well-known/openid-configuration".
	Issuer string
	// ClientID and ClientSecret are gatehouse's registration at the
	// provider (ClientSecret "" for a public client, which PKCE protects).
	ClientID, ClientSecret string
	// Scopes are requested; "openid" is always added. Default: openid,
	// email, profile.
	Scopes []string
	// GroupsClaim names the claim that lists the user's groups at the
	// provider (Claims.Groups); "" reads none.
	GroupsClaim string
	// RedirectURL is the callback registered at the provider:
	// public_url + base path + /external/{id}/callback.
	RedirectURL string
	// PostLogoutRedirectURL is where the provider sends the browser after
	// its sign-out ("" leaves it out of the sign-out URL).
	PostLogoutRedirectURL string
	// HTTPClient makes the requests to the provider; nil means a client
	// with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock ID tokens are checked against; nil means time.Now.
	Now func() time.Time
	// DiscoveryTTL is how long a discovery document (and so the
	// endpoints) is used before it is read again; zero means an hour. A
	// failed read is never cached.
	DiscoveryTTL time.Duration
}

// Provider is a configured OpenID Connect provider. It is safe for
// concurrent use; it does not reach the provider until first needed.
type Provider struct {
	cfg Config

	// discoverLock (a one-slot semaphore, so waiting respects the
	// context) guards discovered and keys.
	discoverLock chan struct{}
	discovered   *discovery
	keys         *keySet
	// cacheNow is the clock of the discovery cache (tests move it).
	cacheNow func() time.Time
}

// idPattern is what a provider id may be: it goes into paths and stored
// identities.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// New checks cfg and returns its Provider, without reaching the provider.
func New(cfg Config) (*Provider, error) {
	if !idPattern.MatchString(cfg.ID) {
		return nil, fmt.Errorf("oidclogin: provider id %q: want 1 to 64 letters, digits, '.', '_' or '-'", cfg.ID)
	}
	if err := checkIssuer(cfg.Issuer); err != nil {
		return nil, fmt.Errorf("oidclogin: provider %s: issuer %v", cfg.ID, err)
	}
	if cfg.ClientID == "" {
		return nil, fmt.Errorf("oidclogin: provider %s: client_id is required", cfg.ID)
	}
	if u, err := url.Parse(cfg.RedirectURL); err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("oidclogin: provider %s: redirect URL %q is not an absolute URL", cfg.ID, cfg.RedirectURL)
	}
	if cfg.PostLogoutRedirectURL != "" {
		if u, err := url.Parse(cfg.PostLogoutRedirectURL); err != nil || !u.IsAbs() || u.Host == "" {
			return nil, fmt.Errorf("oidclogin: provider %s: post-logout redirect URL %q is not an absolute URL", cfg.ID, cfg.PostLogoutRedirectURL)
		}
	}
	if cfg.DiscoveryTTL < 0 {
		return nil, fmt.Errorf("oidclogin: provider %s: negative discovery TTL", cfg.ID)
	}
	if cfg.Name == "" {
		cfg.Name = cfg.ID
	}
	scopes := []string{oidc.ScopeOpenID}
	if cfg.Scopes == nil {
		cfg.Scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	for _, s := range cfg.Scopes {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			return nil, fmt.Errorf("oidclogin: provider %s: bad scope %q", cfg.ID, s)
		}
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	cfg.Scopes = scopes
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: requestTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DiscoveryTTL == 0 {
		cfg.DiscoveryTTL = time.Hour
	}
	return &Provider{cfg: cfg, discoverLock: make(chan struct{}, 1), cacheNow: time.Now}, nil
}

// Config returns the provider's configuration, defaults filled in.
func (p *Provider) Config() Config { return p.cfg }

// Flow is what ties a callback to the authorization request that started
// it: kept by the browser (sealed in a cookie), compared at the callback.
type Flow struct {
	// State is sent to the provider and must come back unchanged.
	State string
	// Nonce is sent to the provider and must be in the ID token.
	Nonce string
	// Verifier is the PKCE code verifier; its S256 challenge was sent.
	Verifier string
}

// Start begins an authorization: a fresh Flow and the provider's
// authorization URL for it (response_type code, the scopes, state, nonce,
// code_challenge with S256, the redirect URL). A provider that cannot be
// reached (discovery fails) is ErrUnavailable.
func (p *Provider) Start(ctx context.Context) (authURL string, f Flow, err error) {
	d, err := p.discover(ctx)
	if err != nil {
		return "", Flow{}, err
	}
	f = Flow{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier()}
	authURL = p.oauth2Config(d).AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier), oidc.Nonce(f.Nonce))
	return authURL, f, nil
}

// randomToken is 256 bits from crypto/rand, base64url.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics rather)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (p *Provider) oauth2Config(d *discovery) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		Endpoint:     d.endpoint,
		RedirectURL:  p.cfg.RedirectURL,
		Scopes:       p.cfg.Scopes,
	}
}

// Claims is what a finished login proved about the account at the
// provider.
type Claims struct {
	// Subject is the provider's stable id of the account ("sub").
	Subject string
	// Email and EmailVerified as the provider said, from the ID token or,
	// where it has none, the userinfo endpoint. A provider that sends no
	// email_verified has not verified it.
	Email         string
	EmailVerified bool
	// Name ("name") and PreferredUsername ("preferred_username").
	Name, PreferredUsername string
	// Groups is Config.GroupsClaim's value (a string or a list of
	// strings), nil when not configured or absent.
	Groups []string
	// AMR and ACR are the authentication methods and class the provider
	// reported ("amr", "acr"), for trusting its second factor.
	AMR []string
	ACR string
	// IDToken is the raw ID token (for id_token_hint at sign-out).
	IDToken string
}

// Finish ends an authorization from the callback's query q and the Flow
// the browser kept: the state must match, an error the provider returned
// is refused, the iss parameter must be the issuer when present (and is
// required when the provider says it sends it), the code is exchanged
// with the PKCE verifier, and the ID token verified: signature (JWKS,
// refetched on an unknown key), issuer, audience (and azp when there are
// several audiences or azp is present), expiry and issued-at against
// Config.Now, and the nonce. Claims missing from the ID token are taken
// from the userinfo endpoint (whose sub must match); a userinfo endpoint
// that cannot be read then is ErrUnavailable, never a login with claims
// missing.
//
// Errors: ErrUnavailable when the provider cannot be reached or answers
// with a server error; *RefusedError for everything that proves nothing
// (its Reason is safe to log and show; never a token).
func (p *Provider) Finish(ctx context.Context, q url.Values, f Flow) (*Claims, error) {
	return p.finish(ctx, q, f)
}

// SignOutURL returns the provider's end_session_endpoint with
// id_token_hint set to idToken, client_id, and post_logout_redirect_uri
// when configured; ok is false when the provider has none (or its
// discovery cannot be read).
func (p *Provider) SignOutURL(ctx context.Context, idToken string) (u string, ok bool) {
	d, err := p.discover(ctx)
	if err != nil || d.endSession == "" {
		return "", false
	}
	end, err := url.Parse(d.endSession)
	if err != nil {
		return "", false
	}
	v := end.Query()
	if idToken != "" {
		v.Set("id_token_hint", idToken)
	}
	v.Set("client_id", p.cfg.ClientID)
	if p.cfg.PostLogoutRedirectURL != "" {
		v.Set("post_logout_redirect_uri", p.cfg.PostLogoutRedirectURL)
	}
	end.RawQuery = v.Encode()
	return end.String(), true
}

// ErrUnavailable is a provider that cannot be reached or that failed.
var ErrUnavailable = errors.New("oidclogin: the identity provider is unavailable")

// RefusedError is a callback that proves nothing.
type RefusedError struct {
	// Reason says why, for the log and the error page, e.g. "state
	// mismatch", "ID token expired", "access_denied".
	Reason string
	// Err is the underlying error, if any (logged only).
	Err error
}

func (e *RefusedError) Error() string { return "oidclogin: " + e.Reason }
func (e *RefusedError) Unwrap() error { return e.Err }

// FlowState is everything the flow cookie holds: the Flow, which provider
// it is for, where to go afterwards, and whether it links an identity to
// a logged-in user rather than logging in.
type FlowState struct {
	Flow
	Provider string
	// RD is where the browser goes after the login ("" for the default);
	// it is checked again at the callback.
	RD string
	// LinkUser is the id of the user linking the identity, "" for a login.
	LinkUser string
	// Remember asks for a remembered session ("keep me logged in").
	Remember bool
	// ExpiresAt ends the flow (10 minutes after its start).
	ExpiresAt time.Time
}

// Sealer seals FlowStates into cookie values and opens them: encrypted
// and authenticated (AES-GCM under a key derived from the server's key),
// so the browser can neither read the verifier and nonce nor change any
// field.
type Sealer struct {
	aead cipher.AEAD
}
