package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func mustCompile(t testing.TB, rules []Rule) *Table {
	t.Helper()
	tbl, err := Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func TestDecide(t *testing.T) {
	tbl := mustCompile(t, []Rule{
		/* 0 */ {Path: "/api/health", Access: Public},
		/* 1 */ {Path: "/api/servers/{id}", Methods: []string{"PATCH", "DELETE"}, Access: Permission, Permission: "servers.write"},
		/* 2 */ {Path: "/api/servers/{id}/password", Methods: []string{"GET", "PATCH"}, Access: Permission, Permissions: []string{"servers.secrets", "servers.admin"}},
		/* 3 */ {Paths: []string{"/api/upload", "/api/lastbackup/{serverId}"}, Access: Public},
		/* 4 */ {Path: "/api/admin/**", Access: Authenticated, Networks: []string{"10.0.0.0/8", "192.0.2.7"}},
		/* 5 */ {Path: "/api/admin/**", Access: Deny},
		/* 6 */ {Path: "/api/**", Access: Authenticated},
		/* 7 */ {Path: "/", Access: Public},
		/* 8 */ {Path: "/static/**", Methods: []string{"GET"}, Access: Public},
	})
	office := netip.MustParseAddr("10.1.2.3")
	home := netip.MustParseAddr("203.0.113.5")
	cases := []struct {
		method, path string
		addr         netip.Addr
		rule         int
		access       Access
	}{
		{"GET", "/api/health", home, 0, Public},
		{"HEAD", "/api/health", home, 0, Public},
		{"GET", "/API/Health", home, 0, Public}, // case is ignored
		{"POST", "/api/health", home, 0, Public},
		{"GET", "/api/health/x", home, 6, Authenticated},
		{"PATCH", "/api/servers/7", home, 1, Permission},
		{"DELETE", "/api/servers/abc", home, 1, Permission},
		{"GET", "/api/servers/7", home, 6, Authenticated}, // method not in rule 1
		{"GET", "/api/servers", home, 6, Authenticated},
		{"GET", "/api/servers/7/password", home, 2, Permission},
		{"HEAD", "/api/servers/7/password", home, 2, Permission},
		{"PATCH", "/API/SERVERS/7/PASSWORD", home, 2, Permission},
		{"POST", "/api/servers/7/password", home, 6, Authenticated},
		{"POST", "/api/upload", home, 3, Public},
		{"GET", "/api/lastbackup/srv1", home, 3, Public},
		{"GET", "/api/lastbackup", home, 6, Authenticated},
		{"GET", "/api/admin", office, 4, Authenticated}, // /** matches the prefix itself
		{"GET", "/api/admin/users/1", office, 4, Authenticated},
		{"GET", "/api/admin/users/1", netip.MustParseAddr("192.0.2.7"), 4, Authenticated},
		{"GET", "/api/admin/users/1", netip.MustParseAddr("::ffff:10.9.9.9"), 4, Authenticated},
		{"GET", "/api/admin/users/1", home, 5, Deny},
		{"GET", "/api/admin/users/1", netip.Addr{}, 5, Deny},
		{"GET", "/api", home, 6, Authenticated},
		{"GET", "/", home, 7, Public},
		{"GET", "/other", home, -1, Deny}, // nothing matched: deny
		{"GET", "/static/app.js", home, 8, Public},
		{"POST", "/static/app.js", home, -1, Deny},
		{"BREW", "/api/health", home, 0, Public},
		{"BREW", "/api/servers/7", home, 6, Authenticated},
		{"get", "/static/app.js", home, -1, Deny}, // methods are case-sensitive in HTTP
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path+" "+c.addr.String(), func(t *testing.T) {
			d := tbl.Decide(c.method, "", c.path, c.addr)
			if d.Rule != c.rule || d.Access != c.access {
				t.Fatalf("Decide = %+v, want rule %d access %s", d, c.rule, c.access)
			}
		})
	}
}

