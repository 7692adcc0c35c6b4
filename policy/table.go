// Package policy holds gatehouse's route table: rules that decide, per path,
// method and client network, whether a request is public, needs an
// authenticated user, needs a permission, or is denied. The table is
// compiled once into a segment trie, so a decision walks the path's segments
// rather than the list of rules, and allocates nothing.
package policy

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// Access is what a rule demands of a request.
type Access string

// The accesses a rule can have.
const (
	Public        Access = "public"
	Authenticated Access = "authenticated"
	Permission    Access = "permission"
	Deny          Access = "deny"
	// Session admits any live browser session: a user's, and a guest
	// session's too (session.guest), which has no user. Authenticated
	// needs a user.
	Session Access = "session"
)

// Rule is one entry of a route table as the configuration writes it.
type Rule struct {
	// Path is a pattern: an exact path ("/api/health"), a prefix
	// ("/api/**", which also matches "/api" itself), a path with
	// parameters ("/api/servers/{id}", one segment each), or one whose last
	// segment is a glob ("/api/*.json", "/files/report-*.pdf"), where each
	// "*" (at most four) stands for any run of characters within that
	// segment. "/umbraco/**/*.aspx" is a glob at any depth below /umbraco:
	// the last segment of a path under /umbraco, directly or deeper, must
	// match it.
	Path string `yaml:"path" json:"path,omitempty"`
	// Paths adds more patterns, of the same forms, to the same rule.
	Paths []string `yaml:"paths" json:"paths,omitempty"`
	// Methods limits the rule to these methods; empty means all. A rule for
	// GET also covers HEAD, and one cannot name HEAD without GET (a HEAD
	// is answered by the application's GET handler).
	Methods []string `yaml:"methods" json:"methods,omitempty"`
	// Access is what the rule demands: public (nothing), session (any
	// live session, a guest's too), authenticated (a logged-in user),
	// permission (a user with the permission, or one of the
	// permissions) or deny.
	Access Access `yaml:"access" json:"access"`
	// Permission is required when the rule's access is "permission".
	Permission string `yaml:"permission" json:"permission,omitempty"`
	// Permissions, any one of them, is required when the rule's access
	// is "permission" (instead of a single permission).
	Permissions []string `yaml:"permissions" json:"permissions,omitempty"`
	// Networks limits the rule to clients in these CIDR ranges (after
	// trusted-proxy resolution); empty means any client.
	Networks []string `yaml:"networks" json:"networks,omitempty"`
	// Hosts limits the rule to requests for these hosts (the Host the
	// client asked for, after trusted-proxy resolution); empty means any
	// host. An entry is a host name ("admin.example.com"), or "*." and a
	// domain ("*.example.com"), which matches every subdomain at any
	// depth but not the domain itself. Matching ignores letter case, a
	// port and one trailing dot of the request's host.
	Hosts []string `yaml:"hosts" json:"hosts,omitempty"`
	// CORS opens the rule's routes to cross-origin requests in gateway
	// mode, with the server's one CORS setting (allowed origins, headers,
	// credentials): gatehouse answers their preflights itself, without a
	// session, and sets the CORS response headers. A preflight is decided
	// as the request it announces (its Access-Control-Request-Method), so
	// the rule that would decide that request must say cors: true.
	CORS bool `yaml:"cors" json:"cors,omitempty"`
}

// patterns returns every path pattern of the rule.
func (r Rule) patterns() []string {
	ps := slices.Clone(r.Paths)
	if r.Path != "" {
		ps = append([]string{r.Path}, ps...)
	}
	return ps
}

// Decision is the outcome of matching a request against a table.
type Decision struct {
	Access Access
	// Permissions are the permissions of which one is required, for
	// Access == Permission.
	Permissions []string
	// Rule is the index of the rule that decided, or -1 when no rule
	// matched and the table's default (deny) applied.
	Rule int
}

// Table is a compiled route table. It is safe for concurrent use.
type Table struct {
	rules    []compiled
	root     *node
	networks bool                 // some rule has networks
	hosts    bool                 // some rule has hosts
	extra    map[string]methodSet // the extra methods rules may name; nil for none
}

type compiled struct {
	rule     Rule
	methods  methodSet
	perms    []string
	networks []netip.Prefix
	hosts    []hostPattern
}

// node is one path segment of the trie.
type node struct {
	lit   map[string]*node // by ASCII-lower-cased literal segment
	param *node            // a {param} segment
	// exact holds the rules whose pattern ends here; prefix those whose
	// pattern ends here with "/**". Both are sorted by rule index.
	exact, prefix []int
	// globs match a last segment right below this node ("/a/*.aspx" at
	// /a); deep ones the last segment of any path below it
	// ("/a/**/*.aspx" at /a). Both are sorted by rule index.
	globs, deep []glob
}

