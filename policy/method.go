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

var methodBits = map[string]methodSet{
	"GET": mGET, "HEAD": mHEAD, "POST": mPOST, "PUT": mPUT, "PATCH": mPATCH,
	"DELETE": mDELETE, "OPTIONS": mOPTIONS, "CONNECT": mCONNECT, "TRACE": mTRACE,
}

// methodBit returns the bit of a request method. Methods are
// case-sensitive in HTTP; an unknown one matches only rules for any method.
func methodBit(m string) methodSet {
	if b, ok := methodBits[m]; ok {
		return b
	}
	return mOther
}

func parseMethods(ms []string) (methodSet, error) {
	var s methodSet
	for _, m := range ms {
		b, ok := methodBits[strings.ToUpper(m)]
		if !ok {
			return 0, fmt.Errorf("method %q is not an HTTP method", m)
		}
		s |= b
		if b == mGET {
			s |= mHEAD // HEAD is GET without the body
		}
	}
	return s, nil
}
