package otp

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// RFC 6238 Appendix B: each algorithm has its own ASCII seed.
var (
	seedSHA1   = []byte("12345678901234567890")
	seedSHA256 = []byte("12345678901234567890123456789012")
	seedSHA512 = bytes.Repeat([]byte("1234567890"), 7)[:64]
)

func TestAlgorithmString(t *testing.T) {
	for a, want := range map[Algorithm]string{SHA1: "SHA1", SHA256: "SHA256", SHA512: "SHA512", 7: "Algorithm(7)"} {
		if got := a.String(); got != want {
			t.Errorf("Algorithm(%d).String() = %q, want %q", int(a), got, want)
		}
	}
	var zero Algorithm
	if zero != SHA1 {
		t.Error("zero Algorithm is not SHA1")
	}
}

func TestRFC6238AppendixB(t *testing.T) {
	if len(seedSHA512) != 64 || string(seedSHA512[60:]) != "1234" {
		t.Fatalf("bad SHA512 seed %q", seedSHA512)
	}
	tests := []struct {
		unix                 int64
		sha1, sha256, sha512 string
	}{
		{59, "94287082", "46119246", "90693936"},
		{1111111109, "07081804", "68084774", "25091201"},
		{1111111111, "14050471", "67062674", "99943326"},
		{1234567890, "89005924", "91819424", "93441116"},
		{2000000000, "69279037", "90698825", "38618901"},
		{20000000000, "65353130", "77737706", "47863826"},
	}
	for _, tc := range tests {
		now := time.Unix(tc.unix, 0)
		for _, c := range []struct {
			alg  Algorithm
			seed []byte
			want string
		}{{SHA1, seedSHA1, tc.sha1}, {SHA256, seedSHA256, tc.sha256}, {SHA512, seedSHA512, tc.sha512}} {
			tp := TOTP{Key: c.seed, Digits: 8, Algorithm: c.alg}
			if got := tp.At(now); got != c.want {
				t.Errorf("%v at %d: At = %s, want %s", c.alg, tc.unix, got, c.want)
			}
			if got := HOTP(c.seed, uint64(tc.unix/30), 8, c.alg); got != c.want {
				t.Errorf("%v at %d: HOTP = %s, want %s", c.alg, tc.unix, got, c.want)
			}
			if s, ok := tp.Verify(c.want, now, 0); !ok || s != tc.unix/30 {
				t.Errorf("%v at %d: Verify(%s) = %d, %v", c.alg, tc.unix, c.want, s, ok)
			}
		}
	}
}

func TestRFC4226AppendixD(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		if got := HOTP(seedSHA1, uint64(i), 6, SHA1); got != w {
			t.Errorf("HOTP count %d = %s, want %s", i, got, w)
		}
	}
	// RFC 4226 Appendix D lists the truncated value 1284755224 for count
	// 0; 7 and 8 digits are its low-order digits.
	if got := HOTP(seedSHA1, 0, 7, SHA1); got != "4755224" {
		t.Errorf("7-digit HOTP = %q, want 4755224", got)
	}
	if got := HOTP(seedSHA1, 0, 8, SHA1); got != "84755224" {
		t.Errorf("8-digit HOTP = %q, want 84755224", got)
	}
}

func TestHOTPZeroPadding(t *testing.T) {
	// Find a counter whose 6-digit code starts with 0 and make sure it keeps
	// its leading zeros.
	for c := uint64(0); c < 100000; c++ {
		code := HOTP(seedSHA1, c, 6, SHA1)
		if len(code) != 6 {
			t.Fatalf("counter %d: %q has wrong length", c, code)
		}
		if code[0] == '0' {
			return
		}
	}
	t.Fatal("no code with a leading zero found")
}

func TestHOTPPanicsOnBadArguments(t *testing.T) {
	for _, c := range []struct {
		digits int
		alg    Algorithm
	}{{5, SHA1}, {9, SHA1}, {0, SHA1}, {6, Algorithm(3)}, {6, Algorithm(-1)}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("HOTP(%d, %v) did not panic", c.digits, c.alg)
				}
			}()
			HOTP(seedSHA1, 0, c.digits, c.alg)
		}()
	}
}

