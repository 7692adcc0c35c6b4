package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/storetest"
)

func TestDevices(t *testing.T) {
	storetest.RunDevices(t, func(t *testing.T) storetest.DeviceStores {
		s := open(t)
		return storetest.DeviceStores{DeviceStore: s, UserStore: s, SessionStore: sessionStore(t, s), PendingLoginStore: s}
	})
}

// A browser may send a User-Agent that is not UTF-8 (net/http passes bytes
// 0x80 to 0xFF through): remembering it is a validation error naming the
// field, never an internal one, and stores nothing.
func TestDeviceUserAgentText(t *testing.T) {
	s := open(t)
	alice := testUser(t, s, "alice")
	now := time.Date(2025, time.March, 14, 15, 0, 0, 0, time.UTC)
	d := &gatehouse.Device{ID: gatehouse.NewID(), TokenHash: []byte("hash"), UserID: alice.ID,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), UserAgent: "Mozilla/5.0 \xff\xfe"}
	err := s.CreateDevice(t.Context(), d)
	var ge *gatehouse.Error
	if !errors.As(err, &ge) || ge.Code != gatehouse.CodeValidation || ge.Fields["user_agent"] == "" {
		t.Errorf("CreateDevice with a non-UTF-8 User-Agent = %v, want CodeValidation naming user_agent", err)
	}
	if _, err := s.DeviceByTokenHash(t.Context(), d.TokenHash); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("DeviceByTokenHash after the refused create = %v, want ErrNotFound", err)
	}
}

// MoveDevices moves exactly the user's devices of one session, which then
// go with that session's new id.
func TestMoveDevices(t *testing.T) {
	s := open(t)
	alice, bob := testUser(t, s, "alice"), testUser(t, s, "bob")
	now := time.Date(2025, time.March, 14, 15, 0, 0, 0, time.UTC)
	device := func(userID, sessionID, secret string) *gatehouse.Device {
		d := &gatehouse.Device{ID: gatehouse.NewID(), TokenHash: []byte(secret), UserID: userID, SessionID: sessionID,
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.CreateDevice(t.Context(), d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	a1, a1b, a2, none := device(alice.ID, "s1", "a1"), device(alice.ID, "s1", "a1b"), device(alice.ID, "s2", "a2"), device(alice.ID, "", "none")
	b1 := device(bob.ID, "s1", "b1")
	wantSession := func(d *gatehouse.Device, want string) {
		t.Helper()
		got, err := s.DeviceByTokenHash(t.Context(), d.TokenHash)
		if err != nil {
			t.Fatal(err)
		}
		if got.SessionID != want {
			t.Errorf("device %s has session %q, want %q", d.TokenHash, got.SessionID, want)
		}
	}
	wantMoved := func(from, to string, want int) {
		t.Helper()
		n, err := s.MoveDevices(t.Context(), alice.ID, from, to)
		if err != nil || n != want {
			t.Errorf("MoveDevices(alice, %q, %q) = %d, %v; want %d", from, to, n, err, want)
		}
	}

	wantMoved("s1", "s3", 2)
	wantSession(a1, "s3")
	wantSession(a1b, "s3")
	wantSession(a2, "s2")
	wantSession(none, "")
	wantSession(b1, "s1") // bob's device of a session id alice used is bob's
	wantMoved("s1", "s4", 0)
	wantMoved("", "s4", 0) // devices without a session stay without
	wantSession(none, "")

	// Revoking the new session forgets the moved devices.
	n, err := s.DeleteDevices(t.Context(), alice.ID, "s3")
	if err != nil || n != 2 {
		t.Errorf("DeleteDevices(alice, s3) = %d, %v; want 2", n, err)
	}
}
