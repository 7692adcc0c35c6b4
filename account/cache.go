package account

import (
	"sync"
	"time"
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
}

type memoEntry[V any] struct {
	v       V
	fetched time.Time
}

func newMemo[V any](ttl time.Duration, size int) *memo[V] {
	return &memo[V]{ttl: ttl, size: size, m: make(map[string]memoEntry[V])}
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
