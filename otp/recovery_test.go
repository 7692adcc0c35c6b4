package otp

import (
	"bytes"
	"crypto/sha256"
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestRecoveryAlphabet(t *testing.T) {
	if len(RecoveryAlphabet) != 32 {
		t.Fatalf("alphabet has %d symbols, want 32", len(RecoveryAlphabet))
	}
	seen := map[rune]bool{}
	for _, r := range RecoveryAlphabet {
		if seen[r] {
			t.Fatalf("duplicate %q", r)
		}
		seen[r] = true
		if strings.ContainsRune("ilou", r) {
			t.Errorf("look-alike %q in alphabet", r)
		}
	}
	if bits := 10 * math.Log2(float64(len(RecoveryAlphabet))); bits < 50 {
		t.Errorf("a code has %.1f bits, want ≥ 50", bits)
	}
}

func TestNewRecoveryCodes(t *testing.T) {
	if NewRecoveryCodes(0) != nil || NewRecoveryCodes(-1) != nil {
		t.Error("n ≤ 0 should give nil")
	}
	re := regexp.MustCompile(`^[` + RecoveryAlphabet + `]{5}-[` + RecoveryAlphabet + `]{5}$`)
	const n = 2000
	codes := NewRecoveryCodes(n)
	if len(codes) != n {
		t.Fatalf("got %d codes", len(codes))
	}
	seen := map[string]bool{}
	counts := map[rune]int{}
	for _, c := range codes {
		if !re.MatchString(c) {
			t.Fatalf("code %q has the wrong format", c)
		}
		if seen[c] {
			t.Fatalf("duplicate code %q", c)
		}
		seen[c] = true
		if NormalizeRecoveryCode(c) != strings.Replace(c, "-", "", 1) {
			t.Fatalf("code %q is not stable under normalization", c)
		}
		for _, r := range strings.Replace(c, "-", "", 1) {
			counts[r]++
		}
	}
	// Every symbol is used, roughly uniformly: 20000 symbols over 32 gives
	// 625 expected each, with a standard deviation of about 25.
	for _, r := range RecoveryAlphabet {
		if c := counts[r]; c < 625-200 || c > 625+200 {
			t.Errorf("symbol %q appears %d times, expected about 625", r, c)
		}
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	for in, want := range map[string]string{
		"abcde-fgh23":      "abcdefgh23",
		"ABCDE-FGH23":      "abcdefgh23",
		" abcde fgh23 ":    "abcdefgh23",
		"abc-de-fg-h23":    "abcdefgh23",
		"abcdefgh23":       "abcdefgh23",
		"abcde\tfgh23\n":   "abcdefgh23",
		"abcde–fgh23":      "abcdefgh23", // en dash from a word processor
		"o0OIil1L-xyz":     "00011111xyz",
		"abcde_fgh23":      "abcde_fgh23", // unknown characters stay and will not match
		"":                 "",
		"--  --":           "",
		"ÄBCDE-FGH23":      "Äbcdefgh23",
		"5zv9q\u00a0w7hkx": "5zv9qw7hkx",
	} {
		if got := NormalizeRecoveryCode(in); got != want {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHashRecoveryCode(t *testing.T) {
	code := NewRecoveryCodes(1)[0]
	h := HashRecoveryCode(code)
	want := sha256.Sum256([]byte(NormalizeRecoveryCode(code)))
	if !bytes.Equal(h, want[:]) || len(h) != 32 {
		t.Fatalf("HashRecoveryCode = %x, want %x", h, want)
	}
	loose := strings.ToUpper(strings.ReplaceAll(code, "-", " "))
	loose = strings.NewReplacer("0", "O", "1", "l").Replace(loose)
	if !bytes.Equal(HashRecoveryCode(loose), h) {
		t.Errorf("%q and %q hash differently", code, loose)
	}
	other := NewRecoveryCodes(1)[0]
	if bytes.Equal(HashRecoveryCode(other), h) {
		t.Error("two codes hash the same")
	}
}

func TestNewNumericCode(t *testing.T) {
	re := regexp.MustCompile(`^[0-9]+$`)
	for _, d := range []int{6, 7, 8, 12, 18} {
		for i := 0; i < 100; i++ {
			c := NewNumericCode(d)
			if len(c) != d || !re.MatchString(c) {
				t.Fatalf("NewNumericCode(%d) = %q", d, c)
			}
		}
	}
	// Distribution sanity: 5000 six-digit codes are 30000 digits, 3000
	// expected per digit (σ ≈ 52), every digit in every position, and
	// leading zeros kept (about 10 % of codes).
	const n = 5000
	var total [10]int
	var perPos [6][10]int
	leadingZero := 0
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		c := NewNumericCode(6)
		seen[c] = true
		if c[0] == '0' {
			leadingZero++
		}
		for p, r := range c {
			total[r-'0']++
			perPos[p][r-'0']++
		}
	}
	for d, c := range total {
		if c < 3000-300 || c > 3000+300 {
			t.Errorf("digit %d appears %d times, expected about 3000", d, c)
		}
	}
	for p := range perPos {
		for d, c := range perPos[p] {
			if c < 300 || c > 700 {
				t.Errorf("digit %d appears %d times in position %d, expected about 500", d, c, p)
			}
		}
	}
	if leadingZero < 300 || leadingZero > 700 {
		t.Errorf("%d of %d codes start with 0, expected about 500", leadingZero, n)
	}
	if len(seen) < n-50 { // birthday collisions: about 12 expected
		t.Errorf("only %d distinct codes of %d", len(seen), n)
	}
	for _, d := range []int{0, 5, 19, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewNumericCode(%d) did not panic", d)
				}
			}()
			NewNumericCode(d)
		}()
	}
}
