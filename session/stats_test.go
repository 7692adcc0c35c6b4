package session

import (
	"testing"
	"time"
)

// TestCacheStats: every lookup of a well-formed token is counted once, as
// a hit when the cache answered and as a miss when the store was asked, so
// that the misses are exactly the store reads the lookups made. (Waits,
// lookups that shared another's read, are in flight_test.go.)
func TestCacheStats(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		want CacheStats
	}{
		// Load, Load, Peek in the first second, one Load after it expired
		// from the cache: two store reads.
		{"cached", Config{}, CacheStats{Hits: 2, Misses: 2}},
		{"cache disabled", Config{CacheTTL: -1}, CacheStats{Misses: 4}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newFakeEnv(t, c.cfg)
			store := e.store.(*fakeStore)
			tok, _ := e.create(t, e.newUser(t), CreateOptions{})
			if got := e.m.CacheStats(); got != (CacheStats{}) {
				t.Fatalf("CacheStats after Create = %+v, want zero", got)
			}
			for _, step := range []func() error{
				func() error { _, err := e.m.Load(t.Context(), tok); return err },
				func() error { _, err := e.m.Load(t.Context(), tok); return err },
				func() error { _, err := e.m.Peek(t.Context(), tok); return err },
				func() error {
					e.clock.Advance(2 * time.Second)
					_, err := e.m.Load(t.Context(), tok)
					return err
				},
			} {
				if err := step(); err != nil {
					t.Fatalf("lookup: %v", err)
				}
			}
			// A malformed token never reaches the cache or the store.
			if _, err := e.m.Load(t.Context(), "not-a-token"); err == nil {
				t.Fatalf("Load(malformed) succeeded")
			}
			got := e.m.CacheStats()
			if got != c.want {
				t.Errorf("CacheStats = %+v, want %+v", got, c.want)
			}
			if gets := store.counts().Gets; uint64(gets) != got.Misses {
				t.Errorf("store reads = %d, misses = %d: each miss must be one read", gets, got.Misses)
			}
		})
	}
}