func TestDefaults(t *testing.T) {
	tp := TOTP{Key: seedSHA1}
	now := time.Unix(1111111111, 0)
	if got, want := tp.At(now), HOTP(seedSHA1, 1111111111/30, 6, SHA1); got != want {
		t.Errorf("default At = %s, want %s", got, want)
	}
	if got := tp.Step(now); got != 1111111111/30 {
		t.Errorf("Step = %d", got)
	}
	tp.Period = 60 * time.Second
	if got := tp.Step(now); got != 1111111111/60 {
		t.Errorf("Step with 60 s period = %d", got)
	}
	// Steps before 1970 round down.
	if got := (TOTP{Key: seedSHA1}).Step(time.Unix(-1, 0)); got != -1 {
		t.Errorf("Step(-1 s) = %d, want -1", got)
	}
	if got := (TOTP{Key: seedSHA1}).Step(time.Unix(-30, 0)); got != -1 {
		t.Errorf("Step(-30 s) = %d, want -1", got)
	}
	if got := (TOTP{Key: seedSHA1}).Step(time.Unix(-31, 0)); got != -2 {
		t.Errorf("Step(-31 s) = %d, want -2", got)
	}
}

func TestValidate(t *testing.T) {
	good := []TOTP{
		{Key: seedSHA1},
		{Key: seedSHA1, Digits: 8, Period: 60 * time.Second, Algorithm: SHA512, Skew: -1},
		{Key: seedSHA1, Skew: MaxSkew},
	}
	for _, tp := range good {
		if err := tp.Validate(); err != nil {
			t.Errorf("%+v: %v", tp, err)
		}
	}
	bad := []TOTP{
		{},
		{Key: []byte{}},
		{Key: seedSHA1, Digits: 5},
		{Key: seedSHA1, Digits: 9},
		{Key: seedSHA1, Period: 1500 * time.Millisecond},
		{Key: seedSHA1, Period: time.Millisecond},
		{Key: seedSHA1, Period: -30 * time.Second},
		{Key: seedSHA1, Algorithm: 5},
		{Key: seedSHA1, Skew: MaxSkew + 1},
	}
	now := time.Unix(1234567890, 0)
	for _, tp := range bad {
		if err := tp.Validate(); err == nil {
			t.Errorf("%+v: Validate accepted it", tp)
		}
		// Verify fails closed, even for a code that At would compute for a
		// "fixed" configuration.
		fixed := tp
		fixed.Key = seedSHA1
		fixed.Digits, fixed.Period, fixed.Algorithm, fixed.Skew = 6, 0, SHA1, 0
		if _, ok := tp.Verify(fixed.At(now), now, 0); ok {
			t.Errorf("%+v: Verify accepted a code", tp)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%+v: At did not panic", tp)
				}
			}()
			tp.At(now)
		}()
	}
}

func TestVerifyWindow(t *testing.T) {
	tp := TOTP{Key: NewKey()} // Skew 1 by default
	now := time.Unix(1700000000, 0)
	cur := tp.Step(now)
	for _, c := range []struct {
		offset int64
		ok     bool
	}{{-3, false}, {-2, false}, {-1, true}, {0, true}, {1, true}, {2, false}, {3, false}} {
		code := HOTP(tp.Key, uint64(cur+c.offset), 6, SHA1)
		step, ok := tp.Verify(code, now, 0)
		if ok != c.ok {
			// A random key can make the code of a step outside the window
			// equal one inside it (probability ~3e-6); tell that apart.
			if !c.ok && (code == tp.At(now) || code == tp.At(now.Add(-30*time.Second)) || code == tp.At(now.Add(30*time.Second))) {
				continue
			}
			t.Errorf("offset %+d: ok = %v, want %v", c.offset, ok, c.ok)
		}
		if ok && c.ok && step != cur+c.offset {
			t.Errorf("offset %+d: step = %d, want %d", c.offset, step, cur+c.offset)
		}
	}

	// Skew 2 widens the window; negative Skew narrows it to the current step.
	wide := TOTP{Key: tp.Key, Skew: 2}
	if _, ok := wide.Verify(HOTP(tp.Key, uint64(cur-2), 6, SHA1), now, 0); !ok {
		t.Error("Skew 2 refused step -2")
	}
	if _, ok := wide.Verify(HOTP(tp.Key, uint64(cur+2), 6, SHA1), now, 0); !ok {
		t.Error("Skew 2 refused step +2")
	}
	exact := TOTP{Key: tp.Key, Skew: -1}
	if _, ok := exact.Verify(tp.At(now), now, 0); !ok {
		t.Error("Skew -1 refused the current code")
	}
	prev := HOTP(tp.Key, uint64(cur-1), 6, SHA1)
	if _, ok := exact.Verify(prev, now, 0); ok && prev != tp.At(now) {
		t.Error("Skew -1 accepted the previous step")
	}

	// The window edges within a step: the last and first second.
	start := time.Unix(cur*30, 0)
	for _, at := range []time.Time{start, start.Add(29 * time.Second)} {
		if _, ok := tp.Verify(tp.At(now), at, 0); !ok {
			t.Errorf("code refused at %v", at)
		}
	}
}

