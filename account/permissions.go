package account

import (
	"context"
	"slices"

	"github.com/gatehouse/gatehouse"
)

// allGroups is the one key of Service.groups: every group, read at once
// and trusted for UserCacheTTL. Every group change made through this
// Service forgets it, so a permission change applies to the very next
// request.
const allGroups = ""

// groupsByName returns every group by name, from the cache when fresh.
func (s *Service) groupsByName(ctx context.Context) (map[string]*gatehouse.Group, error) {
	now := s.now()
	if byName, ok := s.groups.get(allGroups, now); ok {
		return byName, nil
	}
	gen := s.groups.generation()
	groups, err := s.stores.Users.Groups(ctx)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]*gatehouse.Group, len(groups))
	for _, gr := range groups {
		byName[gr.Name] = gr
	}
	s.groups.put(allGroups, byName, now, gen)
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

// forgetGroups drops the cached groups, here and in the other processes.
func (s *Service) forgetGroups() {
	s.groups.forget(allGroups)
	s.publish(gatehouse.Invalidation{Kind: gatehouse.InvalidateGroups})
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
