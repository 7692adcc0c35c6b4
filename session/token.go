package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// tokenBytes is the size of a session secret: 256 bits, twice what ASVS
// 7.2.3 asks for.
const tokenBytes = 32

// tokenLen is the length of a token in its cookie form (unpadded base64url).
var tokenLen = base64.RawURLEncoding.EncodedLen(tokenBytes)

// NewToken returns a fresh session secret from crypto/rand, in the form it
// takes in a cookie.
func NewToken() string {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never returns an error; it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b)
}

// base64URL marks the bytes of the unpadded base64url alphabet.
var base64URL = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

// ParseToken checks that s has the exact shape of a token gatehouse issues
// (43 characters of unpadded base64url) and returns it. Anything else is
// rejected before it reaches a store, so a malformed or oversized cookie
// costs nothing and can never match.
func ParseToken(s string) (string, bool) {
	if len(s) != tokenLen {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if !base64URL[s[i]] {
			return "", false
		}
	}
	// The last character of 32 bytes in base64 carries 2 padding bits
	// that must be zero, which leaves these 16 characters; any other is a
	// non-canonical encoding, not one we issued.
	if strings.IndexByte("AEIMQUYcgkosw048", s[len(s)-1]) < 0 {
		return "", false
	}
	return s, true
}

// HashToken returns the SHA-256 of a token, the only form in which a store
// keeps it. A plain hash suffices: the token has 256 bits of entropy, so
// there is nothing to brute-force.
func HashToken(token string) []byte {
	h := tokenSum(token)
	return h[:]
}

// tokenSum is the SHA-256 of token, computed without a heap allocation
// for a token of up to 64 bytes (an issued one has 43): converting a longer
// string than 32 bytes to a byte slice would otherwise copy it to the heap,
// on every request that carries a session cookie.
func tokenSum(token string) [sha256.Size]byte {
	var buf [64]byte
	if len(token) <= len(buf) {
		return sha256.Sum256(append(buf[:0], token...))
	}
	return sha256.Sum256([]byte(token))
}
