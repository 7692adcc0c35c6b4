package otp

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"time"
)

// Algorithm is the HMAC hash function used to compute a code. The zero value
// is SHA1: it is RFC 4226's algorithm, the default of otpauth:// URLs and
// the only one every authenticator app supports; SHA256 and SHA512 (allowed
// by RFC 6238) are understood by fewer apps. HMAC-SHA-1 is not affected by
// SHA-1's collision weakness.
type Algorithm int

const (
	// SHA1 selects HMAC-SHA-1, the RFC 4226 algorithm and the default.
	SHA1 Algorithm = iota
	// SHA256 selects HMAC-SHA-256 (RFC 6238).
	SHA256
	// SHA512 selects HMAC-SHA-512 (RFC 6238).
	SHA512
)

// String returns the name used in otpauth:// URLs: "SHA1", "SHA256" or
// "SHA512", or "Algorithm(n)" for an unknown value.
func (a Algorithm) String() string {
	switch a {
	case SHA1:
		return "SHA1"
	case SHA256:
		return "SHA256"
	case SHA512:
		return "SHA512"
	}
	return "Algorithm(" + strconv.Itoa(int(a)) + ")"
}

// hash returns the constructor for a, or nil if a is unknown.
func (a Algorithm) hash() func() hash.Hash {
	switch a {
	case SHA1:
		return sha1.New
	case SHA256:
		return sha256.New
	case SHA512:
		return sha512.New
	}
	return nil
}

const (
	// MinDigits is the shortest code supported. RFC 4226 requires at least
	// six digits, which is also about 20 bits (OWASP ASVS 6.5.4).
	MinDigits = 6
	// MaxDigits is the longest code supported. Dynamic truncation yields 31
	// bits (about 9.3 digits), so longer codes would not add entropy, and
	// authenticator apps only offer six or eight.
	MaxDigits = 8
)

var pow10 = [...]uint32{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000}

// hotpInto writes the digits-long code for counter into dst, which must have
// room for digits bytes. The caller has validated digits and alg.
func hotpInto(dst []byte, key []byte, counter uint64, digits int, newHash func() hash.Hash) {
	mac := hmac.New(newHash, key)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	// Dynamic truncation, RFC 4226 section 5.3.
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	v := bin % pow10[digits]
	for i := digits - 1; i >= 0; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
}

// HOTP returns the RFC 4226 code for key and counter: digits decimal digits,
// zero-padded on the left, computed with HMAC using alg.
//
// HOTP panics if digits is outside [MinDigits, MaxDigits] or alg is unknown;
// both are programming errors, not input errors.
func HOTP(key []byte, counter uint64, digits int, alg Algorithm) string {
	if digits < MinDigits || digits > MaxDigits {
		panic(fmt.Sprintf("otp: HOTP with %d digits, want %d to %d", digits, MinDigits, MaxDigits))
	}
	h := alg.hash()
	if h == nil {
		panic("otp: HOTP with unknown algorithm " + alg.String())
	}
	var buf [MaxDigits]byte
	hotpInto(buf[:digits], key, counter, digits, h)
	return string(buf[:digits])
}

const (
	// DefaultDigits is the code length used when TOTP.Digits is zero.
	DefaultDigits = 6
	// DefaultPeriod is the step length used when TOTP.Period is zero. OWASP
	// ASVS 6.5.5 asks for TOTP codes to be valid for at most 30 seconds, so
	// longer periods, which Validate allows for compatibility, are not
	// compliant.
	DefaultPeriod = 30 * time.Second
	// DefaultSkew is the number of steps accepted on each side of the current
	// one when TOTP.Skew is zero, to allow for clock drift and typing time.
	DefaultSkew = 1
	// MaxSkew is the largest TOTP.Skew accepted. A wider window would keep a
	// code valid for minutes, which defeats the point of a time-based code.
	MaxSkew = 10
	// maxCodeInput bounds the length of a code string Verify looks at, so an
	// absurd input is refused without copying it.
	maxCodeInput = 64
)

// TOTP describes a time-based one-time password generator (RFC 6238) with
// T0 = 0. The zero values of the fields other than Key select the defaults
// that authenticator apps assume when an otpauth:// URL does not say
// otherwise.
type TOTP struct {
	// Key is the shared secret. It must not be empty.
	Key []byte
	// Digits is the code length, 6 to 8; zero means DefaultDigits (6).
	Digits int
	// Period is the step length, a positive whole number of seconds because
	// otpauth:// URLs can only express seconds; zero means DefaultPeriod
	// (30 s).
	Period time.Duration
	// Algorithm is the HMAC hash; the zero value is SHA1.
	Algorithm Algorithm
	// Skew is how many steps before and after the current one Verify
	// accepts, at most MaxSkew. Zero means DefaultSkew (one step each side);
	// a negative value accepts only the current step.
	Skew int
}

