package oidclogin

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var testKey = bytes.Repeat([]byte{7}, 32)

func testFlowState() FlowState {
	return FlowState{
		Flow:     Flow{State: "state-" + strings.Repeat("s", 40), Nonce: "nonce-" + strings.Repeat("n", 40), Verifier: strings.Repeat("v", 43)},
		Provider: "corp", RD: "https://app.example.com/servers?id=1", LinkUser: "u_123", Remember: true,
		ExpiresAt: time.Unix(1_900_000_000, 0),
	}
}

func mustSealer(t testing.TB, key []byte) *Sealer {
	t.Helper()
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wantOpenRefused(t *testing.T, s *Sealer, v string, now time.Time, reason string) {
	t.Helper()
	_, err := s.Open(v, now)
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Reason, reason) {
		t.Errorf("Open = %v, want refused %q", err, reason)
	}
}

func TestSealerRoundTrip(t *testing.T) {
	s := mustSealer(t, testKey)
	fs := testFlowState()
	v, err := s.Seal(fs)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) > 400 {
		t.Errorf("sealed flow is %d bytes", len(v))
	}
	for _, secret := range []string{fs.Nonce, fs.Verifier, fs.State, "corp", "u_123"} {
		if strings.Contains(v, secret) {
			t.Errorf("sealed value shows %q", secret)
		}
	}
	got, err := s.Open(v, fs.ExpiresAt.Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got != fs {
		t.Errorf("opened %+v, want %+v", got, fs)
	}
	if v2, _ := s.Seal(fs); v2 == v {
		t.Error("two seals of the same state are equal (nonce reused)")
	}
	if _, err := s.Seal(FlowState{}); err == nil {
		t.Error("sealed a flow without expiry")
	}
	if _, err := NewSealer(testKey[:31]); err == nil {
		t.Error("short key accepted")
	}
}

func TestSealerRefuses(t *testing.T) {
	s := mustSealer(t, testKey)
	fs := testFlowState()
	v, _ := s.Seal(fs)
	before := fs.ExpiresAt.Add(-time.Minute)

	wantOpenRefused(t, s, v, fs.ExpiresAt, "expired")
	wantOpenRefused(t, s, v, fs.ExpiresAt.Add(time.Hour), "expired")

	other := mustSealer(t, bytes.Repeat([]byte{8}, 32))
	wantOpenRefused(t, other, v, before, "not sealed by this server")

	raw, _ := base64.RawURLEncoding.DecodeString(v)
	for i := range raw {
		tampered := bytes.Clone(raw)
		tampered[i] ^= 0x01
		_, err := s.Open(base64.RawURLEncoding.EncodeToString(tampered), before)
		var re *RefusedError
		if !errors.As(err, &re) {
			t.Fatalf("byte %d flipped: Open = %v", i, err)
		}
	}
	wantOpenRefused(t, s, base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]), before, "not sealed")
	wantOpenRefused(t, s, "", before, "malformed")
	wantOpenRefused(t, s, "!!!", before, "malformed")
	wantOpenRefused(t, s, v+"=", before, "malformed")
	wantOpenRefused(t, s, strings.Repeat("A", 5000), before, "too long")
}

// FuzzOpen: whatever the cookie holds, Open refuses it cleanly (no
// panic, a *RefusedError) unless it is a value this key sealed.
func FuzzOpen(f *testing.F) {
	s := mustSealer(f, testKey)
	v, _ := s.Seal(testFlowState())
	f.Add(v)
	f.Add("")
	f.Add("AQ")
	f.Add(v[:20])
	f.Add(strings.Repeat("A", 60))
	f.Fuzz(func(t *testing.T, v string) {
		fs, err := s.Open(v, time.Unix(1_800_000_000, 0))
		if err != nil {
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("Open(%q) = %v, not a *RefusedError", v, err)
			}
			return
		}
		if fs != testFlowState() {
			t.Fatalf("Open(%q) accepted a forged state %+v", v, fs)
		}
	})
}
