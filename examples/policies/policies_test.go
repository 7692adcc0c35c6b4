package policies

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse/gatehouse/policy"
)

// config is the part of a gatehouse configuration file these tests read.
type config struct {
	BasePath  string `yaml:"base_path"`
	BasicAuth struct {
		Enabled       bool `yaml:"enabled"`
		AllowInsecure bool `yaml:"allow_insecure"`
	} `yaml:"basic_auth"`
	Groups map[string][]string `yaml:"groups"`
	Routes []policy.Rule       `yaml:"routes"`
}

// contractKeys are the top-level keys of the HTTP contract's "Configuration
// keys"; gatehouse refuses a file with any other.
var contractKeys = []string{
	"public_url", "base_path", "addr", "data_dir", "database", "sessions",
	"trusted_proxies", "trusted_origins", "session", "login", "basic_auth",
	"password", "mail", "sms", "upstream", "redirect_domains", "routes",
	"groups", "oidc",
}

// load reads an example file, checks that gatehouse would accept its keys,
// and compiles its route table.
func load(t *testing.T, name string) (*config, *policy.Table) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var c config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(false) // the file has keys this test does not read
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}

	// Every top-level key is one gatehouse knows.
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	for k := range top {
		if !slices.Contains(contractKeys, k) {
			t.Errorf("%s: top-level key %q is not a gatehouse configuration key", name, k)
		}
	}
	// A misspelt key inside a rule ("method:", "permision:") would be
	// dropped silently by the lenient decode above, widening the rule: decode
	// the routes again strictly.
	var routes struct {
		Routes yaml.Node `yaml:"routes"`
	}
	if err := yaml.Unmarshal(data, &routes); err != nil {
		t.Fatal(err)
	}
	raw, err := yaml.Marshal(&routes.Routes)
	if err != nil {
		t.Fatal(err)
	}
	strict := yaml.NewDecoder(bytes.NewReader(raw))
	strict.KnownFields(true)
	var rules []policy.Rule
	if err := strict.Decode(&rules); err != nil {
		t.Fatalf("%s: routes: %v", name, err)
	}

	tbl, err := policy.Compile(c.Routes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &c, tbl
}

// caller is who makes a request.
type caller struct {
	name          string
	authenticated bool
	perms         []string
}

var (
	anonymous = caller{name: "anonymous"}
	member    = caller{name: "user without permissions", authenticated: true}
	admin     = caller{name: "administrator (*)", authenticated: true, perms: []string{"*"}}
)

func holding(p string) caller {
	return caller{name: "user with " + p, authenticated: true, perms: []string{p}}
}

// endpoint is one method on one endpoint as a seed document lists it, with a
// concrete request path, and the rule the table must apply to it.
type endpoint struct {
	method  string
	pattern string // as the seed writes it: /api/servers/{id}
	path    string // a request path for it: /api/servers/7
	access  policy.Access
	perm    string // the permission, for access == policy.Permission
}

func public(method, pattern, path string) endpoint {
	return endpoint{method, pattern, path, policy.Public, ""}
}

func authn(method, pattern, path string) endpoint {
	return endpoint{method, pattern, path, policy.Authenticated, ""}
}

func needs(perm, method, pattern, path string) endpoint {
	return endpoint{method, pattern, path, policy.Permission, perm}
}

func denied(method, pattern, path string) endpoint {
	return endpoint{method, pattern, path, policy.Deny, ""}
}

func (e endpoint) String() string {
	if e.path == e.pattern {
		return e.method + " " + e.pattern
	}
	return e.method + " " + e.pattern + " (" + e.path + ")"
}

type callerWant struct {
	caller caller
	want   policy.Outcome
}

// callers are the three callers every endpoint is asserted for — anonymous,
// a user with no permissions, and one who holds what the endpoint needs (the
// permission, or "*" for the rest) — with the outcome each must get. A
// permission endpoint also gets an administrator.
func (e endpoint) callers() []callerWant {
	switch e.access {
	case policy.Public:
		return []callerWant{{anonymous, policy.Allow}, {member, policy.Allow}, {admin, policy.Allow}}
	case policy.Authenticated:
		return []callerWant{{anonymous, policy.Unauthenticated}, {member, policy.Allow}, {admin, policy.Allow}}
	case policy.Permission:
		return []callerWant{{anonymous, policy.Unauthenticated}, {member, policy.Forbidden}, {holding(e.perm), policy.Allow}, {admin, policy.Allow}}
	default:
		// A deny rule refuses everyone, "*" included.
		return []callerWant{{anonymous, policy.Forbidden}, {member, policy.Forbidden}, {admin, policy.Forbidden}}
	}
}

