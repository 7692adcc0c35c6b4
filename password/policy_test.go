package password

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse"
)

func TestPolicyCheck(t *testing.T) {
	var (
		tooShort = gatehouse.RuleViolation{Rule: "min_length", Message: "Password must be at least 12 characters."}
		tooLong  = gatehouse.RuleViolation{Rule: "max_length", Message: "Password must be at most 1024 bytes."}
		badUTF8  = gatehouse.RuleViolation{Rule: "invalid_utf8", Message: "Password must be valid UTF-8 text."}
	)
	tests := []struct {
		name     string
		policy   Policy
		password string
		want     []gatehouse.RuleViolation
	}{
		{"empty", DefaultPolicy, "", []gatehouse.RuleViolation{tooShort}},
		{"short", DefaultPolicy, "elevenchars", []gatehouse.RuleViolation{tooShort}},
		{"exactly min", DefaultPolicy, "twelve chars", nil},
		{"spaces count and are kept", DefaultPolicy, " a b c d e f", nil},
		{"leading and trailing spaces are not trimmed", DefaultPolicy, "  eight   ", []gatehouse.RuleViolation{tooShort}},
		// 12 characters but 24 bytes: characters, not bytes, count.
		{"multibyte counted as characters", DefaultPolicy, "äöüßéèêëïîôû", nil},
		{"multibyte short despite bytes", DefaultPolicy, "äöüßéèêëïîô", []gatehouse.RuleViolation{tooShort}},
		{"4-byte runes", DefaultPolicy, "🔑🔒🔓🔐🔏🔔🔕🔖🔗🔘🔙🔚", nil},
		// A decomposed "ä" is two code points, counted as two.
		{"combining marks count as runes", DefaultPolicy, "a\u0308o\u0308u\u0308e\u0301i\u0302n\u0303", nil},
		{"exactly max bytes", DefaultPolicy, varied(1024), nil},
		{"over max bytes", DefaultPolicy, strings.Repeat("x", 1025), []gatehouse.RuleViolation{tooLong}},
		{"max counted in bytes", DefaultPolicy, strings.Repeat("ä", 513), []gatehouse.RuleViolation{tooLong}},
		{"invalid UTF-8", DefaultPolicy, "valid prefix \xff\xfe", []gatehouse.RuleViolation{badUTF8}},
		{"truncated multibyte", DefaultPolicy, "twelve chars\xc3", []gatehouse.RuleViolation{badUTF8}},
		{"short and invalid UTF-8", DefaultPolicy, "\xff", []gatehouse.RuleViolation{tooShort, badUTF8}},
		{"long and invalid UTF-8", DefaultPolicy, strings.Repeat("\xff", 1025), []gatehouse.RuleViolation{tooLong, badUTF8}},
		{"short in runes, long in bytes", Policy{MinLength: 64, MaxLength: 64}, strings.Repeat("🔑", 20), []gatehouse.RuleViolation{
			{Rule: "min_length", Message: "Password must be at least 64 characters."},
			{Rule: "max_length", Message: "Password must be at most 64 bytes."},
		}},
		{"singular message", Policy{MinLength: 1, MaxLength: 64}, "", []gatehouse.RuleViolation{
			{Rule: "min_length", Message: "Password must be at least 1 character."},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.policy.Check(tt.password)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		ok     bool
	}{
		{"default", DefaultPolicy, true},
		{"zero", Policy{}, false},
		{"min 1 max 64", Policy{MinLength: 1, MaxLength: 64}, true},
		{"min 0", Policy{MinLength: 0, MaxLength: 1024}, false},
		{"min negative", Policy{MinLength: -1, MaxLength: 1024}, false},
		{"max 63", Policy{MinLength: 8, MaxLength: 63}, false},
		{"max negative", Policy{MinLength: 8, MaxLength: -1}, false},
		{"min equals max", Policy{MinLength: 64, MaxLength: 64}, true},
		{"min above max", Policy{MinLength: 65, MaxLength: 64}, false},
		{"strength 0", Policy{MinLength: 12, MaxLength: 64, MinStrength: 0}, true},
		{"strength 4", Policy{MinLength: 12, MaxLength: 64, MinStrength: 4}, true},
		{"strength negative", Policy{MinLength: 12, MaxLength: 64, MinStrength: -1}, false},
		{"strength 5", Policy{MinLength: 12, MaxLength: 64, MinStrength: 5}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Validate()
			if (err == nil) != tt.ok {
				t.Errorf("Validate(%+v) = %v, want ok=%v", tt.policy, err, tt.ok)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "password policy: ") {
				t.Errorf("error %q is not descriptive", err)
			}
		})
	}
}
