package sms

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// The length of an E.164 number, in digits after the "+" (country code
// included).
const (
	minDigits = 8
	maxDigits = 15
)

// ErrInvalidPhone is the error, wrapped with the reason, of [NormalizePhone]
// for a string that is not a phone number in international format.
var ErrInvalidPhone = errors.New("sms: invalid phone number")

// ValidPhone reports whether s is a phone number in E.164 format, exactly as
// stored and sent: "+", then 8 to 15 digits, the first of which (the start
// of the country code) is not 0, and nothing else. Use [NormalizePhone] on
// what a user typed.
func ValidPhone(s string) bool {
	if len(s) < 1+minDigits || len(s) > 1+maxDigits || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// NormalizePhone turns a phone number as a user may type it into E.164
// format: it removes white space, dashes, dots and parentheses, and turns a
// leading "00" (the international call prefix of most countries) into "+".
// So "+49 (151) 123-456.78" and "0049 151 12345678" both become
// "+4915112345678".
//
// The number must carry its country code: a national number such as
// "0151 12345678" is an error, since which country it belongs to would be a
// guess. So is any other character, a "+" that does not come first, a
// country code starting with 0, and fewer than 8 or more than 15 digits.
// Every error wraps [ErrInvalidPhone] and says what is wrong, without
// repeating the number.
func NormalizePhone(s string) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9' || r == '+':
			b.WriteRune(r)
		case unicode.IsSpace(r) || r == '-' || r == '.' || r == '(' || r == ')' ||
			r >= '\u2010' && r <= '\u2015' || r == '\u2212': // Unicode dashes and minus
		default:
			if unicode.IsDigit(r) {
				return "", invalidPhone("%q is not an ASCII digit (0-9)", r)
			}
			return "", invalidPhone("%q is not allowed: only digits, a leading + and spaces, dashes, dots and parentheses between them", r)
		}
	}
	n := b.String()
	switch {
	case n == "":
		return "", invalidPhone("the number is empty")
	case strings.HasPrefix(n, "00"):
		n = "+" + n[2:]
	case n[0] != '+':
		return "", invalidPhone("it must start with + or 00 and the country code, such as +442079460958; a number without its country code is not accepted")
	}
	digits := n[1:]
	if strings.Contains(digits, "+") {
		return "", invalidPhone("a + may only come first")
	}
	if len(digits) < minDigits || len(digits) > maxDigits {
		return "", invalidPhone("it has %d digits after the +, and an international number has %d to %d", len(digits), minDigits, maxDigits)
	}
	if digits[0] == '0' {
		return "", invalidPhone("the country code after the + cannot start with 0")
	}
	return n, nil
}

// invalidPhone returns ErrInvalidPhone with the reason.
func invalidPhone(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidPhone, fmt.Sprintf(format, args...))
}

// Mask returns phone with every digit but the last three replaced by "*",
// for logs and error messages: "+4915112345678" becomes "+**********678".
//
// Mask keeps a leading "+" and drops every character that is not a digit,
// so it shows nothing of a malformed input but the count of its digits. A
// string of fewer than 8 digits, too short to be a number whose last digits
// are safe to show, is masked whole; one without digits becomes "***", and
// "" stays "". At most 20 asterisks are written.
func Mask(phone string) string {
	if phone == "" {
		return ""
	}
	var digits []byte
	for i := 0; i < len(phone); i++ {
		if c := phone[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	if len(digits) == 0 {
		return "***"
	}
	keep := 3
	if len(digits) < minDigits {
		keep = 0
	}
	var b strings.Builder
	if strings.HasPrefix(strings.TrimSpace(phone), "+") {
		b.WriteByte('+')
	}
	b.WriteString(strings.Repeat("*", min(len(digits)-keep, 20)))
	b.Write(digits[len(digits)-keep:])
	return b.String()
}
