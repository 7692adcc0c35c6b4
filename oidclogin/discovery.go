package oidclogin

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// requestTimeout bounds each call to the provider (discovery, token,
// userinfo), whatever the caller's context allows.
const requestTimeout = 10 * time.Second

// discovery is what gatehouse uses of a provider's discovery document.
type discovery struct {
	provider *oidc.Provider
	endpoint oauth2.Endpoint
	verifier *oidc.IDTokenVerifier
	// issParameter is the provider's promise to send iss in authorization
	// responses (RFC 9207), which then becomes required.
	issParameter bool
	// endSession is the end_session_endpoint, "" when none.
	endSession string
	fetched    time.Time
}

// signingAlgs are the ID token algorithms accepted: asymmetric only
// (an HMAC keyed by the client secret, or none, proves less).
var signingAlgs = []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA}

// discover returns the discovery document, read again once DiscoveryTTL
// has passed. A failed read is not kept: with an older document at hand
// it goes on with that one (the next call tries again), without one it
// is ErrUnavailable. Concurrent callers wait for one read.
func (p *Provider) discover(ctx context.Context) (*discovery, error) {
	select {
	case p.discoverLock <- struct{}{}:
		defer func() { <-p.discoverLock }()
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, ctx.Err())
	}
	if d := p.discovered; d != nil && p.cacheNow().Sub(d.fetched) < p.cfg.DiscoveryTTL {
		return d, nil
	}
	d, err := p.readDiscovery(ctx)
	if err != nil {
		if p.discovered != nil {
			return p.discovered, nil
		}
		return nil, fmt.Errorf("%w: discovery: %v", ErrUnavailable, err)
	}
	p.discovered = d
	return d, nil
}

func (p *Provider) readDiscovery(ctx context.Context) (*discovery, error) {
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, p.cfg.HTTPClient), requestTimeout)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, p.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var doc struct {
		JWKSURI            string   `json:"jwks_uri"`
		Algs               []string `json:"id_token_signing_alg_values_supported"`
		AuthMethods        []string `json:"token_endpoint_auth_methods_supported"`
		EndSession         string   `json:"end_session_endpoint"`
		IssParameter       bool     `json:"authorization_response_iss_parameter_supported"`
		UserinfoEndpoint   string   `json:"userinfo_endpoint"`
		AuthorizationPoint string   `json:"authorization_endpoint"`
		TokenEndpoint      string   `json:"token_endpoint"`
	}
	if err := provider.Claims(&doc); err != nil {
		return nil, err
	}
	// Every endpoint must be as safe as the issuer: a document that sends
	// codes or tokens over plain http to another host is refused whole.
	for name, u := range map[string]string{"authorization_endpoint": doc.AuthorizationPoint,
		"token_endpoint": doc.TokenEndpoint, "jwks_uri": doc.JWKSURI} {
		if err := checkProviderURL(u); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
	}
	for name, u := range map[string]string{"userinfo_endpoint": doc.UserinfoEndpoint, "end_session_endpoint": doc.EndSession} {
		if u != "" {
			if err := checkProviderURL(u); err != nil {
				return nil, fmt.Errorf("%s: %v", name, err)
			}
		}
	}

	keys := p.keySet(doc.JWKSURI)
	var algs []string
	for _, a := range doc.Algs {
		if slices.Contains(signingAlgs, a) {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		algs = []string{oidc.RS256} // the one every provider must support
	}
	endpoint := provider.Endpoint()
	endpoint.AuthStyle = authStyle(doc.AuthMethods, p.cfg.ClientSecret)
	return &discovery{
		provider: provider,
		endpoint: endpoint,
		verifier: oidc.NewVerifier(p.cfg.Issuer, keys, &oidc.Config{
			ClientID:             p.cfg.ClientID,
			SupportedSigningAlgs: algs,
			Now:                  p.cfg.Now,
		}),
		issParameter: doc.IssParameter,
		endSession:   doc.EndSession,
		fetched:      p.cacheNow(),
	}, nil
}

// authStyle picks how the client authenticates at the token endpoint:
// client_secret_basic unless the provider supports only
// client_secret_post (the default is basic when it says nothing); a
// public client sends its client_id in the form.
func authStyle(methods []string, secret string) oauth2.AuthStyle {
	if secret == "" {
		return oauth2.AuthStyleInParams
	}
	if len(methods) == 0 || slices.Contains(methods, "client_secret_basic") || !slices.Contains(methods, "client_secret_post") {
		return oauth2.AuthStyleInHeader
	}
	return oauth2.AuthStyleInParams
}

// keySet returns the key set of jwksURL, kept across discovery reads so
// that known keys are not fetched again. It fetches the JWKS when it
// meets an unknown kid, so key rotation needs nothing more.
func (p *Provider) keySet(jwksURL string) *keySet {
	if p.keys == nil || p.keys.url != jwksURL {
		ctx := oidc.ClientContext(context.Background(), p.cfg.HTTPClient)
		p.keys = &keySet{url: jwksURL, remote: oidc.NewRemoteKeySet(ctx, jwksURL)}
	}
	return p.keys
}

// checkIssuer accepts an absolute https URL, or http on a loopback host
// (a provider on the same machine, as in tests); no query or fragment.
func checkIssuer(issuer string) error {
	if err := checkProviderURL(issuer); err != nil {
		return err
	}
	u, _ := url.Parse(issuer)
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q has a query or fragment", issuer)
	}
	return nil
}

// checkProviderURL accepts an absolute https URL, or http on a loopback
// host.
func checkProviderURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q must use https (http only on a loopback host)", s)
	}
	return fmt.Errorf("%q must use https", s)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
