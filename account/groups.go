package account

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
)

// ListGroups returns every group, sorted by name.
func (s *Service) ListGroups(ctx context.Context) ([]*gatehouse.Group, error) {
	return s.stores.Users.Groups(ctx)
}

// Group returns a group by name.
func (s *Service) Group(ctx context.Context, name string) (*gatehouse.Group, error) {
	return s.stores.Users.Group(ctx, name)
}

// GroupMembers returns the ids of a group's members.
func (s *Service) GroupMembers(ctx context.Context, name string) ([]string, error) {
	return s.stores.Users.GroupMembers(ctx, name)
}

// ValidGroupName reports whether n is a well-formed group name: 1 to 64
// lower-case letters, digits, '-', '_' or '.'.
func ValidGroupName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for _, c := range n {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func validateGroup(g *gatehouse.Group) error {
	fields := map[string]string{}
	if !ValidGroupName(g.Name) {
		fields["name"] = "Name must be 1–64 lower-case letters, digits, '-', '_' or '.'."
	}
	if utf8.RuneCountInString(g.Description) > 500 {
		fields["description"] = "Description must be at most 500 characters."
	}
	for _, p := range g.Permissions {
		if !gatehouse.ValidPermission(p) {
			fields["permissions"] = strconv.Quote(p) + " is not a valid permission."
			break
		}
	}
	if len(fields) > 0 {
		return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The group is not valid.", Fields: fields}
	}
	return nil
}

func normalizePermissions(p []string) []string {
	p = slices.Clone(p)
	slices.Sort(p)
	p = slices.Compact(p)
	if p == nil {
		p = []string{}
	}
	return p
}

// CreateGroup creates a group.
func (s *Service) CreateGroup(ctx context.Context, a Actor, g *gatehouse.Group) error {
	g.Permissions = normalizePermissions(g.Permissions)
	if err := validateGroup(g); err != nil {
		return err
	}
	if err := s.checkGroupChange(ctx, a, g.Permissions, "create this group"); err != nil {
		return err
	}
	if err := s.stores.Users.CreateGroup(ctx, g); err != nil {
		return err
	}
	s.forgetGroups()
	s.record(ctx, a, gatehouse.AuditGroupCreated, g.Name, map[string]string{"permissions": joinPerms(g.Permissions)})
	return nil
}

// UpdateGroup replaces a group's description and permissions. The change
// applies to every member's very next request.
func (s *Service) UpdateGroup(ctx context.Context, a Actor, g *gatehouse.Group) error {
	g.Permissions = normalizePermissions(g.Permissions)
	if err := validateGroup(g); err != nil {
		return err
	}
	old, err := s.stores.Users.Group(ctx, g.Name)
	if err != nil {
		return err
	}
	if err := s.checkGroupChange(ctx, a, append(slices.Clone(g.Permissions), old.Permissions...), "change this group"); err != nil {
		return err
	}
	if slices.Contains(old.Permissions, gatehouse.PermissionAll) && !slices.Contains(g.Permissions, gatehouse.PermissionAll) {
		if err := s.keepAdministratorsWithout(ctx, g.Name); err != nil {
			return err
		}
	}
	if err := s.stores.Users.PutGroup(ctx, g); err != nil {
		return err
	}
	s.forgetGroups()
	s.record(ctx, a, gatehouse.AuditGroupUpdated, g.Name, map[string]string{"permissions": joinPerms(g.Permissions)})
	return nil
}

// DeleteGroup deletes a group; its members lose its permissions at once.
func (s *Service) DeleteGroup(ctx context.Context, a Actor, name string) error {
	g, err := s.stores.Users.Group(ctx, name)
	if err != nil {
		return err
	}
	// Deleting a group takes its permissions from its members: only an
	// actor who could have given them may.
	if err := s.checkGroupChange(ctx, a, g.Permissions, "delete this group"); err != nil {
		return err
	}
	if slices.Contains(g.Permissions, gatehouse.PermissionAll) {
		if err := s.keepAdministratorsWithout(ctx, name); err != nil {
			return err
		}
	}
	members, err := s.stores.Users.GroupMembers(ctx, name)
	if err != nil {
		return err
	}
	if err := s.stores.Users.DeleteGroup(ctx, name); err != nil {
		return err
	}
	s.forgetGroups()
	for _, id := range members {
		s.forgetUser(id) // their Groups list changed
	}
	s.record(ctx, a, gatehouse.AuditGroupDeleted, name, nil)
	return nil
}

// keepAdministratorsWithout refuses to take "*" away from group name when
// no active user would hold "*" through another group.
func (s *Service) keepAdministratorsWithout(ctx context.Context, name string) error {
	groups, err := s.stores.Users.Groups(ctx)
	if err != nil {
		return err
	}
	users, _, err := s.stores.Users.ListUsers(ctx, gatehouse.UserFilter{State: gatehouse.StateActive})
	if err != nil {
		return err
	}
	for _, u := range users {
		for _, g := range groups {
			if g.Name != name && slices.Contains(u.Groups, g.Name) && slices.Contains(g.Permissions, gatehouse.PermissionAll) {
				return nil
			}
		}
	}
	return gatehouse.Errorf(gatehouse.CodeConflict, "This would leave no active administrator.")
}

// EnsureGroups creates the groups of the configuration that do not exist
// yet; existing groups are left as they are (they may have been edited).
func (s *Service) EnsureGroups(ctx context.Context, groups map[string][]string) error {
	for name, perms := range groups {
		g := &gatehouse.Group{Name: name, Permissions: normalizePermissions(perms)}
		if err := validateGroup(g); err != nil {
			return err
		}
		err := s.stores.Users.CreateGroup(ctx, g)
		if err != nil && gatehouse.ErrorCode(err) != gatehouse.CodeConflict {
			return err
		}
	}
	s.forgetGroups()
	return nil
}

func joinPerms(p []string) string { return strings.Join(p, ",") }

func itoa(n int) string { return strconv.Itoa(n) }

// errEscalation refuses a change that would give away (or take away)
// permissions the actor does not hold.
func errEscalation(what string) error {
	return gatehouse.Errorf(gatehouse.CodePermissionDenied, "You cannot %s: it involves permissions you do not hold.", what)
}

// actorPermissions returns what the actor may do — the permissions of the
// credential that authenticated it: a.Scope cut down to what a.User holds
// now, or all of a.User's when a.Scope is nil — or nil and false for the
// command line (no user), which may do anything.
func (s *Service) actorPermissions(ctx context.Context, a Actor) ([]string, bool, error) {
	if a.User == nil {
		return nil, false, nil
	}
	perms, err := s.Permissions(ctx, a.User)
	if err != nil {
		return nil, true, err
	}
	if a.Scope != nil {
		perms = limitPermissions(a.Scope, perms)
	}
	return perms, true, nil
}

// limitPermissions returns the permissions of scope that held grants,
// never nil: what a credential limited to scope may do for a user
// holding held.
func limitPermissions(scope, held []string) []string {
	out := make([]string, 0, len(scope))
	for _, p := range scope {
		if gatehouse.HasPermission(held, p) {
			out = append(out, p)
		}
	}
	return out
}

// holdsAllOf reports whether have grants every permission of want.
func holdsAllOf(have, want []string) bool {
	for _, p := range want {
		if p == gatehouse.PermissionAll {
			if !slices.Contains(have, gatehouse.PermissionAll) {
				return false
			}
			continue
		}
		if !gatehouse.HasPermission(have, p) {
			return false
		}
	}
	return true
}

// checkGrant refuses, for an actor who is a user, putting anyone into
// groups whose permissions the actor does not all hold: a helpdesk user
// with section:users must not be able to make anybody an administrator.
func (s *Service) checkGrant(ctx context.Context, a Actor, groups []string, what string) error {
	have, limited, err := s.actorPermissions(ctx, a)
	if err != nil || !limited || len(groups) == 0 {
		return err
	}
	byName, err := s.groupsByName(ctx)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if !holdsAllOf(have, groupPermissions(byName, g)) {
			return errEscalation(what)
		}
	}
	return nil
}

