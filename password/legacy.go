package password

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"strings"
	"unicode/utf16"

	"golang.org/x/crypto/bcrypt"
)

// Scheme names the format of a stored password hash.
type Scheme string

// The schemes Verify accepts. Only SchemeArgon2id is ever written; every
// other scheme is verified so that users imported from another system can
// log in, and Verify asks for a rehash as soon as one of them matches.
const (
	// SchemeArgon2id is $argon2id$v=19$m=<m>,t=<t>,p=<p>$<salt>$<key>, with
	// salt and key in canonical unpadded standard base64, as Hash writes it.
	SchemeArgon2id Scheme = "argon2id"
	// SchemeBcrypt is $2a$, $2b$ or $2y$<cost>$<22-char salt><31-char hash>
	// (60 characters), as PHP's password_hash, htpasswd -B and OpenBSD write
	// it.
	SchemeBcrypt Scheme = "bcrypt"
	// SchemeASPNetV2 is $aspnet-identity$ followed by an ASP.NET Identity V2
	// hash, the base64 of 0x00 | salt[16] | subkey[32]: PBKDF2-HMAC-SHA1,
	// 1,000 iterations.
	SchemeASPNetV2 Scheme = "aspnet-v2"
	// SchemeASPNetV3 is $aspnet-identity$ followed by an ASP.NET Core
	// Identity V3 hash, the base64 of 0x01 | prf | iterations | salt length
	// | salt | subkey.
	SchemeASPNetV3 Scheme = "aspnet-v3"
	// SchemeUmbracoHMACSHA256 is $umbraco-hmacsha256$ followed by an Umbraco
	// (v6 to v8) "HMACSHA256" password: base64(salt[16]) immediately followed
	// by base64(HMAC-SHA256).
	SchemeUmbracoHMACSHA256 Scheme = "umbraco-hmacsha256"
	// SchemeUmbracoHMACSHA1 is $umbraco-hmacsha1$ followed by an Umbraco v4
	// "legacy encoding" password: base64(HMAC-SHA1), keyed with the password
	// itself, without salt.
	SchemeUmbracoHMACSHA1 Scheme = "umbraco-hmacsha1"
	// SchemePBKDF2SHA256 is passlib's
	// $pbkdf2-sha256$<rounds>$<salt>$<checksum>.
	SchemePBKDF2SHA256 Scheme = "pbkdf2-sha256"
	// SchemePBKDF2SHA512 is passlib's
	// $pbkdf2-sha512$<rounds>$<salt>$<checksum>.
	SchemePBKDF2SHA512 Scheme = "pbkdf2-sha512"
	// SchemeDjangoPBKDF2SHA256 is Django's
	// pbkdf2_sha256$<iterations>$<salt>$<base64 hash>.
	SchemeDjangoPBKDF2SHA256 Scheme = "django-pbkdf2-sha256"
)

// The prefixes that select a scheme. Everything else is parsed as argon2id,
// so an unknown "$id$" gets errAlgorithm as before.
const (
	prefixBcryptA            = "$2a$"
	prefixBcryptB            = "$2b$"
	prefixBcryptY            = "$2y$"
	prefixASPNet             = "$aspnet-identity$"
	prefixUmbracoHMACSHA256  = "$umbraco-hmacsha256$"
	prefixUmbracoHMACSHA1    = "$umbraco-hmacsha1$"
	prefixPBKDF2SHA256       = "$pbkdf2-sha256$"
	prefixPBKDF2SHA512       = "$pbkdf2-sha512$"
	prefixDjangoPBKDF2SHA256 = "pbkdf2_sha256$"
)