// maxGlobStars bounds the "*" of a glob segment, so matching one stays
// linear in the segment's length.
const maxGlobStars = 4

// glob is a compiled last-segment glob of rule: the lower-cased literal
// runs between its stars. parts[0] must begin the segment and the last
// part end it; the ones between are found in order, leftmost first.
type glob struct {
	rule  int
	parts [][]byte
}

// parseGlob compiles a segment holding "*" (not "**") for rule i.
func parseGlob(seg string, i int) (glob, error) {
	switch n := strings.Count(seg, "*"); {
	case strings.Contains(seg, "**"):
		return glob{}, fmt.Errorf("** must be a whole segment, not part of %q", seg)
	case seg == "*":
		return glob{}, fmt.Errorf("a lone * segment: write {name} for one segment or ** for any depth")
	case n > maxGlobStars:
		return glob{}, fmt.Errorf("glob %q has %d *; at most %d", seg, n, maxGlobStars)
	case strings.ContainsAny(seg, "{}"):
		return glob{}, fmt.Errorf("a glob segment %q cannot hold a {parameter}", seg)
	}
	g := glob{rule: i}
	for part := range strings.SplitSeq(seg, "*") {
		g.parts = append(g.parts, lowerInto(nil, part))
	}
	return g, nil
}

// match reports whether the (lower-cased) segment seg matches g. A "*"
// matches any run of bytes, never a "/": seg is one segment.
func (g *glob) match(seg []byte) bool {
	first, last := g.parts[0], g.parts[len(g.parts)-1]
	if len(seg) < len(first)+len(last) || !bytes.HasPrefix(seg, first) || !bytes.HasSuffix(seg, last) {
		return false
	}
	mid := seg[len(first) : len(seg)-len(last)]
	for _, p := range g.parts[1 : len(g.parts)-1] {
		j := bytes.Index(mid, p)
		if j < 0 {
			return false
		}
		mid = mid[j+len(p):]
	}
	return true
}

// RuleError is a rule that cannot be compiled; Index is its position in the
// table (from 0).
type RuleError struct {
	Index int
	Path  string
	Msg   string
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("routes[%d] (%s): %s", e.Index, e.Path, e.Msg)
}

// Compile checks and compiles rules, in order: the first matching rule
// decides. A request no rule matches is denied.
func Compile(rules []Rule) (*Table, error) { return CompileMethods(rules, nil) }

// CompileMethods is Compile for a gateway that lets the methods extra
// through besides the standard ones (gateway.extra_methods, such as
// PROPFIND): rules may name them too. Each must be an upper-case method
// token that is not a standard method; at most 22.
func CompileMethods(rules []Rule, extra []string) (*Table, error) {
	t := &Table{root: &node{}}
	for _, m := range extra {
		if m == "" || StandardMethod(m) || strings.ContainsFunc(m, func(r rune) bool {
			return !('A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_')
		}) {
			return nil, fmt.Errorf("extra method %q must be an upper-case method name that is not a standard one", m)
		}
		if t.extra == nil {
			t.extra = map[string]methodSet{}
		}
		if _, dup := t.extra[m]; dup {
			continue
		}
		if len(t.extra) == maxExtraMethods {
			return nil, fmt.Errorf("at most %d extra methods", maxExtraMethods)
		}
		t.extra[m] = mOther << (1 + len(t.extra))
	}
	for i, r := range rules {
		fail := func(format string, args ...any) error {
			p := r.Path
			if p == "" && len(r.Paths) > 0 {
				p = r.Paths[0]
			}
			return &RuleError{Index: i, Path: p, Msg: fmt.Sprintf(format, args...)}
		}
		c := compiled{rule: r}
		switch r.Access {
		case Public, Authenticated, Session, Deny:
			if r.Permission != "" || len(r.Permissions) > 0 {
				return nil, fail("permission given for access %q; use access: permission", r.Access)
			}
		case Permission:
			c.perms = slices.Clone(r.Permissions)
			if r.Permission != "" {
				c.perms = append([]string{r.Permission}, c.perms...)
			}
			if len(c.perms) == 0 {
				return nil, fail("access: permission needs permission or permissions")
			}
			for _, p := range c.perms {
				if !gatehouse.ValidPermission(p) {
					return nil, fail("permission %q is not valid (letters, digits and . : _ -, or \"*\" alone)", p)
				}
			}
		case "":
			return nil, fail("access is missing (public, session, authenticated, permission or deny)")
		default:
			return nil, fail("access %q is not one of public, session, authenticated, permission, deny", r.Access)
		}
		var err error
		if c.methods, err = parseMethods(r.Methods, t.extra); err != nil {
			return nil, fail("%v", err)
		}
		for _, n := range r.Networks {
			p, err := ParseNetwork(n)
			if err != nil {
				return nil, fail("network %q is not an address or CIDR range", n)
			}
			c.networks = append(c.networks, p)
		}
		for _, h := range r.Hosts {
			hp, err := parseHostPattern(h)
			if err != nil {
				return nil, fail("%v", err)
			}
			c.hosts = append(c.hosts, hp)
		}
		pats := r.patterns()
		if len(pats) == 0 {
			return nil, fail("path is missing")
		}
		for _, p := range pats {
			if err := t.insert(p, i); err != nil {
				return nil, fail("%v", err)
			}
		}
		t.rules = append(t.rules, c)
		t.networks = t.networks || len(c.networks) > 0
		t.hosts = t.hosts || len(c.hosts) > 0
	}
	return t, nil
}