// checkGroupChange refuses, for an actor who is a user, creating, changing
// or deleting a group with permissions the actor does not hold: perms are
// the group's permissions before and after. what completes "You cannot …".
func (s *Service) checkGroupChange(ctx context.Context, a Actor, perms []string, what string) error {
	have, limited, err := s.actorPermissions(ctx, a)
	if err != nil || !limited {
		return err
	}
	if !holdsAllOf(have, perms) {
		return errEscalation(what)
	}
	return nil
}

// actOn loads the user with id for an operation by a on their account —
// its state, identity, credentials, sessions, tokens, invitation, devices
// or factors — and refuses it unless a may act on them (see checkActsOn).
// Every use case that acts on a user named by the caller starts here.
func (s *Service) actOn(ctx context.Context, a Actor, id, what string) (*gatehouse.User, error) {
	u, err := s.stores.Users.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.checkActsOn(ctx, a, u, what); err != nil {
		return nil, err
	}
	return u, nil
}

// checkActsOn refuses, for an actor who is a user, acting on the account of
// target unless the actor's credential holds every permission target
// holds: nobody acts on a more powerful account — not to take it over
// (email, reset, second factor), nor to disable, enable, delete or unlock
// it, nor to end its sessions or revoke its tokens and invitation. A
// narrow API token is refused even on its own owner. what completes "You
// cannot …".
func (s *Service) checkActsOn(ctx context.Context, a Actor, target *gatehouse.User, what string) error {
	have, limited, err := s.actorPermissions(ctx, a)
	if err != nil || !limited {
		return err
	}
	theirs, err := s.Permissions(ctx, target)
	if err != nil {
		return err
	}
	if !holdsAllOf(have, theirs) {
		return gatehouse.Errorf(gatehouse.CodePermissionDenied, "You cannot %s of a user who holds permissions you do not.", what)
	}
	return nil
}

// checkActsOnID is checkActsOn for the owner of a session or token, by id.
// A guest session (no owner) or an owner who no longer exists has nothing
// to protect.
func (s *Service) checkActsOnID(ctx context.Context, a Actor, userID, what string) error {
	if a.User == nil || userID == "" {
		return nil
	}
	u, err := s.stores.Users.UserByID(ctx, userID)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.checkActsOn(ctx, a, u, what)
}
