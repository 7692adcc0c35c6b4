package password

import (
	"slices"
	"strings"
	"testing"
)

// parseErrors are all the errors parseHash returns. Each has fixed text, so
// an error from Verify or Identify can never carry the hash or the password.
var parseErrors = []error{
	errEmptyHash, errMalformed, errAlgorithm, errVersion, errParams, errParamsRange, errSalt, errKey,
	errBcrypt, errBcryptCost, errASPNet, errASPNetVersion, errASPNetPRF, errUmbraco, errPBKDF2, errDjango,
	errIterations,
}

// costly reports whether verifying against p would slow a fuzzer down: the
// parser has already bounded the cost, which is all that matters here.
func costly(p parsed) bool {
	switch l := p.legacy.(type) {
	case nil:
		return p.ph.memory > 1024 || uint64(p.ph.memory)*uint64(p.ph.time) > 1024
	case *bcryptHash:
		return l.cost > 5
	case *pbkdf2Hash:
		return l.iterations*(1+len(l.key)/20) > 5000
	}
	return false
}

// fuzzSeeds are hashes of every scheme, well formed and not.
func fuzzSeeds(f *testing.F) []struct{ encoded, password string } {
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
		{strings.Repeat("$", 100), "\xff\xfe"},
		{"$2x$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a", "rasmuslerdorf"},
		{"$2y$04$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a", "rasmuslerdorf"},
		{"$2y$31$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1b", "rasmuslerdorf"},
		{"$2b$", ""},
		{"$aspnet-identity$", ""},
		{"$aspnet-identity$AQAAAAEAACcQAAAAEA==", "my password"},
		{"$aspnet-identity$AQAAAAMAACcQAAAAEAABAgMEBQYHCAkKCwwNDg+yWU7rLgUwPZb1Itsmra7cbxw2EFpwpVFIEtP+JIuUEw==", "my password"},
		{"$aspnet-identity$AQAAAAAAAAABAAAAEAABAgMEBQYHCAkKCwwNDg+yWU7rLgUwPZb1Itsmra7cbxw2EFpwpVFIEtP+JIuUEw==", "my password"},
		{"$aspnet-identity$Ag==", ""},
		{"$umbraco-hmacsha256$", ""},
		{"$umbraco-hmacsha1$AAAAAAAAAAAAAAAAAAAAAAAAAAA=", ""},
		{"$pbkdf2-sha256$1000$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ""},
		{"$pbkdf2-sha512$$$", ""},
		{"pbkdf2_sha256$1000$s$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", ""},
		{"pbkdf2_sha256$$$", ""},
	}
	for _, v := range legacyVectors {
		seeds = append(seeds, struct{ encoded, password string }{v.encoded, v.password})
	}
	return seeds
}

func FuzzVerify(f *testing.F) {
	h := newCheapHasher()
	for _, s := range fuzzSeeds(f) {
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

		p, perr := parseHash(encoded)
		if perr == nil {
			if p.legacy == nil {
				// A hash that parses is in canonical form: the
				// parser accepts exactly one spelling of each hash.
				if got := p.ph.String(); got != encoded {
					t.Fatalf("parsed %q but re-encodes as %q", encoded, got)
				}
			}
			if costly(p) {
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
		if ok && p.legacy != nil && !rehash {
			t.Fatalf("a legacy hash matched without asking for a rehash")
		}
	})
}

// FuzzIdentify checks that Identify never panics, returns only fixed
// errors, and agrees with Verify: Verify fails with an error exactly when
// Identify does, and with the same error.
func FuzzIdentify(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s.encoded, s.password)
	}
	h := newCheapHasher()

	f.Fuzz(func(t *testing.T, encoded, password string) {
		scheme, err := Identify(encoded)
		if (scheme == "") != (err != nil) {
			t.Fatalf("Identify = %q, %v: a scheme exactly when there is no error", scheme, err)
		}
		if err != nil && !slices.Contains(parseErrors, err) {
			t.Fatalf("Identify returned an error that is not a fixed parse error: %v", err)
		}
		if s2, err2 := Identify(encoded); s2 != scheme || err2 != err {
			t.Fatalf("Identify is not deterministic")
		}
		p, _ := parseHash(encoded)
		if err == nil {
			if p.scheme != scheme {
				t.Fatalf("parseHash scheme %q, Identify %q", p.scheme, scheme)
			}
			if costly(p) {
				t.Skip()
			}
		}
		ok, rehash, verr := h.Verify(t.Context(), password, encoded)
		if verr != err {
			t.Fatalf("Verify error %v, Identify error %v", verr, err)
		}
		if (ok || rehash) && err != nil {
			t.Fatalf("Verify = %v, %v for a hash Identify refuses", ok, rehash)
		}
		if ok && scheme != SchemeArgon2id && !rehash {
			t.Fatalf("a %s hash matched without asking for a rehash", scheme)
		}
		if rehash && !ok {
			t.Fatalf("rehash without a match")
		}
	})
}

// FuzzCheckWith checks that the policy never panics on any password and
// context, that it is deterministic, that every violation has a known rule,
// that a strength message is one of the fixed ones (it can never carry the
// password), and that the strength rule obeys MinStrength: off at 0, and
// never refusing at a level a password already passes at a stricter one.
func FuzzCheckWith(f *testing.F) {
	for _, s := range []struct{ pw, user, email, name string }{
		{"Summer2024!!", "alice", "alice@example.com", "Alice Smith"},
		{"orbit velvet sandal crayon", "", "", ""},
		{"P@ssw0rd2024!|1|7", "bob", "bob", "B"},
		{"4@8({[<3&69!1|7+%$52" + strings.Repeat("x", 60), "", "@", ""},
		{"ünïcödé pässwörd ✓", "ü", "ü@ü", "Ünï Cödé"},
		{"valid prefix \xff\xfe", "", "", ""},
		{strings.Repeat("qwerty", 20), "qwerty", "", ""},
	} {
		f.Add(s.pw, s.user, s.email, s.name)
	}
	known := []string{ruleMinLength, ruleMaxLength, ruleInvalidUTF8, ruleCommon, ruleRepetitive, ruleContext, ruleStrength}
	messages := strengthMessages()
	f.Fuzz(func(t *testing.T, pw, user, email, name string) {
		c := Context{Username: user, Email: email, Name: name}
		p := Policy{MinLength: 8, MaxLength: 256, MinStrength: 3}
		v := p.CheckWith(pw, c)
		if !slices.Equal(v, p.CheckWith(pw, c)) {
			t.Fatalf("CheckWith is not deterministic")
		}
		strengthFailed := false
		for _, r := range v {
			if !slices.Contains(known, r.Rule) {
				t.Fatalf("unknown rule %q", r.Rule)
			}
			if r.Rule == ruleStrength {
				strengthFailed = true
				if len(v) != 1 {
					t.Fatalf("strength reported with other rules: %v", v)
				}
				if !slices.Contains(messages, r.Message) {
					t.Fatalf("strength message %q is not a fixed one", r.Message)
				}
			}
		}
		off := p
		off.MinStrength = 0
		if w := off.CheckWith(pw, c); strengthFailed && len(w) != 0 {
			t.Fatalf("MinStrength 0 still refuses: %v", w)
		}
		strict := p
		strict.MinStrength = 4
		if strengthFailed && len(strict.CheckWith(pw, c)) == 0 {
			t.Fatalf("refused at strength 3 but accepted at 4")
		}
	})
}
