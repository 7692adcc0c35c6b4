package otp

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"strconv"
	"strings"
)

// KeySize is the length of the keys NewKey returns: 160 bits, the key length
// RFC 4226 section 4 recommends, which is also the output size of SHA-1.
const KeySize = 20

// NewKey returns a new random TOTP key of KeySize bytes from crypto/rand.
// 160 bits is enough for SHA256 and SHA512 as well; longer keys only make
// the base32 secret users may have to type longer.
func NewKey() []byte {
	k := make([]byte, KeySize)
	rand.Read(k) // never returns an error; a broken system RNG crashes the program
	return k
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// EncodeKey returns k in upper-case base32 (RFC 4648) without "=" padding,
// the form authenticator apps expect in otpauth:// URLs and for manual entry.
func EncodeKey(k []byte) string {
	return b32.EncodeToString(k)
}

// DecodeKey parses a base32 secret as users and other systems write it: case
// is ignored, spaces, tabs, newlines and dashes (used to group characters for
// reading) are skipped, and "=" padding may be present or missing. An empty
// secret is an error.
func DecodeKey(s string) ([]byte, error) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '-':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		b.WriteByte(c)
	}
	clean := strings.TrimRight(b.String(), "=")
	if clean == "" {
		return nil, errors.New("otp: empty key")
	}
	// Only these lengths are whole bytes; the standard decoder silently
	// drops the extra characters of the others.
	switch len(clean) % 8 {
	case 1, 3, 6:
		return nil, errors.New("otp: key is not valid base32: truncated (" + strconv.Itoa(len(clean)) + " characters)")
	}
	k, err := b32.DecodeString(clean)
	if err != nil {
		return nil, errors.New("otp: key is not valid base32: " + err.Error())
	}
	return k, nil
}

// escape percent-encodes everything except the RFC 3986 unreserved
// characters. It is stricter than net/url's PathEscape, which leaves ":" and
// "@" alone: a literal ":" inside the issuer would be read as the
// issuer/account separator, and "%20" rather than "+" is used for spaces
// because several authenticator apps show a "+" literally.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) * 3)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	return b.String()
}

// URL returns the otpauth:// URL (Google Authenticator "Key Uri Format") that
// enrols key in an authenticator app, for example
//
//	otpauth://totp/ACME%20Co:alice%40example.com?secret=…&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30
//
// The label is "issuer:account", with both parts percent-encoded so that a
// colon inside either is not mistaken for the separator; when issuer is empty
// the label is the account alone and the issuer parameter is left out. The
// issuer is repeated as a parameter because newer apps prefer it to the
// label prefix. Algorithm, digits and period come from t with its defaults
// applied and are always written, so apps never have to guess. If key is nil,
// t.Key is used. URL panics if t is misconfigured (see TOTP.Validate).
func URL(issuer, account string, key []byte, t TOTP) string {
	if key == nil {
		key = t.Key
	} else {
		t.Key = key
	}
	digits, period, _, _, err := t.params()
	if err != nil {
		panic(err)
	}
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	if issuer != "" {
		b.WriteString(escape(issuer))
		b.WriteByte(':')
	}
	b.WriteString(escape(account))
	b.WriteString("?secret=")
	b.WriteString(EncodeKey(key))
	if issuer != "" {
		b.WriteString("&issuer=")
		b.WriteString(escape(issuer))
	}
	b.WriteString("&algorithm=")
	b.WriteString(t.Algorithm.String())
	b.WriteString("&digits=")
	b.WriteString(strconv.Itoa(digits))
	b.WriteString("&period=")
	b.WriteString(strconv.FormatInt(period, 10))
	return b.String()
}
