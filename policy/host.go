package policy

import (
	"fmt"
	"strings"
)

// maxHostLen is the longest DNS name (253) plus its trailing dot. A
// request's host longer than that matches no rule with hosts.
const maxHostLen = 254

// hostPattern is a compiled entry of Rule.Hosts: an exact host name, or
// (wildcard) the suffix "." + domain that every subdomain ends with.
type hostPattern struct {
	name     string // lower case; for a wildcard, ".example.com"
	wildcard bool
}

// parseHostPattern checks and compiles an entry of Rule.Hosts.
func parseHostPattern(h string) (hostPattern, error) {
	p := strings.ToLower(strings.TrimSuffix(h, "."))
	wildcard := strings.HasPrefix(p, "*.")
	if wildcard {
		p = p[2:]
	}
	if err := checkHostName(p); err != nil {
		return hostPattern{}, fmt.Errorf("host %q %v", h, err)
	}
	if wildcard {
		return hostPattern{name: "." + p, wildcard: true}, nil
	}
	return hostPattern{name: p}, nil
}

// checkHostName refuses what is not a DNS host name (letters, digits, "-"
// and "_" in dot-separated labels), such as a URL, a port or a wildcard
// anywhere but at the start.
func checkHostName(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("is empty; write a host name such as admin.example.com or *.example.com")
	case strings.Contains(p, "://"):
		return fmt.Errorf("must be a host name, not a URL")
	case strings.Contains(p, ":"):
		return fmt.Errorf("must not have a port: hosts match whatever port the request came to")
	case strings.Contains(p, "*"):
		return fmt.Errorf("may only start with \"*.\" (every subdomain), as in *.example.com")
	case len(p) > maxHostLen-1:
		return fmt.Errorf("is longer than 253 characters")
	}
	for label := range strings.SplitSeq(p, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("is not a host name such as admin.example.com")
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("is not a host name such as admin.example.com (letters, digits, - and _ in labels)")
			}
		}
	}
	return nil
}

// requestHost appends to dst the host of a Host header h as hosts are
// matched: lower case, without a port and without one trailing dot. An IPv6
// literal keeps its brackets (no rule can name one). A host too long for
// dst's capacity gives nil, which matches no rule with hosts; so does "".
// It writes into dst's backing array and never allocates.
func requestHost(dst []byte, h string) []byte {
	if h == "" {
		return nil
	}
	if h[0] == '[' {
		if end := strings.IndexByte(h, ']'); end >= 0 {
			h = h[:end+1]
		}
	} else if i := strings.IndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > cap(dst)-len(dst) {
		return nil
	}
	return lowerInto(dst, h)
}

// matchHost reports whether host (from requestHost) matches one of ps.
func matchHost(ps []hostPattern, host []byte) bool {
	if len(host) == 0 {
		return false
	}
	for i := range ps {
		p := &ps[i]
		if p.wildcard {
			if len(host) > len(p.name) && string(host[len(host)-len(p.name):]) == p.name {
				return true
			}
		} else if string(host) == p.name {
			return true
		}
	}
	return false
}
