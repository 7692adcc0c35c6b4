package storetest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// The provider of the external logins the suites store.
const testProvider = "entra"

// idToken returns a string shaped like an ID token, a signed JWT (three
// base64url parts), of at least n bytes: its claims list as many groups as
// it takes, as Entra ID's do for a user in many groups, so that a store
// that truncates a long token fails. Its bytes vary throughout (each group
// is a different id), so that a store that loses or repeats a part of it
// fails too. seed makes tokens of the same length differ.
func idToken(seed string, n int) string {
	b64 := base64.RawURLEncoding.EncodeToString
	header := b64([]byte(`{"alg":"RS256","kid":"` + seed + `","typ":"JWT"}`))
	var claims strings.Builder
	fmt.Fprintf(&claims, `{"iss":"https://login.example.com/%s/v2.0","sub":"%s-subject","aud":"gatehouse","groups":[`, seed, seed)
	for i := 0; len(header)+1+base64.RawURLEncoding.EncodedLen(claims.Len()+2)+1+342 < n; i++ {
		if i > 0 {
			claims.WriteByte(',')
		}
		h := sha256.Sum256(fmt.Appendf(nil, "%s group %d", seed, i))
		fmt.Fprintf(&claims, `"%x-%x-%x-%x-%x"`, h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
	}
	claims.WriteString("]}")
	// An RS256 signature is 256 bytes, 342 in base64url.
	var sig []byte
	for i := 0; len(sig) < 256; i++ {
		h := sha256.Sum256(fmt.Appendf(nil, "%s signature %d", seed, i))
		sig = append(sig, h[:]...)
	}
	return header + "." + b64([]byte(claims.String())) + "." + b64(sig[:256])
}
