package password

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/gatehouse/gatehouse"
)

// cheapParams are for tests where the cost does not matter.
var cheapParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newCheapHasher() *Hasher { return NewHasher(cheapParams, 0, 0) }

func TestNewHasherDefaults(t *testing.T) {
	h := NewHasher(cheapParams, 0, 0)
	if cap(h.sem) < 2 {
		t.Errorf("maxConcurrent 0: got %d slots, want 2*GOMAXPROCS", cap(h.sem))
	}
	if h.queueWait != 2*time.Second {
		t.Errorf("queueWait 0: got %v, want 2s", h.queueWait)
	}
	h = NewHasher(cheapParams, 3, time.Minute)
	if cap(h.sem) != 3 || h.queueWait != time.Minute {
		t.Errorf("got %d slots, wait %v; want 3, 1m", cap(h.sem), h.queueWait)
	}
	if h.Params() != cheapParams {
		t.Errorf("Params() = %+v, want %+v", h.Params(), cheapParams)
	}
}

func TestHashVerify(t *testing.T) {
	long := strings.Repeat("a", 1023) + "b"
	tests := []struct {
		name     string
		password string
		attempt  string
		want     bool
	}{
		{"round trip", "correct horse battery staple", "correct horse battery staple", true},
		{"wrong password", "correct horse battery staple", "correct horse battery stapler", false},
		{"case matters", "Password123456", "password123456", false},
		{"empty matches empty", "", "", true},
		{"empty vs nonempty", "", "x", false},
		{"nonempty vs empty", "x", "", false},
		{"unicode and trailing space kept", "pässwörd ", "pässwörd ", true},
		{"trailing space matters", "pässwörd ", "pässwörd", false},
		{"leading space matters", " pässwörd", "pässwörd", false},
		{"no unicode normalisation", "pässwörd ", "pa\u0308sswo\u0308rd ", false},
		{"1024 bytes round trip", long, long, true},
		{"no truncation: 1023-byte prefix", long, long[:1023], false},
		{"no truncation: extra byte", long[:1023], long, false},
		{"embedded NUL", "abc\x00def", "abc\x00def", true},
		{"embedded NUL not a terminator", "abc\x00def", "abc", false},
	}
	h := newCheapHasher()
	ctx := t.Context()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded, err := h.Hash(ctx, tt.password)
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			ok, rehash, err := h.Verify(ctx, tt.attempt, encoded)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if ok != tt.want {
				t.Errorf("Verify ok = %v, want %v", ok, tt.want)
			}
			if rehash {
				t.Errorf("Verify rehash = true for a hash made with the same params")
			}
		})
	}
}

func TestHashFormat(t *testing.T) {
	h := newCheapHasher()
	a, err := h.Hash(t.Context(), "same password")
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Hash(t.Context(), "same password")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("two hashes of one password are equal; salts are not random")
	}
	const prefix = "$argon2id$v=19$m=64,t=1,p=1$"
	if !strings.HasPrefix(a, prefix) {
		t.Errorf("hash %q lacks prefix %q", a, prefix)
	}
	parts := strings.Split(a, "$")
	if len(parts) != 6 {
		t.Fatalf("hash has %d $-fields, want 6", len(parts))
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) != int(cheapParams.SaltLen) {
		t.Errorf("salt %q: %d bytes, err %v; want %d bytes", parts[4], len(salt), err, cheapParams.SaltLen)
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) != int(cheapParams.KeyLen) {
		t.Errorf("key %q: %d bytes, err %v; want %d bytes", parts[5], len(key), err, cheapParams.KeyLen)
	}
}

