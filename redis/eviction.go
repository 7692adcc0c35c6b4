package redis

import (
	"context"
	"errors"
	"fmt"
)

// ErrEvictionPolicyUnknown is what CheckEvictionPolicy returns when Redis
// will not say its eviction policy (CONFIG is disabled or not permitted, as
// on some managed services): the operator must make sure it is noeviction.
var ErrEvictionPolicyUnknown = errors.New("redis: cannot read maxmemory-policy (CONFIG GET refused); make sure it is noeviction")

// CheckEvictionPolicy returns an error unless Redis keeps every key until
// it expires or is deleted (maxmemory-policy noeviction). A Redis that
// evicts keys under memory pressure would fail open: an evicted throttle
// forgets its lock, and an evicted index entry makes a logout or a revoked
// session a no-op while the session's own key lives on. A Redis that will
// not tell is ErrEvictionPolicyUnknown.
func (s *Store) CheckEvictionPolicy(ctx context.Context) error {
	m, err := s.client.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		if ctx.Err() != nil {
			return internal("config get maxmemory-policy", err)
		}
		return fmt.Errorf("%w: %v", ErrEvictionPolicyUnknown, err)
	}
	policy, ok := m["maxmemory-policy"]
	if !ok {
		return ErrEvictionPolicyUnknown
	}
	if policy != "noeviction" {
		return fmt.Errorf("redis: maxmemory-policy is %s: Redis may evict gatehouse's keys under memory pressure, which would unlock throttled accounts and let revoked sessions live on; give gatehouse a Redis with maxmemory-policy noeviction", policy)
	}
	return nil
}
