package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/storetest"
)

func TestIdentities(t *testing.T) {
	storetest.RunIdentities(t, func(t *testing.T) storetest.IdentityStores {
		s := open(t)
		return storetest.IdentityStores{IdentityStore: s, UserStore: s}
	})
}

// A provider's claims are not checked to be UTF-8 before they reach the
// store: a subject or email PostgreSQL cannot hold is a validation error
// naming the field, never an internal one, and stores nothing; looking
// such a subject up finds nothing.
func TestIdentityText(t *testing.T) {
	s := open(t)
	alice := testUser(t, s, "alice")
	now := time.Date(2025, time.March, 14, 15, 0, 0, 0, time.UTC)
	for field, id := range map[string]*gatehouse.Identity{
		"subject": {Provider: "google", Subject: "sub\xff", UserID: alice.ID, LinkedAt: now, LastUsedAt: now},
		"email":   {Provider: "google", Subject: "sub", UserID: alice.ID, Email: "a\x00@example.com", LinkedAt: now, LastUsedAt: now},
	} {
		err := s.CreateIdentity(t.Context(), id)
		var ge *gatehouse.Error
		if !errors.As(err, &ge) || ge.Code != gatehouse.CodeValidation || ge.Fields[field] == "" {
			t.Errorf("CreateIdentity with a bad %s = %v, want CodeValidation naming it", field, err)
		}
		if _, err := s.IdentityBySubject(t.Context(), id.Provider, id.Subject); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("IdentityBySubject after the refused create (%s) = %v, want ErrNotFound", field, err)
		}
		if err := s.TouchIdentity(t.Context(), id.Provider, id.Subject, now); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("TouchIdentity of a bad %s = %v, want ErrNotFound", field, err)
		}
	}
	ids, err := s.UserIdentities(t.Context(), alice.ID)
	if err != nil || len(ids) != 0 {
		t.Errorf("UserIdentities after the refused creates = %v, %v; want none", ids, err)
	}
	if err := s.DeleteIdentity(t.Context(), alice.ID, "goo\xffgle"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("DeleteIdentity of a bad provider = %v, want ErrNotFound", err)
	}
}