func outcome(o policy.Outcome) string {
	switch o {
	case policy.Allow:
		return "Allow"
	case policy.Unauthenticated:
		return "Unauthenticated (401)"
	case policy.Forbidden:
		return "Forbidden (403)"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// decide cleans a request path as gatehouse does and decides it.
func decide(t *testing.T, tbl *policy.Table, method, rawPath string, addr netip.Addr) policy.Decision {
	t.Helper()
	p, err := policy.CleanPath(rawPath)
	if err != nil {
		t.Fatalf("CleanPath(%q): %v", rawPath, err)
	}
	return tbl.Decide(method, "", p, addr) // the example tables name no hosts
}

// checker asserts endpoints against one table and counts what it asserted.
type checker struct {
	tbl   *policy.Table
	hit   map[int]bool // rules that decided at least one endpoint
	cases int          // endpoint × method × caller assertions
}

func newChecker(tbl *policy.Table) *checker {
	return &checker{tbl: tbl, hit: map[int]bool{}}
}

// endpoints asserts, for each endpoint, the access of the deciding rule and
// the outcome for each caller, from client address addr.
func (ck *checker) endpoints(t *testing.T, addr netip.Addr, eps []endpoint) {
	t.Helper()
	for _, e := range eps {
		d := decide(t, ck.tbl, e.method, e.path, addr)
		if d.Rule >= 0 {
			ck.hit[d.Rule] = true
		}
		for _, cw := range e.callers() {
			ck.cases++
			t.Run(e.String()+" as "+cw.caller.name, func(t *testing.T) {
				if d.Access != e.access {
					t.Fatalf("decided %s by rule %d, want %s", d.Access, d.Rule, e.access)
				}
				if e.access == policy.Permission && !slices.Equal(d.Permissions, []string{e.perm}) {
					t.Fatalf("needs %v, want [%s]", d.Permissions, e.perm)
				}
				if got := d.Authorize(cw.caller.authenticated, cw.caller.perms); got != cw.want {
					t.Errorf("%s, want %s", outcome(got), outcome(cw.want))
				}
			})
		}
	}
}

// variants asserts that each endpoint is decided the same whatever the case
// of its path and with a trailing slash: the same rule, hence the same
// outcome for every caller.
func (ck *checker) variants(t *testing.T, addr netip.Addr, eps []endpoint) {
	t.Helper()
	for _, e := range eps {
		want := decide(t, ck.tbl, e.method, e.path, addr)
		for _, v := range []string{strings.ToUpper(e.path), mixedCase(e.path), e.path + "/", strings.ToUpper(e.path) + "/"} {
			t.Run(e.String()+" as "+v, func(t *testing.T) {
				got := decide(t, ck.tbl, e.method, v, addr)
				if got.Rule != want.Rule || got.Access != want.Access {
					t.Errorf("decided %s by rule %d, want %s by rule %d like %s", got.Access, got.Rule, want.Access, want.Rule, e.path)
				}
			})
		}
	}
}

// mixedCase upper-cases every other letter: /aPi/sErVeRs/7.
func mixedCase(s string) string {
	b := []byte(s)
	n := 0
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			if n%2 == 1 {
				b[i] = c - 'a' + 'A'
			}
			n++
		}
	}
	return string(b)
}

// allRulesUsed fails if a rule of the table decided none of the endpoints:
// every rule shipped is tested.
func (ck *checker) allRulesUsed(t *testing.T) {
	t.Helper()
	for i, r := range ck.tbl.Rules() {
		if !ck.hit[i] {
			t.Errorf("rule %d (%s %v) decided no tested endpoint", i, r.Path, r.Paths)
		}
	}
}

// rejected asserts that CleanPath refuses each path, so it is denied before
// any rule is looked at.
func rejected(t *testing.T, paths []string) {
	t.Helper()
	for _, p := range paths {
		t.Run("CleanPath rejects "+p, func(t *testing.T) {
			if got, err := policy.CleanPath(p); !errors.Is(err, policy.ErrBadPath) {
				t.Errorf("CleanPath(%q) = %q, %v; want ErrBadPath", p, got, err)
			}
		})
	}
}

// groupCase is a caller holding one group's permissions from the file.
type groupCase struct {
	group        string
	method, path string
	want         policy.Outcome
}

