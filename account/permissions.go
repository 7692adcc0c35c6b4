package account

import (
	"context"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse"
)

// cachedGroups is every group, read at once and trusted for UserCacheTTL;
// every group change made through this Service clears it, so a permission
// change applies to the very next request.
type cachedGroups struct {
	byName  map[string]*gatehouse.Group
	fetched time.Time
}

// groupsByName returns every group by name, from the cache when fresh.
func (s *Service) groupsByName(ctx context.Context) (map[string]*gatehouse.Group, error) {
	now := s.now()
	s.mu.Lock()
	g := s.groups
	s.mu.Unlock()
	if g.byName != nil && s.cfg.UserCacheTTL > 0 && now.Sub(g.fetched) < s.cfg.UserCacheTTL && !now.Before(g.fetched) {
		return g.byName, nil
	}
	groups, err := s.stores.Users.Groups(ctx)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]*gatehouse.Group, len(groups))
	for _, gr := range groups {
		byName[gr.Name] = gr
	}
	s.mu.Lock()
	s.groups = cachedGroups{byName: byName, fetched: now}
	s.mu.Unlock()
	return byName, nil
}

// groupPermissions returns the permissions of the named group (none for
// a group that does not exist).
func groupPermissions(byName map[string]*gatehouse.Group, name string) []string {
	if g := byName[name]; g != nil {
		return g.Permissions
	}
	return nil
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
	byName, err := s.groupsByName(ctx)
	if err != nil {
		return nil, err
	}
	perms := []string{}
	for _, g := range u.Groups {
		perms = append(perms, groupPermissions(byName, g)...)
	}
	slices.Sort(perms)
	return slices.Compact(perms), nil
}

// GroupsWithin returns those of u's groups whose every permission perms
// grants: the groups a credential limited to perms (an API token with a
// list) may claim to an application, which may decide by group.
func (s *Service) GroupsWithin(ctx context.Context, u *gatehouse.User, perms []string) ([]string, error) {
	if len(u.Groups) == 0 {
		return []string{}, nil
	}
	byName, err := s.groupsByName(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(u.Groups))
	for _, g := range u.Groups {
		if holdsAllOf(perms, groupPermissions(byName, g)) {
			out = append(out, g)
		}
	}
	return out, nil
}