// ParseNetwork reads an address range as rules and configuration give
// it: a CIDR range (masked), or a single address (a /32 or /128; an
// IPv4-mapped IPv6 address is taken as IPv4).
func ParseNetwork(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// insert adds pattern p of rule i to the trie.
func (t *Table) insert(p string, i int) error {
	if p == "" || p[0] != '/' {
		return fmt.Errorf("path %q must start with /", p)
	}
	pat := p // as written, for errors
	prefix := false
	switch {
	case p == "/**":
		prefix, p = true, "/"
	case strings.HasSuffix(p, "/**"):
		prefix, p = true, strings.TrimSuffix(p, "/**")
	}
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	if _, err := CleanPath(strings.ReplaceAll(strings.ReplaceAll(p, "{", "x"), "}", "x")); err != nil && p != "/" {
		return fmt.Errorf("path %q is not a clean path (no //, . or .. segments, %%2F or control characters)", p)
	}
	// A last segment with "*" is a glob; "/**/" may come right before it.
	var g *glob
	deep := false
	if j := strings.LastIndexByte(p, '/'); !prefix && strings.Contains(p[j+1:], "*") {
		gl, err := parseGlob(p[j+1:], i)
		if err != nil {
			return fmt.Errorf("path %q: %v", pat, err)
		}
		g, p = &gl, p[:j]
		if strings.HasSuffix(p, "/**") {
			deep, p = true, strings.TrimSuffix(p, "/**")
		}
		if p == "" {
			p = "/"
		}
	}
	n := t.root
	if p != "/" {
		for seg := range strings.SplitSeq(p[1:], "/") {
			switch {
			case strings.Contains(seg, "*"):
				return fmt.Errorf("path %q: * is allowed only in the last segment (** also as the last but one, before a glob such as *.aspx)", pat)
			case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
				if name := seg[1 : len(seg)-1]; name == "" || strings.ContainsAny(name, "{}") {
					return fmt.Errorf("path %q: bad parameter %q", pat, seg)
				}
				if n.param == nil {
					n.param = &node{}
				}
				n = n.param
			case strings.ContainsAny(seg, "{}"):
				return fmt.Errorf("path %q: a parameter must be a whole segment, as in {id}", pat)
			default:
				key := string(lowerInto(nil, seg))
				if n.lit == nil {
					n.lit = map[string]*node{}
				}
				c := n.lit[key]
				if c == nil {
					c = &node{}
					n.lit[key] = c
				}
				n = c
			}
		}
	}
	switch {
	case g != nil && deep:
		n.deep = append(n.deep, *g)
	case g != nil:
		n.globs = append(n.globs, *g)
	case prefix:
		n.prefix = appendIndex(n.prefix, i)
	default:
		n.exact = appendIndex(n.exact, i)
	}
	return nil
}

func appendIndex(s []int, i int) []int {
	if len(s) > 0 && s[len(s)-1] == i {
		return s // the same rule lists one pattern twice
	}
	return append(s, i)
}

// UsesNetworks reports whether some rule is limited to networks: only
// then does Decide look at the client's address, so a caller may skip
// working it out.
func (t *Table) UsesNetworks() bool { return t.networks }

// UsesHosts reports whether some rule is limited to hosts: only then does
// Decide look at the host.
func (t *Table) UsesHosts() bool { return t.hosts }

// Decide matches a request against the table. host is the host the
// client asked for (a Host header: a port and one trailing dot are
// ignored, "" matches only rules without hosts). path must come from
// CleanPath; a path that did not pass it must be denied by the caller. The
// match ignores case (so "/API/x" cannot dodge a rule for "/api/x" on a
// case-insensitive upstream, nor "ADMIN.example.com" one for
// admin.example.com).
func (t *Table) Decide(method, host, path string, addr netip.Addr) Decision {
	var buf [256]byte
	lower := lowerInto(buf[:0], path)
	var hbuf [maxHostLen]byte
	var h []byte
	if t.hosts {
		h = requestHost(hbuf[:0], host)
	}
	q := query{addr: addr.Unmap(), host: h}
	m := methodBit(method)
	if m == mOther && t.extra != nil {
		if b, ok := t.extra[method]; ok {
			m = b
		}
	}
	best := len(t.rules)
	if len(lower) > 0 && lower[0] == '/' {
		best = t.match(t.root, lower[1:], m, &q, best)
	}
	if best == len(t.rules) {
		return Decision{Access: Deny, Rule: -1}
	}
	c := &t.rules[best]
	return Decision{Access: c.rule.Access, Permissions: c.perms, Rule: best}
}

// match walks the trie below n for the rest of the path (without its
// leading slash) and returns the lowest index of a matching rule, or best.
func (t *Table) match(n *node, rest []byte, m methodSet, q *query, best int) int {
	best = t.pick(n.prefix, m, q, best)
	if len(rest) == 0 {
		return t.pick(n.exact, m, q, best)
	}
	if len(n.deep) > 0 {
		last := rest
		if last[len(last)-1] == '/' {
			last = last[:len(last)-1] // one trailing slash is the same path
		}
		if i := bytes.LastIndexByte(last, '/'); i >= 0 {
			last = last[i+1:]
		}
		best = t.pickGlob(n.deep, last, m, q, best)
	}
	seg, tail := rest, []byte(nil)
	if i := indexSlash(rest); i >= 0 {
		seg, tail = rest[:i], rest[i+1:]
		if len(tail) == 0 {
			tail = nil
		}
	}
	if tail == nil && len(n.globs) > 0 {
		best = t.pickGlob(n.globs, seg, m, q, best)
	}
	if c, ok := n.lit[string(seg)]; ok {
		best = t.match(c, tail, m, q, best)
	}
	if n.param != nil && len(seg) > 0 {
		best = t.match(n.param, tail, m, q, best)
	}
	return best
}

func indexSlash(b []byte) int {
	for i, c := range b {
		if c == '/' {
			return i
		}
	}
	return -1
}

// pick returns the first rule of idx (sorted) below best that accepts the
// method and address, or best.
func (t *Table) pick(idx []int, m methodSet, q *query, best int) int {
	for _, i := range idx {
		if i >= best {
			break
		}
		if t.rules[i].accepts(m, q) {
			return i
		}
	}
	return best
}

// pickGlob is pick for globs, which must also match the segment seg.
func (t *Table) pickGlob(gs []glob, seg []byte, m methodSet, q *query, best int) int {
	for k := range gs {
		g := &gs[k]
		if g.rule >= best {
			break
		}
		if len(seg) > 0 && t.rules[g.rule].accepts(m, q) && g.match(seg) {
			return g.rule
		}
	}
	return best
}

// query is what a rule's conditions other than its path are matched on.
type query struct {
	addr netip.Addr
	host []byte // lower case, without port and trailing dot; nil when no rule has hosts
}

func (c *compiled) accepts(m methodSet, q *query) bool {
	if c.methods != 0 && c.methods&m == 0 {
		return false
	}
	if len(c.hosts) > 0 && !matchHost(c.hosts, q.host) {
		return false
	}
	if len(c.networks) == 0 {
		return true
	}
	if !q.addr.IsValid() {
		return false
	}
	for _, p := range c.networks {
		if p.Contains(q.addr) {
			return true
		}
	}
	return false
}

// lowerInto appends the ASCII-lower-cased s to dst. Rules and requests are
// folded by this same function, so they agree; non-ASCII letters are kept
// as they are and must match exactly.
func lowerInto(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// Rules returns the rules of the table, in order.
func (t *Table) Rules() []Rule {
	out := make([]Rule, len(t.rules))
	for i, c := range t.rules {
		out[i] = c.rule
	}
	return out
}

// Rule returns rule i of the table.
func (t *Table) Rule(i int) Rule { return t.rules[i].rule }

// CORS reports whether rule i (a Decision's Rule) says cors: true; false
// for -1, the table's default.
func (t *Table) CORS(i int) bool { return i >= 0 && i < len(t.rules) && t.rules[i].rule.CORS }

// UsesCORS reports whether some rule says cors: true.
func (t *Table) UsesCORS() bool {
	for i := range t.rules {
		if t.rules[i].rule.CORS {
			return true
		}
	}
	return false
}
