package server

import (
	"net/netip"
	"net/url"
	"reflect"
	"testing"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/policy"
)

// TestHTTPConfigCarriesEverySetting: every setting of httpapi.Config has
// its way through Config, so a setting added to the HTTP layer cannot be
// forgotten here (and so in gatehouse serve, which is built on Open).
func TestHTTPConfigCarriesEverySetting(t *testing.T) {
	table, err := policy.Compile([]policy.Rule{{Path: "/**", Access: policy.Authenticated}})
	if err != nil {
		t.Fatal(err)
	}
	nets := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	c, err := Config{
		BasePath:         "/gh",
		PublicURL:        "https://admin.example.com",
		TrustedProxies:   nets,
		TrustedOrigins:   []string{"https://app.example.com"},
		CSRFEveryRequest: true,
		CORS:             httpapi.CORS{AllowedOrigins: []string{"https://app.example.com"}},
		BasicAuth:        httpapi.BasicAuth{Enabled: true},
		Routes:           table,
		Gateway: Gateway{
			Upstream:            &url.URL{Scheme: "http", Host: "127.0.0.1:3000"},
			RedirectDomains:     []string{"example.com"},
			ProxyTimeout:        5,
			ExtraMethods:        []string{"PROPFIND"},
			AllowPathParameters: true,
			StripHeaders:        []string{"X-My-User"},
		},
		MetricsNetworks: nets,
		LogRequests:     true,
	}.check()
	if err != nil {
		t.Fatal(err)
	}
	h := reflect.ValueOf(c.httpConfig())
	for i := range h.NumField() {
		if h.Field(i).IsZero() {
			t.Errorf("httpapi.Config.%s is not set from Config: add a field for it", h.Type().Field(i).Name)
		}
	}
}
