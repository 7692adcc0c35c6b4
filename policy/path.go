package policy

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// ErrBadPath is returned by CleanPath for a path that cannot be decided
// safely. Such a request must be denied, never allowed: an upstream may read
// it differently from the matcher (the class of forward-auth bypasses peers
// have shipped).
var ErrBadPath = errors.New("policy: path is malformed or ambiguous")

// CleanPath turns a request's escaped path (url.URL.EscapedPath, or the
// request-target of a forwarded request without its query) into the form the
// route table matches: percent-decoded, with a single trailing slash
// dropped. It refuses, with ErrBadPath, anything another server might route
// differently: a path not starting with "/", "." or ".." segments (plain or
// encoded), empty segments ("//"), an encoded "/" or "\", a backslash, NUL or
// any control character, invalid percent-encoding, a decoded path that is not
// valid UTF-8 (an overlong "%c0%ae" is "." to a server that decodes it
// leniently, as IIS once did), and paths over 8 KiB.
func CleanPath(escaped string) (string, error) {
	if escaped == "" || escaped[0] != '/' || len(escaped) > 8<<10 {
		return "", ErrBadPath
	}
	var b strings.Builder
	needsDecode := strings.IndexByte(escaped, '%') >= 0
	if needsDecode {
		b.Grow(len(escaped))
	}
	for i := 0; i < len(escaped); i++ {
		c := escaped[i]
		if c == '%' {
			if i+2 >= len(escaped) || !isHex(escaped[i+1]) || !isHex(escaped[i+2]) {
				return "", ErrBadPath
			}
			c = unhex(escaped[i+1])<<4 | unhex(escaped[i+2])
			if c == '/' || c == '\\' || c == '%' {
				return "", ErrBadPath
			}
			i += 2
		}
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "", ErrBadPath
		}
		if needsDecode {
			b.WriteByte(c)
		}
	}
	p := escaped
	if needsDecode {
		p = b.String()
	}
	if !utf8.ValidString(p) {
		return "", ErrBadPath
	}
	if len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	if p == "/" {
		return p, nil
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", ErrBadPath
		}
	}
	return p, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
