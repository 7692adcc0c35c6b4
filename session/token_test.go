package session

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

func TestNewToken(t *testing.T) {
	const n = 1000
	seen := make(map[string]bool, n)
	for range n {
		tok := NewToken()
		if len(tok) != 43 {
			t.Fatalf("len(NewToken()) = %d, want 43 (%q)", len(tok), tok)
		}
		b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
		if err != nil {
			t.Fatalf("NewToken() = %q, not unpadded base64url: %v", tok, err)
		}
		if len(b) != 32 {
			t.Fatalf("NewToken() decodes to %d bytes, want 32 (256 bits)", len(b))
		}
		if got, ok := ParseToken(tok); !ok || got != tok {
			t.Fatalf("ParseToken(NewToken() = %q) = %q, %v; want the token, true", tok, got, ok)
		}
		if seen[tok] {
			t.Fatalf("NewToken() returned %q twice", tok)
		}
		seen[tok] = true
	}
}

func TestParseToken(t *testing.T) {
	valid := NewToken()
	// A token whose last character carries non-zero padding bits: 32 bytes
	// are 256 bits, 43 base64 characters 258, so the last character must
	// be one of the 16 whose low 2 bits are zero.
	canonical := valid[:42] + "A"
	nonCanonical := valid[:42] + "B"
	tests := []struct {
		name  string
		in    string
		valid bool
	}{
		{"NewToken", valid, true},
		{"all A", strings.Repeat("A", 43), true},
		{"canonical last char", canonical, true},
		{"all dashes and underscores", strings.Repeat("-", 40) + "__E", true},
		{"empty", "", false},
		{"one short", valid[:42], false},
		{"one long", valid + "A", false},
		{"padded", valid + "=", false},
		{"twice", valid + valid, false},
		{"oversized", strings.Repeat("A", 4096), false},
		{"plus", "+" + valid[1:], false},
		{"slash", valid[:10] + "/" + valid[11:], false},
		{"equals", valid[:42] + "=", false},
		{"43 equals", strings.Repeat("=", 43), false},
		{"space", valid[:20] + " " + valid[21:], false},
		{"leading space", " " + valid[1:], false},
		{"NUL", valid[:20] + "\x00" + valid[21:], false},
		{"newline", valid[:42] + "\n", false},
		{"dot", valid[:5] + "." + valid[6:], false},
		{"quote", `"` + valid[1:], false},
		{"non-ASCII é in 43 bytes", valid[:41] + "é", false},
		{"non-ASCII 43 runes", strings.Repeat("é", 43), false},
		{"high byte", valid[:42] + "\xff", false},
		{"non-canonical last char", nonCanonical, false},
		{"non-canonical last char 2", valid[:42] + "_", false},
		{"non-canonical last char 3", strings.Repeat("A", 42) + "z", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseToken(tt.in)
			if ok != tt.valid {
				t.Fatalf("ParseToken(%q) ok = %v, want %v", tt.in, ok, tt.valid)
			}
			want := ""
			if tt.valid {
				want = tt.in
			}
			if got != want {
				t.Errorf("ParseToken(%q) = %q, want %q", tt.in, got, want)
			}
		})
	}
}

func TestHashToken(t *testing.T) {
	tests := []struct {
		name  string
		token string
	}{
		{"NewToken", NewToken()},
		{"all A", strings.Repeat("A", 43)},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := sha256.Sum256([]byte(tt.token))
			got := HashToken(tt.token)
			if !bytes.Equal(got, want[:]) {
				t.Errorf("HashToken(%q) = %x, want SHA-256 %x", tt.token, got, want)
			}
			if tt.token != "" && (bytes.Equal(got, []byte(tt.token)) || bytes.Contains(got, []byte(tt.token))) {
				t.Errorf("HashToken(%q) contains the token", tt.token)
			}
		})
	}
	if a, b := HashToken(NewToken()), HashToken(NewToken()); bytes.Equal(a, b) {
		t.Errorf("two tokens hash to the same %x", a)
	}
}

// FuzzParseToken checks that ParseToken never panics and accepts only the
// exact form of a token gatehouse issues.
func FuzzParseToken(f *testing.F) {
	f.Add(NewToken())
	f.Add("")
	f.Add(strings.Repeat("=", 43))
	f.Add(strings.Repeat("é", 43))
	f.Add("日本語のトークン")
	f.Add(strings.Repeat("A", 42) + "B")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseToken(s)
		if !ok {
			if got != "" {
				t.Fatalf("ParseToken(%q) = %q, false; want \"\" when refused", s, got)
			}
			return
		}
		if got != s {
			t.Fatalf("ParseToken(%q) = %q, want the input", s, got)
		}
		if len(s) != 43 {
			t.Fatalf("ParseToken accepted %q of length %d", s, len(s))
		}
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil {
			t.Fatalf("ParseToken accepted %q, which does not decode: %v", s, err)
		}
		if re := base64.RawURLEncoding.EncodeToString(b); re != s {
			t.Fatalf("ParseToken accepted %q, which re-encodes as %q", s, re)
		}
	})
}