func TestVerifyReplay(t *testing.T) {
	tp := TOTP{Key: NewKey()}
	now := time.Unix(1700000000, 0)
	code := tp.At(now)
	step, ok := tp.Verify(code, now, 0)
	if !ok {
		t.Fatal("first use refused")
	}
	last := step
	if _, ok := tp.Verify(code, now, last); ok {
		t.Fatal("replay of the same code accepted")
	}
	// Still refused a step later, while the code is within the skew window.
	if _, ok := tp.Verify(code, now.Add(30*time.Second), last); ok {
		t.Fatal("replay accepted one step later")
	}
	// An older code (previous step, still inside the window) is refused too.
	older := HOTP(tp.Key, uint64(last-1), 6, SHA1)
	if _, ok := tp.Verify(older, now, last); ok {
		t.Fatal("older code accepted after a newer one")
	}
	// The next code is accepted, and moves lastStep on.
	next := tp.At(now.Add(30 * time.Second))
	step, ok = tp.Verify(next, now.Add(30*time.Second), last)
	if !ok || step != last+1 {
		t.Fatalf("next code: step %d ok %v", step, ok)
	}
	// A code for a future step (clock ahead) used first then blocks the
	// current one: the user just waits for the next code.
	tp2 := TOTP{Key: NewKey()}
	future := tp2.At(now.Add(30 * time.Second))
	s, ok := tp2.Verify(future, now, 0)
	if !ok {
		t.Fatal("future code refused")
	}
	cur := tp2.At(now)
	if _, ok := tp2.Verify(cur, now, s); ok && cur != future {
		t.Fatal("current code accepted after a later step was used")
	}
}

func TestVerifyMalformed(t *testing.T) {
	tp := TOTP{Key: seedSHA1, Digits: 8}
	now := time.Unix(59, 0)
	good := "94287082"
	for _, code := range []string{
		"", "9428708", "942870822", "94287082 1", "9428708x", "94287O82", "+4287082", "-4287082",
		"９4287082", "94287082\x00", "\x0094287082", "94287082\n", "\t94287082", strings.Repeat(" ", 100) + good,
		"0x94287082", "94,287,082", "94-287-082",
	} {
		if _, ok := tp.Verify(code, now, 0); ok {
			t.Errorf("Verify(%q) accepted", code)
		}
	}
	for _, code := range []string{good, "9428 7082", " 94287082 ", "9 4 2 8 7 0 8 2", "942  870  82"} {
		if _, ok := tp.Verify(code, now, 0); !ok {
			t.Errorf("Verify(%q) refused", code)
		}
	}
	six := TOTP{Key: seedSHA1}
	if _, ok := six.Verify("287 082", time.Unix(30, 0), 0); !ok {
		t.Error(`"287 082" refused`)
	}
}

