package oidclogin

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

// sealVersion is the first byte of every sealed value (and part of the
// authenticated data): a later format gets another, and old cookies are
// refused instead of misread.
const sealVersion byte = 1

// maxSealed bounds the cookie value Open decodes (a flow is ~300 bytes).
const maxSealed = 4096

// sealInfo separates the flow subkey from anything else derived from the
// same server key.
const sealInfo = "gatehouse oidclogin flow cookie v1"

// sealedFlow is FlowState as sealed: short names keep the cookie small.
type sealedFlow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Provider string `json:"p"`
	RD       string `json:"rd,omitempty"`
	LinkUser string `json:"lu,omitempty"`
	Remember bool   `json:"rm,omitempty"`
	Expires  int64  `json:"exp"` // Unix seconds
}

// NewSealer returns a Sealer keyed by key (at least 32 bytes, e.g. the
// server's secrets key; a subkey for flows is derived from it).
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) < 32 {
		return nil, errors.New("oidclogin: sealer key shorter than 32 bytes")
	}
	sub, err := hkdf.Key(sha256.New, key, nil, sealInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sub)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal returns the cookie value of fs: version byte, random GCM nonce and
// the encrypted, authenticated state, base64url. fs must expire.
func (s *Sealer) Seal(fs FlowState) (string, error) {
	if fs.ExpiresAt.IsZero() {
		return "", errors.New("oidclogin: a flow must have an expiry")
	}
	plain, err := json.Marshal(sealedFlow{
		State: fs.State, Nonce: fs.Nonce, Verifier: fs.Verifier, Provider: fs.Provider,
		RD: fs.RD, LinkUser: fs.LinkUser, Remember: fs.Remember, Expires: fs.ExpiresAt.Unix(),
	})
	if err != nil {
		return "", err
	}
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out[0] = sealVersion
	rand.Read(out[1:]) // never fails (crypto/rand panics rather)
	out = s.aead.Seal(out, out[1:], plain, []byte{sealVersion})
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// Open returns the FlowState sealed in v, refused (*RefusedError) when v
// was not sealed by this key, was changed, or has expired at now.
func (s *Sealer) Open(v string, now time.Time) (FlowState, error) {
	if len(v) > maxSealed {
		return FlowState{}, &RefusedError{Reason: "flow cookie too long"}
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return FlowState{}, &RefusedError{Reason: "flow cookie malformed"}
	}
	ns := s.aead.NonceSize()
	if len(raw) < 1+ns+s.aead.Overhead() || raw[0] != sealVersion {
		return FlowState{}, &RefusedError{Reason: "flow cookie malformed"}
	}
	plain, err := s.aead.Open(nil, raw[1:1+ns], raw[1+ns:], raw[:1])
	if err != nil {
		return FlowState{}, &RefusedError{Reason: "flow cookie not sealed by this server"}
	}
	var sf sealedFlow
	if err := json.Unmarshal(plain, &sf); err != nil {
		// Authentic but unreadable: only a bug of ours can make it.
		return FlowState{}, &RefusedError{Reason: "flow cookie malformed", Err: err}
	}
	fs := FlowState{
		Flow:     Flow{State: sf.State, Nonce: sf.Nonce, Verifier: sf.Verifier},
		Provider: sf.Provider, RD: sf.RD, LinkUser: sf.LinkUser, Remember: sf.Remember,
		ExpiresAt: time.Unix(sf.Expires, 0),
	}
	if !now.Before(fs.ExpiresAt) {
		return FlowState{}, &RefusedError{Reason: "flow expired"}
	}
	return fs, nil
}
