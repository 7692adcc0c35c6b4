package password

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse"
)

// varied returns n bytes of ASCII text that is neither repetitive nor on
// the blocklist.
func varied(n int) string {
	var b strings.Builder
	for i := 1; b.Len() < n; i++ {
		b.WriteString(strconv.Itoa(i * 7919))
		b.WriteByte(' ')
	}
	return b.String()[:n]
}

// rules returns the rule names of v.
func rules(v []gatehouse.RuleViolation) []string {
	var names []string
	for _, r := range v {
		names = append(names, r.Rule)
	}
	return names
}

func TestBlocklist(t *testing.T) {
	n := BlocklistSize()
	t.Logf("blocklist: %d entries", n)
	if n < 10000 {
		t.Fatalf("blocklist has %d entries, want at least 10,000", n)
	}
	words := blocklistWords()
	for i := 1; i < len(words); i++ {
		if words[i-1] >= words[i] {
			t.Fatalf("blocklist not sorted and unique at %d: %q, %q", i, words[i-1], words[i])
		}
	}
	for _, w := range words {
		if w != strings.ToLower(w) || w == "" {
			t.Fatalf("blocklist entry %q is not lower-case and non-empty", w)
		}
	}
	// Common passwords from each source list: zxcvbn's Passwords list,
	// and top-10,000 passwords that zxcvbn moved to its name lists.
	for _, pw := range []string{
		"password", "123456", "12345678", "qwertyuiop", "iloveyou", "trustno1", "passw0rd", "1qaz2wsx",
		"michael", "jessica", "jennifer", "christopher", // first names
		"relationship",                      // English
		"williamson",                        // surname
		"PassWord", "QWERTYUIOP", "Michael", // case-insensitive
	} {
		if !isCommon(pw) {
			t.Errorf("isCommon(%q) = false", pw)
		}
	}
	for _, pw := range []string{
		"", "correct horse battery staple", "password ", " password", "pässword", "password\x00",
		"tr0ub4dor&3x", "a long enough password",
	} {
		if isCommon(pw) {
			t.Errorf("isCommon(%q) = true", pw)
		}
	}
}

func TestIsRepetitive(t *testing.T) {
	tests := []struct {
		pw   string
		want bool
	}{
		{"aaaaaaaaaaaa", true},
		{"AAAAAAaaaaaa", true},
		{"            ", true},
		{"ababababababab", true},
		{"abcabcabcabc", true},
		{"abcabcabcab", true},  // a trailing partial unit
		{"ab12ab12ab12", true}, // unit of 4, three times
		{"ääääääääääää", true}, // runes, not bytes
		{"🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑", true}, // 4-byte runes
		{"123456789012", true}, // 9 wraps to 0
		{"012345678901", true},
		{"987654321098", true}, // down, 0 wraps to 9
		{"abcdefghijkl", true},
		{"ABCDEFGHIJKL", true},
		{"uvwxyzabcdef", true}, // z wraps to a
		{"zyxwvutsrqpo", true},
		{"abc", true},
		{"aaa", true},
		{"", false},
		{"a", false},
		{"ab", false}, // too short to call
		{"aa", false},
		{"passwordpassword", false}, // a unit of half the length: two repeats
		{"aaaaaaaaaaab", false},
		{"baaaaaaaaaaa", false},
		{"abcdefghijkm", false},
		{"123456789a12", false},
		{"abcdefedcba", false}, // up then down
		{"correct horse battery staple", false},
		{"a1b2c3d4e5f6", false},
		{"acegikmoqsuw", false}, // step 2 is not a run
		{"9:;<=>?@ABCD", false}, // consecutive code points, not letters or digits
	}
	for _, tt := range tests {
		if got := isRepetitive(tt.pw); got != tt.want {
			t.Errorf("isRepetitive(%q) = %v, want %v", tt.pw, got, tt.want)
		}
	}
}

