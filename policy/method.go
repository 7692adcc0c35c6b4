package policy

import (
	"fmt"
	"strings"
)

// methodSet is a set of HTTP methods as bits; zero in a rule means any.
type methodSet uint16

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
	mOther // any method not listed above; no rule can name it
)

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

func parseMethods(ms []string) (methodSet, error) {
	var s methodSet
	for _, m := range ms {
		b := methodBit(strings.ToUpper(m))
		if b == mOther {
			return 0, fmt.Errorf("method %q is not an HTTP method", m)
		}
		s |= b
		if b == mGET {
			s |= mHEAD // HEAD is GET without the body
		}
	}
	return s, nil
}