func (ck *checker) groups(t *testing.T, c *config, addr netip.Addr, cases []groupCase) {
	t.Helper()
	for _, g := range cases {
		perms, ok := c.Groups[g.group]
		if !ok {
			t.Errorf("the file has no group %q", g.group)
			continue
		}
		ck.cases++
		t.Run(g.method+" "+g.path+" as group "+g.group, func(t *testing.T) {
			d := decide(t, ck.tbl, g.method, g.path, addr)
			if got := d.Authorize(true, perms); got != g.want {
				t.Errorf("%s (%s by rule %d), want %s", outcome(got), d.Access, d.Rule, outcome(g.want))
			}
		})
	}
}

// anywhere is a client address for tables without network rules.
var anywhere = netip.MustParseAddr("203.0.113.5")

// --- duplistatus (seed 004) ---

// duplistatusListed is every endpoint and method of the duplistatus page's
// "Unprotected Endpoints" and "Protected Endpoints" (but /api/session and
// /api/csrf, which gatehouse serves itself).
var duplistatusListed = []endpoint{
	// Unprotected: Duplicati's external API.
	public("POST", "/api/upload", "/api/upload"),
	public("GET", "/api/lastbackup/{serverId}", "/api/lastbackup/srv-1"),
	public("GET", "/api/lastbackups/{serverId}", "/api/lastbackups/srv-1"),
	public("GET", "/api/summary", "/api/summary"),
	public("GET", "/api/health", "/api/health"),
	public("HEAD", "/api/health", "/api/health"),

	// Server management.
	authn("GET", "/api/servers/{id}", "/api/servers/7"),
	authn("PATCH", "/api/servers/{id}", "/api/servers/7"),
	authn("DELETE", "/api/servers/{id}", "/api/servers/7"),
	authn("PATCH", "/api/servers/{id}/server-url", "/api/servers/7/server-url"),
	authn("GET", "/api/servers/{id}/password", "/api/servers/7/password"),
	authn("PATCH", "/api/servers/{id}/password", "/api/servers/7/password"),

	// Configuration management.
	authn("GET", "/api/configuration/email", "/api/configuration/email"),
	authn("POST", "/api/configuration/email", "/api/configuration/email"),
	authn("DELETE", "/api/configuration/email", "/api/configuration/email"),
	authn("GET", "/api/configuration/unified", "/api/configuration/unified"),
	authn("GET", "/api/configuration/ntfy", "/api/configuration/ntfy"),
	authn("GET", "/api/configuration/notifications", "/api/configuration/notifications"),
	authn("POST", "/api/configuration/notifications", "/api/configuration/notifications"),
	authn("POST", "/api/configuration/backup-settings", "/api/configuration/backup-settings"),
	authn("POST", "/api/configuration/templates", "/api/configuration/templates"),
	authn("GET", "/api/configuration/overdue-tolerance", "/api/configuration/overdue-tolerance"),
	authn("POST", "/api/configuration/overdue-tolerance", "/api/configuration/overdue-tolerance"),

	// Backup management, notifications, cron.
	authn("DELETE", "/api/backups/*", "/api/backups/42"),
	authn("POST", "/api/backups/*", "/api/backups/42"),
	authn("DELETE", "/api/backups/*", "/api/backups/srv-1/jobs/3"),
	authn("POST", "/api/backups/*", "/api/backups/collect"),
	authn("POST", "/api/notifications/*", "/api/notifications/test"),
	authn("POST", "/api/notifications/*", "/api/notifications/check-overdue"),
	authn("POST", "/api/cron-config", "/api/cron-config"),

	// Chart data, dashboard, server details.
	authn("GET", "/api/chart-data/*", "/api/chart-data/aggregated"),
	authn("GET", "/api/chart-data/*", "/api/chart-data/server/srv-1"),
	authn("GET", "/api/dashboard", "/api/dashboard"),
	authn("HEAD", "/api/dashboard", "/api/dashboard"), // a rule for GET covers HEAD
	authn("GET", "/api/servers", "/api/servers"),
	authn("GET", "/api/detail/{serverId}", "/api/detail/srv-1"),
}