func TestCheckWith(t *testing.T) {
	var (
		common     = gatehouse.RuleViolation{Rule: "common", Message: "This password is too common; choose another."}
		repetitive = gatehouse.RuleViolation{Rule: "repetitive", Message: "This password is a repeated or sequential pattern; choose another."}
		context    = func(what string) gatehouse.RuleViolation {
			return gatehouse.RuleViolation{Rule: "context", Message: "This password contains " + what + "; choose another."}
		}
		tooShort = gatehouse.RuleViolation{Rule: "min_length", Message: "Password must be at least 12 characters."}
	)
	alice := Context{Username: "alice", Email: "alice.smith@example.com"}
	zed := Context{Username: "Zed", Email: "zed@example.org"}
	short8 := Policy{MinLength: 8, MaxLength: 64}

	tests := []struct {
		name   string
		policy Policy
		pw     string
		ctx    Context
		want   []gatehouse.RuleViolation
	}{
		{"good", DefaultPolicy, "correct horse battery staple", alice, nil},
		{"good without context", DefaultPolicy, "correct horse battery staple", Context{}, nil},

		// common
		{"common", short8, "password", Context{}, []gatehouse.RuleViolation{common}},
		{"common any case", short8, "PaSsWoRd", Context{}, []gatehouse.RuleViolation{common}},
		{"common first name", short8, "Christopher", Context{}, []gatehouse.RuleViolation{common}},
		{"common at default length", DefaultPolicy, "relationship", Context{}, []gatehouse.RuleViolation{common}},
		{"common with a suffix is not an exact match", short8, "password-horse", Context{}, nil},

		// repetitive
		{"repeated character", DefaultPolicy, "aaaaaaaaaaaa", Context{}, []gatehouse.RuleViolation{repetitive}},
		{"digit run", DefaultPolicy, "123456789012", Context{}, []gatehouse.RuleViolation{repetitive}},
		{"letter run", DefaultPolicy, "abcdefghijkl", Context{}, []gatehouse.RuleViolation{repetitive}},
		{"descending run", DefaultPolicy, "lkjihgfedcba", Context{}, []gatehouse.RuleViolation{repetitive}},
		{"repeated unit", DefaultPolicy, "hunter2hunter2hunter2", Context{}, []gatehouse.RuleViolation{repetitive}},
		{"common and repetitive", short8, "12345678", Context{}, []gatehouse.RuleViolation{common, repetitive}},

		// context
		{"contains username", DefaultPolicy, "my name is alice!", alice, []gatehouse.RuleViolation{context("your username")}},
		{"contains username any case", DefaultPolicy, "my name is ALICE!", alice, []gatehouse.RuleViolation{context("your username")}},
		{"short username only as a whole", DefaultPolicy, "zed is my name, ok", zed, nil}, // "Zed" has 3 characters
		{"equals short username", Policy{MinLength: 3, MaxLength: 64}, "ZED", zed, []gatehouse.RuleViolation{context("your username and your email address")}},
		{"equals short local part", Policy{MinLength: 3, MaxLength: 64}, "zed", Context{Email: "zed@example.org"}, []gatehouse.RuleViolation{context("your email address")}},
		{"contains local part", DefaultPolicy, "xx alice.smith xx", Context{Email: "alice.smith@example.com"}, []gatehouse.RuleViolation{context("your email address")}},
		{"contains email", DefaultPolicy, "mail: Alice.Smith@Example.com", Context{Email: "alice.smith@example.com"}, []gatehouse.RuleViolation{context("your email address")}},
		{"username and email", DefaultPolicy, "alice.smith is alice", alice, []gatehouse.RuleViolation{context("your username and your email address")}},
		{"service name", DefaultPolicy, "my GateHouse password", Context{}, []gatehouse.RuleViolation{context("the name of this service")}},
		{"all three", DefaultPolicy, "alice.smith@gatehouse", alice, []gatehouse.RuleViolation{context("your username, your email address and the name of this service")}},
		{"service name is also a dictionary word", DefaultPolicy, "Gatehouse", Context{}, []gatehouse.RuleViolation{tooShort}},
		{"service name exactly", Policy{MinLength: 8, MaxLength: 64}, "GATEHOUSE", Context{}, []gatehouse.RuleViolation{common, context("the name of this service")}},
		{"email without @", DefaultPolicy, "xx alice-at-home xx", Context{Email: "alice-at-home"}, []gatehouse.RuleViolation{context("your email address")}},
		{"empty context ignored", DefaultPolicy, "correct horse battery staple", Context{Username: "", Email: "@"}, nil},

		// The content rules wait until the length rules pass.
		{"too short and common", DefaultPolicy, "password", Context{}, []gatehouse.RuleViolation{tooShort}},
		{"too short and username", DefaultPolicy, "alice", alice, []gatehouse.RuleViolation{tooShort}},
		{"too long and repetitive", DefaultPolicy, strings.Repeat("x", 1025), Context{}, []gatehouse.RuleViolation{
			{Rule: "max_length", Message: "Password must be at most 1024 bytes."},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.policy.CheckWith(tt.pw, tt.ctx)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CheckWith(%q) mismatch (-want +got):\n%s", tt.pw, diff)
			}
			// Check is CheckWith without user context.
			if tt.ctx == (Context{}) {
				if diff := cmp.Diff(got, tt.policy.Check(tt.pw)); diff != "" {
					t.Errorf("Check and CheckWith differ:\n%s", diff)
				}
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	d := DefaultPolicy.Describe()
	want := Description{MinLength: 12, MaxLength: 1024, Blocklist: true, BlocklistSize: BlocklistSize(), ContextWords: true, BreachCheck: false, MinStrength: 3}
	if d != want {
		t.Errorf("Describe() = %+v, want %+v", d, want)
	}
	p := DefaultPolicy
	p.Breach = &BreachChecker{}
	if !p.Describe().BreachCheck {
		t.Errorf("Describe().BreachCheck = false with a BreachChecker")
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"minLength", "maxLength", "blocklist", "blocklistSize", "contextWords", "breachCheck", "minStrength"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON %s lacks %q", b, k)
		}
	}
	if len(m) != 7 {
		t.Errorf("JSON %s has %d fields, want 7", b, len(m))
	}
}

func TestPolicyValidateBreach(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"", true},
		{"https://api.pwnedpasswords.com", true},
		{"http://127.0.0.1:8080/pwned/", true},
		{"api.pwnedpasswords.com", false},
		{"ftp://example.com", false},
		{"https://", false},
		{"https://example.com/?x=1", false},
		{"https://example.com/#x", false},
		{"://", false},
	}
	for _, tt := range tests {
		p := DefaultPolicy
		p.Breach = &BreachChecker{URL: tt.url}
		if err := p.Validate(); (err == nil) != tt.ok {
			t.Errorf("Validate with breach URL %q = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
}

// BenchmarkLoadBlocklist is the one-time cost of the first Check.
func BenchmarkLoadBlocklist(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := loadBlocklist(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckWith is a new password that passes every rule.
func BenchmarkCheckWith(b *testing.B) {
	c := Context{Username: "alice", Email: "alice.smith@example.com"}
	BlocklistSize() // load outside the loop
	b.ReportAllocs()
	for b.Loop() {
		if v := DefaultPolicy.CheckWith("correct horse battery staple", c); v != nil {
			b.Fatal(v)
		}
	}
}
