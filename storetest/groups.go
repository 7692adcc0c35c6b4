package storetest

import (
	"testing"

	"github.com/gatehouse/gatehouse"
)

// wantGroups fails t unless Groups returns want.
func wantGroups(t *testing.T, s gatehouse.Store, want ...*gatehouse.Group) {
	t.Helper()
	got, err := s.Groups(t.Context())
	if err != nil {
		t.Fatalf("Groups: %v", err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("Groups mismatch (-want +got):\n%s", d)
	}
}

// administrators is the group every new store has.
var administrators = &gatehouse.Group{Name: gatehouse.GroupAdministrators, Permissions: []string{gatehouse.PermissionAll}}

func testGroups(t *testing.T, newStore func(t *testing.T) gatehouse.Store) {
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
	})
}
