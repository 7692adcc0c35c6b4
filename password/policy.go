package password

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
)

// Policy is the password rule set a new password must satisfy.
//
// It deliberately has no composition rules (NIST SP 800-63B): a minimum
// length, counted in characters as a person counts them, and a maximum
// length, counted in bytes because it exists to bound the work and storage
// spent on one password, not to limit people (ASVS 6.2.9 requires allowing at
// least 64 characters). Beyond length, it refuses what 800-63B and ASVS
// 6.2.4, 6.2.11 and 6.2.12 name: common passwords and dictionary words,
// repetitive or sequential passwords, passwords containing context words
// (the user's name or email, the service's name), passwords that are easy to
// guess by the patterns of the zxcvbn strength estimator (a common word with
// a year and a "!", a keyboard row, l33t spellings) and, when Breach is set,
// passwords known from data breaches; each refusal says why.
type Policy struct {
	// MinLength is the least number of Unicode characters (runes) a
	// password must have; DefaultPolicy uses 12.
	MinLength int
	// MaxLength is the most bytes a password may have; DefaultPolicy uses
	// 1024.
	MaxLength int
	// MinStrength is the least zxcvbn score (0–4) a password must have;
	// DefaultPolicy uses 3. 0 turns the "strength" rule off.
	MinStrength int
	// Breach, when set, makes CheckContext refuse passwords that appear in
	// a breach corpus. Check and CheckWith never use it: they make no
	// network request.
	Breach *BreachChecker
}

// DefaultPolicy is Policy{MinLength: 12, MaxLength: 1024, MinStrength: 3}:
// a length above ASVS's minimum of 8 and below its recommended 15, long
// enough at the top for any passphrase, and a strength that refuses
// "Summer2024!!" and accepts four random common words.
var DefaultPolicy = Policy{MinLength: 12, MaxLength: 1024, MinStrength: 3}

// The stable rule names of the violations Check reports.
const (
	ruleMinLength   = "min_length"
	ruleMaxLength   = "max_length"
	ruleInvalidUTF8 = "invalid_utf8"
	ruleCommon      = "common"
	ruleRepetitive  = "repetitive"
	ruleContext     = "context"
	ruleBreached    = "breached"
	ruleStrength    = "strength"
)

// ServiceName is the context word every check refuses a password to
// contain, whoever the user is.
const ServiceName = "gatehouse"

// minContextWord is the least number of characters a context word needs for
// a password containing it to be refused; a shorter one is refused only as
// the whole password.
const minContextWord = 4

// Context is what a policy knows about the user whose password it checks,
// for the "context" rule. Empty fields are ignored.
type Context struct {
	// Username is the user's login name.
	Username string
	// Email is the user's email address; its local part (before the
	// last "@") is a context word as well as the whole address.
	Email string
	// Name is the user's full name. Its words are not refused as such,
	// but the strength estimate counts them as easy to guess.
	Name string
}

// Check returns the rules password breaks, or nil when it breaks none. It is
// CheckWith without user context: the service's name is the only context
// word.
func (p Policy) Check(password string) []gatehouse.RuleViolation {
	return p.CheckWith(password, Context{})
}

