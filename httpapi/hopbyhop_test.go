package httpapi_test

import (
	"net/http"
	"testing"
)

// TestProxyHopByHopCannotDropGatehouseHeaders: a client naming
// gatehouse's headers in Connection (which makes a proxy drop them as
// hop-by-hop) cannot strip the identity and address headers gatehouse
// sets, nor bring its own back: ReverseProxy drops the named headers
// before rewriteUpstream sets them.
func TestProxyHopByHopCannotDropGatehouseHeaders(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayFront(t, up.url(t))
	g.e.createUser("viewer", "viewer@example.com", pwOf("viewer"))
	cookie, _ := g.sessionOf("viewer", pwOf("viewer"))
	_, got := g.echo("GET", "/app/page", "", http.Header{
		"Cookie":      {cookie},
		"Connection":  {"Remote-User, Remote-Email, Remote-Groups, Remote-Name, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, X-Real-Ip, Forwarded"},
		"Remote-User": {"root"},
	})
	for _, h := range []string{"Remote-User", "Remote-Email", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip", "Forwarded"} {
		if len(got.Header.Values(h)) != 1 {
			t.Errorf("upstream got %s = %q, want gatehouse's one value", h, got.Header.Values(h))
		}
	}
	if got.Header.Get("Remote-User") != "viewer" {
		t.Errorf("Remote-User = %q, want viewer", got.Header.Get("Remote-User"))
	}
}
