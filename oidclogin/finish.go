package oidclogin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// issuedAtLeeway is how far in the future an ID token's iat may be
// (clocks differ); later is a token not meant for now.
const issuedAtLeeway = 5 * time.Minute

func refused(reason string, err error) error { return &RefusedError{Reason: reason, Err: err} }

func (p *Provider) finish(ctx context.Context, q url.Values, f Flow) (*Claims, error) {
	if f.State == "" || f.Nonce == "" || f.Verifier == "" {
		return nil, refused("flow incomplete", nil)
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return nil, refused("state mismatch", nil)
	}
	d, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	// RFC 9207: the response says who sent it, so a code from another
	// provider (mix-up attack) is not redeemed here.
	if iss, sent := q["iss"]; sent {
		if len(iss) != 1 || iss[0] != p.cfg.Issuer {
			return nil, refused("issuer mismatch in the authorization response", nil)
		}
	} else if d.issParameter {
		return nil, refused("iss missing from the authorization response", nil)
	}
	if code := q.Get("error"); code != "" {
		return nil, refused(errorCode(code), fmt.Errorf("provider error %q: %q", code, q.Get("error_description")))
	}
	code := q.Get("code")
	if code == "" {
		return nil, refused("no code in the authorization response", nil)
	}

	ctx, cancel := context.WithTimeout(context.WithValue(ctx, oauth2.HTTPClient, p.cfg.HTTPClient), requestTimeout)
	defer cancel()
	conf := p.oauth2Config(d)
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return nil, exchangeError(err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return nil, refused("no ID token in the token response", nil)
	}
	idToken, err := p.verify(ctx, d, rawID, f.Nonce)
	if err != nil {
		return nil, err
	}
	if idToken.AccessTokenHash != "" {
		if err := idToken.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, refused("access token does not match the ID token", err)
		}
	}
	var raw map[string]any
	if err := idToken.Claims(&raw); err != nil {
		return nil, refused("ID token claims unreadable", err)
	}
	c := p.claims(raw)
	c.Subject, c.IDToken = idToken.Subject, rawID
	if p.needsUserinfo(raw) && d.provider.UserInfoEndpoint() != "" {
		if err := p.completeFromUserinfo(ctx, d, tok, raw, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// verify checks the ID token: signature by the provider's keys (fetched
// again on an unknown kid), issuer, audience, expiry and not-before (all
// by go-oidc), then what go-oidc leaves to its caller: issued-at, azp,
// nonce and a subject.
func (p *Provider) verify(ctx context.Context, d *discovery, rawID, nonce string) (*oidc.IDToken, error) {
	vctx, fetch := withKeyFetchFailure(ctx)
	idToken, err := d.verifier.Verify(vctx, rawID)
	if fetch.err != nil {
		return nil, fmt.Errorf("%w: keys: %v", ErrUnavailable, fetch.err)
	}
	var expired *oidc.TokenExpiredError
	switch {
	case errors.As(err, &expired):
		return nil, refused("ID token expired", err)
	case err != nil:
		return nil, refused(verifyReason(err), err)
	}
	if idToken.IssuedAt.After(p.cfg.Now().Add(issuedAtLeeway)) {
		return nil, refused("ID token issued in the future", nil)
	}
	// OpenID Connect Core 3.1.3.7: with several audiences azp names the
	// client the token is for; when present it must be us.
	var azp struct {
		AZP string `json:"azp"`
	}
	if err := idToken.Claims(&azp); err != nil {
		return nil, refused("ID token claims unreadable", err)
	}
	if (len(idToken.Audience) > 1 || azp.AZP != "") && azp.AZP != p.cfg.ClientID {
		return nil, refused("ID token authorized party (azp) is not this client", nil)
	}
	if subtle.ConstantTimeCompare([]byte(idToken.Nonce), []byte(nonce)) != 1 {
		return nil, refused("nonce mismatch", nil)
	}
	if idToken.Subject == "" {
		return nil, refused("ID token has no subject", nil)
	}
	return idToken, nil
}

// verifyReason names what go-oidc found wrong with an ID token, for the
// operator reading the log (a wrong client id or issuer in the
// configuration shows here first). go-oidc gives these only as text;
// anything unrecognised is "ID token invalid".
func verifyReason(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "failed to verify signature"), strings.Contains(s, "malformed jwt"), strings.Contains(s, "not signed"):
		return "ID token invalid: bad signature"
	case strings.Contains(s, "expected audience"):
		return "ID token invalid: for another client (aud)"
	case strings.Contains(s, "issued by a different provider"):
		return "ID token invalid: from another issuer (iss)"
	case strings.Contains(s, "nbf"):
		return "ID token invalid: not valid yet (nbf)"
	}
	return "ID token invalid"
}

