package password

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// sha1Hex is the upper-case hex SHA-1 of password, split as the range API
// splits it.
func sha1Hex(password string) (prefix, suffix string) {
	sum := sha1.Sum([]byte(password))
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	return h[:5], h[5:]
}

// fakePwned is a Pwned Passwords range API for tests. It records the paths
// and headers of the requests it gets.
type fakePwned struct {
	mu       sync.Mutex
	paths    []string
	padding  []string
	handle   func(w http.ResponseWriter, r *http.Request)
	breached map[string]int // password -> count
}

func (f *fakePwned) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.paths = append(f.paths, r.URL.Path)
	f.padding = append(f.padding, r.Header.Get("Add-Padding"))
	handle := f.handle
	f.mu.Unlock()
	if handle != nil {
		handle(w, r)
		return
	}
	prefix, ok := strings.CutPrefix(r.URL.Path, "/range/")
	if !ok || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	// Some unrelated entries, a padding entry, then the breached ones
	// with this prefix, in lower case to check the comparison ignores
	// case, with CRLF line ends as the real API sends.
	fmt.Fprintf(w, "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n")
	fmt.Fprintf(w, "00D4F6E8FA6EECAD2A3AA415EEC418D38EC:0\r\n")
	for pw, n := range f.breached {
		p, s := sha1Hex(pw)
		if p == prefix {
			fmt.Fprintf(w, "%s:%d\r\n", strings.ToLower(s), n)
		}
	}
	fmt.Fprintf(w, "011053FD0102E94D6AE2F8B83D76FAF94F6:13\r\n")
}

func newFakePwned(t *testing.T, breached map[string]int) (*fakePwned, *httptest.Server) {
	f := &fakePwned{breached: breached}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func TestBreached(t *testing.T) {
	f, srv := newFakePwned(t, map[string]int{"P@ssw0rd": 52579, "padded entry": 0})
	b := BreachChecker{URL: srv.URL + "/", Client: srv.Client()}
	ctx := t.Context()

	n, err := b.Breached(ctx, "P@ssw0rd")
	if err != nil || n != 52579 {
		t.Errorf("Breached(breached) = %d, %v; want 52579, nil", n, err)
	}
	n, err = b.Breached(ctx, "correct horse battery staple")
	if err != nil || n != 0 {
		t.Errorf("Breached(not breached) = %d, %v; want 0, nil", n, err)
	}
	// A padding entry (count 0) that happens to be the password's suffix
	// is not a breach.
	n, err = b.Breached(ctx, "padded entry")
	if err != nil || n != 0 {
		t.Errorf("Breached(padding) = %d, %v; want 0, nil", n, err)
	}

	prefix, suffix := sha1Hex("P@ssw0rd")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.paths[0] != "/range/"+prefix {
		t.Errorf("request path %q, want /range/%s (one slash, upper-case hex)", f.paths[0], prefix)
	}
	for i, p := range f.paths {
		if strings.Contains(p, suffix) || len(p) != len("/range/")+5 {
			t.Errorf("request %d sent %q: more than the 5-character prefix", i, p)
		}
		if f.padding[i] != "true" {
			t.Errorf("request %d: Add-Padding = %q, want true", i, f.padding[i])
		}
	}
}

func TestBreachedResponses(t *testing.T) {
	prefix, suffix := sha1Hex("hunter2")
	tests := []struct {
		name    string
		body    string
		status  int
		want    int
		wantErr bool
	}{
		{"LF line ends", "0018A45C4D1DEF81644B54AB7F969B88D65:1\n" + suffix + ":17\n", 200, 17, false},
		{"CRLF without final newline", "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n" + suffix + ":17", 200, 17, false},
		{"lower-case suffix", strings.ToLower(suffix) + ":3\r\n", 200, 3, false},
		{"padding only", suffix + ":0\r\n0018A45C4D1DEF81644B54AB7F969B88D65:0\r\n", 200, 0, false},
		{"blank lines skipped", "\r\n" + suffix + ":2\r\n\r\n", 200, 2, false},
		{"not found", "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n", 200, 0, false},
		{"huge count", suffix + ":999999999999\r\n", 200, 999999999999, false},
		{"500", "oops", 500, 0, true},
		{"429", "slow down", 429, 0, true},
		{"404", "", 404, 0, true},
		{"empty body", "", 200, 0, true},
		{"HTML", "<html><body>hello</body></html>", 200, 0, true},
		{"no colon", suffix + "17\r\n", 200, 0, true},
		{"short suffix", suffix[1:] + ":17\r\n", 200, 0, true},
		{"long suffix", suffix + "0:17\r\n", 200, 0, true},
		{"non-hex suffix", "Z" + suffix[1:] + ":17\r\n", 200, 0, true},
		{"negative count", suffix + ":-1\r\n", 200, 0, true},
		{"empty count", suffix + ":\r\n", 200, 0, true},
		{"count with space", suffix + ": 17\r\n", 200, 0, true},
		{"count too long", suffix + ":9999999999999\r\n", 200, 0, true},
		{"malformed after the match", suffix + ":17\r\ngarbage\r\n", 200, 0, true},
		{"line too long", strings.Repeat("A", 10000) + "\r\n", 200, 0, true},
		{"body too large", strings.Repeat("0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n", 30000), 200, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			b := BreachChecker{URL: srv.URL, Client: srv.Client()}
			n, err := b.Breached(t.Context(), "hunter2")
			if (err != nil) != tt.wantErr || n != tt.want {
				t.Fatalf("Breached = %d, %v; want %d, error %v", n, err, tt.want, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrBreachCheck) {
					t.Errorf("error %v does not wrap ErrBreachCheck", err)
				}
				if strings.Contains(err.Error(), "hunter2") || strings.Contains(strings.ToUpper(err.Error()), prefix) {
					t.Errorf("error %q reveals the password or its hash", err)
				}
			}
		})
	}
}

func TestBreachedTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	prefix, _ := sha1Hex("hunter2")

	b := BreachChecker{URL: srv.URL, Client: srv.Client(), Timeout: 50 * time.Millisecond}
	start := time.Now()
	n, err := b.Breached(t.Context(), "hunter2")
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %v despite a 50ms timeout", elapsed)
	}
	if n != 0 || !errors.Is(err, ErrBreachCheck) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Breached = %d, %v; want 0 and ErrBreachCheck wrapping DeadlineExceeded", n, err)
	}
	if strings.Contains(err.Error(), srv.URL) || strings.Contains(err.Error(), prefix) {
		t.Errorf("error %q contains the URL with the hash prefix", err)
	}

	// The caller's context bounds the check too.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	b.Timeout = time.Minute
	if _, err := b.Breached(ctx, "hunter2"); !errors.Is(err, ErrBreachCheck) {
		t.Errorf("with an expiring context: %v", err)
	}
}

func TestBreachedUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	b := BreachChecker{URL: url, Timeout: 2 * time.Second}
	if _, err := b.Breached(t.Context(), "hunter2"); !errors.Is(err, ErrBreachCheck) {
		t.Errorf("unreachable: %v", err)
	}
	b = BreachChecker{URL: "http://[::1"}
	if _, err := b.Breached(t.Context(), "hunter2"); !errors.Is(err, ErrBreachCheck) {
		t.Errorf("bad URL: %v", err)
	}
}

func TestBreachCheckerDefaults(t *testing.T) {
	// The zero value talks to the real service; check only that it
	// would, by intercepting the request.
	var got *http.Request
	b := BreachChecker{Client: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		return nil, errors.New("no network in tests")
	})}}
	if _, err := b.Breached(t.Context(), "hunter2"); !errors.Is(err, ErrBreachCheck) {
		t.Fatalf("Breached: %v", err)
	}
	prefix, _ := sha1Hex("hunter2")
	if got == nil || got.URL.String() != DefaultBreachURL+"/range/"+prefix {
		t.Fatalf("request to %v, want %s/range/%s", got.URL, DefaultBreachURL, prefix)
	}
	if d, ok := got.Context().Deadline(); !ok || time.Until(d) > defaultBreachTimeout {
		t.Errorf("request deadline %v, %v; want within %v", d, ok, defaultBreachTimeout)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestCheckContext(t *testing.T) {
	f, srv := newFakePwned(t, map[string]int{"correct horse battery staple": 3})
	p := DefaultPolicy
	p.Breach = &BreachChecker{URL: srv.URL, Client: srv.Client()}
	ctx := t.Context()
	breached := []string{"breached"}

	v, err := p.CheckContext(ctx, "correct horse battery staple", Context{})
	if err != nil || !equalStrings(rules(v), breached) {
		t.Errorf("breached password: %v, %v", v, err)
	}
	if v[0].Message != "This password has appeared in a data breach; choose another." {
		t.Errorf("message %q", v[0].Message)
	}
	v, err = p.CheckContext(ctx, "an unbreached passphrase", Context{})
	if err != nil || v != nil {
		t.Errorf("clean password: %v, %v", v, err)
	}

	// A password another rule refuses is not sent.
	f.mu.Lock()
	before := len(f.paths)
	f.mu.Unlock()
	for _, pw := range []string{"short", "aaaaaaaaaaaaaaaa", "my gatehouse password"} {
		v, err = p.CheckContext(ctx, pw, Context{})
		if err != nil || len(v) == 0 || v[0].Rule == "breached" {
			t.Errorf("CheckContext(%q) = %v, %v", pw, v, err)
		}
	}
	f.mu.Lock()
	if len(f.paths) != before {
		t.Errorf("%d requests for passwords refused locally", len(f.paths)-before)
	}
	f.mu.Unlock()

	// A failing checker returns the error and lets the caller decide.
	f.mu.Lock()
	f.handle = func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }
	f.mu.Unlock()
	v, err = p.CheckContext(ctx, "an unbreached passphrase", Context{})
	if !errors.Is(err, ErrBreachCheck) || v != nil {
		t.Errorf("failing checker: %v, %v; want no violations and ErrBreachCheck", v, err)
	}

	// Without a checker, CheckContext is CheckWith.
	v, err = DefaultPolicy.CheckContext(ctx, "correct horse battery staple", Context{})
	if err != nil || v != nil {
		t.Errorf("no checker: %v, %v", v, err)
	}
}

func equalStrings(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }
