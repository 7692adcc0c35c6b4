// Package password hashes and verifies passwords with argon2id, and checks
// new passwords against the password policy.
//
// Hashes are stored as PHC strings
// ($argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>), so each hash carries the
// parameters it was made with and old hashes keep verifying after the
// parameters change; Verify reports when a hash should be upgraded.
//
// Verify also accepts the hashes of users imported from other systems
// (bcrypt, ASP.NET Identity V2 and V3, Umbraco HMACSHA256 and HMACSHA1,
// passlib PBKDF2 and Django PBKDF2; see Identify for their exact encodings),
// and asks for every one of them to be replaced by an argon2id hash as soon
// as it matches.
//
// Passwords are used exactly as given: they are never trimmed, normalised,
// case-folded or truncated (ASVS 6.2.8). The one exception is imposed by the
// bcrypt algorithm itself: a bcrypt hash depends only on the first 72 bytes
// of the password, exactly as when it was made.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/crypto/argon2"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/tracing"
)

// Params are argon2id parameters.
type Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the degree of parallelism (lanes).
	Threads uint8
	// SaltLen is the length in bytes of the random salt of a new hash.
	SaltLen uint32
	// KeyLen is the length in bytes of the derived key.
	KeyLen uint32
}

// DefaultParams are OWASP's argon2id parameters: m=19456 KiB, t=2, p=1,
// 16-byte salt, 32-byte key. They cost about 26 ms per hash on this
// project's machines.
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// The bounds on argon2id parameters, both for the Params of a Hasher and for
// the parameters read back from a stored hash. They keep a hostile or corrupt
// stored hash from making Verify allocate unbounded memory or run for
// minutes.
const (
	// maxMemory is 4 GiB, in KiB.
	maxMemory  = 1 << 22
	maxTime    = 64
	maxThreads = 64
	minSaltLen = 8 // the argon2 minimum
	maxSaltLen = 1024
	minKeyLen  = 8
	maxKeyLen  = 1024
)

