package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatehouse/gatehouse"
)

// TestSnapshotReadsWhatWasWritten writes records through the store and
// finds each in the snapshot as the store's own reads return it: audit
// events in the order appended (not by id or time), two-factor settings
// with their recovery codes, identities by provider and subject (not in
// the order linked), throttles with their keys.
func TestSnapshotReadsWhatWasWritten(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	u := &gatehouse.User{ID: "u1", Username: "alice", Email: "alice@example.com", State: gatehouse.StateActive,
		Groups: []string{gatehouse.GroupAdministrators}, CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	tf := &gatehouse.TwoFactor{UserID: "u1", TOTPSecret: []byte("sealed"), RecoveryCodes: [][]byte{[]byte("b"), []byte("a")}, UpdatedAt: t0}
	if err := s.PutTwoFactor(ctx, tf); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"e2", "e3", "e1"} {
		if err := s.AppendAudit(ctx, &gatehouse.AuditEvent{ID: id, Time: t0, Kind: gatehouse.AuditLogout}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddFailure(ctx, "user:alice", t0, gatehouse.ThrottleRule{MaxFailures: 5, Window: time.Hour, Lockout: time.Hour}); err != nil {
		t.Fatal(err)
	}

	// Created out of their order: the snapshot has them by provider and
	// subject.
	for _, id := range []*gatehouse.Identity{
		{Provider: "google", Subject: "b", UserID: "u1", LinkedAt: t0, LastUsedAt: t0},
		{Provider: "github", Subject: "z", UserID: "u1", Email: "alice@example.com", EmailVerified: true, LinkedAt: t0, LastUsedAt: t0.Add(time.Hour)},
	} {
		if err := s.CreateIdentity(ctx, id); err != nil {
			t.Fatal(err)
		}
	}

	snap, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	storedIdentities, _ := s.UserIdentities(ctx, "u1")
	storedUser, _ := s.UserByID(ctx, "u1")
	storedTF, _ := s.TwoFactor(ctx, "u1")
	storedThrottle, _ := s.Throttle(ctx, "user:alice")
	want := &gatehouse.Snapshot{
		Users:      []*gatehouse.User{storedUser},
		Groups:     []*gatehouse.Group{{Name: gatehouse.GroupAdministrators, Permissions: []string{"*"}}},
		TwoFactors: []*gatehouse.TwoFactor{storedTF},
		Identities: storedIdentities,
		Throttles:  []gatehouse.Throttle{storedThrottle},
		Audit: []*gatehouse.AuditEvent{
			{ID: "e2", Time: t0, Kind: gatehouse.AuditLogout},
			{ID: "e3", Time: t0, Kind: gatehouse.AuditLogout},
			{ID: "e1", Time: t0, Kind: gatehouse.AuditLogout},
		},
	}
	if diff := cmp.Diff(want, snap, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Snapshot (-want +got):\n%s", diff)
	}
	if len(storedIdentities) != 2 || storedIdentities[0].Provider != "github" || storedThrottle.Key != "user:alice" || storedThrottle.Failures != 1 || len(storedTF.RecoveryCodes) != 2 {
		t.Errorf("the records compared are not the ones written: %+v, %+v", storedThrottle, storedTF)
	}
}

// TestSnapshotRefusesUnknownTables checks that a table Snapshot does not
// copy (one a later migration added, say) fails the snapshot rather than
// being left behind.
func TestSnapshotRefusesUnknownTables(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Snapshot(ctx); err != nil {
		t.Fatalf("Snapshot of a new database: %v", err)
	}
	if _, err := s.writer.ExecContext(ctx, `CREATE TABLE passkeys (id TEXT PRIMARY KEY) STRICT`); err != nil {
		t.Fatal(err)
	}
	_, err = s.Snapshot(ctx)
	if err == nil || !strings.Contains(err.Error(), "(passkeys)") {
		t.Fatalf("Snapshot with an unknown table = %v, want an error naming it", err)
	}
}
