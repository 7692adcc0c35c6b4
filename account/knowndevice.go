package account

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// A known device is a browser that has logged in successfully as a user
// (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"). Its
// cookie holds a token signed by the server:
//
//	base64url(version ‖ expiry (Unix seconds, 8 bytes) ‖ nonce (16 bytes) ‖ user id ‖ HMAC-SHA256)
//
// A login from a known device of the submitted user counts its failures
// against that device only; every other attempt counts against the name's
// untrusted budget and the client address. So guessing from anywhere else
// never locks the owner's own browser out. Nothing is stored: the token is
// checked by its signature, which a password change does not void (the
// cookie vouches only for the browser, not for a session).

const (
	knownDeviceVersion = 1
	knownNonceLen      = 16
	// KnownDeviceTTL is how long a known-device cookie lasts; every
	// successful login issues a fresh one.
	KnownDeviceTTL = 180 * 24 * time.Hour
)

// knownDeviceKey derives the key that signs known-device tokens from the
// configured secret, so the secret's other uses (such as sealing TOTP
// secrets) never share a key with it. Without a secret, a random key: the
// cookies then last until the process ends, and there is no default key an
// attacker could know.
func knownDeviceKey(secret []byte) []byte {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		rand.Read(secret)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("gatehouse known-device cookie v1"))
	return m.Sum(nil)
}

func (s *Service) knownDeviceMAC(payload []byte) []byte {
	m := hmac.New(sha256.New, s.knownKey)
	m.Write(payload)
	return m.Sum(nil)
}

// issueKnownDevice returns a fresh known-device token for userID and when
// it expires.
func (s *Service) issueKnownDevice(userID string) (string, time.Time) {
	exp := s.now().Add(KnownDeviceTTL).UTC().Truncate(time.Second)
	payload := make([]byte, 1+8+knownNonceLen, 1+8+knownNonceLen+len(userID)+sha256.Size)
	payload[0] = knownDeviceVersion
	binary.BigEndian.PutUint64(payload[1:9], uint64(exp.Unix()))
	rand.Read(payload[9 : 9+knownNonceLen])
	payload = append(payload, userID...)
	return base64.RawURLEncoding.EncodeToString(append(payload, s.knownDeviceMAC(payload)...)), exp
}

// knownDeviceKeyOf returns the throttling key of the device behind token
// when token is a valid, unexpired known-device token of userID; anything
// else (none, forged, tampered, expired, another user's) is "", untrusted.
// The signature is compared in constant time.
func (s *Service) knownDeviceKeyOf(token, userID string) string {
	if token == "" || userID == "" || len(token) > 512 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) < 1+8+knownNonceLen+sha256.Size || b[0] != knownDeviceVersion {
		return ""
	}
	payload, mac := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if !hmac.Equal(mac, s.knownDeviceMAC(payload)) {
		return ""
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(payload[1:9])), 0)
	if !s.now().Before(exp) {
		return ""
	}
	if subtle.ConstantTimeCompare(payload[9+knownNonceLen:], []byte(userID)) != 1 {
		return ""
	}
	return "login:device:" + hex.EncodeToString(payload[9:9+knownNonceLen])
}