// duplistatusUnlistedMethods are methods the page does not list on
// endpoints it does list: denied to everyone.
var duplistatusUnlistedMethods = []endpoint{
	denied("PUT", "/api/servers/{id}", "/api/servers/7"),
	denied("POST", "/api/servers/{id}", "/api/servers/7"),
	denied("OPTIONS", "/api/servers/{id}", "/api/servers/7"),
	denied("PROPFIND", "/api/servers/{id}", "/api/servers/7"),
	denied("GET", "/api/servers/{id}/server-url", "/api/servers/7/server-url"),
	denied("PUT", "/api/servers/{id}/server-url", "/api/servers/7/server-url"),
	denied("POST", "/api/servers/{id}/password", "/api/servers/7/password"),
	denied("DELETE", "/api/servers/{id}/password", "/api/servers/7/password"),
	denied("PUT", "/api/configuration/email", "/api/configuration/email"),
	denied("PATCH", "/api/configuration/email", "/api/configuration/email"),
	denied("POST", "/api/configuration/unified", "/api/configuration/unified"),
	denied("DELETE", "/api/configuration/ntfy", "/api/configuration/ntfy"),
	denied("DELETE", "/api/configuration/notifications", "/api/configuration/notifications"),
	denied("GET", "/api/configuration/backup-settings", "/api/configuration/backup-settings"),
	denied("GET", "/api/configuration/templates", "/api/configuration/templates"),
	denied("DELETE", "/api/configuration/overdue-tolerance", "/api/configuration/overdue-tolerance"),
	denied("GET", "/api/backups/*", "/api/backups/42"),
	denied("PUT", "/api/backups/*", "/api/backups/42"),
	denied("GET", "/api/notifications/*", "/api/notifications/test"),
	denied("DELETE", "/api/notifications/*", "/api/notifications/test"),
	denied("GET", "/api/cron-config", "/api/cron-config"),
	denied("DELETE", "/api/cron-config", "/api/cron-config"),
	denied("POST", "/api/chart-data/*", "/api/chart-data/aggregated"),
	denied("POST", "/api/dashboard", "/api/dashboard"),
	denied("POST", "/api/servers", "/api/servers"),
	denied("DELETE", "/api/servers", "/api/servers"),
	denied("PATCH", "/api/detail/{serverId}", "/api/detail/srv-1"),
}

// duplistatusUnlisted are endpoints under /api the page does not list:
// denied to everyone, administrators included (fail closed).
var duplistatusUnlisted = []endpoint{
	denied("GET", "/api", "/api"),
	denied("GET", "/api/users", "/api/users"),
	denied("POST", "/api/users", "/api/users"),
	denied("GET", "/api/configuration", "/api/configuration"),
	denied("GET", "/api/configuration/smtp", "/api/configuration/smtp"),
	denied("GET", "/api/servers/{id}/backups", "/api/servers/7/backups"),
	denied("PATCH", "/api/servers/{id}/password/reset", "/api/servers/7/password/reset"),
	denied("GET", "/api/detail/{serverId}/data", "/api/detail/srv-1/data"),
	denied("GET", "/api/lastbackup", "/api/lastbackup"),
	// Below a public endpoint is not public.
	denied("GET", "/api/lastbackup/{serverId}/more", "/api/lastbackup/srv-1/more"),
	denied("GET", "/api/lastbackups/{serverId}/more", "/api/lastbackups/srv-1/more"),
	denied("POST", "/api/upload/more", "/api/upload/more"),
	denied("GET", "/api/summary/more", "/api/summary/more"),
	denied("GET", "/api/health/details", "/api/health/details"),
	denied("POST", "/api/cron-config/run", "/api/cron-config/run"),
	// gatehouse answers these itself (base_path: /api); were one forwarded
	// to duplistatus, the table would refuse it.
	denied("POST", "/api/session", "/api/session"),
	denied("GET", "/api/csrf", "/api/csrf"),
}

// duplistatusFrontEnd is duplistatus's front end: everything outside /api.
var duplistatusFrontEnd = []endpoint{
	public("GET", "/", "/"),
	public("GET", "/settings", "/settings"),
	public("GET", "/detail/{serverId}", "/detail/srv-1"),
	public("GET", "/_next/static/**", "/_next/static/chunks/main-app.js"),
	public("GET", "/favicon.ico", "/favicon.ico"),
	public("GET", "/apiary", "/apiary"), // not under /api: prefixes are whole segments
	public("POST", "/", "/"),
}