// Validate reports whether p is within the bounds Verify accepts from a
// stored hash, so that every hash a Hasher makes can be verified again:
// 1 <= Threads <= 64, 8*Threads <= Memory <= 4 GiB (in KiB), 1 <= Time <= 64,
// and salt and key lengths between 8 and 1024 bytes. Call it when loading
// parameters from configuration; Hash and VerifyDummy fail with its error
// when the Hasher's parameters are invalid.
func (p Params) Validate() error {
	switch {
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("password: argon2 threads %d out of range [1, %d]", p.Threads, maxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("password: argon2 memory %d KiB out of range [%d, %d] for %d threads", p.Memory, 8*uint32(p.Threads), maxMemory, p.Threads)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("password: argon2 time %d out of range [1, %d]", p.Time, maxTime)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("password: salt length %d out of range [%d, %d]", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("password: key length %d out of range [%d, %d]", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// ErrBusy is returned by Hash, Verify and VerifyDummy when no hashing slot
// frees up within the Hasher's queue wait, or when the context ends before
// one does. It tells the client to retry shortly rather than queueing work
// the server cannot finish in time.
var ErrBusy error = &gatehouse.Error{
	Code:       gatehouse.CodeBusy,
	Message:    "The server is busy; try again shortly.",
	RetryAfter: time.Second,
}

// Hasher hashes and verifies passwords, bounding how many hashes run at once
// so a login flood cannot exhaust memory: each argon2id computation holds
// Params.Memory KiB, so at most maxConcurrent of them are alive at a time and
// the others wait, for a bounded time, for a slot.
//
// A Hasher is safe for concurrent use. Its zero value is not usable; create
// one with NewHasher.
type Hasher struct {
	params    Params
	sem       chan struct{}
	queueWait time.Duration
	onWait    func(wait time.Duration, busy bool) // see ObserveWait

	dummyOnce sync.Once
	dummy     string
	dummyErr  error
}

// NewHasher returns a Hasher that makes hashes with p and runs at most
// maxConcurrent argon2id computations at once; a caller waits at most
// queueWait for a slot before getting ErrBusy. maxConcurrent <= 0 means
// 2*runtime.GOMAXPROCS(0); queueWait <= 0 means 2s.
//
// NewHasher does not check p; see Params.Validate.
func NewHasher(p Params, maxConcurrent int, queueWait time.Duration) *Hasher {
	if maxConcurrent <= 0 {
		maxConcurrent = 2 * runtime.GOMAXPROCS(0)
	}
	if queueWait <= 0 {
		queueWait = 2 * time.Second
	}
	return &Hasher{
		params:    p,
		sem:       make(chan struct{}, maxConcurrent),
		queueWait: queueWait,
	}
}

// Params returns the parameters h makes new hashes with. Verify reports a
// stored hash made with other parameters as needing a rehash.
func (h *Hasher) Params() Params { return h.params }

// Hash returns a PHC string of password with a fresh random salt:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>, where salt and key are in
// unpadded standard base64. The password bytes are hashed exactly as given.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.params.Validate(); err != nil {
		return "", err
	}
	salt := make([]byte, h.params.SaltLen)
	rand.Read(salt) // never fails; it crashes the program instead
	return h.hashWithSalt(ctx, password, salt)
}

// hashWithSalt is Hash with a given salt, so tests can check the output
// against a known answer.
func (h *Hasher) hashWithSalt(ctx context.Context, password string, salt []byte) (_ string, err error) {
	ctx, span := tracing.Start(ctx, "password.hash")
	defer tracing.End(span, &err)
	ph := phc{
		memory:  h.params.Memory,
		time:    h.params.Time,
		threads: h.params.Threads,
		salt:    salt,
	}
	key, err := h.derive(ctx, span, password, &ph, h.params.KeyLen)
	if err != nil {
		return "", err
	}
	ph.key = key
	return ph.String(), nil
}

// Verify reports whether password matches encoded, a stored hash in any of
// the schemes Identify documents, comparing in constant time. When the
// password matches, rehash reports whether the hash should be replaced by a
// new one from Hash: always for a legacy (non-argon2id) hash, and for an
// argon2id hash whose memory, time, parallelism or key length differ from
// h.Params(). rehash is always false when ok is false, so a caller can never
// store a hash of a wrong password by acting on it. Replacing the hash is
// all a rehash needs: nothing else about the user changes.
//
// A password containing a NUL byte never matches a legacy hash. The C
// bcrypt implementations that made the imported bcrypt hashes stop at the
// first NUL, and PBKDF2 uses the password as an HMAC key, which is padded
// with zeros: "secret\x00" would match a PBKDF2 hash of "secret", and the
// rehash would then store a hash of the NUL-bearing variant, no longer
// accepting the password the user actually has.
//
// Every computation, argon2id or legacy, runs in one of h's hashing slots,
// so Verify returns ErrBusy under the same conditions as Hash.
//
// A malformed or unsupported encoded hash returns an error whose text never
// contains the hash or the password; it is the error Identify(encoded)
// returns. Encoded hashes are parsed strictly, and their parameters (argon2
// memory and time, bcrypt cost, PBKDF2 iterations and key length) must be
// within fixed bounds, so that a tampered stored hash cannot make Verify
// allocate unbounded memory or run for minutes.
//
// Verify is traced as the span password.verify, the same for VerifyDummy:
// a trace does not tell whether the user existed.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, rehash bool, err error) {
	ctx, span := tracing.Start(ctx, "password.verify")
	defer tracing.End(span, &err)
	p, err := parseHash(encoded)
	if err != nil {
		return false, false, err
	}
	if p.legacy != nil {
		if strings.IndexByte(password, 0) >= 0 {
			// See the NUL paragraph above.
			return false, false, nil
		}
		if err := h.acquireTraced(ctx, span); err != nil {
			return false, false, err
		}
		ok, err = p.legacy.matches(password)
		h.release()
		if err != nil || !ok {
			return false, false, err
		}
		return true, true, nil
	}
	ph := p.ph
	key, err := h.derive(ctx, span, password, &ph, uint32(len(ph.key)))
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(key, ph.key) != 1 {
		return false, false, nil
	}
	rehash = ph.memory != h.params.Memory ||
		ph.time != h.params.Time ||
		ph.threads != h.params.Threads ||
		uint32(len(ph.key)) != h.params.KeyLen
	return true, rehash, nil
}

// VerifyDummy does the same work as a failed Verify against a hash made with
// h.Params(), so that a login for an unknown user (or a user without a
// password) takes as long as one with a wrong password and does not reveal
// which usernames exist (ASVS 6.3.8). It returns only the errors Verify
// would: ErrBusy, or the Params.Validate error when h's parameters are
// invalid.
//
// The dummy hash is made once, on first use, from a random salt and a random
// key: no password derives to it, and making it costs no argon2 computation,
// so the first unknown-user login is not slower than later ones.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	h.dummyOnce.Do(func() {
		if err := h.params.Validate(); err != nil {
			h.dummyErr = err
			return
		}
		ph := phc{
			memory:  h.params.Memory,
			time:    h.params.Time,
			threads: h.params.Threads,
			salt:    make([]byte, h.params.SaltLen),
			key:     make([]byte, h.params.KeyLen),
		}
		rand.Read(ph.salt)
		rand.Read(ph.key)
		h.dummy = ph.String()
	})
	if h.dummyErr != nil {
		return h.dummyErr
	}
	_, _, err := h.Verify(ctx, password, h.dummy)
	return err
}

