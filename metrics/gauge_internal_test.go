package metrics

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestCachedGaugeExpiry: the value is read again once gaugeCacheFor has
// passed, and a failed read is retried then too, not at every scrape.
func TestCachedGaugeExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	reads, fail := 0, false
	g := newCachedGauge("x", "x", func() time.Time { return now }, func(context.Context) (int, error) {
		reads++
		if fail {
			return 0, errors.New("down")
		}
		return reads * 10, nil
	})
	want := func(v int, ok bool, r int) {
		t.Helper()
		gv, gok := g.current()
		if gv != v && ok || gok != ok || reads != r {
			t.Errorf("current = %d, %v after %d reads; want %d, %v after %d", gv, gok, reads, v, ok, r)
		}
	}
	want(10, true, 1)
	now = now.Add(gaugeCacheFor - time.Second)
	want(10, true, 1)
	now = now.Add(time.Second)
	want(20, true, 2)
	fail = true
	now = now.Add(gaugeCacheFor)
	want(0, false, 3)
	want(0, false, 3) // the failure is cached too: a down store is not asked at every scrape
	fail = false
	now = now.Add(gaugeCacheFor)
	want(40, true, 4)
}