// The bounds on legacy hashes. Like the argon2id bounds, they keep a corrupt
// or hostile stored hash from making Verify run for minutes or allocate
// without limit, and they reject what no real implementation writes.
const (
	// bcrypt costs: 4 is bcrypt's minimum; 16 takes a few seconds.
	minBcryptCost = 4
	maxBcryptCost = 16
	// bcryptMaxPassword is the number of password bytes bcrypt uses.
	bcryptMaxPassword = 72

	// PBKDF2 iteration counts. ASP.NET Identity accepts any positive
	// count; passlib and Django hashes need at least 1,000.
	minIterations       = 1000
	minASPNetIterations = 1
	maxIterations       = 10_000_000

	// PBKDF2 salts and derived keys, in bytes. ASP.NET Identity V3
	// itself refuses salts and subkeys under 16 bytes. Each 20, 32 or 64
	// bytes of derived key cost another full run of the iterations, so
	// keys are capped at 64 bytes.
	minASPNetSalt   = 16
	minASPNetSubkey = 16
	minPBKDF2Salt   = 8
	maxPBKDF2Salt   = 1024
	maxPBKDF2Key    = 64

	// Django salts are text; 1024 characters is far beyond any real one.
	maxDjangoSalt = 1024

	// umbracoSaltB64 is the length of Umbraco's base64 salt (16 bytes).
	umbracoSaltB64 = 24
)

// The errors of Identify and Verify for legacy hashes. Like the argon2id
// errors, their text is fixed, so no part of a hash or a password can reach
// a log through them.
var (
	errBcrypt          = errors.New("password: malformed bcrypt hash")
	errBcryptCost      = errors.New("password: bcrypt cost out of range")
	errASPNet          = errors.New("password: malformed ASP.NET Identity hash")
	errASPNetVersion   = errors.New("password: unsupported ASP.NET Identity format marker")
	errASPNetPRF       = errors.New("password: unsupported ASP.NET Identity PRF")
	errUmbraco         = errors.New("password: malformed Umbraco hash")
	errPBKDF2          = errors.New("password: malformed PBKDF2 hash")
	errDjango          = errors.New("password: malformed Django PBKDF2 hash")
	errIterations      = errors.New("password: iteration count out of range")
	errHashUnavailable = errors.New("password: hash function unavailable")
)

// maxLegacyBytes bounds the length of any legacy encoded hash before it is
// parsed: the longest valid one is an ASP.NET V3 hash with the largest salt
// and subkey.
var maxLegacyBytes = len(prefixASPNet) + base64.StdEncoding.EncodedLen(13+maxPBKDF2Salt+maxPBKDF2Key)

// stdB64 is the padded standard base64 of .NET's Convert.ToBase64String and
// of Python's base64.b64encode.
var stdB64 = base64.StdEncoding.Strict()

// legacyHash is a parsed legacy hash.
type legacyHash interface {
	// matches reports whether password matches the hash, comparing the
	// derived value with the stored one in constant time. Its error, if
	// any, is one of the fixed errors above.
	matches(password string) (bool, error)
}

// parsed is a stored hash parsed by parseHash: an argon2id hash in ph, or a
// legacy one in legacy.
type parsed struct {
	scheme Scheme
	ph     phc
	legacy legacyHash
}