// CheckWith returns the rules password breaks, or nil when it breaks none,
// in this order:
//
//   - "min_length" when it has fewer than MinLength characters,
//   - "max_length" when it has more than MaxLength bytes,
//   - "invalid_utf8" when it is not valid UTF-8;
//
// and, only for a password that breaks none of those (so that a password
// that is too short gets one clear reason, and no work is spent on an
// oversized one):
//
//   - "common" when, compared case-insensitively, it is one of the blocklist's
//     common passwords, dictionary words or names (see BlocklistSize),
//   - "repetitive" when it is one short unit repeated ("aaaaaaaaaaaa",
//     "abcabcabcabc": a unit of at most a third of its length) or a run of
//     consecutive letters or digits, up or down ("abcdefghijkl",
//     "123456789012", "987654321098"; 9 is followed by 0 and z by a),
//   - "context" when it equals, or contains case-insensitively, one of the
//     context words: c.Username, c.Email, the local part of c.Email, and
//     ServiceName. Words shorter than 4 characters are refused only as the
//     whole password. The message names which words matched;
//
// and, only for a password that breaks none of those either:
//
//   - "strength" when MinStrength is above 0 and the zxcvbn estimate of
//     the password scores below it. The estimate looks for common
//     passwords, words and names (c's words and ServiceName among them),
//     keyboard patterns, repeats, sequences, dates and l33t spellings
//     anywhere in the password, so it refuses "Summer2024!!" and
//     "qwertyuiop123", which the rules above let through. Only the first
//     64 characters are estimated, which bounds its cost. The message
//     names the kind of pattern found, never the password.
//
// Passwords are taken exactly as typed: CheckWith never trims, normalises or
// truncates, and spaces and any Unicode characters are allowed. Each invalid
// UTF-8 byte counts as one character towards MinLength.
func (p Policy) CheckWith(password string, c Context) []gatehouse.RuleViolation {
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
	if len(v) > 0 {
		return v
	}
	if isCommon(password) {
		v = append(v, gatehouse.RuleViolation{
			Rule:    ruleCommon,
			Message: "This password is too common; choose another.",
		})
	}
	if isRepetitive(password) {
		v = append(v, gatehouse.RuleViolation{
			Rule:    ruleRepetitive,
			Message: "This password is a repeated or sequential pattern; choose another.",
		})
	}
	if kinds := contextMatches(password, c); len(kinds) > 0 {
		v = append(v, gatehouse.RuleViolation{
			Rule:    ruleContext,
			Message: "This password contains " + joinKinds(kinds) + "; choose another.",
		})
	}
	if len(v) == 0 && p.MinStrength > 0 {
		if s := estimateStrength(password, c); s.score < p.MinStrength {
			v = append(v, gatehouse.RuleViolation{Rule: ruleStrength, Message: s.message()})
		}
	}
	return v
}

// CheckContext is CheckWith followed, when p.Breach is set and the password
// breaks no other rule, by a breach check: "breached" when the password
// appears in the breach corpus. A password another rule refuses is not sent
// to the breach check (not even as a hash prefix): it is refused anyway.
//
// When the breach check fails, CheckContext returns the violations found so
// far (none) and an error wrapping ErrBreachCheck, and the caller decides:
// the account service treats an unreachable checker as "not breached", so
// that an outage of a third-party service does not stop password changes,
// and records the failure.
func (p Policy) CheckContext(ctx context.Context, password string, c Context) ([]gatehouse.RuleViolation, error) {
	v := p.CheckWith(password, c)
	if p.Breach == nil || len(v) > 0 {
		return v, nil
	}
	n, err := p.Breach.Breached(ctx, password)
	if err != nil {
		return v, err
	}
	if n > 0 {
		v = append(v, gatehouse.RuleViolation{
			Rule:    ruleBreached,
			Message: "This password has appeared in a data breach; choose another.",
		})
	}
	return v, nil
}

// Description is what GET /password/policy tells clients about a policy, so
// that they can explain the rules before a password is submitted.
type Description struct {
	// MinLength is the least number of characters.
	MinLength int `json:"minLength"`
	// MaxLength is the most bytes.
	MaxLength int `json:"maxLength"`
	// Blocklist is true: common passwords are always refused.
	Blocklist bool `json:"blocklist"`
	// BlocklistSize is the number of entries of the blocklist.
	BlocklistSize int `json:"blocklistSize"`
	// ContextWords is true: passwords containing the username, email or
	// service name are always refused.
	ContextWords bool `json:"contextWords"`
	// BreachCheck reports whether passwords are checked against a breach
	// corpus.
	BreachCheck bool `json:"breachCheck"`
	// MinStrength is the least zxcvbn score (0–4); 0 when the strength
	// rule is off.
	MinStrength int `json:"minStrength"`
}

// Describe returns the description of p for clients.
func (p Policy) Describe() Description {
	return Description{
		MinLength:     p.MinLength,
		MaxLength:     p.MaxLength,
		Blocklist:     true,
		BlocklistSize: BlocklistSize(),
		ContextWords:  true,
		BreachCheck:   p.Breach != nil,
		MinStrength:   p.MinStrength,
	}
}