func TestHashInvalidParams(t *testing.T) {
	bad := cheapParams
	bad.SaltLen = 0
	h := NewHasher(bad, 0, 0)
	if _, err := h.Hash(t.Context(), "pw"); err == nil {
		t.Error("Hash with SaltLen 0: got nil error")
	}
	if err := h.VerifyDummy(t.Context(), "pw"); err == nil {
		t.Error("VerifyDummy with SaltLen 0: got nil error")
	}
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Params)
		ok     bool
	}{
		{"default", func(*Params) {}, true},
		{"cheap", func(p *Params) { *p = cheapParams }, true},
		{"zero threads", func(p *Params) { p.Threads = 0 }, false},
		{"65 threads", func(p *Params) { p.Threads = 65; p.Memory = 8 * 65 }, false},
		{"64 threads", func(p *Params) { p.Threads = 64; p.Memory = 8 * 64 }, true},
		{"memory below 8*threads", func(p *Params) { p.Threads = 4; p.Memory = 31 }, false},
		{"memory 4 GiB", func(p *Params) { p.Memory = 1 << 22 }, true},
		{"memory above 4 GiB", func(p *Params) { p.Memory = 1<<22 + 1 }, false},
		{"zero time", func(p *Params) { p.Time = 0 }, false},
		{"time 65", func(p *Params) { p.Time = 65 }, false},
		{"salt 7", func(p *Params) { p.SaltLen = 7 }, false},
		{"salt 8", func(p *Params) { p.SaltLen = 8 }, true},
		{"salt 1025", func(p *Params) { p.SaltLen = 1025 }, false},
		{"key 7", func(p *Params) { p.KeyLen = 7 }, false},
		{"key 1024", func(p *Params) { p.KeyLen = 1024 }, true},
		{"key 1025", func(p *Params) { p.KeyLen = 1025 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams
			tt.change(&p)
			if err := p.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate(%+v) = %v, want ok=%v", p, err, tt.ok)
			}
		})
	}
}

