package password

import (
	"slices"
	"strings"
	"testing"
)

// parseErrors are all the errors parsePHC returns. Each has fixed text, so
// an error from Verify can never carry the hash or the password.
var parseErrors = []error{errEmptyHash, errMalformed, errAlgorithm, errVersion, errParams, errParamsRange, errSalt, errKey}

func FuzzVerify(f *testing.F) {
	h := newCheapHasher()
	valid, err := h.Hash(f.Context(), "pässwörd ")
	if err != nil {
		f.Fatal(err)
	}
	seeds := []struct{ encoded, password string }{
		{valid, "pässwörd "},
		{valid, "pässwörd"},
		{valid, ""},
		{"$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4", "password"},
		{"$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc", "password"},
		{"$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x"},
		{"", ""},
		{"$", "x"},
		{"$argon2id$", "x"},
		{"$argon2id$v=16$m=64,t=1,p=1$c29tZXNhbHQ$c29tZXNhbHQ", "x"},
		{"$argon2id$m=64,t=1,p=1$c29tZXNhbHQ$c29tZXNhbHQ", "x"},
		{"$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8", "password"},
		{"$argon2id$v=19$m=4294967295,t=4294967295,p=255$c29tZXNhbHQ$c29tZXNhbHQ", "x"},
		{"$argon2id$v=19$m=4194304,t=64,p=64$c29tZXNhbHQ$c29tZXNhbHQ", "x"},
		{"$argon2id$v=19$m=064,t=1,p=1$c29tZXNhbHQ$c29tZXNhbHQ", "x"},
		{"$argon2id$v=19$m=64,t=1,p=1$c29tZX!hbHQ$c29tZXNhbHQ", "x"},
		{"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ=$c29tZXNhbHQ", "x"},
		{"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$c29tZXNhbHQ$", "x"},
		{"$argon2id$v=19$m=64,t=1,p=1,keyid=x$c29tZXNhbHQ$c29tZXNhbHQ", "x"},
		{"$argon2id$v=19$m=64,t=1$c29tZXNhbHQ$c29tZXNhbHQ", "x"},
		{"$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a", "rasmuslerdorf"},
		{strings.Repeat("$", 100), "\xff\xfe"},
	}
	for _, s := range seeds {
		f.Add(s.encoded, s.password)
	}

	f.Fuzz(func(t *testing.T, encoded, password string) {
		// Whatever the password, it survives a round trip unchanged.
		enc, err := h.Hash(t.Context(), password)
		if err != nil {
			t.Fatal(err)
		}
		if ok, rehash, err := h.Verify(t.Context(), password, enc); err != nil || !ok || rehash {
			t.Fatalf("round trip of %q: %v, %v, %v", password, ok, rehash, err)
		}

		ph, perr := parsePHC(encoded)
		if perr == nil {
			// A hash that parses is in canonical form: the parser
			// accepts exactly one spelling of each hash.
			if got := ph.String(); got != encoded {
				t.Fatalf("parsed %q but re-encodes as %q", encoded, got)
			}
			// Valid but costly parameters would only slow the
			// fuzzer down; the parser has already bounded them.
			if ph.memory > 1024 || uint64(ph.memory)*uint64(ph.time) > 1024 {
				t.Skip()
			}
		}

		ok, rehash, err := h.Verify(t.Context(), password, encoded)
		if err != perr {
			t.Fatalf("Verify error %v, but parse error %v", err, perr)
		}
		if err != nil {
			if ok || rehash {
				t.Fatalf("Verify = %v, %v with error %v", ok, rehash, err)
			}
			if !slices.Contains(parseErrors, err) {
				t.Fatalf("Verify returned an error that is not a fixed parse error: %v", err)
			}
			return
		}
		if !ok && rehash {
			t.Fatalf("rehash without a match")
		}
	})
}
