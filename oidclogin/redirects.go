package oidclogin

import (
	"errors"
	"net/http"
)

// errRedirect is a provider answering with a redirect. None is followed,
// for any request: a 307 or 308 from the token endpoint would post the
// code, the PKCE verifier and the client secret again to where it
// points, and a redirected discovery, JWKS or userinfo request would
// take its answer from a host the configuration did not name. The
// request fails as a network error does, so the provider is
// unavailable (ErrUnavailable), not the user refused.
var errRedirect = errors.New("oidclogin: the provider answered with a redirect, which is not followed")

// withoutRedirects returns a copy of c that refuses redirects (c itself,
// maybe shared with other code, is not changed).
func withoutRedirects(c *http.Client) *http.Client {
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return errRedirect }
	return &cp
}