// TestOathtool cross-checks At against oathtool(1) from the OATH Toolkit
// (Debian package oathtool) for a random key. It is skipped when oathtool is
// not installed.
func TestOathtool(t *testing.T) {
	path, err := exec.LookPath("oathtool")
	if err != nil {
		t.Skip("oathtool not installed (apt-get install oathtool)")
	}
	times := []time.Time{
		time.Unix(59, 0),
		time.Unix(1111111109, 0),
		time.Unix(1234567890, 0),
		time.Unix(2000000000, 0),
		time.Now().Truncate(time.Second),
		time.Date(2031, 7, 4, 12, 0, 29, 0, time.UTC),
	}
	cases := []struct {
		alg    Algorithm
		digits int
		flags  []string
	}{
		{SHA1, 6, []string{"--totp"}},
		{SHA1, 8, []string{"--totp", "-d", "8"}},
		{SHA256, 6, []string{"--totp=sha256"}},
		{SHA256, 8, []string{"--totp=sha256", "-d", "8"}},
		{SHA512, 6, []string{"--totp=sha512"}},
		{SHA512, 8, []string{"--totp=sha512", "-d", "8"}},
		{SHA1, 7, []string{"--totp", "-d", "7", "-s", "60s"}},
	}
	for _, c := range cases {
		key := NewKey()
		if c.alg == SHA512 {
			key = append(key, NewKey()...) // also try a key of another length
		}
		tp := TOTP{Key: key, Digits: c.digits, Algorithm: c.alg}
		if c.digits == 7 {
			tp.Period = 60 * time.Second
		}
		for _, now := range times {
			args := append(append([]string{}, c.flags...), "-b", EncodeKey(key),
				"--now", now.UTC().Format("2006-01-02 15:04:05 UTC"))
			out, err := exec.Command(path, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("oathtool %v: %v\n%s", args, err, out)
			}
			want := strings.TrimSpace(string(out))
			if got := tp.At(now); got != want {
				t.Errorf("oathtool %s: %s, At = %s", strings.Join(args, " "), want, got)
			}
		}
	}
	t.Logf("cross-checked %d configurations × %d times against %s", len(cases), len(times), path)
}

// FuzzVerify checks that Verify never panics on arbitrary input and accepts
// exactly the codes of the window that are newer than lastStep.
func FuzzVerify(f *testing.F) {
	key := []byte("fuzz key for gatehouse otp tests")
	tp := TOTP{Key: key}
	for _, unix := range []int64{0, 59, 1111111109, 1700000000, -1, 1 << 40} {
		now := time.Unix(unix, 0)
		code := tp.At(now)
		f.Add(code, unix, int64(0))
		f.Add(code[:3]+" "+code[3:], unix, int64(0))
		f.Add(code, unix, tp.Step(now))
		f.Add(code, unix, tp.Step(now)-1)
		f.Add(code+"0", unix, int64(0))
		f.Add(tp.At(now.Add(-30*time.Second)), unix, int64(-1<<62))
	}
	f.Add("", int64(0), int64(0))
	f.Add("abcdef", int64(0), int64(0))
	f.Add("\xff\xfe", int64(1), int64(0))
	f.Fuzz(func(t *testing.T, code string, unix int64, last int64) {
		now := time.Unix(unix, 0)
		step, ok := tp.Verify(code, now, last)

		clean := strings.ReplaceAll(code, " ", "")
		cur := tp.Step(now)
		var wantStep int64
		wantOK := false
		if len(code) <= maxCodeInput {
			for s := cur - 1; s <= cur+1; s++ {
				if s > last && HOTP(key, uint64(s), 6, SHA1) == clean {
					wantStep, wantOK = s, true
				}
			}
		}
		if ok != wantOK || step != wantStep {
			t.Fatalf("Verify(%q, %d, %d) = %d, %v; want %d, %v", code, unix, last, step, ok, wantStep, wantOK)
		}
		if ok {
			if len(clean) != 6 {
				t.Fatalf("accepted %q", code)
			}
			for _, c := range clean {
				if c < '0' || c > '9' {
					t.Fatalf("accepted %q", code)
				}
			}
		}
	})
}

func ExampleTOTP_Verify() {
	tp := TOTP{Key: []byte("12345678901234567890")}
	now := time.Unix(1111111111, 0)
	var lastStep int64 // loaded from the user's row; 0 if never used

	step, ok := tp.Verify("050 471", now, lastStep)
	fmt.Println(ok)
	lastStep = step // saved to the user's row

	_, ok = tp.Verify("050471", now, lastStep) // replay
	fmt.Println(ok)
	// Output:
	// true
	// false
}
