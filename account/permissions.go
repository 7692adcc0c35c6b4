package account

import (
	"context"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse"
)

// cachedGroups is every group's permissions, read at once and trusted for
// UserCacheTTL; every group change made through this Service clears it, so
// a permission change applies to the very next request.
type cachedGroups struct {
	perms   map[string][]string
	fetched time.Time
}

func (s *Service) groupPermissions(ctx context.Context) (map[string][]string, error) {
	now := s.now()
	s.mu.Lock()
	g := s.groups
	s.mu.Unlock()
	if g.perms != nil && s.cfg.UserCacheTTL > 0 && now.Sub(g.fetched) < s.cfg.UserCacheTTL && !now.Before(g.fetched) {
		return g.perms, nil
	}
	groups, err := s.store.Groups(ctx)
	if err != nil {
		return nil, err
	}
	perms := make(map[string][]string, len(groups))
	for _, gr := range groups {
		perms[gr.Name] = gr.Permissions
	}
	s.mu.Lock()
	s.groups = cachedGroups{perms: perms, fetched: now}
	s.mu.Unlock()
	return perms, nil
}

func (s *Service) forgetGroups() {
	s.mu.Lock()
	s.groups = cachedGroups{}
	s.mu.Unlock()
}

// Permissions returns the effective permissions of a user: the union of
// its groups' permissions, sorted.
func (s *Service) Permissions(ctx context.Context, u *gatehouse.User) ([]string, error) {
	if len(u.Groups) == 0 {
		return []string{}, nil
	}
	byGroup, err := s.groupPermissions(ctx)
	if err != nil {
		return nil, err
	}
	perms := []string{}
	for _, g := range u.Groups {
		perms = append(perms, byGroup[g]...)
	}
	slices.Sort(perms)
	return slices.Compact(perms), nil
}
