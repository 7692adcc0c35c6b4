package otp

import (
	"crypto/rand"
	"fmt"
	"math/big"
)

// MaxNumericDigits is the longest code NewNumericCode makes; 10^18 still
// fits in an int64.
const MaxNumericDigits = 18

// NewNumericCode returns a random code of exactly digits decimal digits,
// zero-padded, uniformly distributed over 0 … 10^digits−1, for sending by
// email or SMS. Six digits are about 20 bits, the minimum OWASP ASVS 6.5.4
// asks for, which is why fewer than six are refused: NewNumericCode panics
// if digits is outside 6…MaxNumericDigits, a programming error. Such codes
// are only safe if they expire (ASVS 6.5.5: at most 10 minutes), are used
// once and verification is rate-limited.
func NewNumericCode(digits int) string {
	if digits < MinDigits || digits > MaxNumericDigits {
		panic(fmt.Sprintf("otp: NewNumericCode with %d digits, want %d to %d", digits, MinDigits, MaxNumericDigits))
	}
	max := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil)
	n, err := rand.Int(rand.Reader, max) // rejection sampling: uniform
	if err != nil {
		panic("otp: crypto/rand failed: " + err.Error())
	}
	return fmt.Sprintf("%0*d", digits, n.Int64())
}