// Identify reports the scheme of a stored hash, checking its format and
// parameters exactly as Verify does, without a password and without
// computing anything expensive: whatever the password, Verify fails with a
// format error exactly when Identify does, and with the same error (Verify
// can also fail with ErrBusy, which says nothing about the hash). The
// import command uses it to refuse a bad row with a clear message before
// storing it; the message, after its "password: " prefix, says what is
// wrong and never quotes the hash.
//
// The encodings accepted, and the bounds on them, are:
//
//   - argon2id: $argon2id$v=19$m=<m>,t=<t>,p=<p>$<salt>$<key>, salt and key
//     in canonical unpadded standard base64, parameters within the bounds
//     of Params.Validate. This is the only scheme Hash writes.
//   - bcrypt: $2a$, $2b$ or $2y$, a two-digit cost between 04 and 16, "$",
//     a 22-character salt and a 31-character hash in bcrypt's base64
//     alphabet (./A-Za-z0-9), 60 characters in all, exactly as PHP's
//     password_hash or htpasswd -B stored it. The 31st hash character must
//     be canonical (its two unused bits zero).
//   - aspnet-v2 and aspnet-v3: "$aspnet-identity$" followed by the value of
//     ASP.NET Identity's PasswordHash column, unchanged (padded standard
//     base64). Its first byte tells the versions apart: 0x00 is V2
//     (0x00 | salt[16] | subkey[32], PBKDF2-HMAC-SHA1, 1,000 iterations);
//     0x01 is V3 (0x01 | prf | iterations | salt length, each a big-endian
//     uint32, | salt | subkey, PBKDF2 with HMAC-SHA1 for prf 0, HMAC-SHA256
//     for 1 and HMAC-SHA512 for 2). V3 needs 1 to 10,000,000 iterations, a
//     salt of 16 to 1024 bytes and a subkey of 16 to 64 bytes. Any other
//     marker or prf is refused. The password is hashed as UTF-8.
//   - umbraco-hmacsha256: "$umbraco-hmacsha256$" followed by Umbraco's
//     stored password for the HMACSHA256 algorithm, unchanged: the 24-char
//     base64 of a 16-byte salt immediately followed by the 44-char base64
//     of HMAC-SHA256(key: the salt repeated to 64 bytes, message: the
//     password in UTF-16LE).
//   - umbraco-hmacsha1: "$umbraco-hmacsha1$" followed by an Umbraco v4
//     "UseLegacyEncoding" password, unchanged: the 28-char base64 of
//     HMAC-SHA1(key: the password in UTF-16LE, message: the same).
//   - pbkdf2-sha256 and pbkdf2-sha512: passlib's
//     $pbkdf2-sha256$<rounds>$<salt>$<checksum> (and $pbkdf2-sha512$...),
//     salt and checksum in passlib's "adapted base64" (standard base64 with
//     "." for "+", unpadded), rounds in decimal between 1,000 and
//     10,000,000, a salt of 8 to 1024 bytes, and a checksum of exactly 32
//     (SHA-256) or 64 (SHA-512) bytes.
//   - django-pbkdf2-sha256: Django's pbkdf2_sha256$<iterations>$<salt>$<hash>
//     (no leading "$"), iterations between 1,000 and 10,000,000, the salt
//     used as the text it is (1 to 1024 printable ASCII characters other
//     than space and "$"), and the hash the padded standard base64 of 32
//     bytes.
//
// Decimal numbers have no sign and no leading zeros, base64 must be
// canonical, and nothing may precede or follow the hash. The error's text
// never contains the hash.
func Identify(encoded string) (Scheme, error) {
	p, err := parseHash(encoded)
	if err != nil {
		return "", err
	}
	return p.scheme, nil
}

// parseHash parses a stored hash of any scheme Verify accepts.
func parseHash(encoded string) (parsed, error) {
	var (
		p   parsed
		err error
	)
	switch {
	case strings.HasPrefix(encoded, prefixBcryptA),
		strings.HasPrefix(encoded, prefixBcryptB),
		strings.HasPrefix(encoded, prefixBcryptY):
		p.scheme = SchemeBcrypt
		p.legacy, err = parseBcrypt(encoded)
	case strings.HasPrefix(encoded, prefixASPNet):
		p.scheme, p.legacy, err = parseASPNet(encoded[len(prefixASPNet):])
	case strings.HasPrefix(encoded, prefixUmbracoHMACSHA256):
		p.scheme = SchemeUmbracoHMACSHA256
		p.legacy, err = parseUmbracoHMACSHA256(encoded[len(prefixUmbracoHMACSHA256):])
	case strings.HasPrefix(encoded, prefixUmbracoHMACSHA1):
		p.scheme = SchemeUmbracoHMACSHA1
		p.legacy, err = parseUmbracoHMACSHA1(encoded[len(prefixUmbracoHMACSHA1):])
	case strings.HasPrefix(encoded, prefixPBKDF2SHA256):
		p.scheme = SchemePBKDF2SHA256
		p.legacy, err = parsePasslib(encoded[len(prefixPBKDF2SHA256):], sha256.New, sha256.Size)
	case strings.HasPrefix(encoded, prefixPBKDF2SHA512):
		p.scheme = SchemePBKDF2SHA512
		p.legacy, err = parsePasslib(encoded[len(prefixPBKDF2SHA512):], sha512.New, sha512.Size)
	case strings.HasPrefix(encoded, prefixDjangoPBKDF2SHA256):
		p.scheme = SchemeDjangoPBKDF2SHA256
		p.legacy, err = parseDjango(encoded[len(prefixDjangoPBKDF2SHA256):])
	default:
		p.scheme = SchemeArgon2id
		p.ph, err = parsePHC(encoded)
	}
	if err != nil {
		return parsed{}, err
	}
	return p, nil
}