// BlocklistSize returns the number of distinct entries of the blocklist of
// common passwords, dictionary words and names that the "common" rule
// refuses, loading it if need be.
func BlocklistSize() int { return len(blocklistWords()) }

// isRepetitive reports whether password, lower-cased, is one unit repeated
// at least three times (a trailing partial unit allowed) or a run of
// consecutive letters or digits of at least three characters.
func isRepetitive(password string) bool {
	r := []rune(strings.ToLower(password))
	n := len(r)
	if n < 3 {
		return false
	}
	for period := 1; 3*period <= n; period++ {
		repeats := true
		for i := period; i < n; i++ {
			if r[i] != r[i-period] {
				repeats = false
				break
			}
		}
		if repeats {
			return true
		}
	}
	return isRun(r, nextUp) || isRun(r, nextDown)
}

// isRun reports whether each rune of r follows the one before it by next.
func isRun(r []rune, next func(rune) (rune, bool)) bool {
	for i := 1; i < len(r); i++ {
		if n, ok := next(r[i-1]); !ok || n != r[i] {
			return false
		}
	}
	return true
}

// nextUp is the letter or digit after c, wrapping from 9 to 0 and z to a.
func nextUp(c rune) (rune, bool) {
	switch {
	case c == '9':
		return '0', true
	case c == 'z':
		return 'a', true
	case '0' <= c && c < '9', 'a' <= c && c < 'z':
		return c + 1, true
	}
	return 0, false
}

// nextDown is the letter or digit before c, wrapping from 0 to 9 and a to z.
func nextDown(c rune) (rune, bool) {
	switch {
	case c == '0':
		return '9', true
	case c == 'a':
		return 'z', true
	case '0' < c && c <= '9', 'a' < c && c <= 'z':
		return c - 1, true
	}
	return 0, false
}

// contextMatches returns the kinds of context word password contains, in a
// fixed order, each once.
func contextMatches(password string, c Context) []string {
	pw := strings.ToLower(password)
	contains := func(word string) bool {
		w := strings.ToLower(word)
		if w == "" {
			return false
		}
		return pw == w || utf8.RuneCountInString(w) >= minContextWord && strings.Contains(pw, w)
	}
	var kinds []string
	if contains(c.Username) {
		kinds = append(kinds, "your username")
	}
	local := c.Email
	if i := strings.LastIndexByte(c.Email, '@'); i >= 0 {
		local = c.Email[:i]
	}
	if contains(c.Email) || contains(local) {
		kinds = append(kinds, "your email address")
	}
	if contains(ServiceName) {
		kinds = append(kinds, "the name of this service")
	}
	return kinds
}

// joinKinds joins "a", "a and b", "a, b and c".
func joinKinds(kinds []string) string {
	if len(kinds) == 1 {
		return kinds[0]
	}
	return strings.Join(kinds[:len(kinds)-1], ", ") + " and " + kinds[len(kinds)-1]
}

// Validate checks p itself: MinLength must be at least 1, MaxLength at
// least 64 (ASVS 6.2.9 requires allowing passwords of 64 characters),
// MinLength at most MaxLength, and MinStrength from 0 to 4; a Breach URL, when set, must be an absolute
// http or https URL. Call it when loading a policy from configuration;
// Check does not repeat these checks.
func (p Policy) Validate() error {
	switch {
	case p.MinLength < 1:
		return fmt.Errorf("password policy: minimum length %d must be at least 1", p.MinLength)
	case p.MaxLength < 64:
		return fmt.Errorf("password policy: maximum length %d must be at least 64 bytes (ASVS 6.2.9)", p.MaxLength)
	case p.MinLength > p.MaxLength:
		return fmt.Errorf("password policy: minimum length %d exceeds maximum length %d", p.MinLength, p.MaxLength)
	case p.MinStrength < 0 || p.MinStrength > maxScore:
		return fmt.Errorf("password policy: minimum strength %d must be from 0 to %d", p.MinStrength, maxScore)
	}
	if p.Breach != nil && p.Breach.URL != "" {
		return p.Breach.Validate()
	}
	return nil
}

// Validate checks the checker's URL: absolute http or https, without
// query or fragment.
func (b *BreachChecker) Validate() error {
	u, err := url.Parse(b.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("password policy: breach check URL must be an absolute http or https URL without query")
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