func TestVerifyRehash(t *testing.T) {
	other := func(change func(*Params)) Params {
		p := cheapParams
		change(&p)
		return p
	}
	tests := []struct {
		name   string
		params Params
		rehash bool
	}{
		{"same params", cheapParams, false},
		{"different salt length only", other(func(p *Params) { p.SaltLen = 8 }), false},
		{"different memory", other(func(p *Params) { p.Memory = 128 }), true},
		{"different time", other(func(p *Params) { p.Time = 2 }), true},
		{"different threads", other(func(p *Params) { p.Threads = 2 }), true},
		{"different key length", other(func(p *Params) { p.KeyLen = 16 }), true},
	}
	h := newCheapHasher()
	ctx := t.Context()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded, err := NewHasher(tt.params, 0, 0).Hash(ctx, "hunter2hunter2")
			if err != nil {
				t.Fatal(err)
			}
			ok, rehash, err := h.Verify(ctx, "hunter2hunter2", encoded)
			if err != nil || !ok || rehash != tt.rehash {
				t.Errorf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.rehash)
			}
			// A wrong password never asks for a rehash, so a caller
			// cannot store a hash of the wrong password.
			ok, rehash, err = h.Verify(ctx, "wrong", encoded)
			if err != nil || ok || rehash {
				t.Errorf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

// TestDefaultParamsRehash checks the one upgrade that matters in production:
// a hash made with cheaper parameters is upgraded to DefaultParams.
func TestDefaultParamsRehash(t *testing.T) {
	ctx := t.Context()
	h := NewHasher(DefaultParams, 0, 0)
	encoded, err := h.Hash(ctx, "hunter2hunter2")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(encoded, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("DefaultParams hash %q has the wrong parameters", encoded)
	}
	if ok, rehash, err := h.Verify(ctx, "hunter2hunter2", encoded); err != nil || !ok || rehash {
		t.Errorf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	old, err := newCheapHasher().Hash(ctx, "hunter2hunter2")
	if err != nil {
		t.Fatal(err)
	}
	if ok, rehash, err := h.Verify(ctx, "hunter2hunter2", old); err != nil || !ok || !rehash {
		t.Errorf("Verify(old) = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

func TestKnownAnswer(t *testing.T) {
	ctx := t.Context()
	t.Run("hash of fixed salt matches argon2.IDKey", func(t *testing.T) {
		salt := []byte("0123456789abcdef")
		want := "$argon2id$v=19$m=64,t=1,p=1$" +
			base64.RawStdEncoding.EncodeToString(salt) + "$" +
			base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte("pässwörd "), salt, 1, 64, 1, 32))
		h := newCheapHasher()
		got, err := h.hashWithSalt(ctx, "pässwörd ", salt)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("hashWithSalt = %q, want %q", got, want)
		}
		ok, rehash, err := h.Verify(ctx, "pässwörd ", want)
		if err != nil || !ok || rehash {
			t.Errorf("Verify(hand-built) = %v, %v, %v; want true, false, nil", ok, rehash, err)
		}
	})

	// Vectors from the argon2 reference implementation's test suite
	// (phc-winner-argon2 src/test.c): password "password", salt "somesalt".
	vectors := []struct {
		name     string
		password string
		encoded  string
	}{
		{"reference m=256 t=2 p=1", "password", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"},
		{"reference m=256 t=2 p=2", "password", "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"},
		{"reference m=65536 t=2 p=1", "password", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"},
	}
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			if strings.Contains(v.encoded, "m=65536") && testing.Short() {
				t.Skip("64 MiB vector skipped in -short mode")
			}
			h := newCheapHasher()
			ok, rehash, err := h.Verify(ctx, v.password, v.encoded)
			if err != nil || !ok || !rehash {
				t.Errorf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
			if ok, _, err := h.Verify(ctx, "passwore", v.encoded); err != nil || ok {
				t.Errorf("Verify(wrong) = %v, %v; want false, nil", ok, err)
			}
			ph, err := parsePHC(v.encoded)
			if err != nil {
				t.Fatal(err)
			}
			if got := ph.String(); got != v.encoded {
				t.Errorf("re-encoded %q, want %q", got, v.encoded)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	const (
		salt = "c29tZXNhbHQ"                                 // "somesalt"
		key  = "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4" // 32 bytes
		good = "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$" + key
	)
	tests := []struct {
		name    string
		encoded string
		want    error
	}{
		{"empty", "", errEmptyHash},
		{"garbage", "x", errMalformed},
		{"dollar only", "$", errAlgorithm},
		{"argon2i", "$argon2i$v=19$m=256,t=2,p=1$" + salt + "$" + key, errAlgorithm},
		{"argon2d", "$argon2d$v=19$m=256,t=2,p=1$" + salt + "$" + key, errAlgorithm},
		{"bcrypt 2x (unsupported variant)", "$2x$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a", errAlgorithm},
		{"algorithm case", "$Argon2id$v=19$m=256,t=2,p=1$" + salt + "$" + key, errAlgorithm},
		{"algorithm prefix only", "$argon2id", errAlgorithm},
		{"algorithm with suffix", "$argon2idX$v=19$m=256,t=2,p=1$" + salt + "$" + key, errAlgorithm},
		{"no leading dollar", "argon2id$v=19$m=256,t=2,p=1$" + salt + "$" + key, errMalformed},
		{"v=16", "$argon2id$v=16$m=256,t=2,p=1$" + salt + "$" + key, errVersion},
		{"v=019", "$argon2id$v=019$m=256,t=2,p=1$" + salt + "$" + key, errVersion},
		{"v=", "$argon2id$v=$m=256,t=2,p=1$" + salt + "$" + key, errVersion},
		{"no version field", "$argon2id$m=256,t=2,p=1$" + salt + "$" + key, errVersion},
		{"version after params", "$argon2id$m=256,t=2,p=1,v=19$" + salt + "$" + key, errVersion},
		{"empty version", "$argon2id$$m=256,t=2,p=1$" + salt + "$" + key, errMalformed},
		{"missing params", "$argon2id$v=19$" + salt + "$" + key, errMalformed},
		{"missing key", "$argon2id$v=19$m=256,t=2,p=1$" + salt, errMalformed},
		{"empty key", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$", errKey},
		{"empty salt", "$argon2id$v=19$m=256,t=2,p=1$$" + key, errSalt},
		{"extra field", good + "$" + key, errMalformed},
		{"trailing dollar", good + "$", errMalformed},
		{"params missing p", "$argon2id$v=19$m=256,t=2$" + salt + "$" + key, errParams},
		{"params reordered", "$argon2id$v=19$t=2,m=256,p=1$" + salt + "$" + key, errParams},
		{"params duplicated", "$argon2id$v=19$m=256,t=2,p=1,p=1$" + salt + "$" + key, errParams},
		{"params with keyid", "$argon2id$v=19$m=256,t=2,p=1,keyid=abc$" + salt + "$" + key, errParams},
		{"params semicolons", "$argon2id$v=19$m=256;t=2;p=1$" + salt + "$" + key, errParams},
		{"params trailing comma", "$argon2id$v=19$m=256,t=2,p=1,$" + salt + "$" + key, errParams},
		{"m not a number", "$argon2id$v=19$m=x,t=2,p=1$" + salt + "$" + key, errParams},
		{"m negative", "$argon2id$v=19$m=-256,t=2,p=1$" + salt + "$" + key, errParams},
		{"m plus sign", "$argon2id$v=19$m=+256,t=2,p=1$" + salt + "$" + key, errParams},
		{"m leading zero", "$argon2id$v=19$m=0256,t=2,p=1$" + salt + "$" + key, errParams},
		{"m empty", "$argon2id$v=19$m=,t=2,p=1$" + salt + "$" + key, errParams},
		{"m overflows uint32", "$argon2id$v=19$m=4294967296,t=2,p=1$" + salt + "$" + key, errParams},
		{"m huge", "$argon2id$v=19$m=999999999999999999999999999999,t=2,p=1$" + salt + "$" + key, errParams},
		{"m max uint32", "$argon2id$v=19$m=4294967295,t=2,p=1$" + salt + "$" + key, errParamsRange},
		{"m just above 4 GiB", "$argon2id$v=19$m=4194305,t=2,p=1$" + salt + "$" + key, errParamsRange},
		{"m zero", "$argon2id$v=19$m=0,t=2,p=1$" + salt + "$" + key, errParamsRange},
		{"m below 8*p", "$argon2id$v=19$m=15,t=2,p=2$" + salt + "$" + key, errParamsRange},
		{"t zero", "$argon2id$v=19$m=256,t=0,p=1$" + salt + "$" + key, errParamsRange},
		{"t absurd", "$argon2id$v=19$m=256,t=1000000,p=1$" + salt + "$" + key, errParamsRange},
		{"p zero", "$argon2id$v=19$m=256,t=2,p=0$" + salt + "$" + key, errParamsRange},
		{"p 256 (overflows uint8)", "$argon2id$v=19$m=4096,t=2,p=256$" + salt + "$" + key, errParamsRange},
		{"p absurd", "$argon2id$v=19$m=1048576,t=2,p=65$" + salt + "$" + key, errParamsRange},
		{"salt bad base64", "$argon2id$v=19$m=256,t=2,p=1$c29tZX!hbHQ$" + key, errSalt},
		{"salt url-safe alphabet", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ-_w$" + key, errSalt},
		{"salt padded", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ=$" + key, errSalt},
		{"salt too short", "$argon2id$v=19$m=256,t=2,p=1$c2FsdA$" + key, errSalt},
		{"salt too long", "$argon2id$v=19$m=256,t=2,p=1$" + strings.Repeat("A", 1368) + "$" + key, errSalt},
		{"salt with newline", "$argon2id$v=19$m=256,t=2,p=1$c29tZX\nNhbHQ$" + key, errSalt},
		{"salt non-canonical trailing bits", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHR$" + key, errSalt},
		{"key bad base64", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/*", errKey},
		{"key too short", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$a2V5", errKey},
		{"key with CR", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4\r", errKey},
		{"too long overall", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$" + strings.Repeat("A", 1<<20), errMalformed},
		{"spaces", " " + good, errMalformed},
	}
	h := newCheapHasher()
	ctx := t.Context()
	if ok, _, err := h.Verify(ctx, "password", good); err != nil || !ok {
		t.Fatalf("the well-formed base case does not verify: %v, %v", ok, err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, "password", tt.encoded)
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify error = %v, want %v", err, tt.want)
			}
			if ok || rehash {
				t.Errorf("Verify = %v, %v with an error; want false, false", ok, rehash)
			}
			if err != nil && len(tt.encoded) > 3 && strings.Contains(err.Error(), tt.encoded) {
				t.Errorf("error %q contains the hash", err)
			}
		})
	}
}

func TestVerifyDummy(t *testing.T) {
	h := newCheapHasher()
	ctx := t.Context()
	for _, pw := range []string{"", "password", "pässwörd "} {
		if err := h.VerifyDummy(ctx, pw); err != nil {
			t.Errorf("VerifyDummy(%q) = %v", pw, err)
		}
	}
	// The dummy hash has the hasher's parameters, so it costs what a real
	// hash of a current user costs, and it is made once.
	ph, err := parsePHC(h.dummy)
	if err != nil {
		t.Fatalf("dummy hash does not parse: %v", err)
	}
	if ph.memory != cheapParams.Memory || ph.time != cheapParams.Time || ph.threads != cheapParams.Threads ||
		len(ph.salt) != int(cheapParams.SaltLen) || len(ph.key) != int(cheapParams.KeyLen) {
		t.Errorf("dummy hash %+v does not have the hasher's params %+v", ph, cheapParams)
	}
	first := h.dummy
	if err := h.VerifyDummy(ctx, "again"); err != nil || h.dummy != first {
		t.Errorf("VerifyDummy remade the dummy hash (err %v)", err)
	}

	// Concurrent first use is race-free and yields one dummy.
	h = newCheapHasher()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := h.VerifyDummy(ctx, "x"); err != nil {
				t.Errorf("VerifyDummy: %v", err)
			}
		})
	}
	wg.Wait()
}

func TestBusy(t *testing.T) {
	type op struct {
		name string
		call func(h *Hasher, ctx context.Context, encoded string) error
	}
	ops := []op{
		{"Hash", func(h *Hasher, ctx context.Context, _ string) error {
			_, err := h.Hash(ctx, "pw")
			return err
		}},
		{"Verify", func(h *Hasher, ctx context.Context, encoded string) error {
			_, _, err := h.Verify(ctx, "pw", encoded)
			return err
		}},
		{"VerifyDummy", func(h *Hasher, ctx context.Context, _ string) error {
			return h.VerifyDummy(ctx, "pw")
		}},
	}
	encoded, err := newCheapHasher().Hash(t.Context(), "pw")
	if err != nil {
		t.Fatal(err)
	}

	checkBusy := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, ErrBusy) {
			t.Fatalf("got %v, want ErrBusy", err)
		}
		var ge *gatehouse.Error
		if !errors.As(err, &ge) {
			t.Fatalf("ErrBusy is not a *gatehouse.Error")
		}
		if ge.Code != gatehouse.CodeBusy || ge.RetryAfter <= 0 || ge.Message == "" {
			t.Errorf("ErrBusy = %+v; want CodeBusy, a message and RetryAfter > 0", ge)
		}
	}

	for _, o := range ops {
		t.Run(o.name+"/queue wait expires", func(t *testing.T) {
			const wait = 30 * time.Millisecond
			h := NewHasher(cheapParams, 1, wait)
			if err := h.acquire(t.Context()); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err := o.call(h, t.Context(), encoded)
			if elapsed := time.Since(start); elapsed < wait {
				t.Errorf("gave up after %v, before the queue wait of %v", elapsed, wait)
			}
			checkBusy(t, err)

			// Once the slot is free again, the call goes through.
			h.release()
			if err := o.call(h, t.Context(), encoded); err != nil {
				t.Errorf("after release: %v", err)
			}
		})

		t.Run(o.name+"/context cancelled while waiting", func(t *testing.T) {
			h := NewHasher(cheapParams, 1, time.Minute)
			if err := h.acquire(t.Context()); err != nil {
				t.Fatal(err)
			}
			defer h.release()
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(20*time.Millisecond, cancel)
			start := time.Now()
			err := o.call(h, ctx, encoded)
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("waited %v despite the cancelled context", elapsed)
			}
			checkBusy(t, err)
		})

		t.Run(o.name+"/context already done", func(t *testing.T) {
			h := NewHasher(cheapParams, 1, time.Minute)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			checkBusy(t, o.call(h, ctx, encoded))
			if len(h.sem) != 0 {
				t.Errorf("a slot is still held")
			}
		})
	}
}

// TestConcurrencyBound checks that no more than maxConcurrent computations
// run at once and that every slot is given back.
func TestConcurrencyBound(t *testing.T) {
	const limit = 2
	h := NewHasher(cheapParams, limit, time.Minute)
	encoded, err := h.Hash(t.Context(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		maxSeen  int
		stop     = make(chan struct{})
		observed = make(chan struct{})
	)
	go func() {
		defer close(observed)
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			maxSeen = max(maxSeen, len(h.sem))
			mu.Unlock()
		}
	}()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if ok, _, err := h.Verify(t.Context(), "pw", encoded); err != nil || !ok {
				t.Errorf("Verify = %v, %v", ok, err)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-observed
	if maxSeen > limit {
		t.Errorf("saw %d slots in use, limit %d", maxSeen, limit)
	}
	if len(h.sem) != 0 {
		t.Errorf("%d slots still held after all calls returned", len(h.sem))
	}
}

func BenchmarkHash(b *testing.B) {
	h := NewHasher(DefaultParams, 0, 0)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := NewHasher(DefaultParams, 0, 0)
	ctx := b.Context()
	encoded, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, "correct horse battery staple", encoded); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// TestObserveWait: every acquisition tells how long it waited for a slot
// and whether it gave up.
func TestObserveWait(t *testing.T) {
	type wait struct {
		d    time.Duration
		busy bool
	}
	const queueWait = 30 * time.Millisecond
	h := NewHasher(cheapParams, 1, queueWait)
	var got []wait
	h.ObserveWait(func(d time.Duration, busy bool) { got = append(got, wait{d, busy}) })

	// A free slot: no wait.
	if _, err := h.Hash(t.Context(), "pw"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != (wait{0, false}) {
		t.Fatalf("free slot: observed %v, want one wait of 0, not busy", got)
	}

	// No slot frees in time: busy, after the whole queue wait.
	if err := h.acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	got = nil
	if _, err := h.Hash(t.Context(), "pw"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash with no slot: %v, want ErrBusy", err)
	}
	if len(got) != 1 || !got[0].busy || got[0].d < queueWait {
		t.Fatalf("no slot: observed %v, want one busy wait of at least %v", got, queueWait)
	}

	// A context already done: busy without waiting.
	got = nil
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := h.VerifyDummy(ctx, "pw"); !errors.Is(err, ErrBusy) {
		t.Fatalf("VerifyDummy with a done context: %v, want ErrBusy", err)
	}
	if len(got) != 1 || got[0] != (wait{0, true}) {
		t.Fatalf("done context: observed %v, want one busy wait of 0", got)
	}
	h.release()
}
