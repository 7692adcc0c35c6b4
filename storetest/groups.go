package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// wantGroups fails t unless Groups returns want.
func wantGroups(t *testing.T, s gatehouse.UserStore, want ...*gatehouse.Group) {
	t.Helper()
	got, err := s.Groups(t.Context())
	if err != nil {
		t.Fatalf("Groups: %v", err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("Groups mismatch (-want +got):\n%s", d)
	}
}

// wantGroup fails t unless Group(want.Name) returns want.
func wantGroup(t *testing.T, s gatehouse.UserStore, want *gatehouse.Group) {
	t.Helper()
	got, err := s.Group(t.Context(), want.Name)
	if err != nil {
		t.Fatalf("Group(%q): %v", want.Name, err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("Group(%q) mismatch (-want +got):\n%s", want.Name, d)
	}
}

// wantMembers fails t unless GroupMembers(name) returns the ids of want, in
// that order.
func wantMembers(t *testing.T, s gatehouse.UserStore, name string, want ...*gatehouse.User) {
	t.Helper()
	got, err := s.GroupMembers(t.Context(), name)
	if err != nil {
		t.Fatalf("GroupMembers(%q): %v", name, err)
	}
	var wantIDs []string
	for _, u := range want {
		wantIDs = append(wantIDs, u.ID)
	}
	if d := diff(wantIDs, got); d != "" {
		t.Errorf("GroupMembers(%q) mismatch (-want +got):\n%s", name, d)
	}
}

// sortedByID returns users sorted by id, the order of GroupMembers.
func sortedByID(users ...*gatehouse.User) []*gatehouse.User {
	users = slices.Clone(users)
	slices.SortFunc(users, func(a, b *gatehouse.User) int { return strings.Compare(a.ID, b.ID) })
	return users
}

// administrators is the group every new store has.
var administrators = &gatehouse.Group{Name: gatehouse.GroupAdministrators, Permissions: []string{gatehouse.PermissionAll}}

// RunGroups checks a gatehouse.UserStore's groups. newStore must return a
// new, empty, migrated store on every call. Besides the interface's doc
// comments, it holds stores to these rules:
//
//   - The group "administrators" with permission "*" exists in a new store.
//   - CreateGroup and PutGroup reject a group without a name with
//     CodeValidation. Group, DeleteGroup and GroupMembers return ErrNotFound
//     for a group that does not exist, and GroupMembers sorts the ids as
//     strings (byte-wise); a group without members has none, and no error.
func RunGroups(t *testing.T, newStore func(t *testing.T) gatehouse.UserStore) {
	t.Run("SeededAdministrators", func(t *testing.T) {
		wantGroups(t, newStore(t), administrators)
	})

	t.Run("PutGroupCreatesAndReplaces", func(t *testing.T) {
		s := newStore(t)
		editors := &gatehouse.Group{Name: "editors", Permissions: []string{"users:read", "users:write"}}
		check(t, s.PutGroup(t.Context(), editors))
		wantGroups(t, s, administrators, editors)

		// Members of a group stay members when it is replaced.
		u := newUser("alice")
		u.Groups = []string{gatehouse.GroupAdministrators, "editors"}
		createUser(t, s, u)

		editors = &gatehouse.Group{Name: "editors", Permissions: []string{"routes:read"}}
		check(t, s.PutGroup(t.Context(), editors))
		wantGroups(t, s, administrators, editors)
		wantUser(t, s, u)

		admins := &gatehouse.Group{Name: gatehouse.GroupAdministrators, Permissions: []string{gatehouse.PermissionAll, "extra"}}
		check(t, s.PutGroup(t.Context(), admins))
		wantGroups(t, s, admins, editors)
		wantUser(t, s, u)
	})

	t.Run("GroupsSortedByName", func(t *testing.T) {
		s := newStore(t)
		var groups []*gatehouse.Group
		// Lower case only: how upper case sorts is the collation's business.
		for _, name := range []string{"zeta", "beta", "alpha", "gamma"} {
			g := &gatehouse.Group{Name: name, Permissions: []string{name + ":read"}}
			check(t, s.PutGroup(t.Context(), g))
			groups = append(groups, g)
		}
		wantGroups(t, s, administrators, groups[2], groups[1], groups[3], groups[0])
	})

	t.Run("PermissionsKeepOrder", func(t *testing.T) {
		s := newStore(t)
		g := &gatehouse.Group{Name: "ops", Permissions: []string{"users:write", "audit:read", "users:read"}}
		check(t, s.PutGroup(t.Context(), g))
		wantGroups(t, s, administrators, g)
	})

	t.Run("NoPermissions", func(t *testing.T) {
		s := newStore(t)
		g := &gatehouse.Group{Name: "nobody"}
		check(t, s.PutGroup(t.Context(), g))
		wantGroups(t, s, administrators, g)
		wantGroup(t, s, g)
		g = &gatehouse.Group{Name: "empty", Permissions: []string{}}
		check(t, s.CreateGroup(t.Context(), g))
		wantGroup(t, s, g)
	})

	t.Run("PutGroupDescription", func(t *testing.T) {
		s := newStore(t)
		g := &gatehouse.Group{Name: "editors", Description: "Édite les utilisateurs.", Permissions: []string{"users:write"}}
		check(t, s.PutGroup(t.Context(), g))
		wantGroups(t, s, administrators, g)
		wantGroup(t, s, g)

		// Replacing a group replaces its description, down to none.
		g = &gatehouse.Group{Name: "editors", Description: "Edit users.", Permissions: []string{"users:write"}}
		check(t, s.PutGroup(t.Context(), g))
		wantGroup(t, s, g)
		g = &gatehouse.Group{Name: "editors", Permissions: []string{"users:write"}}
		check(t, s.PutGroup(t.Context(), g))
		wantGroup(t, s, g)

		admins := &gatehouse.Group{Name: gatehouse.GroupAdministrators, Description: "Everything.", Permissions: []string{gatehouse.PermissionAll}}
		check(t, s.PutGroup(t.Context(), admins))
		wantGroups(t, s, admins, g)
	})

	t.Run("PutGroupInvalid", func(t *testing.T) {
		s := newStore(t)
		wantCode(t, s.PutGroup(t.Context(), &gatehouse.Group{Description: "No name."}), gatehouse.CodeValidation)
		wantGroups(t, s, administrators)
	})

	t.Run("Group", func(t *testing.T) {
		s := newStore(t)
		wantGroup(t, s, administrators)
		g := &gatehouse.Group{Name: "ops", Description: "Operators", Permissions: []string{"users:read", "audit:read"}}
		check(t, s.PutGroup(t.Context(), g))
		wantGroup(t, s, g)
		wantGroup(t, s, administrators)

		for _, name := range []string{"nobody", "", "Administrators", "OPS", "op", "ops "} {
			got, err := s.Group(t.Context(), name)
			if err == nil {
				t.Errorf("Group(%q) = %+v, want ErrNotFound", name, got)
			}
			wantNotFound(t, err)
		}
	})

	t.Run("CreateGroup", func(t *testing.T) {
		s := newStore(t)
		g := &gatehouse.Group{Name: "editors", Description: "Edit users.", Permissions: []string{"users:write", "users:read"}}
		check(t, s.CreateGroup(t.Context(), g))
		wantGroup(t, s, g)
		wantGroups(t, s, administrators, g)
		wantMembers(t, s, g.Name)

		// A created group is one users can join.
		u := newUser("alice")
		u.Groups = []string{"editors"}
		createUser(t, s, u)
		wantMembers(t, s, g.Name, u)
	})

	t.Run("CreateGroupConflict", func(t *testing.T) {
		s := newStore(t)
		g := &gatehouse.Group{Name: "editors", Description: "Edit users.", Permissions: []string{"users:write"}}
		check(t, s.CreateGroup(t.Context(), g))
		u := newUser("alice")
		u.Groups = []string{"editors"}
		createUser(t, s, u)

		// A taken name is a conflict, and the group stays as it was, its
		// members too.
		dup := &gatehouse.Group{Name: "editors", Description: "Other.", Permissions: []string{"other"}}
		wantCode(t, s.CreateGroup(t.Context(), dup), gatehouse.CodeConflict)
		wantGroup(t, s, g)
		wantMembers(t, s, g.Name, u)

		admins := &gatehouse.Group{Name: gatehouse.GroupAdministrators}
		wantCode(t, s.CreateGroup(t.Context(), admins), gatehouse.CodeConflict)
		wantGroups(t, s, administrators, g)
	})

	t.Run("CreateGroupInvalid", func(t *testing.T) {
		s := newStore(t)
		err := s.CreateGroup(t.Context(), &gatehouse.Group{Description: "No name.", Permissions: []string{"x"}})
		wantCode(t, err, gatehouse.CodeValidation)
		wantGroups(t, s, administrators)
	})

	t.Run("DeleteGroup", func(t *testing.T) {
		s := newStore(t)
		putGroups(t, s, "editors", "viewers")
		alice := newUser("alice")
		alice.Groups = []string{gatehouse.GroupAdministrators, "editors", "viewers"}
		createUser(t, s, alice)
		bob := newUser("bob")
		bob.Groups = []string{"editors"}
		createUser(t, s, bob)

		check(t, s.DeleteGroup(t.Context(), "editors"))
		_, err := s.Group(t.Context(), "editors")
		wantNotFound(t, err)
		_, err = s.GroupMembers(t.Context(), "editors")
		wantNotFound(t, err)
		wantGroups(t, s, administrators, &gatehouse.Group{Name: "viewers", Permissions: []string{"viewers:read"}})

		// Its memberships went with it; the users and their other
		// memberships stay.
		alice.Groups = []string{gatehouse.GroupAdministrators, "viewers"}
		wantUser(t, s, alice)
		bob.Groups = nil
		wantUser(t, s, bob)
		wantCount(t, s, 2)
		wantMembers(t, s, "viewers", alice)

		wantNotFound(t, s.DeleteGroup(t.Context(), "editors"))
		wantNotFound(t, s.DeleteGroup(t.Context(), "nobody"))
		wantNotFound(t, s.DeleteGroup(t.Context(), "VIEWERS"))
		wantNotFound(t, s.DeleteGroup(t.Context(), ""))
		wantGroup(t, s, &gatehouse.Group{Name: "viewers", Permissions: []string{"viewers:read"}})

		// The name is free again, and the new group inherits no members.
		g := &gatehouse.Group{Name: "editors", Description: "New."}
		check(t, s.CreateGroup(t.Context(), g))
		wantGroup(t, s, g)
		wantMembers(t, s, "editors")
		wantUser(t, s, alice)
		wantUser(t, s, bob)
	})

	t.Run("DeleteAdministrators", func(t *testing.T) {
		// Whether the last administrators may go is the account layer's
		// business; the store deletes what it is told to.
		s := newStore(t)
		u := newUser("alice")
		u.Groups = []string{gatehouse.GroupAdministrators}
		createUser(t, s, u)
		check(t, s.DeleteGroup(t.Context(), gatehouse.GroupAdministrators))
		wantGroups(t, s)
		u.Groups = nil
		wantUser(t, s, u)
	})

	t.Run("GroupMembers", func(t *testing.T) {
		s := newStore(t)
		putGroups(t, s, "editors", "empty")
		var editors []*gatehouse.User
		for _, name := range []string{"alice", "bob", "carol", "dave", "erin"} {
			u := newUser(name)
			if name != "carol" {
				u.Groups = []string{"editors"}
				editors = append(editors, u)
			}
			createUser(t, s, u)
		}
		wantMembers(t, s, "editors", sortedByID(editors...)...)
		wantMembers(t, s, "empty")
		wantMembers(t, s, gatehouse.GroupAdministrators)

		// Memberships follow UpdateUser and DeleteUser.
		alice := editors[0]
		alice.Groups = []string{gatehouse.GroupAdministrators}
		check(t, s.UpdateUser(t.Context(), alice))
		check(t, s.DeleteUser(t.Context(), editors[1].ID))
		wantMembers(t, s, "editors", sortedByID(editors[2:]...)...)
		wantMembers(t, s, gatehouse.GroupAdministrators, alice)

		for _, name := range []string{"nobody", "", "Editors"} {
			_, err := s.GroupMembers(t.Context(), name)
			wantNotFound(t, err)
		}
	})
}
