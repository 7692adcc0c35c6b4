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
