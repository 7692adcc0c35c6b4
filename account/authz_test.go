package account_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sqlite"
)

var errStoreDown = errors.New("store down")

// flakyStore is a real store whose group and user listings fail while
// down is set.
type flakyStore struct {
	*sqlite.Store
	down atomic.Bool
}

func (f *flakyStore) Groups(ctx context.Context) ([]*gatehouse.Group, error) {
	if f.down.Load() {
		return nil, errStoreDown
	}
	return f.Store.Groups(ctx)
}

func (f *flakyStore) ListUsers(ctx context.Context, filter gatehouse.UserFilter) ([]*gatehouse.User, int, error) {
	if f.down.Load() {
		return nil, 0, errStoreDown
	}
	return f.Store.ListUsers(ctx, filter)
}

func newFlakyService(t *testing.T) (*account.Service, *flakyStore, *clock) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := &flakyStore{Store: db}
	clk := &clock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	sm := session.NewManager(store, session.DefaultConfig, clk.Now, nil)
	return account.New(account.StoresOf(store), password.NewHasher(cheap, 0, 0), sm, account.DefaultConfig, clk.Now, nil, nil), store, clk
}

// TestLastAdministratorGuardFailsClosed: when the store cannot tell whether
// a user is the last administrator, disabling, deleting or demoting them
// fails instead of going ahead.
func TestLastAdministratorGuardFailsClosed(t *testing.T) {
	ctx := context.Background()
	ops := []struct {
		name string
		do   func(svc *account.Service, id string) error
	}{
		{"disable", func(svc *account.Service, id string) error {
			_, err := svc.DisableUser(ctx, account.Actor{}, id)
			return err
		}},
		{"delete", func(svc *account.Service, id string) error { return svc.DeleteUser(ctx, account.Actor{}, id) }},
		{"demote", func(svc *account.Service, id string) error {
			_, err := svc.UpdateUser(ctx, account.Actor{}, id, account.UserUpdate{Groups: &[]string{}})
			return err
		}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			svc, store, clk := newFlakyService(t)
			root, err := svc.CreateUser(ctx, account.NewUser{Username: "root", Email: "root@example.com", Password: "a long enough password", Groups: []string{gatehouse.GroupAdministrators}})
			if err != nil {
				t.Fatal(err)
			}
			svc.CreateUser(ctx, account.NewUser{Username: "bob", Email: "bob@example.com", Password: "a long enough password"})
			// With the store up, the guard holds.
			if err := op.do(svc, root.ID); code(err) != gatehouse.CodeConflict {
				t.Fatalf("store up: err = %v, want conflict", err)
			}
			clk.Advance(time.Minute) // past the group cache
			store.down.Store(true)
			if err := op.do(svc, root.ID); err == nil {
				t.Error("went ahead though the store could not say who else is an administrator")
			}
			store.down.Store(false)
			u, err := store.UserByID(ctx, root.ID)
			if err != nil || u.State != gatehouse.StateActive || !slices.Contains(u.Groups, gatehouse.GroupAdministrators) {
				t.Errorf("the last administrator after the failure: %+v, %v", u, err)
			}
		})
	}
}

// TestTokenScopeFromTheCreatingCredential: a token created by a narrow
// credential (an API token's scope) is never broader than that credential,
// and "no permissions given" means the creator's, not all of the owner's.
func TestTokenScopeFromTheCreatingCredential(t *testing.T) {
	svc, _, _ := newService(t)
	ctx := context.Background()
	root, err := svc.CreateUser(ctx, account.NewUser{Username: "root", Email: "root@example.com", Password: "a long enough password", Groups: []string{gatehouse.GroupAdministrators}})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := svc.CreateUser(ctx, account.NewUser{Username: "bob", Email: "bob@example.com", Password: "a long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	narrow := account.Actor{User: root, Scope: []string{"section:users"}}
	cases := []struct {
		name  string
		a     account.Actor
		owner *gatehouse.User
		asked []string
		code  gatehouse.Code
		want  []string // the token's stored list
	}{
		{"narrow creator asks for *", narrow, root, []string{"*"}, gatehouse.CodePermissionDenied, nil},
		{"narrow creator asks for more", narrow, root, []string{"section:users", "section:settings"}, gatehouse.CodePermissionDenied, nil},
		{"narrow creator within scope", narrow, root, []string{"section:users"}, "", []string{"section:users"}},
		{"narrow creator asks for nothing", narrow, root, nil, "", []string{"section:users"}},
		{"creator with no permissions", account.Actor{User: root, Scope: []string{}}, root, nil, gatehouse.CodePermissionDenied, nil},
		{"session asks for nothing", account.Actor{User: root}, root, nil, "", []string{}},
		{"for a more powerful owner", account.Actor{User: bob}, root, []string{"section:users"}, gatehouse.CodePermissionDenied, nil},
		{"command line", account.Actor{}, root, nil, "", []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			secret, tok, err := svc.CreateToken(ctx, c.a, c.owner, account.NewToken{Name: "t", Permissions: c.asked})
			if code(err) != c.code {
				t.Fatalf("err = %v, want code %q", err, c.code)
			}
			if c.code != "" {
				return
			}
			if !slices.Equal(tok.Permissions, c.want) && !(len(tok.Permissions) == 0 && len(c.want) == 0) {
				t.Errorf("token permissions = %q, want %q", tok.Permissions, c.want)
			}
			_, _, perms, err := svc.AuthenticateToken(ctx, secret)
			if err != nil {
				t.Fatal(err)
			}
			if c.a.Scope != nil && !slices.Equal(perms, c.a.Scope) {
				t.Errorf("the token may do %q, more than its creator's %q", perms, c.a.Scope)
			}
		})
	}
}
