package password

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// The errors of parsePHC. Their text is fixed, so no part of a stored hash
// (nor of the password) can leak into logs through them.
var (
	errEmptyHash   = errors.New("password: empty hash")
	errMalformed   = errors.New("password: malformed hash")
	errAlgorithm   = errors.New("password: unsupported hash algorithm")
	errVersion     = errors.New("password: unsupported argon2 version")
	errParams      = errors.New("password: malformed argon2 parameters")
	errParamsRange = errors.New("password: argon2 parameters out of range")
	errSalt        = errors.New("password: malformed or out-of-range salt")
	errKey         = errors.New("password: malformed or out-of-range key")
)

// The fixed parts of the PHC strings we write and accept, and the length
// limits that let parsePHC reject oversized input before decoding it.
var (
	phcPrefix       = "$argon2id$"
	phcVersion      = "v=" + strconv.Itoa(argon2.Version)
	b64             = base64.RawStdEncoding.Strict()
	minSaltB64      = b64.EncodedLen(minSaltLen)
	maxSaltB64      = b64.EncodedLen(maxSaltLen)
	minKeyB64       = b64.EncodedLen(minKeyLen)
	maxKeyB64       = b64.EncodedLen(maxKeyLen)
	maxParamsLen    = len("m=4294967295,t=4294967295,p=4294967295")
	maxEncodedBytes = len(phcPrefix) + len(phcVersion) + 1 + maxParamsLen + 1 + maxSaltB64 + 1 + maxKeyB64
)

// phc is a parsed argon2id PHC string.
type phc struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// String encodes ph as $argon2id$v=19$m=<m>,t=<t>,p=<p>$<salt>$<key>, with
// salt and key in unpadded standard base64, as the reference implementation
// and libsodium do.
func (ph *phc) String() string {
	var b strings.Builder
	b.Grow(len(phcPrefix) + len(phcVersion) + 1 + maxParamsLen + 2 + b64.EncodedLen(len(ph.salt)) + b64.EncodedLen(len(ph.key)))
	b.WriteString(phcPrefix)
	b.WriteString(phcVersion)
	b.WriteString("$m=")
	b.WriteString(strconv.FormatUint(uint64(ph.memory), 10))
	b.WriteString(",t=")
	b.WriteString(strconv.FormatUint(uint64(ph.time), 10))
	b.WriteString(",p=")
	b.WriteString(strconv.FormatUint(uint64(ph.threads), 10))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(ph.salt))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(ph.key))
	return b.String()
}

// parsePHC parses an argon2id PHC string strictly: exactly
// $argon2id$v=19$m=<m>,t=<t>,p=<p>$<salt>$<key>, decimal numbers without
// sign or leading zeros, canonical unpadded standard base64, and parameters
// within the bounds of Params.Validate. It rejects anything else before
// allocating more than the length of encoded, so a hostile stored hash
// cannot make the caller compute with gigantic parameters.
func parsePHC(encoded string) (phc, error) {
	var ph phc
	if encoded == "" {
		return ph, errEmptyHash
	}
	if len(encoded) > maxEncodedBytes {
		return ph, errMalformed
	}
	rest, found := strings.CutPrefix(encoded, phcPrefix)
	if !found {
		if strings.HasPrefix(encoded, "$") {
			return ph, errAlgorithm
		}
		return ph, errMalformed
	}
	version, rest, _ := strings.Cut(rest, "$")
	if version != phcVersion {
		if strings.HasPrefix(version, "v=") || strings.HasPrefix(version, "m=") {
			// v=16 (argon2 1.0), or no version field at all, which
			// also means 1.0 in the reference implementation.
			return ph, errVersion
		}
		return ph, errMalformed
	}
	params, rest, _ := strings.Cut(rest, "$")
	salt, key, found := strings.Cut(rest, "$")
	if !found || strings.Contains(key, "$") {
		return ph, errMalformed
	}

	m, t, p, err := parseParams(params)
	if err != nil {
		return ph, err
	}
	if p < 1 || p > maxThreads || m < 8*p || m > maxMemory || t < 1 || t > maxTime {
		return ph, errParamsRange
	}
	ph.memory, ph.time, ph.threads = m, t, uint8(p)

	if ph.salt, err = decodeB64(salt, minSaltB64, maxSaltB64, minSaltLen, maxSaltLen); err != nil {
		return phc{}, errSalt
	}
	if ph.key, err = decodeB64(key, minKeyB64, maxKeyB64, minKeyLen, maxKeyLen); err != nil {
		return phc{}, errKey
	}
	return ph, nil
}

// parseParams parses "m=<m>,t=<t>,p=<p>", in exactly that order and with no
// other parameters (such as keyid or data, which we never write).
func parseParams(s string) (m, t, p uint32, err error) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return 0, 0, 0, errParams
	}
	var ok [3]bool
	m, ok[0] = parseDecimal(fields[0], "m=")
	t, ok[1] = parseDecimal(fields[1], "t=")
	p, ok[2] = parseDecimal(fields[2], "p=")
	if !ok[0] || !ok[1] || !ok[2] {
		return 0, 0, 0, errParams
	}
	return m, t, p, nil
}

// parseDecimal parses name followed by a decimal uint32 in the PHC format:
// digits only, no sign, and no leading zero unless the number is 0.
func parseDecimal(s, name string) (uint32, bool) {
	digits, found := strings.CutPrefix(s, name)
	if !found || digits == "" || len(digits) > 10 || (digits[0] == '0' && len(digits) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > 1<<32-1 {
		return 0, false
	}
	return uint32(n), true
}

// decodeB64 decodes s, which must be canonical unpadded standard base64 of
// between minLen and maxLen bytes. It checks the encoded length first, so it
// never allocates for an oversized field.
func decodeB64(s string, minEnc, maxEnc, minLen, maxLen int) ([]byte, error) {
	if len(s) < minEnc || len(s) > maxEnc {
		return nil, errMalformed
	}
	b, err := b64.DecodeString(s)
	if err != nil || len(b) < minLen || len(b) > maxLen {
		return nil, errMalformed
	}
	// The decoder skips CR and LF even in strict mode; requiring the
	// canonical encoding rejects those and any other second spelling.
	if b64.EncodeToString(b) != s {
		return nil, errMalformed
	}
	return b, nil
}