// bcryptHash is a bcrypt hash, kept encoded for x/crypto/bcrypt.
type bcryptHash struct {
	encoded []byte
	cost    int
}

// bcryptAlphabet is bcrypt's base64 alphabet, in value order.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// parseBcrypt checks a $2a$, $2b$ or $2y$ hash. golang.org/x/crypto/bcrypt
// accepts all three (it accepts any minor version letter, so the check of
// the letter is ours); they name the same algorithm for every password
// below 256 bytes, and bcrypt uses at most 72.
func parseBcrypt(encoded string) (legacyHash, error) {
	// $2y$ cc $ salt(22) hash(31)
	if len(encoded) != 60 || encoded[6] != '$' {
		return nil, errBcrypt
	}
	c1, c2 := encoded[4], encoded[5]
	if c1 < '0' || c1 > '9' || c2 < '0' || c2 > '9' {
		return nil, errBcrypt
	}
	cost := int(c1-'0')*10 + int(c2-'0')
	if cost < minBcryptCost || cost > maxBcryptCost {
		return nil, errBcryptCost
	}
	rest := encoded[7:]
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(bcryptAlphabet, rest[i]) < 0 {
			return nil, errBcrypt
		}
	}
	// 31 characters carry 186 bits of a 184-bit hash: a last character
	// with either of the two spare bits set never comes out of bcrypt,
	// and could never match.
	if strings.IndexByte(bcryptAlphabet, rest[len(rest)-1])&3 != 0 {
		return nil, errBcrypt
	}
	return &bcryptHash{encoded: []byte(encoded), cost: cost}, nil
}

// matches compares with bcrypt semantics: only the first 72 bytes of the
// password count, as they did when PHP (or htpasswd) made the hash, so a
// user whose longer password was silently truncated then can still log in.
// x/crypto/bcrypt refuses to hash more than 72 bytes in
// GenerateFromPassword; passing it the same prefix the C implementations
// used keeps Verify independent of whether CompareHashAndPassword ever does
// the same. The argon2id hash that replaces a matched bcrypt hash is of the
// whole password.
func (b *bcryptHash) matches(password string) (bool, error) {
	pw := []byte(password)
	if len(pw) > bcryptMaxPassword {
		pw = pw[:bcryptMaxPassword]
	}
	switch err := bcrypt.CompareHashAndPassword(b.encoded, pw); {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, errBcrypt
	}
}

// pbkdf2Hash is a PBKDF2 hash: ASP.NET Identity, passlib and Django.
type pbkdf2Hash struct {
	newHash    func() hash.Hash
	salt       []byte
	iterations int
	key        []byte
}

