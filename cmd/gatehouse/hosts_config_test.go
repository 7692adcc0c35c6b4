package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validateYAML loads and validates a configuration file holding yml.
func validateYAML(t *testing.T, yml string) (*settings, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, src, err := loadConfig(file, func(string) string { return "" })
	if err != nil {
		return nil, err
	}
	return c.validate(src)
}

func TestCookieDomainConfig(t *testing.T) {
	for _, tt := range []struct {
		name, yaml string
		want       string   // the session's cookie domain when valid
		wantErr    []string // substrings of the error otherwise
	}{
		{"unset", "addr: 127.0.0.1:8080\n", "", nil},
		{"domain", "session:\n  cookie_domain: Example.COM\n", "example.com", nil},
		{"leading dot tolerated", "session:\n  cookie_domain: .example.com\n", "example.com", nil},
		{"public_url under it", "public_url: https://auth.example.com\nsession:\n  cookie_domain: example.com\n", "example.com", nil},
		{"public_url is it", "public_url: https://example.com:8443/\nsession:\n  cookie_domain: example.com\n", "example.com", nil},
		{"scheme", "session:\n  cookie_domain: https://example.com\n", "", []string{":2:", "session.cookie_domain", "not a URL"}},
		{"port", "session:\n  cookie_domain: example.com:443\n", "", []string{":2:", "session.cookie_domain", "without port"}},
		{"wildcard", "session:\n  cookie_domain: \"*.example.com\"\n", "", []string{"session.cookie_domain", "wildcard"}},
		{"public suffix", "session:\n  cookie_domain: co.uk\n", "", []string{"session.cookie_domain", "public suffix"}},
		{"top-level domain", "session:\n  cookie_domain: com\n", "", []string{"session.cookie_domain", "with a dot"}},
		{"address", "session:\n  cookie_domain: 192.0.2.1\n", "", []string{"session.cookie_domain", "with a dot"}},
		{"public_url outside", "public_url: https://auth.example.org\nsession:\n  cookie_domain: example.com\n", "", []string{":3:", "session.cookie_domain", "public_url"}},
		{"public_url lookalike", "public_url: https://notexample.com\nsession:\n  cookie_domain: example.com\n", "", []string{"session.cookie_domain", "public_url"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := validateYAML(t, tt.yaml)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("validate: no error, want one with %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("validate: %v", err)
			}
			if s.session.CookieDomain != tt.want {
				t.Errorf("cookie domain = %q, want %q", s.session.CookieDomain, tt.want)
			}
		})
	}
}

func TestRouteHostsConfig(t *testing.T) {
	s, err := validateYAML(t, "routes:\n  - path: /admin/**\n    hosts: [admin.example.com, \"*.internal.example.com\"]\n    access: authenticated\n  - path: /**\n    access: public\n")
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	if d := s.routes.Decide("GET", "a.internal.example.com", "/admin/x", netip.Addr{}); d.Rule != 0 {
		t.Errorf("a.internal.example.com/admin/x: rule %d, want 0", d.Rule)
	}
	if d := s.routes.Decide("GET", "www.example.com", "/admin/x", netip.Addr{}); d.Rule != 1 {
		t.Errorf("www.example.com/admin/x: rule %d, want 1", d.Rule)
	}
	_, err = validateYAML(t, "routes:\n  - path: /ok\n    access: public\n  - path: /admin/**\n    hosts: [\"https://admin.example.com\"]\n    access: authenticated\n")
	if err == nil || !strings.Contains(err.Error(), "routes[1]") || !strings.Contains(err.Error(), "not a URL") || !strings.Contains(err.Error(), ":4:") {
		t.Errorf("a host given as a URL: error %v, want one naming routes[1], its line and the problem", err)
	}
}
