package otp

import (
	"bytes"
	"errors"
	"testing"
)

func newTestSealer(t testing.TB) (*Sealer, []byte) {
	key := bytes.Repeat([]byte{0x42}, SealKeySize)
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s, key
}

func TestNewSealerKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := NewSealer(make([]byte, n)); err == nil {
			t.Errorf("NewSealer accepted a %d-byte key", n)
		}
	}
}

func TestSealRoundTrip(t *testing.T) {
	s, key := newTestSealer(t)
	ad := []byte("user:42")
	for _, pt := range [][]byte{nil, {}, []byte("x"), NewKey(), bytes.Repeat([]byte("secret"), 1000)} {
		sealed := s.Seal(pt, ad)
		if len(sealed) != sealOverhead+len(pt) {
			t.Errorf("sealed length %d for %d bytes", len(sealed), len(pt))
		}
		if sealed[0] != 1 {
			t.Errorf("version byte %d", sealed[0])
		}
		if len(pt) > 8 && bytes.Contains(sealed, pt[:8]) {
			t.Error("plaintext visible in sealed data")
		}
		got, err := s.Open(sealed, ad)
		if err != nil || !bytes.Equal(got, pt) || got == nil {
			t.Fatalf("Open = %q, %v", got, err)
		}
		// A Sealer made from the same key opens it too (the server restarts).
		s2, _ := NewSealer(key)
		if got, err := s2.Open(sealed, ad); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("second Sealer: %q, %v", got, err)
		}
	}
	// Nonces are random: sealing twice gives different output.
	if bytes.Equal(s.Seal([]byte("k"), ad), s.Seal([]byte("k"), ad)) {
		t.Error("two seals of the same plaintext are equal")
	}
	// nil and empty associated data are the same thing.
	if _, err := s.Open(s.Seal([]byte("k"), nil), []byte{}); err != nil {
		t.Error(err)
	}
}

func TestOpenTampering(t *testing.T) {
	s, _ := newTestSealer(t)
	ad := []byte("user:42")
	sealed := s.Seal([]byte("JBSWY3DPEHPK3PXP"), ad)
	for i := range sealed {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(sealed)
			bad[i] ^= bit
			if _, err := s.Open(bad, ad); !errors.Is(err, ErrSealed) {
				t.Errorf("flipping bit %#x of byte %d: err = %v", bit, i, err)
			}
		}
	}
	for n := 0; n < len(sealed); n++ {
		if _, err := s.Open(sealed[:n], ad); !errors.Is(err, ErrSealed) {
			t.Errorf("truncated to %d bytes: err = %v", n, err)
		}
	}
	if _, err := s.Open(append(bytes.Clone(sealed), 0), ad); !errors.Is(err, ErrSealed) {
		t.Errorf("extended: err = %v", err)
	}
}

func TestOpenWrongADKeyVersion(t *testing.T) {
	s, _ := newTestSealer(t)
	sealed := s.Seal([]byte("secret"), []byte("user:42"))
	for _, ad := range [][]byte{nil, []byte("user:43"), []byte("user:4"), []byte("user:420"), []byte("\x01user:42")} {
		if _, err := s.Open(sealed, ad); !errors.Is(err, ErrSealed) {
			t.Errorf("AD %q: err = %v", ad, err)
		}
	}
	other, err := NewSealer(bytes.Repeat([]byte{0x43}, SealKeySize))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Open(sealed, []byte("user:42")); !errors.Is(err, ErrSealed) {
		t.Errorf("wrong key: err = %v", err)
	}
	for _, v := range []byte{0, 2, 255} {
		bad := bytes.Clone(sealed)
		bad[0] = v
		if _, err := s.Open(bad, []byte("user:42")); !errors.Is(err, ErrSealed) {
			t.Errorf("version %d: err = %v", v, err)
		}
	}
	var nilSealer *Sealer
	if _, err := nilSealer.Open(sealed, nil); !errors.Is(err, ErrSealed) {
		t.Errorf("nil Sealer: err = %v", err)
	}
}

// FuzzOpen checks that Open never panics and never opens data that was not
// sealed with its key and associated data.
func FuzzOpen(f *testing.F) {
	s, _ := newTestSealer(f)
	good := s.Seal([]byte("secret"), []byte("ad"))
	f.Add(good, []byte("other"))
	f.Add(good[:len(good)-1], []byte("ad"))
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1}, []byte{})
	f.Add(make([]byte, sealOverhead), []byte{})
	f.Add(append([]byte{1}, make([]byte, 40)...), []byte("ad"))
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		pt, err := s.Open(sealed, ad)
		if err == nil {
			t.Fatalf("Open(%x, %q) = %q; forged data opened", sealed, ad, pt)
		}
		if pt != nil || !errors.Is(err, ErrSealed) {
			t.Fatalf("Open failure returned %q, %v", pt, err)
		}
	})
}
