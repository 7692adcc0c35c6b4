package gatehouse

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// FoldName returns the case-folded key of a username, email or name: what
// the SQLite store compares names by (its lower() and NOCASE fold ASCII
// only, so it keeps this key next to them), and what anything that must
// tell names apart exactly as the store does uses, such as the login
// throttles. Two strings have the same key exactly when strings.EqualFold
// reports them equal, because each rune is replaced by a canonical member of its
// unicode.SimpleFold orbit. strings.ToLower would be close but not the same:
// it leaves "ſ" (long s) apart from "s" and the final sigma "ς" apart from
// "σ", which EqualFold, and so the rest of the Go code, treats as equal.
//
// The canonical member is the lower-case form of the orbit's smallest rune
// when that is in the orbit, so keys of ordinary text read as lower case and
// sort like it; otherwise it is the smallest rune itself. Both depend only on
// the orbit, so every member maps to the same rune.
//
// The mapping is rune by rune, so a substring of s folds to a substring of
// FoldName(s), which is what makes searching the keys with instr correct.
func FoldName(s string) string {
	// Fast path: ASCII without upper case, the usual username, is its own key.
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// foldRune returns the canonical member of r's case-folding orbit; see FoldName.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		// The smallest member of an ASCII letter's orbit is its upper case
		// (the Kelvin sign and the long s come later), and its lower case is
		// in the orbit, so this agrees with the general case below.
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	if lower := unicode.ToLower(least); lower != least && inOrbit(lower, r) {
		return lower
	}
	return least
}

// inOrbit reports whether x is in the unicode.SimpleFold orbit of r.
func inOrbit(x, r rune) bool {
	if x == r {
		return true
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f == x {
			return true
		}
	}
	return false
}
