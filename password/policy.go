package password

import (
	"fmt"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
)

// Policy is the password rule set a new password must satisfy.
//
// It deliberately has no composition rules (NIST SP 800-63B): only a minimum
// length, counted in characters as a person counts them, and a maximum
// length, counted in bytes because it exists to bound the work and storage
// spent on one password, not to limit people (ASVS 6.2.9 requires allowing at
// least 64 characters).
type Policy struct {
	// MinLength is the least number of Unicode characters (runes) a
	// password must have; DefaultPolicy uses 12.
	MinLength int
	// MaxLength is the most bytes a password may have; DefaultPolicy uses
	// 1024.
	MaxLength int
}

// DefaultPolicy is Policy{MinLength: 12, MaxLength: 1024}: above ASVS's
// minimum of 8 and below its recommended 15, and long enough at the top for
// any passphrase.
var DefaultPolicy = Policy{MinLength: 12, MaxLength: 1024}

// The stable rule names of the violations Check reports.
const (
	ruleMinLength   = "min_length"
	ruleMaxLength   = "max_length"
	ruleInvalidUTF8 = "invalid_utf8"
)

// Check returns the rules password breaks, or nil when it breaks none:
// "min_length" when it has fewer than MinLength characters, "max_length" when
// it has more than MaxLength bytes, and "invalid_utf8" when it is not valid
// UTF-8. Passwords are taken exactly as typed: Check never trims, normalises
// or truncates, and spaces and any Unicode characters are allowed.
//
// Each invalid UTF-8 byte counts as one character towards MinLength.
func (p Policy) Check(password string) []gatehouse.RuleViolation {
	var v []gatehouse.RuleViolation
	if utf8.RuneCountInString(password) < p.MinLength {
		v = append(v, gatehouse.RuleViolation{
			Rule:    ruleMinLength,
			Message: fmt.Sprintf("Password must be at least %d %s.", p.MinLength, plural(p.MinLength, "character", "characters")),
		})
	}
	if len(password) > p.MaxLength {
		v = append(v, gatehouse.RuleViolation{
			Rule:    ruleMaxLength,
			Message: fmt.Sprintf("Password must be at most %d %s.", p.MaxLength, plural(p.MaxLength, "byte", "bytes")),
		})
	}
	if !utf8.ValidString(password) {
		v = append(v, gatehouse.RuleViolation{
			Rule:    ruleInvalidUTF8,
			Message: "Password must be valid UTF-8 text.",
		})
	}
	return v
}

// Validate checks p itself: MinLength must be at least 1, MaxLength at
// least 64 (ASVS 6.2.9 requires allowing passwords of 64 characters), and
// MinLength at most MaxLength. Call it when loading a policy from
// configuration; Check does not repeat these checks.
func (p Policy) Validate() error {
	switch {
	case p.MinLength < 1:
		return fmt.Errorf("password policy: minimum length %d must be at least 1", p.MinLength)
	case p.MaxLength < 64:
		return fmt.Errorf("password policy: maximum length %d must be at least 64 bytes (ASVS 6.2.9)", p.MaxLength)
	case p.MinLength > p.MaxLength:
		return fmt.Errorf("password policy: minimum length %d exceeds maximum length %d", p.MinLength, p.MaxLength)
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