func TestDuplistatus(t *testing.T) {
	c, tbl := load(t, "duplistatus.yaml")
	if c.BasePath != "/api" {
		t.Errorf("base_path = %q, want /api (gatehouse serves /api/session and /api/csrf)", c.BasePath)
	}
	ck := newChecker(tbl)
	t.Run("listed", func(t *testing.T) { ck.endpoints(t, anywhere, duplistatusListed) })
	t.Run("unlisted methods", func(t *testing.T) { ck.endpoints(t, anywhere, duplistatusUnlistedMethods) })
	t.Run("unlisted endpoints", func(t *testing.T) { ck.endpoints(t, anywhere, duplistatusUnlisted) })
	t.Run("front end", func(t *testing.T) { ck.endpoints(t, anywhere, duplistatusFrontEnd) })
	t.Run("case and trailing slash", func(t *testing.T) {
		all := slices.Concat(duplistatusListed, duplistatusUnlistedMethods, duplistatusUnlisted, duplistatusFrontEnd)
		ck.variants(t, anywhere, all)
		// The brief's own examples, spelled out.
		ck.endpoints(t, anywhere, []endpoint{
			authn("PATCH", "/api/servers/{id}", "/API/Servers/7"),
			public("GET", "/api/health", "/Api/Health/"),
			authn("GET", "/api/servers/{id}", "/api/servers/7/"),
			denied("PUT", "/api/servers/{id}", "/API/SERVERS/7/"),
			denied("GET", "/api/users", "/API/Users"),
		})
	})
	t.Run("groups", func(t *testing.T) {
		ck.groups(t, c, anywhere, []groupCase{
			{"administrators", "PATCH", "/api/servers/7", policy.Allow},
			{"administrators", "GET", "/api/dashboard", policy.Allow},
			{"administrators", "GET", "/api/users", policy.Forbidden},
		})
	})
	t.Run("malformed paths", func(t *testing.T) {
		rejected(t, []string{
			"/api/health/../servers/7",
			"/api/upload/%2e%2e/servers/7",
			"/api/upload/%2E%2E/configuration/email",
			"/api/upload/..%2fservers/7",
			"/api/upload%2F..%2Fservers%2F7",
			"/api/servers%2F7",
			"/api/lastbackup/srv-1%2F..%2F..%2Fservers",
			"/api//servers/7",
			"/api/./dashboard",
			"/api/health%5C..%5Cdashboard",
			`/api/health\..\dashboard`,
			"/api/servers/7%00",
			"/api/servers/%zz",
			"/api/servers/7%252F",
			"api/servers/7",
		})
	})
	ck.allRulesUsed(t)
	t.Logf("duplistatus: %d endpoint/method/caller cases", ck.cases)
}

// --- Kirby (seed 003) ---

// kirbyWrites are the writes the example gates with Kirby permissions.
var kirbyWrites = []endpoint{
	needs("pages.create", "POST", "/api/pages/{id}/children", "/api/pages/blog/children"),
	needs("pages.create", "POST", "/api/pages/{id}/children", "/api/pages/blog+my-post/children"),
	needs("pages.create", "POST", "/api/site/children", "/api/site/children"),
	needs("pages.update", "PATCH", "/api/pages/{id}", "/api/pages/blog+my-post"),
	needs("pages.changeTitle", "PATCH", "/api/pages/{id}/title", "/api/pages/blog+my-post/title"),
	needs("pages.changeStatus", "PATCH", "/api/pages/{id}/status", "/api/pages/blog+my-post/status"),
	needs("pages.delete", "DELETE", "/api/pages/{id}", "/api/pages/blog+my-post"),
	needs("site.update", "PATCH", "/api/site", "/api/site"),
	needs("users.create", "POST", "/api/users", "/api/users"),
	needs("users.delete", "DELETE", "/api/users/{id}", "/api/users/abc123"),
}

// kirbyAPI is the rest of the REST API: a logged-in user, whatever the
// method (Kirby applies the user's role to it).
var kirbyAPI = []endpoint{
	authn("GET", "/api", "/api"),
	authn("GET", "/api/site", "/api/site"),
	authn("GET", "/api/pages/{id}", "/api/pages/example"),
	authn("GET", "/api/pages/{id}/children", "/api/pages/blog/children"),
	authn("POST", "/api/pages/{id}/files", "/api/pages/blog+my-post/files"),
	authn("GET", "/api/users", "/api/users"),
	authn("GET", "/api/users/{id}", "/api/users/abc123"),
	authn("PATCH", "/api/users/{id}", "/api/users/abc123"),
	authn("GET", "/api/system", "/api/system"),
	authn("POST", "/api/auth/login", "/api/auth/login"),
	// A method without its own rule falls to /api/**, not to a write rule.
	authn("PUT", "/api/pages/{id}", "/api/pages/blog+my-post"),
	authn("GET", "/api/pages/{id}/title", "/api/pages/blog+my-post/title"),
	// Preflights need the commented-out OPTIONS rule.
	authn("OPTIONS", "/api/pages/{id}", "/api/pages/example"),
}