func TestFirstMatchWins(t *testing.T) {
	tbl := mustCompile(t, []Rule{
		{Path: "/a/**", Access: Public},
		{Path: "/a/b", Access: Deny},
		{Path: "/x/{id}", Access: Authenticated},
		{Path: "/x/special", Access: Public},
	})
	if d := tbl.Decide("GET", "", "/a/b", netip.Addr{}); d.Rule != 0 {
		t.Errorf("/a/b decided by %d, want the earlier prefix rule 0", d.Rule)
	}
	if d := tbl.Decide("GET", "", "/x/special", netip.Addr{}); d.Rule != 2 {
		t.Errorf("/x/special decided by %d, want the earlier param rule 2", d.Rule)
	}
}

func TestDecideEmptyTableDenies(t *testing.T) {
	tbl := mustCompile(t, nil)
	if d := tbl.Decide("GET", "", "/", netip.Addr{}); d.Access != Deny || d.Rule != -1 {
		t.Errorf("%+v", d)
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name string
		rule Rule
		want string
	}{
		{"no access", Rule{Path: "/a"}, "access is missing"},
		{"bad access", Rule{Path: "/a", Access: "maybe"}, `access "maybe"`},
		{"no path", Rule{Access: Public}, "path is missing"},
		{"relative path", Rule{Path: "a/b", Access: Public}, "must start with /"},
		{"permission without name", Rule{Path: "/a", Access: Permission}, "needs permission"},
		{"permission on public", Rule{Path: "/a", Access: Public, Permission: "x"}, "permission given"},
		{"bad permission", Rule{Path: "/a", Access: Permission, Permission: "a b"}, "not valid"},
		// A wildcard inside a permission would never match (permissions
		// compare exactly, "*" alone means all): refused like a group's.
		{"wildcard in a permission", Rule{Path: "/a", Access: Permission, Permission: "servers.*"}, "not valid"},
		{"bad method", Rule{Path: "/a", Access: Public, Methods: []string{"FETCH"}}, "not an HTTP method"},
		{"bad network", Rule{Path: "/a", Access: Public, Networks: []string{"10.0.0.0/33"}}, "network"},
		{"star in middle", Rule{Path: "/a/**/b", Access: Public}, "only in the last segment"},
		{"single star", Rule{Path: "/a/*", Access: Public}, "lone *"},
		{"glob in middle", Rule{Path: "/a/*.d/x", Access: Public}, `"/a/*.d/x": * is allowed only in the last segment`},
		{"deep glob not last but one", Rule{Path: "/a/**/b/*.aspx", Access: Public}, "only in the last segment"},
		{"two deep", Rule{Path: "/a/**/**/*.aspx", Access: Public}, "only in the last segment"},
		{"double star in a glob", Rule{Path: "/a/**.aspx", Access: Public}, "** must be a whole segment"},
		{"double star after text", Rule{Path: "/a/x**", Access: Public}, "** must be a whole segment"},
		{"too many stars", Rule{Path: "/a/*a*b*c*d*", Access: Public}, "at most 4"},
		{"param in a glob", Rule{Path: "/a/{id}*.pdf", Access: Public}, "{parameter}"},
		{"glob after a dot dot", Rule{Path: "/a/../*.aspx", Access: Public}, "not a clean path"},
		{"second pattern named", Rule{Paths: []string{"/ok2", "/x/*.a/b"}, Access: Public}, `"/x/*.a/b"`},
		{"partial param", Rule{Path: "/a/x{id}", Access: Public}, "whole segment"},
		{"empty param", Rule{Path: "/a/{}", Access: Public}, "bad parameter"},
		{"dot dot", Rule{Path: "/a/../b", Access: Public}, "not a clean path"},
		{"double slash", Rule{Path: "/a//b", Access: Public}, "not a clean path"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile([]Rule{{Path: "/ok", Access: Public}, c.rule})
			var re *RuleError
			if !errors.As(err, &re) || re.Index != 1 || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want routes[1] … %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "routes[1]") {
				t.Errorf("error does not name the rule: %v", err)
			}
		})
	}
}

