package account

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
)

// memo is a small in-memory cache of values read from the store, trusted
// for ttl. It keeps a generation counter that every Forget raises: a reader
// notes the generation before it reads the store and caches what it read
// only if no Forget happened meanwhile, so a revocation can never be undone
// by a read that was in flight when it happened. While deaf (another
// process's changes may go unheard, see Service.UseInvalidator) it neither
// answers nor caches.
type memo[V any] struct {
	ttl  time.Duration
	size int

	mu   sync.Mutex
	m    map[string]memoEntry[V]
	gen  uint64
	deaf bool
	// flights are the store reads of load under way, by key.
	flights map[string]*memoFlight[V]
	// joined, when set (by tests), is called when a load waits for a
	// read under way.
	joined func()
}

// memoFlight is a store read of load under way.
type memoFlight[V any] struct {
	gen  uint64
	done chan struct{} // closed when v and err are set
	v    V
	err  error
}

type memoEntry[V any] struct {
	v       V
	fetched time.Time
}

func newMemo[V any](ttl time.Duration, size int) *memo[V] {
	return &memo[V]{ttl: ttl, size: size, m: make(map[string]memoEntry[V]), flights: make(map[string]*memoFlight[V])}
}

// load returns the value of key from the cache when fresh, and otherwise
// reads it with read and caches it (as get, generation, read, put would).
// Loads of key that miss while a read is under way wait for it instead of
// reading too: when the entry of a user busy with many concurrent requests
// expires, they make one round trip, not one each. A read started before
// the last forget answers no one who came after it, nothing is shared
// while deaf, and when the read fails for another reason than ErrNotFound
// (its request's context ended, the store failed) each waiter reads for
// itself.
func (c *memo[V]) load(ctx context.Context, key string, now time.Time, read func() (V, error)) (V, error) {
	if v, ok := c.get(key, now); ok {
		return v, nil
	}
	c.mu.Lock()
	gen := c.gen
	f, wait := c.flights[key]
	wait = wait && f.gen == gen && !c.deaf
	var lead *memoFlight[V]
	if !wait && !c.deaf && c.ttl > 0 {
		lead = &memoFlight[V]{gen: gen, done: make(chan struct{}), err: errors.New("cache read aborted")}
		c.flights[key] = lead
	}
	c.mu.Unlock()
	if wait {
		if c.joined != nil {
			c.joined()
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
		if f.err == nil || errors.Is(f.err, gatehouse.ErrNotFound) {
			return f.v, f.err
		}
	}
	if lead != nil {
		defer func() {
			c.mu.Lock()
			if c.flights[key] == lead {
				delete(c.flights, key)
			}
			c.mu.Unlock()
			close(lead.done)
		}()
	}
	v, err := read()
	if lead != nil {
		lead.v, lead.err = v, err
	}
	if err == nil {
		c.put(key, v, now, gen)
	}
	return v, err
}

// get returns the cached value for key when it is fresh at now.
func (c *memo[V]) get(key string, now time.Time) (V, bool) {
	var zero V
	if c.ttl <= 0 {
		return zero, false
	}
	c.mu.Lock()
	e, ok := c.m[key]
	deaf := c.deaf
	c.mu.Unlock()
	if !ok || deaf || now.Sub(e.fetched) >= c.ttl || now.Before(e.fetched) {
		return zero, false
	}
	return e.v, true
}

// generation returns the counter to pass to put after a store read.
func (c *memo[V]) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches v for key, unless a forget happened since gen was taken.
func (c *memo[V]) put(key string, v V, now time.Time, gen uint64) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.deaf {
		return
	}
	if len(c.m) >= c.size {
		clear(c.m) // bounded; a miss costs one store read
	}
	c.m[key] = memoEntry[V]{v: v, fetched: now}
}

// replace swaps the value of a cached key, keeping its fetch time; a key
// no longer cached stays uncached.
func (c *memo[V]) replace(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		c.m[key] = memoEntry[V]{v: v, fetched: e.fetched}
	}
}

// forget drops key.
func (c *memo[V]) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.m, key)
}

// forgetWhere drops every value for which match is true.
func (c *memo[V]) forgetWhere(match func(V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, e := range c.m {
		if match(e.v) {
			delete(c.m, k)
		}
	}
}

// flush drops everything, as a forget of every key.
func (c *memo[V]) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}

// setDeaf flushes the cache and turns caching off (deaf) or back on.
// Either way the cache starts empty: while deaf, changes may have gone
// unheard.
func (c *memo[V]) setDeaf(deaf bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
	c.deaf = deaf
}