// exchangeError sorts a failed code exchange: the provider unreachable
// or failing is ErrUnavailable; the provider refusing the code
// (invalid_grant, a PKCE verifier that does not match, a client it does
// not know) or answering nonsense is refused.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		if status >= 500 || status == http.StatusTooManyRequests {
			return fmt.Errorf("%w: token endpoint answered %d", ErrUnavailable, status)
		}
		reason := "code exchange refused"
		if re.ErrorCode != "" {
			reason += ": " + errorCode(re.ErrorCode)
		}
		// The error carries the response body: logged, never shown.
		return refused(reason, fmt.Errorf("token endpoint answered %d %q", status, re.ErrorCode))
	}
	if isNetworkError(err) {
		return fmt.Errorf("%w: token endpoint: %v", ErrUnavailable, err)
	}
	return refused("token response invalid", err)
}

func isNetworkError(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// errorCode returns an OAuth error code safe to log and show: the
// provider's own when it has the shape codes have (RFC 6749 codes are
// short and of a small alphabet), else "provider error".
func errorCode(code string) string {
	if len(code) == 0 || len(code) > 64 {
		return "provider error"
	}
	for _, r := range code {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return "provider error"
		}
	}
	return code
}

// needsUserinfo says whether the ID token lacks a claim gatehouse uses
// that the userinfo endpoint may have: the email or email_verified (when
// the email scope is asked for), or the groups claim.
func (p *Provider) needsUserinfo(raw map[string]any) bool {
	if slices.Contains(p.cfg.Scopes, "email") {
		if _, ok := raw["email"]; !ok {
			return true
		}
		if _, ok := raw["email_verified"]; !ok {
			return true
		}
	}
	if p.cfg.GroupsClaim != "" {
		if _, ok := raw[p.cfg.GroupsClaim]; !ok {
			return true
		}
	}
	return false
}

// completeFromUserinfo fills the claims the ID token lacks from the
// userinfo endpoint, whose sub must be the ID token's. It fails closed:
// a userinfo endpoint that cannot be read is ErrUnavailable (not a login
// with claims missing, which could strip mapped groups or skip an email
// check), and one that answers for another subject or refuses the access
// token is refused.
func (p *Provider) completeFromUserinfo(ctx context.Context, d *discovery, tok *oauth2.Token, idClaims map[string]any, c *Claims) error {
	// go-oidc reports a status other than 200 only as text: the status
	// is read on the way instead.
	status := &statusRecorder{next: p.cfg.HTTPClient.Transport}
	client := *p.cfg.HTTPClient
	client.Transport = status
	info, err := d.provider.UserInfo(oidc.ClientContext(ctx, &client), oauth2.StaticTokenSource(tok))
	if err != nil {
		if isNetworkError(err) || status.code >= 500 || status.code == http.StatusTooManyRequests {
			return fmt.Errorf("%w: userinfo: %v", ErrUnavailable, err)
		}
		return refused("userinfo refused", err)
	}
	if subtle.ConstantTimeCompare([]byte(info.Subject), []byte(c.Subject)) != 1 {
		return refused("userinfo subject differs from the ID token's", nil)
	}
	var raw map[string]any
	if err := info.Claims(&raw); err != nil {
		return refused("userinfo claims unreadable", err)
	}
	u := p.claims(raw)
	_, verifiedInToken := idClaims["email_verified"]
	switch {
	case c.Email == "":
		// Email and its verification come from the same source.
		c.Email, c.EmailVerified = u.Email, u.EmailVerified
	case !verifiedInToken && u.Email == c.Email:
		// The token's email, verified according to userinfo.
		c.EmailVerified = u.EmailVerified
	}
	if c.Name == "" {
		c.Name = u.Name
	}
	if c.PreferredUsername == "" {
		c.PreferredUsername = u.PreferredUsername
	}
	if c.Groups == nil {
		c.Groups = u.Groups
	}
	return nil
}

// statusRecorder is a RoundTripper that keeps the status of the last
// response (one request at a time: it serves a single call).
type statusRecorder struct {
	next http.RoundTripper
	code int
}

func (s *statusRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	next := s.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(r)
	if err == nil {
		s.code = resp.StatusCode
	}
	return resp, err
}