// derive computes the argon2id key of password under the salt and
// parameters of ph, holding a hashing slot while it runs; span is the
// hash's or the verification's.
func (h *Hasher) derive(ctx context.Context, span trace.Span, password string, ph *phc, keyLen uint32) ([]byte, error) {
	if err := h.acquireTraced(ctx, span); err != nil {
		return nil, err
	}
	defer h.release()
	return argon2.IDKey([]byte(password), ph.salt, ph.time, ph.memory, ph.threads, keyLen), nil
}

// ObserveWait has f told, at every hash or verification, how long it
// waited for a hashing slot (0 when one was free) and whether it gave up
// (busy: ErrBusy); metrics.Metrics.HashWait fits. f must be quick. Call it
// before h is used: it is not safe to call concurrently with hashing.
func (h *Hasher) ObserveWait(f func(wait time.Duration, busy bool)) { h.onWait = f }

// acquire takes a hashing slot, waiting at most h.queueWait for one. It
// returns ErrBusy when none frees in time or ctx ends first; a ctx that has
// already ended gets ErrBusy without taking a slot, since nobody is waiting
// for the result.
func (h *Hasher) acquire(ctx context.Context) error {
	if ctx.Err() != nil {
		h.waited(0, true)
		return ErrBusy
	}
	select {
	case h.sem <- struct{}{}:
		h.waited(0, false)
		return nil
	default:
	}
	start := time.Now()
	timer := time.NewTimer(h.queueWait)
	defer timer.Stop()
	select {
	case h.sem <- struct{}{}:
		h.waited(time.Since(start), false)
		return nil
	case <-timer.C:
	case <-ctx.Done():
	}
	h.waited(time.Since(start), true)
	return ErrBusy
}

// waited tells ObserveWait's function of a wait for a slot.
func (h *Hasher) waited(d time.Duration, busy bool) {
	if h.onWait != nil {
		h.onWait(d, busy)
	}
}

// acquireTraced is acquire, noting how long it waited in span (as
// gatehouse.hash.queue_wait_ms) when span records.
func (h *Hasher) acquireTraced(ctx context.Context, span trace.Span) error {
	if !span.IsRecording() {
		return h.acquire(ctx)
	}
	start := time.Now()
	err := h.acquire(ctx)
	span.SetAttributes(attribute.Float64("gatehouse.hash.queue_wait_ms", float64(time.Since(start).Microseconds())/1000))
	return err
}

// release gives back a slot taken by acquire.
func (h *Hasher) release() { <-h.sem }
