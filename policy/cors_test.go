package policy

import (
	"net/netip"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestCORSRule: cors: true is read from the configuration's YAML, and the
// table tells it for the rule that decided; the default (no rule) never
// says cors.
func TestCORSRule(t *testing.T) {
	var rules []Rule
	if err := yaml.Unmarshal([]byte(`
- path: /api/servers/{id}
  methods: [PATCH]
  access: authenticated
  cors: true
- path: /api/**
  access: authenticated
- path: /public/**
  access: public
  cors: false
`), &rules); err != nil {
		t.Fatal(err)
	}
	tbl := mustCompile(t, rules)
	for _, c := range []struct {
		method, path string
		want         bool
	}{
		{"PATCH", "/api/servers/7", true},
		{"GET", "/api/servers/7", false}, // decided by /api/**
		{"PATCH", "/API/Servers/7", true},
		{"GET", "/public/x", false},
		{"GET", "/nowhere", false},
	} {
		d := tbl.Decide(c.method, "", c.path, netip.Addr{})
		if got := tbl.CORS(d.Rule); got != c.want {
			t.Errorf("%s %s: CORS(%d) = %v, want %v", c.method, c.path, d.Rule, got, c.want)
		}
	}
	if tbl.CORS(-1) || tbl.CORS(len(rules)) {
		t.Error("CORS of no rule is true")
	}
}
