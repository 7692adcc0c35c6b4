package redis_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse"
)

// TestCreateSessions: more sessions than one pipeline holds are stored as
// CreateSession stores them (read back field for field, listed for their
// user), and a taken token hash or id is refused for that session alone.
// (The NOSCRIPT fallback is not exercised: SCRIPT FLUSH would touch every
// user of the shared test server.)
func TestCreateSessions(t *testing.T) {
	s, _, _ := open(t)
	ctx := t.Context()
	first := newSession(clock, "taken")
	if err := s.CreateSession(ctx, first); err != nil {
		t.Fatal(err)
	}
	var batch []*gatehouse.Session
	for i := range 1203 {
		batch = append(batch, newSession(clock, fmt.Sprint("secret-", i)))
	}
	sameHash := newSession(clock, "taken")
	sameID := newSession(clock, "fresh")
	sameID.ID = first.ID
	batch[7], batch[600] = sameHash, sameID

	errs := s.CreateSessions(ctx, batch)
	if len(errs) != len(batch) {
		t.Fatalf("CreateSessions returned %d results for %d sessions", len(errs), len(batch))
	}
	for i, err := range errs {
		if i == 7 || i == 600 {
			if gatehouse.ErrorCode(err) != gatehouse.CodeConflict {
				t.Errorf("session %d (taken): %v, want CodeConflict", i, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		got, err := s.SessionByTokenHash(ctx, batch[i].TokenHash)
		if err != nil {
			t.Fatalf("SessionByTokenHash(session %d): %v", i, err)
		}
		if diff := cmp.Diff(batch[i], got); diff != "" {
			t.Fatalf("session %d read back (-created +read):\n%s", i, diff)
		}
	}
	if got, err := s.SessionByTokenHash(ctx, first.TokenHash); err != nil || got.ID != first.ID {
		t.Errorf("the first session after the conflicts: %v, %v", got, err)
	}
	list, err := s.UserSessions(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(batch)-2+1 {
		t.Errorf("UserSessions lists %d sessions, want %d", len(list), len(batch)-1)
	}

}
