package policy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestDecideHosts(t *testing.T) {
	tbl := mustCompile(t, []Rule{
		/* 0 */ {Path: "/admin/**", Hosts: []string{"Admin.Example.com."}, Access: Permission, Permission: "admin"},
		/* 1 */ {Path: "/admin/**", Access: Deny},
		/* 2 */ {Path: "/**", Hosts: []string{"*.example.com"}, Access: Authenticated},
		/* 3 */ {Path: "/**", Hosts: []string{"example.com", "*.example.org"}, Methods: []string{"GET"}, Access: Public},
		/* 4 */ {Path: "/**", Hosts: []string{"office.example.net"}, Networks: []string{"10.0.0.0/8"}, Access: Public},
	})
	office := netip.MustParseAddr("10.1.2.3")
	for _, c := range []struct {
		name, method, host, path string
		addr                     netip.Addr
		rule                     int
	}{
		{"exact host", "GET", "admin.example.com", "/admin/users", netip.Addr{}, 0},
		{"case and port ignored", "GET", "ADMIN.example.COM:8443", "/admin/users", netip.Addr{}, 0},
		{"one trailing dot ignored", "GET", "admin.example.com.", "/admin/users", netip.Addr{}, 0},
		{"trailing dot and port", "GET", "admin.example.com.:443", "/admin", netip.Addr{}, 0},
		{"two trailing dots are another name", "GET", "admin.example.com..", "/admin", netip.Addr{}, 1},
		{"other host falls through", "GET", "app.example.com", "/admin/users", netip.Addr{}, 1},
		{"suffix that is not a subdomain", "GET", "evil-admin.example.com", "/admin", netip.Addr{}, 1},
		{"no host matches no host rule", "GET", "", "/admin/users", netip.Addr{}, 1},
		{"wildcard: subdomain", "GET", "app.example.com", "/x", netip.Addr{}, 2},
		{"wildcard: any depth", "GET", "a.b.c.example.com", "/x", netip.Addr{}, 2},
		{"wildcard: not the domain itself", "GET", "example.com", "/x", netip.Addr{}, 3},
		{"wildcard: not a lookalike", "GET", "notexample.com", "/x", netip.Addr{}, -1},
		{"wildcard: not a longer TLD", "GET", "a.example.com.evil", "/x", netip.Addr{}, -1},
		{"methods still apply", "POST", "example.com", "/x", netip.Addr{}, -1},
		{"second wildcard", "GET", "www.example.org:80", "/x", netip.Addr{}, 3},
		{"hosts and networks: both", "GET", "office.example.net", "/x", office, 4},
		{"hosts and networks: wrong network", "GET", "office.example.net", "/x", netip.MustParseAddr("192.0.2.1"), -1},
		{"IPv6 literal matches no name", "GET", "[::1]:8080", "/x", netip.Addr{}, -1},
		{"over-long host matches nothing", "GET", strings.Repeat("a.", 130) + "example.com", "/x", netip.Addr{}, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			if d := tbl.Decide(c.method, c.host, c.path, c.addr); d.Rule != c.rule {
				t.Errorf("Decide(%s %s%s) = rule %d, want %d", c.method, c.host, c.path, d.Rule, c.rule)
			}
		})
	}
	if !tbl.UsesHosts() {
		t.Error("UsesHosts = false for a table with host rules")
	}
	if mustCompile(t, []Rule{{Path: "/**", Access: Public}}).UsesHosts() {
		t.Error("UsesHosts = true for a table without host rules")
	}
}

func TestDecideHostsAllocatesNothing(t *testing.T) {
	tbl := bigTable(t, 200)
	addr := netip.MustParseAddr("10.0.0.1")
	for _, host := range []string{benchHost, "ADMIN.EXAMPLE.COM.", "x.Internal.Example.com:1", ""} {
		if allocs := testing.AllocsPerRun(100, func() { tbl.Decide("PATCH", host, "/api/res42/1234", addr) }); allocs != 0 {
			t.Errorf("Decide with host %q allocates %.0f times", host, allocs)
		}
	}
	if d := tbl.Decide("GET", "ADMIN.EXAMPLE.COM.", "/api/res1", addr); d.Rule != 4 {
		t.Errorf("admin host: rule %d, want 4", d.Rule)
	}
	if d := tbl.Decide("GET", "x.Internal.Example.com:1", "/api/res42/1234", addr); d.Rule != 5 {
		t.Errorf("internal host: rule %d, want 5", d.Rule)
	}
}

func TestCompileHostErrors(t *testing.T) {
	for _, h := range []string{
		"", "https://admin.example.com", "admin.example.com:8443", "admin.*.example.com",
		"*example.com", "*", "*.", "admin..example.com", "-admin.example.com", "admin example.com",
		"admin.example.com/path", "[::1]", strings.Repeat("a", 64) + ".example.com",
	} {
		_, err := Compile([]Rule{{Path: "/ok", Access: Public}, {Path: "/x", Hosts: []string{"a.example.com", h}, Access: Public}})
		var re *RuleError
		if !errors.As(err, &re) || re.Index != 1 || !strings.Contains(err.Error(), "host") {
			t.Errorf("host %q: error %v, want a RuleError for routes[1] naming the host", h, err)
		}
	}
}
