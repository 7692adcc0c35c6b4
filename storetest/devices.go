package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// newDevice returns a device of userID remembered with session sessionID,
// with every other field set; its token hash is the SHA-256 of secret.
func newDevice(userID, sessionID, secret string) *gatehouse.Device {
	return &gatehouse.Device{
		ID:         gatehouse.NewID(),
		TokenHash:  hashOf(secret),
		UserID:     userID,
		SessionID:  sessionID,
		Stamp:      "stamp-" + secret,
		CreatedAt:  base,
		ExpiresAt:  base.Add(30 * 24 * time.Hour),
		ClientAddr: "2001:db8::1",
		UserAgent:  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
	}
}

// createDevice stores d or fails t.
func createDevice(t *testing.T, s gatehouse.DeviceStore, d *gatehouse.Device) *gatehouse.Device {
	t.Helper()
	if err := s.CreateDevice(t.Context(), d); err != nil {
		t.Fatalf("CreateDevice: %v", err)
	}
	return d
}

// wantDevice fails t unless DeviceByTokenHash returns want.
func wantDevice(t *testing.T, s gatehouse.DeviceStore, want *gatehouse.Device) {
	t.Helper()
	got, err := s.DeviceByTokenHash(t.Context(), want.TokenHash)
	if err != nil {
		t.Fatalf("DeviceByTokenHash: %v", err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("DeviceByTokenHash mismatch (-want +got):\n%s", d)
	}
	wantUTC(t, "CreatedAt", got.CreatedAt)
	wantUTC(t, "ExpiresAt", got.ExpiresAt)
}

// wantNoDevice fails t unless DeviceByTokenHash finds no d.
func wantNoDevice(t *testing.T, s gatehouse.DeviceStore, d *gatehouse.Device) {
	t.Helper()
	_, err := s.DeviceByTokenHash(t.Context(), d.TokenHash)
	wantNotFound(t, err)
}

// wantDeleted fails t unless n, the count a Delete method named what
// returned with err, is want.
func wantDeleted(t *testing.T, what string, n int, err error, want int) {
	t.Helper()
	check(t, err)
	if n != want {
		t.Errorf("%s = %d, want %d", what, n, want)
	}
}

// DeviceStores are the stores RunDevices checks: the remembered devices,
// the users and sessions they belong to, and the pending logins whose
// cookie hashes are not device hashes; all but DeviceStore may live in
// another store.
type DeviceStores struct {
	gatehouse.DeviceStore
	// UserStore holds the devices' users; the suite creates and deletes
	// users with it.
	gatehouse.UserStore
	gatehouse.SessionStore
	gatehouse.PendingLoginStore
}

// RunDevices checks a gatehouse.DeviceStore. newStores must return new,
// empty, migrated stores on every call. Besides the interface's doc
// comments, it holds stores to these rules:
//
//   - CreateDevice for a user that does not exist is ErrNotFound, like
//     CreateSession; a duplicate id or token hash is CodeConflict. The
//     device's session need not exist, and its SessionID may be "".
//   - DeviceByTokenHash returns expired devices as well: whether a device
//     still counts is the caller's decision.
//   - DeleteDevices touches only userID's devices; a device's session
//     ending (DeleteSession) does not delete the device.
//   - A device is expired at now when its ExpiresAt, as stored (truncated
//     to the microsecond), is not after now.
//   - DeleteUser removes the user's devices; a new user with the old id
//     inherits none of them.
func RunDevices(t *testing.T, newStores func(t *testing.T) DeviceStores) {
	// setup returns stores with the users alice and bob.
	setup := func(t *testing.T) (DeviceStores, *gatehouse.User, *gatehouse.User) {
		s := newStores(t)
		return s, createUser(t, s, newUser("alice")), createUser(t, s, newUser("bob"))
	}

	t.Run("CreateAndDeviceByTokenHash", func(t *testing.T) {
		s, alice, bob := setup(t)
		ses := createSession(t, s, newSession(alice.ID, "session"))
		d := createDevice(t, s, newDevice(alice.ID, ses.ID, "secret"))
		wantDevice(t, s, d)

		// No session, stamp, address or agent, in another zone, expired
		// already: the store returns it as it is.
		zone := time.FixedZone("UTC+5:30", 5*3600+30*60)
		bare := newDevice(alice.ID, "", "bare")
		bare.Stamp, bare.ClientAddr, bare.UserAgent = "", "", ""
		bare.CreatedAt, bare.ExpiresAt = base.In(zone), base.Add(-time.Hour).In(zone)
		createDevice(t, s, bare)
		wantDevice(t, s, bare)
		got, err := s.DeviceByTokenHash(t.Context(), bare.TokenHash)
		check(t, err)
		if got.SessionID != "" || got.Stamp != "" || got.ClientAddr != "" || got.UserAgent != "" {
			t.Errorf("bare device = %+v, want no session, stamp, address or agent", got)
		}

		// A session that does not exist, or not any more, is no error.
		gone := createDevice(t, s, newDevice(bob.ID, gatehouse.NewID(), "gone"))
		wantDevice(t, s, gone)
		wantDevice(t, s, d)
	})

	t.Run("DeviceByTokenHashMissing", func(t *testing.T) {
		s, alice, _ := setup(t)
		ses := createSession(t, s, newSession(alice.ID, "session"))
		p := createPendingLogin(t, s, newPendingLogin(alice.ID, "pending"))
		d := createDevice(t, s, newDevice(alice.ID, ses.ID, "secret"))
		for _, h := range [][]byte{hashOf("other"), d.TokenHash[:16], append(d.TokenHash[:len(d.TokenHash):len(d.TokenHash)], 0), nil, {}} {
			_, err := s.DeviceByTokenHash(t.Context(), h)
			wantNotFound(t, err)
		}
		_, err := s.DeviceByTokenHash(t.Context(), []byte(d.ID))
		wantNotFound(t, err)
		// A session's or pending login's hash is not a device's, nor the
		// other way round.
		_, err = s.DeviceByTokenHash(t.Context(), ses.TokenHash)
		wantNotFound(t, err)
		_, err = s.DeviceByTokenHash(t.Context(), p.TokenHash)
		wantNotFound(t, err)
		_, err = s.SessionByTokenHash(t.Context(), d.TokenHash)
		wantNotFound(t, err)
		_, err = s.PendingLoginByTokenHash(t.Context(), d.TokenHash)
		wantNotFound(t, err)
		wantDevice(t, s, d)
	})

	t.Run("CreateDeviceMissingUser", func(t *testing.T) {
		s, alice, _ := setup(t)
		d := newDevice(gatehouse.NewID(), "", "orphan")
		wantNotFound(t, s.CreateDevice(t.Context(), d))
		wantNoDevice(t, s, d)

		check(t, s.DeleteUser(t.Context(), alice.ID))
		d = newDevice(alice.ID, "", "late")
		wantNotFound(t, s.CreateDevice(t.Context(), d))
		wantNoDevice(t, s, d)
	})

	t.Run("CreateDeviceConflicts", func(t *testing.T) {
		s, alice, bob := setup(t)
		d := createDevice(t, s, newDevice(alice.ID, "s1", "secret"))

		sameHash := newDevice(bob.ID, "s2", "secret")
		wantCode(t, s.CreateDevice(t.Context(), sameHash), gatehouse.CodeConflict)

		sameID := newDevice(bob.ID, "s2", "other")
		sameID.ID = d.ID
		wantCode(t, s.CreateDevice(t.Context(), sameID), gatehouse.CodeConflict)
		wantNoDevice(t, s, sameID)
		wantDevice(t, s, d)
		n, err := s.DeleteDevices(t.Context(), bob.ID, "")
		wantDeleted(t, "DeleteDevices(bob) after the conflicts", n, err, 0)

		check(t, s.DeleteUser(t.Context(), bob.ID))
		wantDevice(t, s, d)
	})

	t.Run("DeleteDevices", func(t *testing.T) {
		s, alice, bob := setup(t)
		s1 := createSession(t, s, newSession(alice.ID, "s1"))
		s2 := createSession(t, s, newSession(alice.ID, "s2"))
		a1 := createDevice(t, s, newDevice(alice.ID, s1.ID, "a1"))
		a1b := createDevice(t, s, newDevice(alice.ID, s1.ID, "a1b"))
		a2 := createDevice(t, s, newDevice(alice.ID, s2.ID, "a2"))
		none := createDevice(t, s, newDevice(alice.ID, "", "none"))
		// Another user's devices, one with the same session id, are not
		// alice's.
		b1 := createDevice(t, s, newDevice(bob.ID, s1.ID, "b1"))
		b2 := createDevice(t, s, newDevice(bob.ID, "", "b2"))

		n, err := s.DeleteDevices(t.Context(), alice.ID, s1.ID)
		wantDeleted(t, "DeleteDevices(alice, s1)", n, err, 2)
		wantNoDevice(t, s, a1)
		wantNoDevice(t, s, a1b)
		wantDevice(t, s, a2)
		wantDevice(t, s, none)
		wantDevice(t, s, b1)
		wantDevice(t, s, b2)
		// The session itself stays: ending it is DeleteSession's job.
		wantSession(t, s, s1)

		n, err = s.DeleteDevices(t.Context(), alice.ID, s1.ID)
		wantDeleted(t, "DeleteDevices(alice, s1) again", n, err, 0)
		n, err = s.DeleteDevices(t.Context(), alice.ID, gatehouse.NewID())
		wantDeleted(t, "DeleteDevices(alice, another session)", n, err, 0)
		n, err = s.DeleteDevices(t.Context(), gatehouse.NewID(), "")
		wantDeleted(t, "DeleteDevices(missing user, all)", n, err, 0)
		n, err = s.DeleteDevices(t.Context(), "", "")
		wantDeleted(t, `DeleteDevices("", "")`, n, err, 0)
		wantDevice(t, s, a2)
		wantDevice(t, s, none)

		// Ending a session does not forget its devices by itself.
		check(t, s.DeleteSession(t.Context(), s2.ID))
		wantDevice(t, s, a2)

		// "" is every device of the user, those without a session included.
		n, err = s.DeleteDevices(t.Context(), alice.ID, "")
		wantDeleted(t, `DeleteDevices(alice, "")`, n, err, 2)
		wantNoDevice(t, s, a2)
		wantNoDevice(t, s, none)
		wantDevice(t, s, b1)
		wantDevice(t, s, b2)
		wantSession(t, s, s1)
		wantUser(t, s, alice)

		n, err = s.DeleteDevices(t.Context(), alice.ID, "")
		wantDeleted(t, `DeleteDevices(alice, "") again`, n, err, 0)

		// The ids and hashes are free again.
		createDevice(t, s, a1)
		wantDevice(t, s, a1)
	})

	t.Run("MoveDevices", func(t *testing.T) {
		s, alice, bob := setup(t)
		from, to := gatehouse.NewID(), gatehouse.NewID()
		d1 := createDevice(t, s, newDevice(alice.ID, from, "one"))
		d2 := createDevice(t, s, newDevice(alice.ID, from, "two"))
		other := createDevice(t, s, newDevice(alice.ID, gatehouse.NewID(), "other"))
		// Bob's device names the same session id: only alice's move.
		bobs := createDevice(t, s, newDevice(bob.ID, from, "bob"))

		n, err := s.MoveDevices(t.Context(), alice.ID, from, to)
		check(t, err)
		if n != 2 {
			t.Errorf("MoveDevices = %d, want 2", n)
		}
		for _, d := range []*gatehouse.Device{d1, d2} {
			moved := *d
			moved.SessionID = to
			wantDevice(t, s, &moved)
		}
		wantDevice(t, s, other)
		wantDevice(t, s, bobs)

		// Ending the session by its new id forgets the moved devices; by
		// its old id, none.
		n, err = s.DeleteDevices(t.Context(), alice.ID, from)
		wantDeleted(t, "DeleteDevices(old session id)", n, err, 0)
		n, err = s.DeleteDevices(t.Context(), alice.ID, to)
		wantDeleted(t, "DeleteDevices(new session id)", n, err, 2)
		wantDevice(t, s, other)

		// Nothing to move is no error.
		n, err = s.MoveDevices(t.Context(), alice.ID, from, to)
		check(t, err)
		if n != 0 {
			t.Errorf("MoveDevices with nothing to move = %d, want 0", n)
		}
	})

	t.Run("DeleteExpiredDevices", func(t *testing.T) {
		s, alice, bob := setup(t)
		mk := func(secret, userID string, expires time.Time) *gatehouse.Device {
			d := newDevice(userID, "", secret)
			d.ExpiresAt = expires
			return createDevice(t, s, d)
		}
		old := mk("old", alice.ID, micro.Add(-time.Hour))
		exact := mk("exact", bob.ID, micro)
		// base has nanoseconds beyond micro: as stored, it is micro.
		nanos := mk("nanos", alice.ID, base)
		later := mk("later", alice.ID, micro.Add(time.Microsecond))
		live := mk("live", bob.ID, micro.Add(time.Hour))
		// Other things expiring long ago are not devices.
		ses := newSession(alice.ID, "session")
		ses.ExpiresAt = micro.Add(-time.Hour)
		createSession(t, s, ses)
		p := newPendingLogin(alice.ID, "pending")
		p.ExpiresAt = micro.Add(-time.Hour)
		createPendingLogin(t, s, p)

		n, err := s.DeleteExpiredDevices(t.Context(), micro.Add(-time.Microsecond))
		wantDeleted(t, "DeleteExpiredDevices(just before)", n, err, 1)
		wantNoDevice(t, s, old)
		wantDevice(t, s, exact)

		n, err = s.DeleteExpiredDevices(t.Context(), micro)
		wantDeleted(t, "DeleteExpiredDevices(at the expiry)", n, err, 2)
		wantNoDevice(t, s, exact)
		wantNoDevice(t, s, nanos)
		wantDevice(t, s, later)

		// 999ns after micro is before micro+1µs.
		n, err = s.DeleteExpiredDevices(t.Context(), micro.Add(999*time.Nanosecond))
		wantDeleted(t, "DeleteExpiredDevices(999ns after)", n, err, 0)
		wantDevice(t, s, later)

		n, err = s.DeleteExpiredDevices(t.Context(), micro.Add(time.Microsecond))
		wantDeleted(t, "DeleteExpiredDevices(1µs after)", n, err, 1)
		wantNoDevice(t, s, later)
		wantDevice(t, s, live)
		wantSession(t, s, ses)
		wantPendingLogin(t, s, p)
		wantUser(t, s, alice)
		wantUser(t, s, bob)

		n, err = s.DeleteExpiredDevices(t.Context(), micro.Add(time.Microsecond))
		wantDeleted(t, "DeleteExpiredDevices again", n, err, 0)
	})

	t.Run("DeleteUserDeletesDevices", func(t *testing.T) {
		s, alice, bob := setup(t)
		ses := createSession(t, s, newSession(alice.ID, "session"))
		d := createDevice(t, s, newDevice(alice.ID, ses.ID, "alice"))
		bare := createDevice(t, s, newDevice(alice.ID, "", "bare"))
		b := createDevice(t, s, newDevice(bob.ID, ses.ID, "bob"))

		check(t, s.DeleteUser(t.Context(), alice.ID))
		wantNoDevice(t, s, d)
		wantNoDevice(t, s, bare)
		wantDevice(t, s, b)
		n, err := s.DeleteDevices(t.Context(), alice.ID, "")
		wantDeleted(t, "DeleteDevices(deleted user)", n, err, 0)

		// A new user with the old id inherits nothing.
		again := newUser("alice")
		again.ID = alice.ID
		createUser(t, s, again)
		wantNoDevice(t, s, d)
		wantNoDevice(t, s, bare)
		n, err = s.DeleteDevices(t.Context(), alice.ID, "")
		wantDeleted(t, "DeleteDevices(new user with the old id)", n, err, 0)
		// The old devices' ids and hashes are free again.
		createDevice(t, s, d)
		wantDevice(t, s, d)
		wantDevice(t, s, b)
	})
}