func (h *pbkdf2Hash) matches(password string) (bool, error) {
	key, err := pbkdf2.Key(h.newHash, password, h.salt, h.iterations, len(h.key))
	if err != nil {
		// Only a FIPS 140-only mode that forbids the hash gets here.
		return false, errHashUnavailable
	}
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// parseASPNet parses the base64 of an ASP.NET Identity V2 or V3 hash,
// following Microsoft.AspNetCore.Identity.PasswordHasher's own checks.
func parseASPNet(s string) (Scheme, legacyHash, error) {
	if len(s) > maxLegacyBytes {
		return "", nil, errASPNet
	}
	b, err := decodeStdB64(s)
	if err != nil || len(b) == 0 {
		return "", nil, errASPNet
	}
	switch b[0] {
	case 0x00:
		// V2: 0x00 | salt[16] | subkey[32], PBKDF2-HMAC-SHA1, 1000
		// iterations.
		if len(b) != 1+16+32 {
			return "", nil, errASPNet
		}
		return SchemeASPNetV2, &pbkdf2Hash{newHash: sha1.New, salt: b[1:17], iterations: 1000, key: b[17:]}, nil
	case 0x01:
		// V3: 0x01 | prf | iterations | salt length | salt | subkey.
		if len(b) < 13 {
			return "", nil, errASPNet
		}
		prf := binary.BigEndian.Uint32(b[1:])
		iter := binary.BigEndian.Uint32(b[5:])
		saltLen := binary.BigEndian.Uint32(b[9:])
		var newHash func() hash.Hash
		switch prf {
		case 0:
			newHash = sha1.New
		case 1:
			newHash = sha256.New
		case 2:
			newHash = sha512.New
		default:
			return "", nil, errASPNetPRF
		}
		if iter < minASPNetIterations || iter > maxIterations {
			return "", nil, errIterations
		}
		// Compared as uint64 so that no salt length can overflow.
		if saltLen < minASPNetSalt || saltLen > maxPBKDF2Salt || 13+uint64(saltLen) > uint64(len(b)) {
			return "", nil, errSalt
		}
		salt, subkey := b[13:13+saltLen], b[13+saltLen:]
		if len(subkey) < minASPNetSubkey || len(subkey) > maxPBKDF2Key {
			return "", nil, errKey
		}
		return SchemeASPNetV3, &pbkdf2Hash{newHash: newHash, salt: salt, iterations: int(iter), key: subkey}, nil
	default:
		return "", nil, errASPNetVersion
	}
}

// umbracoHash is an Umbraco HMAC hash: HMACSHA256 with a salt, or the v4
// HMACSHA1 keyed with the password (salt nil).
type umbracoHash struct {
	salt []byte
	mac  []byte
}

// parseUmbracoHMACSHA256 parses base64(salt[16]) + base64(HMAC-SHA256), the
// string Umbraco's LegacyPasswordSecurity.FormatPasswordForStorage stores
// and ParseStoredHashPassword splits after the 24 characters of the salt.
func parseUmbracoHMACSHA256(s string) (legacyHash, error) {
	if len(s) != umbracoSaltB64+base64.StdEncoding.EncodedLen(sha256.Size) {
		return nil, errUmbraco
	}
	salt, err := decodeStdB64(s[:umbracoSaltB64])
	if err != nil || len(salt) != 16 {
		return nil, errUmbraco
	}
	mac, err := decodeStdB64(s[umbracoSaltB64:])
	if err != nil || len(mac) != sha256.Size {
		return nil, errUmbraco
	}
	return &umbracoHash{salt: salt, mac: mac}, nil
}

// parseUmbracoHMACSHA1 parses base64(HMAC-SHA1), Umbraco v4's unsalted
// legacy encoding.
func parseUmbracoHMACSHA1(s string) (legacyHash, error) {
	if len(s) != base64.StdEncoding.EncodedLen(sha1.Size) {
		return nil, errUmbraco
	}
	mac, err := decodeStdB64(s)
	if err != nil || len(mac) != sha1.Size {
		return nil, errUmbraco
	}
	return &umbracoHash{mac: mac}, nil
}

// matches follows Umbraco's LegacyPasswordSecurity: the password is hashed
// as .NET's Encoding.Unicode (UTF-16LE). For HMACSHA256 the key is the salt
// repeated to fill the 64 bytes of a default .NET HMACSHA256 key; for the v4
// HMACSHA1 the key is the UTF-16LE password itself.
func (u *umbracoHash) matches(password string) (bool, error) {
	msg := utf16LE(password)
	var mac hash.Hash
	if u.salt == nil {
		mac = hmac.New(sha1.New, msg)
	} else {
		key := make([]byte, 0, 64)
		for len(key) < cap(key) {
			key = append(key, u.salt[:min(len(u.salt), cap(key)-len(key))]...)
		}
		mac = hmac.New(sha256.New, key)
	}
	mac.Write(msg)
	return subtle.ConstantTimeCompare(mac.Sum(nil), u.mac) == 1, nil
}

// utf16LE encodes s as .NET's Encoding.Unicode.GetBytes does: UTF-16,
// little-endian, without a byte order mark. Invalid UTF-8 becomes U+FFFD, as
// it would have on the way into a .NET string.
func utf16LE(s string) []byte {
	units := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(units))
	for i, u := range units {
		binary.LittleEndian.PutUint16(b[2*i:], u)
	}
	return b
}

