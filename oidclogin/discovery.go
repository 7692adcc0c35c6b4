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

// After a failed discovery read no other is tried for a while, growing
// from minRetryDelay to maxRetryDelay while the failures go on: a
// provider that is down is not asked again by every caller.
const (
	minRetryDelay = 5 * time.Second
	maxRetryDelay = 30 * time.Second
)

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

// discoveryRead is one read of the discovery document in progress,
// which every caller that needs it waits for (single flight).
type discoveryRead struct {
	done chan struct{} // closed when d or err is set
	d    *discovery
	err  error
}

// discover returns the discovery document without ever making a caller
// wait behind another:
//   - a document younger than DiscoveryTTL is returned;
//   - an older one is returned at once too, and read again in the
//     background (it keeps serving while the provider is down);
//   - without a document, callers wait, each as long as its ctx allows,
//     for one shared read, and get ErrUnavailable if it fails.
//
// Reads run apart from any caller's context, bounded by the request
// timeout. After a failed read, none is tried before the retry delay has
// passed: until then a caller without a document gets ErrUnavailable at
// once.
func (p *Provider) discover(ctx context.Context) (*discovery, error) {
	p.mu.Lock()
	d, read := p.discovered, p.reading
	now := p.cacheNow()
	if d != nil && now.Sub(d.fetched) < p.cfg.DiscoveryTTL {
		p.mu.Unlock()
		return d, nil
	}
	if read == nil && !now.Before(p.retryAt) {
		read = p.startRead()
	}
	retryAt := p.retryAt
	p.mu.Unlock()
	if d != nil {
		return d, nil // stale, being read again (or after the retry delay)
	}
	if read == nil {
		return nil, fmt.Errorf("%w: discovery failed, next try in %v", ErrUnavailable, retryAt.Sub(now).Round(time.Second))
	}
	select {
	case <-read.done:
		if read.err != nil {
			return nil, fmt.Errorf("%w: discovery: %v", ErrUnavailable, read.err)
		}
		return read.d, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: discovery: %v", ErrUnavailable, ctx.Err())
	}
}

// startRead starts reading the discovery document in the background and
// returns the read. p.mu must be held.
func (p *Provider) startRead() *discoveryRead {
	read := &discoveryRead{done: make(chan struct{})}
	p.reading = read
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), p.requestTimeout)
		defer cancel()
		d, err := p.readDiscovery(ctx)
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil {
			p.retryDelay = min(max(2*p.retryDelay, minRetryDelay), maxRetryDelay)
			p.retryAt = p.cacheNow().Add(p.retryDelay)
		} else {
			p.discovered, p.retryDelay, p.retryAt = d, 0, time.Time{}
		}
		p.reading = nil
		read.d, read.err = d, err
		close(read.done)
	}()
	return read
}

func (p *Provider) readDiscovery(ctx context.Context) (*discovery, error) {
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, p.client), p.cfg.Issuer)
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
	// codes, secrets or tokens over plain http is refused whole.
	for name, u := range map[string]string{"authorization_endpoint": doc.AuthorizationPoint,
		"token_endpoint": doc.TokenEndpoint, "jwks_uri": doc.JWKSURI} {
		if err := checkEndpoint(p.cfg.Issuer, u); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
	}
	for name, u := range map[string]string{"userinfo_endpoint": doc.UserinfoEndpoint, "end_session_endpoint": doc.EndSession} {
		if u != "" {
			if err := checkEndpoint(p.cfg.Issuer, u); err != nil {
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
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.keys == nil || p.keys.url != jwksURL {
		ctx := oidc.ClientContext(context.Background(), p.client)
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

// checkEndpoint accepts an endpoint of the discovery document of
// issuer: https, or http on a loopback host when the issuer itself is
// such an http issuer (a provider on the same machine, as in tests). An
// https issuer whose document lists http://localhost endpoints is
// refused: they would send the code, the client secret and tokens in
// clear to whatever listens there.
func checkEndpoint(issuer, endpoint string) error {
	if err := checkProviderURL(endpoint); err != nil {
		return err
	}
	iss, _ := url.Parse(issuer) // checked by New
	u, _ := url.Parse(endpoint)
	if u.Scheme != "https" && iss.Scheme == "https" {
		return fmt.Errorf("%q must use https, as the issuer does", endpoint)
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
