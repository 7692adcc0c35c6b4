package sqlite

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestFoldKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice", "alice"},
		{"ALICE", "alice"},
		{"Alice@Example.COM", "alice@example.com"},
		{"Élodie", "élodie"},
		{"ÉLODIE", "élodie"},
		{"\u212Aelvin", "kelvin"}, // Kelvin sign
		{"ſam", "sam"},            // long s
		{"ΣΊΣΥΦΟΣ", "σίσυφοσ"},
		{"σίσυφος", "σίσυφοσ"}, // final sigma
		{"", ""},
		{"user_1%", "user_1%"},
	} {
		if got := foldKey(tc.in); got != tc.want {
			t.Errorf("foldKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestFoldKeyMatchesEqualFold checks, for every pair of runes in each
// case-folding orbit and a sample of runes outside, that foldKey equates
// exactly the strings strings.EqualFold does.
func TestFoldKeyMatchesEqualFold(t *testing.T) {
	var runes []rune
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		if unicode.SimpleFold(r) != r || r < 0x3000 {
			runes = append(runes, r)
		}
	}
	keys := map[string]rune{}
	for _, r := range runes {
		s := string(r)
		k := foldKey(s)
		if foldKey(k) != k {
			t.Errorf("foldKey(%q) = %q is not its own key", s, k)
		}
		if !strings.EqualFold(s, k) {
			t.Errorf("foldKey(%q) = %q, which is not EqualFold to it", s, k)
		}
		if other, ok := keys[k]; ok && !strings.EqualFold(s, string(other)) {
			t.Errorf("foldKey(%q) = foldKey(%q) = %q, but they are not EqualFold", s, string(other), k)
		}
		keys[k] = r
	}
}