// ab64 is passlib's "adapted base64": standard base64 with "." in place of
// "+", without padding.
var ab64 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./").WithPadding(base64.NoPadding).Strict()

// parsePasslib parses passlib's <rounds>$<salt>$<checksum> after the
// $pbkdf2-sha256$ or $pbkdf2-sha512$ prefix.
func parsePasslib(s string, newHash func() hash.Hash, size int) (legacyHash, error) {
	if len(s) > maxLegacyBytes {
		return nil, errPBKDF2
	}
	rounds, rest, _ := strings.Cut(s, "$")
	salt, chk, found := strings.Cut(rest, "$")
	if !found || strings.Contains(chk, "$") {
		return nil, errPBKDF2
	}
	iter, ok := parseDecimal(rounds, "")
	if !ok {
		return nil, errPBKDF2
	}
	if iter < minIterations || iter > maxIterations {
		return nil, errIterations
	}
	saltBytes, err := decodeCanonical(ab64, salt)
	if err != nil || len(saltBytes) < minPBKDF2Salt || len(saltBytes) > maxPBKDF2Salt {
		return nil, errSalt
	}
	key, err := decodeCanonical(ab64, chk)
	if err != nil || len(key) != size {
		return nil, errKey
	}
	return &pbkdf2Hash{newHash: newHash, salt: saltBytes, iterations: int(iter), key: key}, nil
}

// parseDjango parses Django's <iterations>$<salt>$<hash> after the
// pbkdf2_sha256$ prefix. Django uses the salt as text (its UTF-8 bytes), not
// as base64.
func parseDjango(s string) (legacyHash, error) {
	if len(s) > maxLegacyBytes {
		return nil, errDjango
	}
	iterations, rest, _ := strings.Cut(s, "$")
	salt, b64hash, found := strings.Cut(rest, "$")
	if !found || strings.Contains(b64hash, "$") {
		return nil, errDjango
	}
	iter, ok := parseDecimal(iterations, "")
	if !ok {
		return nil, errDjango
	}
	if iter < minIterations || iter > maxIterations {
		return nil, errIterations
	}
	if len(salt) < 1 || len(salt) > maxDjangoSalt {
		return nil, errSalt
	}
	for i := 0; i < len(salt); i++ {
		// Printable ASCII other than space; "$" cannot occur here.
		if salt[i] <= ' ' || salt[i] > '~' {
			return nil, errSalt
		}
	}
	key, err := decodeStdB64(b64hash)
	if err != nil || len(key) != sha256.Size {
		return nil, errKey
	}
	return &pbkdf2Hash{newHash: sha256.New, salt: []byte(salt), iterations: int(iter), key: key}, nil
}

// decodeStdB64 decodes canonical padded standard base64.
func decodeStdB64(s string) ([]byte, error) { return decodeCanonical(stdB64, s) }

// decodeCanonical decodes s with enc and requires it to be the one
// canonical encoding of the result: the decoders skip CR and LF even in
// strict mode.
func decodeCanonical(enc *base64.Encoding, s string) ([]byte, error) {
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if enc.EncodeToString(b) != s {
		return nil, errMalformed
	}
	return b, nil
}
