package otp

import (
	"crypto/rand"
	"crypto/sha256"
	"strings"
)

// RecoveryAlphabet is the set of characters recovery codes are made of:
// Crockford's base32 alphabet in lower case, which leaves out i, l, o and u.
// Having exactly 32 symbols gives 5 bits per character, so a 10-character
// code carries 50 bits; the look-alike-free 31-symbol alternative (without 0
// and 1 as well) would fall just short of 50 bits. The digits 0 and 1 are
// safe to keep because NormalizeRecoveryCode reads o as 0 and i or l as 1,
// so whichever the user types, the code matches.
const RecoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// recoveryCodeLen is the number of random characters in a recovery code.
const recoveryCodeLen = 10

// NewRecoveryCodes returns n distinct recovery codes, each 10 random
// characters from RecoveryAlphabet (50 bits from crypto/rand) written as
// "xxxxx-xxxxx" for readability. It returns nil if n ≤ 0. Store only their
// HashRecoveryCode values, and delete a code once it has been used.
func NewRecoveryCodes(n int) []string {
	if n <= 0 {
		return nil
	}
	codes := make([]string, 0, n)
	seen := make(map[string]bool, n)
	var raw [recoveryCodeLen]byte
	for len(codes) < n {
		rand.Read(raw[:]) // never returns an error
		var b [recoveryCodeLen + 1]byte
		j := 0
		for i, r := range raw {
			if i == recoveryCodeLen/2 {
				b[j] = '-'
				j++
			}
			// 256 is a multiple of 32, so taking the low 5 bits is uniform.
			b[j] = RecoveryAlphabet[r&31]
			j++
		}
		c := string(b[:])
		if seen[c] { // a 2^-50 event, but duplicates would waste a code
			continue
		}
		seen[c] = true
		codes = append(codes, c)
	}
	return codes
}

// NormalizeRecoveryCode returns the canonical form of a recovery code as a
// user typed it: lower case, without spaces or dashes (users copy the
// grouping loosely or leave it out), and with the look-alikes o mapped to 0
// and i and l mapped to 1 (see RecoveryAlphabet). Other characters are kept,
// so a code with a foreign character simply does not match.
func NormalizeRecoveryCode(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch r {
		case ' ', '\t', '\n', '\r', '-', '\u00a0', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212':
			continue // spaces and the dashes word processors substitute
		case 'o', 'O':
			r = '0'
		case 'i', 'I', 'l', 'L':
			r = '1'
		}
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// HashRecoveryCode returns the SHA-256 digest of the normalized code, which
// is what the server stores and looks up. A fast, unsalted hash is
// acceptable here, unlike for passwords: each code has 50 bits of entropy
// from crypto/rand, so there is no dictionary to try, and codes are
// single-use and their verification is rate-limited, so an attacker who
// stole the hashes would still face a brute force of 2^50 per code.
func HashRecoveryCode(code string) []byte {
	sum := sha256.Sum256([]byte(NormalizeRecoveryCode(code)))
	return sum[:]
}
