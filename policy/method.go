package policy

import (
	"fmt"
	"strings"
)

// methodSet is a set of HTTP methods as bits; zero in a rule means any.
// The bits above mOther are a table's extra methods (CompileMethods).
type methodSet uint32

const (
	mGET methodSet = 1 << iota
	mHEAD
	mPOST
	mPUT
	mPATCH
	mDELETE
	mOPTIONS
	mCONNECT
	mTRACE
	mOther // any method not listed above, nor among a table's extras; no rule can name it
)

// maxExtraMethods is how many extra methods a table can have: the bits
// of methodSet above mOther.
const maxExtraMethods = 32 - 10

// methodBit returns the bit of a request method. Methods are
// case-sensitive in HTTP (RFC 9110, section 9.1): "patch" is not PATCH,
// and matches only rules for any method. A switch on the string, so the
// check allocates nothing and needs no map.
func methodBit(m string) methodSet {
	switch m {
	case "GET":
		return mGET
	case "HEAD":
		return mHEAD
	case "POST":
		return mPOST
	case "PUT":
		return mPUT
	case "PATCH":
		return mPATCH
	case "DELETE":
		return mDELETE
	case "OPTIONS":
		return mOPTIONS
	case "CONNECT":
		return mCONNECT
	case "TRACE":
		return mTRACE
	}
	return mOther
}

// StandardMethod reports whether m is one of the methods of RFC 9110 and
// RFC 5789 (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE),
// spelt in upper case as they are defined: the methods a rule can name.
//
// A gateway lets only these (and the extras it is configured with) reach
// an application: many frameworks (Django, Werkzeug, Rails) upper-case the
// method they receive, so a "patch" that no PATCH rule matched would be
// handled as PATCH behind the gateway's back.
func StandardMethod(m string) bool { return methodBit(m) != mOther }

// parseMethods reads the methods of a rule (in any case) into a set: the
// standard ones, and those of extra (a table's extra methods). GET brings
// HEAD with it, and HEAD is refused without GET.
func parseMethods(ms []string, extra map[string]methodSet) (methodSet, error) {
	var s methodSet
	for _, m := range ms {
		up := strings.ToUpper(m)
		b := methodBit(up)
		if b == mOther {
			if b = extra[up]; b == 0 {
				return 0, fmt.Errorf("method %q is not an HTTP method (nor one of gateway.extra_methods)", m)
			}
		}
		s |= b
		if b == mGET {
			s |= mHEAD // HEAD is GET without the body
		}
	}
	if s&mHEAD != 0 && s&mGET == 0 {
		// Applications answer a HEAD with their GET handler (its side
		// effects and headers included): a HEAD must pass only where the
		// GET of the same path would.
		return 0, fmt.Errorf("method HEAD is answered as GET by applications: name GET (which covers HEAD) instead")
	}
	return s, nil
}