var kirbyPanel = []endpoint{
	needs("access.panel", "GET", "/panel", "/panel"),
	needs("access.panel", "GET", "/panel/**", "/panel/pages/blog+my-post"),
	needs("access.panel", "GET", "/panel/**", "/panel/site"),
	needs("access.panel", "POST", "/panel/**", "/panel/users/abc123"),
}

var kirbyFrontEnd = []endpoint{
	public("GET", "/", "/"),
	public("GET", "/blog", "/blog"),
	public("GET", "/blog/my-post", "/blog/my-post"),
	public("GET", "/media/**", "/media/pages/blog/my-post/1a2b3c-123/photo.jpg"),
	public("GET", "/assets/**", "/assets/css/index.css"),
	public("POST", "/contact", "/contact"),
	public("GET", "/apis", "/apis"),
	public("GET", "/panels", "/panels"),
}

func TestKirby(t *testing.T) {
	c, tbl := load(t, "kirby.yaml")
	if !c.BasicAuth.Enabled || c.BasicAuth.AllowInsecure {
		t.Errorf("basic_auth = %+v, want enabled, HTTPS only (Kirby's default when on)", c.BasicAuth)
	}
	ck := newChecker(tbl)
	t.Run("writes", func(t *testing.T) { ck.endpoints(t, anywhere, kirbyWrites) })
	t.Run("api", func(t *testing.T) { ck.endpoints(t, anywhere, kirbyAPI) })
	t.Run("panel", func(t *testing.T) { ck.endpoints(t, anywhere, kirbyPanel) })
	t.Run("front end", func(t *testing.T) { ck.endpoints(t, anywhere, kirbyFrontEnd) })
	t.Run("case and trailing slash", func(t *testing.T) {
		ck.variants(t, anywhere, slices.Concat(kirbyWrites, kirbyAPI, kirbyPanel, kirbyFrontEnd))
		ck.endpoints(t, anywhere, []endpoint{
			needs("pages.delete", "DELETE", "/api/pages/{id}", "/API/Pages/Blog+My-Post/"),
			needs("users.delete", "DELETE", "/api/users/{id}", "/Api/Users/abc123"),
			needs("access.panel", "GET", "/panel", "/PANEL"),
		})
	})
	t.Run("groups", func(t *testing.T) {
		ck.groups(t, c, anywhere, []groupCase{
			{"editors", "PATCH", "/api/pages/blog+my-post", policy.Allow},
			{"editors", "POST", "/api/pages/blog/children", policy.Allow},
			{"editors", "PATCH", "/api/site", policy.Allow},
			{"editors", "DELETE", "/api/pages/blog+my-post", policy.Forbidden},
			{"editors", "POST", "/api/users", policy.Forbidden},
			{"editors", "GET", "/panel", policy.Allow},
			{"publishers", "PATCH", "/api/pages/blog+my-post", policy.Allow},
			{"publishers", "PATCH", "/api/pages/blog+my-post/status", policy.Allow},
			{"publishers", "PATCH", "/api/pages/blog+my-post/title", policy.Forbidden},
			{"publishers", "POST", "/api/site/children", policy.Forbidden},
			{"publishers", "GET", "/panel", policy.Forbidden},
			{"publishers", "GET", "/api/pages/blog", policy.Allow},
			{"administrators", "DELETE", "/api/users/abc123", policy.Allow},
		})
	})
	t.Run("malformed paths", func(t *testing.T) {
		rejected(t, []string{
			"/api/pages/blog%2Fmy-post", // a page id with an encoded slash: not {id}
			"/api/pages/blog%2fmy-post/children",
			"/api/pages/blog/../../users/abc123",
			"/api/pages/%2e%2e",
			"/blog/..%2F..%2Fapi/users",
			"/panel/../api/users",
			"/panel/./site",
			"/api//users",
			"/api/users/abc%5C..",
		})
	})
	ck.allRulesUsed(t)
	t.Logf("kirby: %d endpoint/method/caller cases", ck.cases)
}

// --- Umbraco (seeds 000 and 002) ---

var (
	office      = netip.MustParseAddr("10.1.2.3")
	office6     = netip.MustParseAddr("fd12:3456::5")
	officeV4in6 = netip.MustParseAddr("::ffff:192.168.1.20")
	outside     = netip.MustParseAddr("203.0.113.9")
	outside6    = netip.MustParseAddr("2001:db8::1")
)

