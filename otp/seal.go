package otp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// SealKeySize is the key length NewSealer requires: 32 bytes, for AES-256.
const SealKeySize = 32

const (
	sealVersion1 = 1  // AES-256-GCM, 12-byte random nonce
	nonceSize    = 12 // GCM standard nonce size
	tagSize      = 16 // GCM tag size
	sealOverhead = 1 + nonceSize + tagSize
)

// ErrSealed is returned, possibly wrapped with details, by Sealer.Open for
// anything that does not decrypt: a short or truncated input, an unknown
// version, a modified byte, the wrong associated data or the wrong key.
var ErrSealed = errors.New("otp: cannot open sealed data")

// Sealer encrypts secrets the server has to read back later, such as TOTP
// keys, which therefore cannot be hashed like passwords. It uses AES-256-GCM
// with a random nonce per message. A Sealer is safe for concurrent use.
//
// Random 96-bit nonces are safe for about 2^32 messages under one key, far
// more than the number of TOTP enrolments a server will see.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer using key, which must be SealKeySize (32)
// random bytes, for example from LoadOrCreateKeyFile. The Sealer does not
// keep a reference to key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != SealKeySize {
		return nil, fmt.Errorf("otp: sealing key is %d bytes, want %d", len(key), SealKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// versionedAD binds the version byte into the authenticated data, so the
// version cannot be changed without Open noticing even once several versions
// exist.
func versionedAD(version byte, ad []byte) []byte {
	out := make([]byte, 1+len(ad))
	out[0] = version
	copy(out[1:], ad)
	return out
}

// Seal encrypts and authenticates plaintext, and authenticates
// associatedData without storing it. The result is
//
//	version (1 byte, currently 1) | nonce (12 bytes) | ciphertext | tag (16 bytes)
//
// The leading version byte lets a later release change the key or the
// algorithm while still opening what was sealed before. Pass something that
// identifies the owner as associatedData, such as the user id: then a sealed
// secret copied into another user's row does not open.
func (s *Sealer) Seal(plaintext, associatedData []byte) []byte {
	out := make([]byte, 1+nonceSize, sealOverhead+len(plaintext))
	out[0] = sealVersion1
	nonce := out[1 : 1+nonceSize]
	rand.Read(nonce) // never returns an error
	return s.aead.Seal(out, nonce, plaintext, versionedAD(sealVersion1, associatedData))
}

// Open decrypts the output of Seal and checks that it was sealed with the
// same key and associatedData and not modified since. Every failure returns
// an error wrapping ErrSealed; Open never panics, whatever sealed contains.
// The plaintext is returned in a new slice.
func (s *Sealer) Open(sealed, associatedData []byte) ([]byte, error) {
	if s == nil || s.aead == nil {
		return nil, fmt.Errorf("%w: nil Sealer", ErrSealed)
	}
	if len(sealed) == 0 {
		return nil, fmt.Errorf("%w: empty input", ErrSealed)
	}
	if sealed[0] != sealVersion1 {
		return nil, fmt.Errorf("%w: unknown version %d", ErrSealed, sealed[0])
	}
	if len(sealed) < sealOverhead {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrSealed, len(sealed))
	}
	nonce := sealed[1 : 1+nonceSize]
	pt, err := s.aead.Open(nil, nonce, sealed[1+nonceSize:], versionedAD(sealed[0], associatedData))
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (modified, wrong key or wrong associated data)", ErrSealed)
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}
