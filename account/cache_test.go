package account

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// TestMemoLoadReadsOnce: loads of one key that miss while its read is
// under way wait for that read; a forget meanwhile makes later loads read
// for themselves; a failed read is retried by its waiter; ErrNotFound is
// an answer shared like a value.
func TestMemoLoadReadsOnce(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		forget  bool  // forget the key while the first read is held
		readErr error // what the first read returns
		want    int   // store reads in all
	}
	for name, c := range map[string]step{
		"shared":       {want: 1},
		"not found":    {readErr: gatehouse.ErrNotFound, want: 1},
		"after forget": {forget: true, want: 2},
		"failed read":  {readErr: context.Canceled, want: 2},
	} {
		t.Run(name, func(t *testing.T) {
			m := newMemo[string](time.Second, 10)
			var reads atomic.Int32
			started, release := make(chan struct{}), make(chan struct{})
			read := func() (string, error) {
				if reads.Add(1) == 1 {
					close(started)
					<-release
					return "v1", c.readErr
				}
				return "v2", nil
			}
			joined := make(chan struct{}, 1)
			m.joined = func() { joined <- struct{}{} }
			firstDone, secondDone := make(chan struct{}), make(chan struct{})
			var second string
			var secondErr error
			go func() { defer close(firstDone); m.load(t.Context(), "k", now, read) }()
			<-started
			if c.forget {
				m.forget("k")
			}
			go func() { defer close(secondDone); second, secondErr = m.load(t.Context(), "k", now, read) }()
			if c.forget {
				// It reads for itself, and finishes while the first read
				// is still held.
				<-secondDone
			} else {
				select {
				case <-joined:
				case <-secondDone:
					t.Errorf("the second load did not wait for the first read")
				}
			}
			close(release)
			<-firstDone
			<-secondDone
			if got := int(reads.Load()); got != c.want {
				t.Errorf("reads = %d, want %d", got, c.want)
			}
			switch {
			case c.readErr == nil && !c.forget && (second != "v1" || secondErr != nil):
				t.Errorf("the waiting load = %q, %v; want the first read's v1", second, secondErr)
			case errors.Is(c.readErr, gatehouse.ErrNotFound) && !errors.Is(secondErr, gatehouse.ErrNotFound):
				t.Errorf("the waiting load = %q, %v; want ErrNotFound", second, secondErr)
			case (c.forget || errors.Is(c.readErr, context.Canceled)) && (second != "v2" || secondErr != nil):
				t.Errorf("the load after a forget or a failed read = %q, %v; want its own read's v2", second, secondErr)
			}
		})
	}
}