func TestCleanPath(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"/", "/", true},
		{"/api/x", "/api/x", true},
		{"/api/x/", "/api/x", true}, // one trailing slash is the same path
		{"/api/%41bc", "/api/Abc", true},
		{"/api/caf%C3%A9", "/api/café", true},
		{"/api/a%20b", "/api/a b", true},
		{"", "", false},
		{"api/x", "", false},
		{"/api//x", "", false},
		{"/api/x//", "", false},
		{"/api/../admin", "", false},
		{"/api/./x", "", false},
		{"/api/..", "", false},
		{"/api/%2e%2e/admin", "", false},
		{"/api/%2E%2E", "", false},
		{"/api/%2fadmin", "", false},
		{"/api%2Fadmin", "", false},
		{"/api/%5cadmin", "", false},
		{"/api\\admin", "", false},
		{"/api/%00", "", false},
		{"/api/\x00", "", false},
		{"/api/%0a", "", false},
		{"/api/%", "", false},
		{"/api/%zz", "", false},
		{"/api/%2", "", false},
		{"/api/%252e%252e", "", false},         // double encoding
		{"/api/%c0%ae%c0%ae/admin", "", false}, // overlong "..": not UTF-8
		{"/api/%ff", "", false},
		{"/api/caf\xe9", "", false}, // a raw Latin-1 byte
		{"/api/%C3%A9t%C3%A9", "/api/été", true},
		{"/" + strings.Repeat("a", 9000), "", false},
	}
	for _, c := range cases {
		got, err := CleanPath(c.in)
		if c.ok != (err == nil) || got != c.want {
			t.Errorf("CleanPath(%q) = %q, %v; want %q ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestAuthorize(t *testing.T) {
	perm := Decision{Access: Permission, Permissions: []string{"section:settings", "settings.admin"}}
	cases := []struct {
		name  string
		d     Decision
		authn bool
		perms []string
		want  Outcome
	}{
		{"public anonymous", Decision{Access: Public}, false, nil, Allow},
		{"authenticated anonymous", Decision{Access: Authenticated}, false, nil, Unauthenticated},
		{"authenticated user", Decision{Access: Authenticated}, true, nil, Allow},
		{"permission anonymous", perm, false, nil, Unauthenticated},
		{"permission lacking", perm, true, []string{"section:users"}, Forbidden},
		{"permission held", perm, true, []string{"section:users", "section:settings"}, Allow},
		{"any of several", perm, true, []string{"settings.admin"}, Allow},
		{"star grants all", perm, true, []string{"*"}, Allow},
		{"prefix is not a grant", perm, true, []string{"section:"}, Forbidden},
		{"deny anonymous", Decision{Access: Deny, Rule: -1}, false, nil, Forbidden},
		{"deny admin", Decision{Access: Deny}, true, []string{"*"}, Forbidden},
		{"unknown access fails closed", Decision{Access: "weird"}, true, []string{"*"}, Forbidden},
		{"session anonymous", Decision{Access: Session}, false, nil, Unauthenticated},
		{"session user", Decision{Access: Session}, true, nil, Allow},
	}
	for _, c := range cases {
		if got := c.d.Authorize(c.authn, c.perms); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestAuthorizeGuest: a guest session opens only public and session
// routes; everything that needs a user answers it as an anonymous caller.
func TestAuthorizeGuest(t *testing.T) {
	cases := []struct {
		access Access
		want   Outcome
	}{
		{Public, Allow},
		{Session, Allow},
		{Authenticated, Unauthenticated},
		{Permission, Unauthenticated},
		{Deny, Forbidden},
		{"weird", Forbidden},
	}
	for _, c := range cases {
		t.Run(string(c.access), func(t *testing.T) {
			d := Decision{Access: c.access, Permissions: []string{"*"}}
			if got := d.AuthorizeGuest(); got != c.want {
				t.Errorf("AuthorizeGuest = %v, want %v", got, c.want)
			}
		})
	}
}

// TestSessionAccessParses: access session is a rule of its own, with no
// permission.
func TestSessionAccessParses(t *testing.T) {
	tab, err := Compile([]Rule{{Path: "/api/**", Access: Session}})
	if err != nil {
		t.Fatal(err)
	}
	if d := tab.Decide("GET", "", "/api/x", netip.Addr{}); d.Access != Session {
		t.Errorf("Decide = %v, want access session", d.Access)
	}
	if _, err := Compile([]Rule{{Path: "/api/**", Access: Session, Permission: "x"}}); err == nil {
		t.Error("access session with a permission compiled, want an error")
	}
}

// bigTable is a table of n rules shaped like a real application's. It
// opens with glob rules and then rules for other hosts, so every decision
// under /api tries them first (and, for the hosts, folds the request's
// host and compares it).
func bigTable(tb testing.TB, n int) *Table {
	rules := make([]Rule, 0, n)
	rules = append(rules,
		Rule{Path: "/**/*.bak", Access: Deny},
		Rule{Path: "/api/**/*.aspx", Access: Authenticated},
		Rule{Path: "/api/**/report-*-v*.pdf", Methods: []string{"GET"}, Access: Public},
		Rule{Path: "/api/res42/*.json", Access: Public},
		Rule{Path: "/api/**", Hosts: []string{"admin.example.com"}, Access: Permission, Permission: "admin"},
		Rule{Path: "/api/res42/**", Hosts: []string{"*.internal.example.com", "ops.example.com"}, Access: Deny},
		Rule{Path: "/api/res42/{id}", Hosts: []string{"*.example.org"}, Methods: []string{"PATCH"}, Access: Public},
		Rule{Path: "/api/unknown/**", Hosts: []string{"*.example.net"}, Access: Public},
	)
	for i := 0; len(rules) < n-2; i++ {
		rules = append(rules,
			Rule{Path: fmt.Sprintf("/api/res%d/{id}", i), Methods: []string{"PATCH", "DELETE"}, Access: Permission, Permission: fmt.Sprintf("res%d.write", i)},
			Rule{Path: fmt.Sprintf("/api/res%d/**", i), Access: Authenticated},
		)
	}
	rules = append(rules, Rule{Path: "/api/health", Access: Public}, Rule{Path: "/api/**", Access: Authenticated})
	return mustCompile(tb, rules)
}

func TestDecideAllocatesNothing(t *testing.T) {
	tbl := bigTable(t, 200)
	addr := netip.MustParseAddr("10.0.0.1")
	allocs := testing.AllocsPerRun(100, func() {
		tbl.Decide("PATCH", benchHost, "/api/res42/1234", addr)
	})
	if allocs != 0 {
		t.Errorf("Decide allocates %.0f times", allocs)
	}
	if d := tbl.Decide("PATCH", benchHost, "/api/res42/1234", addr); d.Rule != 92 {
		t.Errorf("rule = %d", d.Rule)
	}
}

// benchHost is the host of the benchmarks' requests: in upper case and
// with a port, so Decide must fold and trim it, and matched by no rule
// with hosts, so each of those is tried and passed over.
const benchHost = "App.Example.COM:8443"

func BenchmarkDecide200(b *testing.B) {
	tbl := bigTable(b, 200)
	addr := netip.MustParseAddr("10.0.0.1")
	b.ReportAllocs()
	for b.Loop() {
		tbl.Decide("PATCH", benchHost, "/api/res42/1234", addr)
	}
}

func BenchmarkDecide200Miss(b *testing.B) {
	tbl := bigTable(b, 200)
	addr := netip.MustParseAddr("10.0.0.1")
	b.ReportAllocs()
	for b.Loop() {
		tbl.Decide("GET", benchHost, "/api/unknown/deeper/path/here", addr)
	}
}

func TestGlob(t *testing.T) {
	tbl := mustCompile(t, []Rule{
		/* 0 */ {Path: "/umbraco/**/*.aspx", Access: Authenticated},
		/* 1 */ {Paths: []string{"/api/*.json", "/files/report-*.pdf"}, Access: Public},
		/* 2 */ {Path: "/files/*-*-v*.PDF", Methods: []string{"GET"}, Access: Permission, Permission: "files.read"},
		/* 3 */ {Path: "/**/*.bak", Access: Deny},
		/* 4 */ {Path: "/*.txt", Access: Public},
		/* 5 */ {Path: "/srv/{id}/*.log", Access: Authenticated},
		/* 6 */ {Path: "/umbraco/**", Access: Public},
		/* 7 */ {Path: "/**", Methods: []string{"POST"}, Access: Authenticated},
	})
	cases := []struct {
		method, path string
		rule         int
	}{
		// "/**/" before a glob: zero or more segments in between.
		{"GET", "/umbraco/x.aspx", 0},
		{"GET", "/umbraco/a/b/c.aspx", 0},
		{"GET", "/Umbraco/A/B/C.ASPX", 0},  // case is ignored
		{"GET", "/umbraco/a/b/c.aspx/", 0}, // and one trailing slash
		{"GET", "/umbraco/.aspx", 0},       // * matches the empty run
		{"GET", "/umbraco/a/b/c.aspxx", 6},
		{"GET", "/umbraco/a.aspx/b", 6}, // only the last segment counts
		{"GET", "/umbraco", 6},
		{"GET", "/umbraco.aspx", -1},
		{"GET", "/other/x.aspx", -1},
		{"GET", "/other/umbraco/x.aspx", -1},
		// A glob right below its directory: one segment, never a /.
		{"GET", "/api/a.json", 1},
		{"GET", "/api/.json", 1},
		{"GET", "/api/x/a.json", -1},
		{"GET", "/api/a.jsonp", -1},
		{"GET", "/api", -1},
		{"GET", "/files/report-2024.pdf", 1},
		{"GET", "/files/report-.pdf", 1},
		{"GET", "/files/report.pdf", -1},
		{"GET", "/files/a/report-1.pdf", -1},
		// Several stars: leftmost parts first, anchored at both ends.
		{"GET", "/files/a-b-v2.pdf", 2},
		{"GET", "/files/A-B-V2.pdf", 2},
		{"GET", "/files/a--v.pdf", 2},
		{"GET", "/files/x-v.pdf", -1},    // the second "-" is missing
		{"GET", "/files/a-v-x.pdf", -1},  // "-v" must follow the second "-"
		{"POST", "/files/a-b-v2.pdf", 7}, // methods still apply
		{"GET", "/files/x.bak", 3},
		{"GET", "/deep/er/x.BAK", 3},
		{"GET", "/x.bak", 3},
		{"GET", "/bak", -1},
		{"GET", "/readme.txt", 4},
		{"GET", "/a/readme.txt", -1},
		{"GET", "/srv/7/app.log", 5},
		{"GET", "/srv/7/x/app.log", -1},
		{"GET", "/srv/app.log", -1},
		{"GET", "/", -1},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			p, err := CleanPath(c.path)
			if err != nil {
				t.Fatal(err)
			}
			if d := tbl.Decide(c.method, "", p, netip.Addr{}); d.Rule != c.rule {
				t.Fatalf("decided by rule %d, want %d", d.Rule, c.rule)
			}
		})
	}
	// Networks apply to glob rules as to any other.
	office := mustCompile(t, []Rule{
		{Path: "/umbraco/**/*.aspx", Access: Authenticated, Networks: []string{"10.0.0.0/8"}},
		{Path: "/umbraco/**/*.aspx", Access: Deny},
	})
	if d := office.Decide("GET", "", "/umbraco/a.aspx", netip.MustParseAddr("10.1.1.1")); d.Rule != 0 {
		t.Errorf("from the office: rule %d", d.Rule)
	}
	if d := office.Decide("GET", "", "/umbraco/a.aspx", netip.MustParseAddr("192.0.2.1")); d.Rule != 1 {
		t.Errorf("from outside: rule %d", d.Rule)
	}
}

func TestGlobAllocatesNothing(t *testing.T) {
	tbl := mustCompile(t, []Rule{
		{Path: "/umbraco/**/*.aspx", Access: Authenticated},
		{Path: "/files/*-*-v*.pdf", Access: Public},
	})
	allocs := testing.AllocsPerRun(100, func() {
		tbl.Decide("GET", "", "/Umbraco/a/b/c.aspx", netip.Addr{})
		tbl.Decide("GET", "", "/files/a-b-v2.pdf", netip.Addr{})
	})
	if allocs != 0 {
		t.Errorf("Decide with globs allocates %.0f times", allocs)
	}
}

// FuzzDecide compiles a small table and throws arbitrary requests at it:
// no panic, and every decision is either a rule whose pattern really matches
// the path or the default deny.
func FuzzDecide(f *testing.F) {
	tbl := mustCompile(f, []Rule{
		{Path: "/api/health", Access: Public},
		{Path: "/api/servers/{id}", Methods: []string{"PATCH"}, Access: Permission, Permission: "w"},
		{Path: "/api/admin/**", Access: Deny},
		{Path: "/api/**", Access: Authenticated},
		{Path: "/static/**/*.aspx", Access: Deny},
		{Path: "/docs/report-*-v*.pdf", Access: Public},
	})
	f.Add("GET", "/api/health")
	f.Add("GET", "/static/a/b/C.ASPX")
	f.Add("GET", "/static/x.aspxx")
	f.Add("GET", "/docs/report-a-v1.pdf")
	f.Add("GET", "/docs/report--v.pdf/")
	f.Add("GET", "/docs/x/report-a-v1.pdf")
	f.Add("PATCH", "/api/servers/%2e%2e")
	f.Add("GET", "/api/admin/../health")
	f.Add("GET", "/API/ADMIN/x")
	f.Add("DELETE", "//api/admin")
	f.Fuzz(func(t *testing.T, method, raw string) {
		p, err := CleanPath(raw)
		if err != nil {
			return
		}
		d := tbl.Decide(method, "", p, netip.Addr{})
		lp := strings.ToLower(p)
		switch d.Rule {
		case -1:
			if d.Access != Deny {
				t.Fatalf("default is %s", d.Access)
			}
			if strings.HasPrefix(lp+"/", "/api/") {
				t.Fatalf("%q under /api/** fell through to the default", p)
			}
		case 2:
			if !strings.HasPrefix(lp+"/", "/api/admin/") {
				t.Fatalf("%q matched /api/admin/**", p)
			}
		case 3:
			if strings.HasPrefix(lp+"/", "/api/admin/") {
				t.Fatalf("%q under /api/admin escaped the deny rule", p)
			}
		}
		// The glob rules against path.Match as the reference: they decide
		// exactly the paths outside /api whose last segment matches.
		lp = string(lowerInto(nil, p)) // ASCII only, as Decide folds
		last := lp[strings.LastIndexByte(lp, '/')+1:]
		aspx, _ := path.Match("*.aspx", last)
		aspx = aspx && strings.HasPrefix(lp, "/static/")
		report, _ := path.Match("/docs/report-*-v*.pdf", lp)
		if (d.Rule == 4) != aspx {
			t.Fatalf("%q: rule %d, /static/**/*.aspx matches: %v", p, d.Rule, aspx)
		}
		if (d.Rule == 5) != report {
			t.Fatalf("%q: rule %d, /docs/report-*-v*.pdf matches: %v", p, d.Rule, report)
		}
		if strings.Contains(p, "..") && d.Access != Deny && strings.Contains("/"+p+"/", "/../") {
			t.Fatalf("dot-dot path %q allowed", p)
		}
	})
}

// FuzzCleanPath: never panics; an accepted path has no ambiguity left.
func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"/", "/a/b/", "/a%2Fb", "/%2e%2e", "/a//b", "/caf%C3%A9", "/\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := CleanPath(raw)
		if err != nil {
			return
		}
		if p == "" || p[0] != '/' || strings.Contains(p, "//") || strings.ContainsAny(p, "\\\x00") || !utf8.ValidString(p) {
			t.Fatalf("CleanPath(%q) = %q", raw, p)
		}
		for _, seg := range strings.Split(p[1:], "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("CleanPath(%q) = %q keeps a dot segment", raw, p)
			}
		}
		if q, err := CleanPath(strings.ReplaceAll(p, "%", "%25")); err == nil && q != p && !strings.Contains(p, "%") {
			t.Fatalf("not idempotent: %q → %q → %q", raw, p, q)
		}
	})
}

