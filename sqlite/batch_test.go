package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/sqlite"
)

// batchCase is a batch of users to create over existing ones, and the
// outcome expected of each.
func batchCase() (existing, batch []*gatehouse.User, want []gatehouse.Code) {
	mk := func(username, email string, groups ...string) *gatehouse.User {
		u := testUser(username)
		u.Email = email
		u.Groups = groups
		return u
	}
	existing = []*gatehouse.User{mk("alice", "alice@example.com"), mk("bob", "bob@example.com", gatehouse.GroupAdministrators)}
	dupID := mk("dupid", "dupid@example.com")
	dupID.ID = existing[0].ID
	noEmail := mk("noemail", "")
	badState := mk("badstate", "badstate@example.com")
	badState.State = "sleeping"
	rows := []struct {
		u    *gatehouse.User
		want gatehouse.Code
	}{
		{mk("carol", "carol@example.com", gatehouse.GroupAdministrators, gatehouse.GroupAdministrators), ""},
		{mk("ALICE", "alice2@example.com"), gatehouse.CodeConflict},         // username of an existing user, folded
		{mk("alice3", "Bob@Example.com"), gatehouse.CodeConflict},           // email of an existing user, folded
		{mk("bob@example.com", "bob2@example.com"), gatehouse.CodeConflict}, // username = another's email
		{mk("dave", "alice"), gatehouse.CodeConflict},                       // email = another's username
		{mk("Carol", "carol2@example.com"), gatehouse.CodeConflict},         // an earlier user of the batch
		{mk("erin", "CAROL@example.com"), gatehouse.CodeConflict},           // an earlier user's email
		{mk("ſtan", "stan@example.com"), ""},                                // long s
		{mk("STAN", "stan2@example.com"), gatehouse.CodeConflict},           // folds to ſtan
		{mk("frank", "frank@example.com", "no-such-group"), gatehouse.CodeValidation},
		{mk("frank", "frank@example.com", gatehouse.GroupAdministrators), ""}, // the refused frank left no trace
		{dupID, gatehouse.CodeConflict},
		{noEmail, gatehouse.CodeValidation},
		{badState, gatehouse.CodeValidation},
		{mk("grace", "grace@example.com"), ""},
	}
	for _, r := range rows {
		batch = append(batch, r.u)
		want = append(want, r.want)
	}
	return existing, batch, want
}

// storedUsers returns every user, without the fields a store fills.
func storedUsers(t *testing.T, s *sqlite.Store) []*gatehouse.User {
	t.Helper()
	users, _, err := s.ListUsers(t.Context(), gatehouse.UserFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return users
}

// TestCreateUsersLikeCreateUser creates the same users one by one with
// CreateUser and at once with CreateUsers, over the same existing users:
// each user gets the same answer, and the stores end up the same.
func TestCreateUsersLikeCreateUser(t *testing.T) {
	ctx := t.Context()
	existing, batch, want := batchCase()

	one := open(t, filepath.Join(t.TempDir(), "one.db"))
	many := open(t, filepath.Join(t.TempDir(), "many.db"))
	for _, s := range []*sqlite.Store{one, many} {
		for _, u := range existing {
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
	}

	var oneErrs []error
	for _, u := range batch {
		oneErrs = append(oneErrs, one.CreateUser(ctx, u))
	}
	manyErrs := many.CreateUsers(ctx, batch)
	if len(manyErrs) != len(batch) {
		t.Fatalf("CreateUsers returned %d results for %d users", len(manyErrs), len(batch))
	}
	for i, u := range batch {
		if got := gatehouse.ErrorCode(oneErrs[i]); got != want[i] && !(want[i] == "" && oneErrs[i] == nil) {
			t.Errorf("CreateUser(%s) = %v, want code %q", u.Username, oneErrs[i], want[i])
		}
		if want[i] == "" {
			if manyErrs[i] != nil {
				t.Errorf("CreateUsers: %s refused: %v", u.Username, manyErrs[i])
			}
			continue
		}
		var ge *gatehouse.Error
		if !asError(manyErrs[i], &ge) {
			t.Errorf("CreateUsers: %s: %v (%T), want a *gatehouse.Error", u.Username, manyErrs[i], manyErrs[i])
			continue
		}
		if ge.Code != want[i] {
			t.Errorf("CreateUsers: %s: %v, want code %q", u.Username, ge, want[i])
		}
		// The same message and fields as CreateUser's.
		var oge *gatehouse.Error
		if asError(oneErrs[i], &oge) && (oge.Message != ge.Message || !cmp.Equal(oge.Fields, ge.Fields)) {
			t.Errorf("CreateUsers: %s: %q %v; CreateUser said %q %v", u.Username, ge.Message, ge.Fields, oge.Message, oge.Fields)
		}
	}

	// Versions are random: each store's users have their own.
	ignoreVersion := cmpopts.IgnoreFields(gatehouse.User{}, "Version")
	if diff := cmp.Diff(storedUsers(t, one), storedUsers(t, many), ignoreVersion); diff != "" {
		t.Errorf("stores differ (-CreateUser +CreateUsers):\n%s", diff)
	}
	// carol's duplicated group is stored once.
	if u, err := many.UserByLogin(ctx, "carol"); err != nil || !cmp.Equal(u.Groups, []string{gatehouse.GroupAdministrators}) {
		t.Errorf("carol: %+v, %v", u, err)
	}
}

func asError(err error, target **gatehouse.Error) bool {
	ge, ok := err.(*gatehouse.Error)
	if ok {
		*target = ge
	}
	return ok
}

func TestCreateUsersEmpty(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	if errs := s.CreateUsers(t.Context(), nil); len(errs) != 0 {
		t.Errorf("CreateUsers(nil) = %v", errs)
	}
}

// TestCreateUsersCancelled checks that a failed transaction writes nothing
// and answers its error for every user.
func TestCreateUsersCancelled(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	batch := []*gatehouse.User{testUser("a"), testUser("b")}
	errs := s.CreateUsers(ctx, batch)
	for i, err := range errs {
		if err == nil {
			t.Errorf("user %d: nil error from a cancelled batch", i)
		}
	}
	if n, err := s.CountUsers(t.Context()); err != nil || n != 0 {
		t.Errorf("CountUsers = %d, %v; want 0", n, err)
	}
}

// TestCreateUsersMany creates a few thousand users in batches, with
// memberships, and finds each of them.
func TestCreateUsersMany(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	const total, size = 2500, 1000 // the last batch is partial
	for start := 0; start < total; start += size {
		var batch []*gatehouse.User
		for i := start; i < min(start+size, total); i++ {
			batch = append(batch, testUser(fmt.Sprintf("user%05d", i)))
		}
		for i, err := range s.CreateUsers(ctx, batch) {
			if err != nil {
				t.Fatalf("%s: %v", batch[i].Username, err)
			}
		}
	}
	if n, err := s.CountUsers(ctx); err != nil || n != total {
		t.Fatalf("CountUsers = %d, %v; want %d", n, err, total)
	}
	members, err := s.GroupMembers(ctx, gatehouse.GroupAdministrators)
	if err != nil || len(members) != total {
		t.Errorf("GroupMembers = %d, %v; want %d", len(members), err, total)
	}
	if u, err := s.UserByLogin(ctx, "USER02499@example.com"); err != nil || u.Username != "user02499" {
		t.Errorf("UserByLogin = %+v, %v", u, err)
	}
}
