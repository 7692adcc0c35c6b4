package account

import (
	"context"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// UserFilter re-exports the store's filter for ListUsers.
type UserFilter = gatehouse.UserFilter

// ListUsers returns users matching f and how many match in all.
func (s *Service) ListUsers(ctx context.Context, f UserFilter) ([]*gatehouse.User, int, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	return s.stores.Users.ListUsers(ctx, f)
}

// User returns the user with id.
func (s *Service) User(ctx context.Context, id string) (*gatehouse.User, error) {
	return s.stores.Users.UserByID(ctx, id)
}

// UserUpdate changes some of a user's fields; nil fields stay as they are.
// It never sets a password: administrators start a reset instead (ASVS
// 6.4.6).
type UserUpdate struct {
	Username *string
	Email    *string
	Name     *string
	Groups   *[]string
}

// UpdateUser applies an update. Group changes take effect on the user's
// very next request.
func (s *Service) UpdateUser(ctx context.Context, a Actor, id string, up UserUpdate) (*gatehouse.User, error) {
	const what = "change the account"
	if _, err := s.actOn(ctx, a, id, what); err != nil {
		return nil, err
	}
	// The update is decided on the user as stored, and decided again if
	// another request changed the user before it was written (changeUser).
	var (
		old     gatehouse.User
		changed []string
	)
	next, err := s.changeUser(ctx, id, func(cur *gatehouse.User) (bool, error) {
		if err := s.checkActsOn(ctx, a, cur, what); err != nil {
			return false, err
		}
		old = *cur
		u, next := &old, cur
		changed = []string{}
		if up.Username != nil && *up.Username != u.Username {
			next.Username = *up.Username
			changed = append(changed, "username")
		}
		if up.Email != nil && *up.Email != u.Email {
			next.Email = *up.Email
			changed = append(changed, "email")
		}
		if up.Name != nil && *up.Name != u.Name {
			next.Name = *up.Name
			changed = append(changed, "name")
		}
		if up.Groups != nil {
			g := slices.Clone(*up.Groups)
			slices.Sort(g)
			g = slices.Compact(g)
			if g == nil {
				g = []string{}
			}
			if !slices.Equal(g, u.Groups) {
				next.Groups = g
				changed = append(changed, "groups")
			}
		}
		if len(changed) == 0 {
			return false, nil
		}
		if slices.Contains(changed, "groups") {
			if err := s.checkGrant(ctx, a, next.Groups, "put the user in these groups"); err != nil {
				return false, err
			}
		}
		if fields := validateIdentity(next.Username, next.Email, next.Name); len(fields) > 0 {
			return false, &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The request is not valid.", Fields: fields}
		}
		if slices.Contains(changed, "groups") {
			if err := s.keepAdministratorIfLosing(ctx, u, next); err != nil {
				return false, err
			}
		}
		next.UpdatedAt = s.now().UTC()
		if slices.Contains(changed, "email") {
			// Links already mailed to the old address stop working.
			next.SecurityStamp = newStamp()
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if len(changed) == 0 {
		return next, nil
	}
	u := &old
	if slices.Contains(changed, "email") {
		if _, err := s.stores.ActionTokens.DeleteActionTokens(ctx, u.ID, ""); err != nil {
			return nil, err
		}
	}
	s.forgetUser(u.ID)
	s.record(ctx, a, gatehouse.AuditUserUpdated, u.ID, map[string]string{"fields": strings.Join(changed, ",")})
	if slices.Contains(changed, "email") {
		// The old address hears of the change: if it was not the user's
		// doing, they learn of it where they can still read mail.
		s.notify(ctx, u.Email, "email_changed", s.mailData(next))
	}
	return next, nil
}

// holdsAll reports whether u holds every permission ("*"). An error
// reading the groups is returned, never taken for "no": the guards that
// keep an administrator must not be skipped because the store failed.
func (s *Service) holdsAll(ctx context.Context, u *gatehouse.User) (bool, error) {
	perms, err := s.Permissions(ctx, u)
	if err != nil {
		return false, err
	}
	return slices.Contains(perms, gatehouse.PermissionAll), nil
}

// keepAdministratorIfLosing refuses changing u's groups to next's when u
// would lose "*" and no other active user holds it.
func (s *Service) keepAdministratorIfLosing(ctx context.Context, u, next *gatehouse.User) error {
	if u.State != gatehouse.StateActive {
		return nil
	}
	had, err := s.holdsAll(ctx, u)
	if err != nil || !had {
		return err
	}
	keeps, err := s.holdsAll(ctx, next)
	if err != nil || keeps {
		return err
	}
	return s.keepAnAdministrator(ctx, u.ID)
}

// keepActiveAdministrator refuses disabling or deleting u when u is an
// active administrator and no other active user holds "*".
func (s *Service) keepActiveAdministrator(ctx context.Context, u *gatehouse.User) error {
	if u.State != gatehouse.StateActive {
		return nil
	}
	admin, err := s.holdsAll(ctx, u)
	if err != nil || !admin {
		return err
	}
	return s.keepAnAdministrator(ctx, u.ID)
}

// keepAnAdministrator refuses a change that would leave no active user
// holding every permission, which would lock the operators out of the
// management API for good.
func (s *Service) keepAnAdministrator(ctx context.Context, losing string) error {
	users, _, err := s.stores.Users.ListUsers(ctx, gatehouse.UserFilter{State: gatehouse.StateActive})
	if err != nil {
		return err
	}
	for _, o := range users {
		if o.ID == losing {
			continue
		}
		admin, err := s.holdsAll(ctx, o)
		if err != nil {
			return err
		}
		if admin {
			return nil
		}
	}
	return gatehouse.Errorf(gatehouse.CodeConflict, "This would leave no active administrator.")
}

// DisableUser disables a user and ends all their sessions and tokens at once.
func (s *Service) DisableUser(ctx context.Context, a Actor, id string) (*gatehouse.User, error) {
	const what = "disable the account"
	if _, err := s.actOn(ctx, a, id, what); err != nil {
		return nil, err
	}
	u, err := s.changeUser(ctx, id, func(cur *gatehouse.User) (bool, error) {
		if err := s.checkActsOn(ctx, a, cur, what); err != nil {
			return false, err
		}
		if err := s.keepActiveAdministrator(ctx, cur); err != nil {
			return false, err
		}
		cur.State = gatehouse.StateDisabled
		cur.UpdatedAt = s.now().UTC()
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.endEverything(ctx, u.ID); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "user disabled", "user", u.ID)
	s.record(ctx, a, gatehouse.AuditUserDisabled, u.ID, nil)
	return u, nil
}

// endEverything ends every session, pending login, remembered device and
// token of a user and drops whatever this process cached about them
// (the user, their sessions, their Basic credentials). It does not rely on
// the user store: sessions and pending logins may live in another store,
// which deleting the user does not reach.
func (s *Service) endEverything(ctx context.Context, userID string) error {
	s.forgetUser(userID)
	if _, err := s.stores.Devices.DeleteDevices(ctx, userID, ""); err != nil {
		return err
	}
	s.basic.forgetWhere(func(e basicEntry) bool { return e.userID == userID })
	if _, err := s.stores.PendingLogins.DeleteUserPendingLogins(ctx, userID); err != nil {
		return err
	}
	if _, err := s.sessions.RevokeUser(ctx, userID, ""); err != nil {
		return err
	}
	return s.revokeUserTokens(ctx, userID)
}

// EnableUser makes a disabled user active again. An invited user stays
// invited: only accepting the invitation activates it.
func (s *Service) EnableUser(ctx context.Context, a Actor, id string) (*gatehouse.User, error) {
	const what = "enable the account"
	if _, err := s.actOn(ctx, a, id, what); err != nil {
		return nil, err
	}
	enabled := false
	u, err := s.changeUser(ctx, id, func(cur *gatehouse.User) (bool, error) {
		if err := s.checkActsOn(ctx, a, cur, what); err != nil {
			return false, err
		}
		if cur.State != gatehouse.StateDisabled {
			enabled = false
			return false, nil
		}
		cur.State = gatehouse.StateActive
		if cur.PasswordHash == "" && cur.LastLoginAt.IsZero() {
			cur.State = gatehouse.StateInvited
		}
		cur.UpdatedAt = s.now().UTC()
		enabled = true
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if !enabled {
		return u, nil
	}
	s.forgetUser(u.ID)
	s.record(ctx, a, gatehouse.AuditUserEnabled, u.ID, nil)
	return u, nil
}

// DeleteUser removes a user. It ends their sessions, pending logins,
// devices and tokens itself first, since sessions and pending logins may
// live in a store the user store's delete does not reach. The audit log
// keeps their events.
func (s *Service) DeleteUser(ctx context.Context, a Actor, id string) error {
	u, err := s.actOn(ctx, a, id, "delete the account")
	if err != nil {
		return err
	}
	if err := s.keepActiveAdministrator(ctx, u); err != nil {
		return err
	}
	if err := s.endEverything(ctx, u.ID); err != nil {
		return err
	}
	if err := s.stores.Users.DeleteUser(ctx, id); err != nil {
		return err
	}
	s.forgetUser(u.ID)
	s.record(ctx, a, gatehouse.AuditUserDeleted, u.ID, map[string]string{"username": u.Username})
	return nil
}

// UnlockUser clears the login lockout of a user's username and email.
func (s *Service) UnlockUser(ctx context.Context, a Actor, id string) error {
	u, err := s.actOn(ctx, a, id, "unlock the account")
	if err != nil {
		return err
	}
	if err := s.Unlock(ctx, u.Username); err != nil {
		return err
	}
	s.record(ctx, a, gatehouse.AuditUserUnlocked, u.ID, nil)
	return nil
}

// UserSessions returns the live sessions of a user, newest first.
func (s *Service) UserSessions(ctx context.Context, userID string) ([]*gatehouse.Session, error) {
	all, err := s.stores.Sessions.UserSessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	live := all[:0]
	for _, ss := range all {
		if !ss.Expired(now) {
			live = append(live, ss)
		}
	}
	return live, nil
}

// ListSessions returns a page of every session, newest first, after the
// cursor after ("" for the first page), and the cursor of the next page ("" when
// none follows). A limit outside 1–500 is 100. A cursor the store did not
// make is a CodeValidation error naming "cursor". It gives no total: a
// session store in Redis cannot count millions of keys cheaply.
func (s *Service) ListSessions(ctx context.Context, after string, limit int) ([]*gatehouse.Session, string, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	return s.stores.Sessions.Sessions(ctx, after, limit)
}

// EndSession ends the session with public id. When owner is not "", the
// session must be that user's: anyone else's is ErrNotFound, as if it did
// not exist.
func (s *Service) EndSession(ctx context.Context, a Actor, id, owner string) error {
	ss, err := s.stores.Sessions.SessionByID(ctx, id)
	if err != nil {
		return err
	}
	if owner != "" && ss.UserID != owner {
		return gatehouse.ErrNotFound
	}
	if err := s.checkActsOnID(ctx, a, ss.UserID, "end a session"); err != nil {
		return err
	}
	if err := s.sessions.Revoke(ctx, id); err != nil {
		return err
	}
	// A device remembered with the session is forgotten with it.
	if _, err := s.stores.Devices.DeleteDevices(ctx, ss.UserID, id); err != nil {
		return err
	}
	s.record(ctx, a, gatehouse.AuditSessionEnded, id, map[string]string{"user": ss.UserID})
	return nil
}

// EndUserSessions ends every session of a user but except ("" for none)
// and returns how many ended.
func (s *Service) EndUserSessions(ctx context.Context, a Actor, userID, except string) (int, error) {
	if _, err := s.actOn(ctx, a, userID, "end the sessions"); err != nil {
		return 0, err
	}
	ended, err := s.stores.Sessions.UserSessions(ctx, userID)
	if err != nil {
		return 0, err
	}
	for _, ss := range ended {
		if ss.ID == except {
			continue
		}
		if _, err := s.stores.Devices.DeleteDevices(ctx, userID, ss.ID); err != nil {
			return 0, err
		}
	}
	n, err := s.sessions.RevokeUser(ctx, userID, except)
	if err != nil {
		return 0, err
	}
	s.record(ctx, a, gatehouse.AuditSessionEnded, userID, map[string]string{"count": itoa(n), "except": except})
	return n, nil
}