// TestUsesNetworks: without a rule limited to networks, the client's
// address cannot change a decision, so callers may skip working it out.
func TestUsesNetworks(t *testing.T) {
	plain, err := Compile([]Rule{
		{Path: "/api/health", Access: Public},
		{Path: "/api/**", Methods: []string{"DELETE"}, Access: Deny},
		{Path: "/api/**", Access: Authenticated},
	})
	if err != nil {
		t.Fatal(err)
	}
	if plain.UsesNetworks() {
		t.Error("a table without networks says it uses them")
	}
	for _, path := range []string{"/api/health", "/api/x", "/elsewhere"} {
		for _, method := range []string{"GET", "DELETE"} {
			a := plain.Decide(method, "", path, netip.MustParseAddr("198.51.100.7"))
			b := plain.Decide(method, "", path, netip.Addr{})
			if !reflect.DeepEqual(a, b) {
				t.Errorf("%s %s: %+v with an address, %+v without", method, path, a, b)
			}
		}
	}
	office, err := Compile([]Rule{{Path: "/**", Access: Public, Networks: []string{"198.51.100.0/24"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !office.UsesNetworks() {
		t.Error("a table with networks says it does not use them")
	}
}

// TestStandardMethod: the methods a gateway lets through are the standard
// ones as RFC 9110 spells them; any other case or name is not.
func TestStandardMethod(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"} {
		if !StandardMethod(m) {
			t.Errorf("StandardMethod(%q) = false", m)
		}
	}
	for _, m := range []string{"", "get", "patch", "Patch", "PROPFIND", "GET ", " GET", "GETS", "PATCH\x00"} {
		if StandardMethod(m) {
			t.Errorf("StandardMethod(%q) = true", m)
		}
	}
}

// TestCompileMethods: a gateway's extra methods can be named by rules;
// they match in their exact (upper) case only, and a table without them
// refuses a rule that names one.
func TestCompileMethods(t *testing.T) {
	rules := []Rule{
		{Path: "/dav/**", Methods: []string{"propfind", "GET"}, Access: Public},
		{Path: "/dav/**", Methods: []string{"MKCOL"}, Access: Permission, Permission: "dav.write"},
		{Path: "/dav/**", Access: Authenticated},
	}
	tbl, err := CompileMethods(rules, []string{"PROPFIND", "MKCOL", "PROPFIND"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method string
		rule   int
	}{
		{"PROPFIND", 0}, {"GET", 0}, {"HEAD", 0}, {"MKCOL", 1}, {"propfind", 2}, {"LOCK", 2}, {"DELETE", 2},
	} {
		if d := tbl.Decide(c.method, "", "/dav/x", netip.Addr{}); d.Rule != c.rule {
			t.Errorf("%s: rule %d, want %d", c.method, d.Rule, c.rule)
		}
	}
	if _, err := Compile(rules); err == nil || !strings.Contains(err.Error(), "not an HTTP method") {
		t.Errorf("Compile without extras: %v", err)
	}
	for _, bad := range [][]string{{"propfind"}, {"PATCH"}, {""}, {"A B"}} {
		if _, err := CompileMethods(nil, bad); err == nil {
			t.Errorf("CompileMethods accepted extras %q", bad)
		}
	}
	many := make([]string, maxExtraMethods+1)
	for i := range many {
		many[i] = fmt.Sprintf("X%d", i)
	}
	if _, err := CompileMethods(nil, many[:maxExtraMethods]); err != nil {
		t.Errorf("%d extras: %v", maxExtraMethods, err)
	}
	if _, err := CompileMethods(nil, many); err == nil {
		t.Errorf("%d extras accepted", len(many))
	}
}

// TestHeadIsDecidedAsGet: applications answer a HEAD with their GET
// handler (side effects and headers included), so no rule may let a HEAD
// through that the GET of the same path would not pass: a rule naming
// HEAD must name GET too.
func TestHeadIsDecidedAsGet(t *testing.T) {
	_, err := Compile([]Rule{
		{Path: "/app/report", Methods: []string{"HEAD"}, Access: Public},
		{Path: "/app/**", Access: Authenticated},
	})
	var re *RuleError
	if !errors.As(err, &re) || re.Index != 0 || !strings.Contains(re.Msg, "HEAD") {
		t.Fatalf("a rule for HEAD without GET: %v, want a RuleError for rule 0 that names HEAD", err)
	}
	tbl := mustCompile(t, []Rule{
		{Path: "/app/report", Methods: []string{"head", "GET"}, Access: Public},
		{Path: "/app/**", Access: Authenticated},
	})
	for _, m := range []string{"GET", "HEAD"} {
		if d := tbl.Decide(m, "", "/app/report", netip.Addr{}); d.Access != Public {
			t.Errorf("%s /app/report = %s, want %s", m, d.Access, Public)
		}
	}
}