// umbracoManagement is the Umbraco.AI Management API: every endpoint needs
// Settings section access.
var umbracoManagement = []endpoint{
	needs("section:settings", "GET", "/umbraco/ai/management/api/v1", "/umbraco/ai/management/api/v1"),
	needs("section:settings", "GET", "/umbraco/ai/management/api/v1/connections", "/umbraco/ai/management/api/v1/connections"),
	needs("section:settings", "POST", "/umbraco/ai/management/api/v1/connections", "/umbraco/ai/management/api/v1/connections"),
	needs("section:settings", "GET", "/umbraco/ai/management/api/v1/connections/{id}", "/umbraco/ai/management/api/v1/connections/3f2a"),
	needs("section:settings", "PUT", "/umbraco/ai/management/api/v1/connections/{id}", "/umbraco/ai/management/api/v1/connections/3f2a"),
	needs("section:settings", "DELETE", "/umbraco/ai/management/api/v1/connections/{id}", "/umbraco/ai/management/api/v1/connections/3f2a"),
	needs("section:settings", "GET", "/umbraco/ai/management/api/v1/profiles", "/umbraco/ai/management/api/v1/profiles"),
	needs("section:settings", "POST", "/umbraco/ai/management/api/v1/profiles", "/umbraco/ai/management/api/v1/profiles"),
	needs("section:settings", "DELETE", "/umbraco/ai/management/api/v1/profiles/{id}", "/umbraco/ai/management/api/v1/profiles/chat-default"),
	needs("section:settings", "GET", "/umbraco/ai/management/api/v1/providers", "/umbraco/ai/management/api/v1/providers"),
	needs("section:settings", "POST", "/umbraco/ai/management/api/v1/connections/{id}/test", "/umbraco/ai/management/api/v1/connections/3f2a/test"),
}

// umbracoBackoffice is the backoffice prefix and Umbraco's "always
// backoffice" routes: a logged-in user.
var umbracoBackoffice = []endpoint{
	authn("GET", "/umbraco", "/umbraco"),
	authn("GET", "/umbraco/backoffice/**", "/umbraco/backoffice/UmbracoApi/Authentication/GetCurrentUser"),
	authn("POST", "/umbraco/backoffice/**", "/umbraco/backoffice/UmbracoApi/Authentication/PostLogout"),
	authn("GET", "/umbraco/backoffice/cats/{action}/{id}", "/umbraco/backoffice/cats/meow/1"),
	authn("GET", "/umbraco/backoffice/api/{controller}/{action}", "/umbraco/backoffice/api/MyAuthorized/GetAll"),
	authn("GET", "/umbraco/backoffice/{area}/{controller}/{action}", "/umbraco/backoffice/MyPlugin/MyAuthorized/GetAll"),
	authn("POST", "/umbraco/restservices/**", "/umbraco/restservices/Packages/Install"),
	authn("GET", "/umbraco/**", "/umbraco/views/content/edit.html"),
	authn("GET", "/umbraco/**/*.aspx", "/umbraco/dialogs/treepicker.aspx"),
	authn("GET", "/umbraco/**/*.aspx", "/umbraco/login.aspx"),
	authn("POST", "/umbraco/**/*.aspx", "/umbraco/api/Legacy/Page.aspx"),            // an extension makes it backoffice, even under /umbraco/api
	authn("POST", "/umbraco/**/*.ashx", "/umbraco/surface/Upload/handler.ashx"),     // and under /umbraco/surface
	authn("GET", "/umbraco/**/*.asmx", "/umbraco/webservices/legacyAjaxCalls.asmx"), // Umbraco's own example
	authn("GET", "/umbraco/**/*.axd", "/umbraco/ping.axd"),
	authn("GET", "/umbraco/**", "/umbraco/management/api/v1/document/root"),
	authn("GET", "/umbraco/ai/**", "/umbraco/ai/other"), // not the v1 management API
}

// umbracoFrontEnd is public from anywhere: front-end controllers under
// /umbraco and the site.
var umbracoFrontEnd = []endpoint{
	public("GET", "/umbraco/api/{controller}/{action}", "/umbraco/api/Products/GetAll"),
	public("POST", "/umbraco/surface/{controller}/{action}", "/umbraco/surface/Contact/Submit"),
	public("GET", "/", "/"),
	public("GET", "/about-us", "/about-us"),
	public("GET", "/blog/post-1", "/blog/post-1"),
	public("GET", "/media/**", "/media/1234/photo.jpg"),
	public("POST", "/api/chat", "/api/chat"), // the seed's own public API controller
	public("GET", "/umbraco-cms", "/umbraco-cms"),
	public("GET", "/umbracoforms", "/umbracoforms"),
	public("GET", "/umbraco/api/{controller}/{action}", "/umbraco/api/Pages/Get.aspxx"), // not .aspx
	public("GET", "/legacy/default.aspx", "/legacy/default.aspx"),                       // not under /umbraco
}