// params returns t's effective settings with the defaults applied.
func (t TOTP) params() (digits int, period int64, skew int, h func() hash.Hash, err error) {
	if len(t.Key) == 0 {
		return 0, 0, 0, nil, errors.New("otp: TOTP key is empty")
	}
	digits = t.Digits
	if digits == 0 {
		digits = DefaultDigits
	}
	if digits < MinDigits || digits > MaxDigits {
		return 0, 0, 0, nil, fmt.Errorf("otp: TOTP has %d digits, want %d to %d", digits, MinDigits, MaxDigits)
	}
	p := t.Period
	if p == 0 {
		p = DefaultPeriod
	}
	if p < time.Second || p%time.Second != 0 {
		return 0, 0, 0, nil, fmt.Errorf("otp: TOTP period %v is not a positive whole number of seconds", t.Period)
	}
	skew = t.Skew
	switch {
	case skew == 0:
		skew = DefaultSkew
	case skew < 0:
		skew = 0
	case skew > MaxSkew:
		return 0, 0, 0, nil, fmt.Errorf("otp: TOTP skew %d is larger than %d", skew, MaxSkew)
	}
	h = t.Algorithm.hash()
	if h == nil {
		return 0, 0, 0, nil, errors.New("otp: TOTP has unknown algorithm " + t.Algorithm.String())
	}
	return digits, int64(p / time.Second), skew, h, nil
}

// Validate reports whether t is usable: a non-empty key, 6 to 8 digits, a
// period that is a positive whole number of seconds, a skew of at most
// MaxSkew and a known algorithm. Call it when loading configuration so that a
// mistake shows up at start-up rather than as a panic in At.
func (t TOTP) Validate() error {
	_, _, _, _, err := t.params()
	return err
}

// stepOf returns floor(unix / period). Integer seconds are used instead of
// nanoseconds because UnixNano overflows in 2262 and RFC 6238's own test
// vectors go to the year 2603.
func stepOf(now time.Time, period int64) int64 {
	u := now.Unix()
	s := u / period
	if u%period != 0 && u < 0 {
		s--
	}
	return s
}

// Step returns the time step that now falls in: the number of whole periods
// since the Unix epoch, rounded down. It panics if t is misconfigured (see
// Validate).
func (t TOTP) Step(now time.Time) int64 {
	_, period, _, _, err := t.params()
	if err != nil {
		panic(err)
	}
	return stepOf(now, period)
}

// At returns the code for the step that now falls in. It panics if t is
// misconfigured (see Validate).
func (t TOTP) At(now time.Time) string {
	digits, period, _, h, err := t.params()
	if err != nil {
		panic(err)
	}
	var buf [MaxDigits]byte
	hotpInto(buf[:digits], t.Key, uint64(stepOf(now, period)), digits, h)
	return string(buf[:digits])
}

// Verify checks code against the steps from Skew before to Skew after the
// step of now, and accepts it only for a step greater than lastStep. On
// success it returns that step, which the caller must store and pass as
// lastStep next time: this makes every code usable once (OWASP ASVS 6.5.1,
// NIST SP 800-63B "once per validity period"), and also refuses a code from
// an older step than one already used. If several steps in the window have
// the same code, the latest is returned. For a user who has never used a
// code, lastStep 0 (or any negative value) accepts every current code.
//
// Spaces in code are ignored because apps display codes as "123 456" and
// users copy them that way. The comparison with each candidate is done in
// constant time, and all candidates are always computed, also for a code of
// the wrong length or with non-digits, so the response time depends neither
// on the expected codes nor on how close a guess was.
//
// Verify never panics: a misconfigured t (see Validate) fails closed and
// returns false. On failure the returned step is 0.
func (t TOTP) Verify(code string, now time.Time, lastStep int64) (step int64, ok bool) {
	digits, period, skew, h, err := t.params()
	if err != nil {
		return 0, false
	}

	// Copy the code without spaces into a fixed-size buffer. The loop
	// branches only on the attacker's own input, which reveals nothing.
	var in [MaxDigits]byte
	n := 0
	wellFormed := 1
	if len(code) > maxCodeInput {
		wellFormed = 0
	} else {
		for i := 0; i < len(code); i++ {
			c := code[i]
			if c == ' ' {
				continue
			}
			if n < len(in) {
				in[n] = c
			}
			n++
		}
	}
	if n != digits {
		wellFormed = 0
	}
	for i := 0; i < digits; i++ {
		c := int(in[i])
		wellFormed &= subtle.ConstantTimeLessOrEq('0', c) & subtle.ConstantTimeLessOrEq(c, '9')
	}

	cur := stepOf(now, period)
	var want [MaxDigits]byte
	found := 0
	for i := -skew; i <= skew; i++ {
		s := cur + int64(i)
		hotpInto(want[:digits], t.Key, uint64(s), digits, h)
		match := subtle.ConstantTimeCompare(want[:digits], in[:digits]) & wellFormed
		if s <= lastStep {
			match = 0
		}
		mask := -int64(match) // all ones when match is 1
		step = s&mask | step&^mask
		found |= match
	}
	if found != 1 {
		return 0, false
	}
	return step, true
}