// deniedFromOutside turns endpoints into their decision from a network
// outside the office: denied to everyone.
func deniedFromOutside(eps []endpoint) []endpoint {
	out := make([]endpoint, len(eps))
	for i, e := range eps {
		out[i] = denied(e.method, e.pattern, e.path)
	}
	return out
}

func TestUmbraco(t *testing.T) {
	c, tbl := load(t, "umbraco.yaml")
	ck := newChecker(tbl)
	for _, addr := range []netip.Addr{office, office6, officeV4in6} {
		t.Run("from the office "+addr.String(), func(t *testing.T) {
			t.Run("management api", func(t *testing.T) { ck.endpoints(t, addr, umbracoManagement) })
			t.Run("backoffice", func(t *testing.T) { ck.endpoints(t, addr, umbracoBackoffice) })
			t.Run("front end", func(t *testing.T) { ck.endpoints(t, addr, umbracoFrontEnd) })
		})
	}
	for _, addr := range []netip.Addr{outside, outside6, {}} {
		name := "from outside " + addr.String()
		if !addr.IsValid() {
			name = "from an unknown address"
		}
		t.Run(name, func(t *testing.T) {
			t.Run("management api", func(t *testing.T) { ck.endpoints(t, addr, deniedFromOutside(umbracoManagement)) })
			t.Run("backoffice", func(t *testing.T) { ck.endpoints(t, addr, deniedFromOutside(umbracoBackoffice)) })
			t.Run("front end", func(t *testing.T) { ck.endpoints(t, addr, umbracoFrontEnd) })
		})
	}
	t.Run("case and trailing slash", func(t *testing.T) {
		all := slices.Concat(umbracoManagement, umbracoBackoffice, umbracoFrontEnd)
		ck.variants(t, office, all)
		ck.variants(t, outside, all)
		// As the routing page writes them.
		ck.endpoints(t, office, []endpoint{
			authn("GET", "/Umbraco/BackOffice/**", "/Umbraco/BackOffice/UmbracoApi/Authentication/GetCurrentUser"),
			authn("GET", "/Umbraco/RestServices/**", "/Umbraco/RestServices/Packages/Install"),
			needs("section:settings", "GET", "/umbraco/ai/management/api/v1/connections", "/Umbraco/AI/Management/Api/V1/Connections/"),
		})
		ck.endpoints(t, outside, []endpoint{
			denied("GET", "/Umbraco/BackOffice/**", "/Umbraco/BackOffice/UmbracoApi/Authentication/GetCurrentUser"),
		})
	})
	t.Run("groups", func(t *testing.T) {
		ck.groups(t, c, office, []groupCase{
			// 403 "User does not have access to the Settings section".
			{"editors", "GET", "/umbraco/ai/management/api/v1/connections", policy.Forbidden},
			{"editors", "GET", "/umbraco/backoffice/UmbracoApi/Authentication/GetCurrentUser", policy.Allow},
			{"developers", "GET", "/umbraco/ai/management/api/v1/connections", policy.Allow},
			{"developers", "DELETE", "/umbraco/ai/management/api/v1/connections/3f2a", policy.Allow},
			{"administrators", "POST", "/umbraco/ai/management/api/v1/profiles", policy.Allow},
		})
		ck.groups(t, c, outside, []groupCase{
			{"developers", "GET", "/umbraco/ai/management/api/v1/connections", policy.Forbidden},
			{"administrators", "GET", "/umbraco", policy.Forbidden},
		})
	})
	t.Run("malformed paths", func(t *testing.T) {
		rejected(t, []string{
			// Through a public prefix to the backoffice or the management API.
			"/umbraco/api/../backoffice/UmbracoApi/Authentication/GetCurrentUser",
			"/umbraco/api/..%2Fbackoffice/x",
			"/umbraco/api%2F..%2Fbackoffice%2Fx",
			"/umbraco/surface/%2e%2e/ai/management/api/v1/connections",
			"/umbraco/surface/%2E%2E/ai/management/api/v1/connections",
			"/about-us/../../umbraco/backoffice/x",
			"/umbraco//backoffice/x",
			"/umbraco/api/x%5C..%5C..%5Cbackoffice",
		})
	})
	ck.allRulesUsed(t)
	t.Logf("umbraco: %d endpoint/method/caller cases", ck.cases)
}
