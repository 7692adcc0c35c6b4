package gatehouse

import (
	"context"
	"time"
)

// UserState is the lifecycle state of a user.
type UserState string

// The user states of the HTTP contract.
const (
	// StateInvited users were invited and have not set a password yet. They
	// cannot log in with a password.
	StateInvited UserState = "invited"
	// StateActive users can log in.
	StateActive UserState = "active"
	// StateDisabled users cannot log in, and have no sessions.
	StateDisabled UserState = "disabled"
)

// Valid reports whether s is one of the known states.
func (s UserState) Valid() bool {
	return s == StateInvited || s == StateActive || s == StateDisabled
}

// User is a person (or service account) that can authenticate.
type User struct {
	ID       string
	Username string
	Email    string
	Name     string
	State    UserState

	// PasswordHash is a PHC-format hash, or "" when the user has no password
	// (invited users, users of external logins only).
	PasswordHash string
	// SecurityStamp changes whenever the user's credentials change. Tokens
	// issued for the user (password reset, invitation) carry the stamp they
	// were issued under and are void once it changes.
	SecurityStamp string

	// Groups names the groups the user belongs to, sorted.
	Groups []string

	// EmailConfirmed is true once the user has proved they receive mail at
	// Email (by accepting an invitation or resetting their password).
	EmailConfirmed bool

	CreatedAt   time.Time
	UpdatedAt   time.Time
	LastLoginAt time.Time // zero when the user never logged in

	// Version identifies the stored user as it was read: CreateUser and
	// every UpdateUser store a new one, so that UpdateUser can refuse to
	// write back a user read before another change. It is an opaque
	// identifier, not a counter.
	Version int64
}

// Group is a named set of permissions. A user's effective permissions are the
// union of the permissions of their groups.
type Group struct {
	Name        string
	Description string
	Permissions []string
	// RequireTwoFactor makes members without a second factor enrol at
	// their next login before they get a full session.
	RequireTwoFactor bool
}

// PermissionAll grants every permission.
const PermissionAll = "*"

// GroupAdministrators is the group seeded at first start with PermissionAll.
const GroupAdministrators = "administrators"

// UserFilter selects users in UserStore.ListUsers.
type UserFilter struct {
	// Search matches a substring of username, email or name, case-insensitively.
	Search string
	// State, when not empty, keeps only users in that state.
	State UserState
	// Offset and Limit page through the users ordered by username. A Limit of
	// zero means no limit.
	Offset, Limit int
}

// UserStore keeps users and their group memberships.
//
// Usernames and emails are unique without regard to case (as
// strings.EqualFold compares): creating or updating a user so that its
// username or email equals another user's username or email fails with
// CodeConflict. A missing user or group is ErrNotFound; a user naming an
// unknown group, a missing username or email, or an invalid state is
// CodeValidation. The caller sets
// the ID (NewID) and every time; stores keep times in UTC, truncated to the
// microsecond.
type UserStore interface {
	// CreateUser stores a new user, including u.Groups, which must exist.
	CreateUser(ctx context.Context, u *User) error
	// UserByID returns the user with that id.
	UserByID(ctx context.Context, id string) (*User, error)
	// UserByLogin returns the user whose username or email equals login,
	// case-insensitively.
	UserByLogin(ctx context.Context, login string) (*User, error)
	// UpdateUser replaces the stored user u.ID with u, including its
	// groups, atomically and only if its stored Version is still
	// u.Version: a user changed since it was read is ErrConflict, a deleted
	// one ErrNotFound, and either is left as it is. On success (and on
	// CreateUser's) u.Version is set to the new version. Callers read,
	// decide and write back, and decide again on ErrConflict, never
	// overwriting a change they did not see (such as a user disabled
	// meanwhile).
	UpdateUser(ctx context.Context, u *User) error
	// SetPasswordHash replaces only the password hash of a user, leaving its
	// security stamp alone; used to upgrade a hash after a successful login.
	// It writes only while the stored hash is still old (the one the login
	// verified): a password changed meanwhile is ErrConflict and stays, so
	// that a rehash of the old password never brings it back. A missing
	// user is ErrNotFound.
	SetPasswordHash(ctx context.Context, id, old, hash string) error
	// RecordLogin sets the user's last login time.
	RecordLogin(ctx context.Context, id string, at time.Time) error
	// ListUsers returns the users that match f, and how many match in all.
	ListUsers(ctx context.Context, f UserFilter) ([]*User, int, error)
	// CountUsers returns the number of users.
	CountUsers(ctx context.Context) (int, error)
	// DeleteUser removes a user with its tokens, action tokens, second-factor
	// settings, remembered devices and memberships; audit events that name
	// the user remain. It need not remove the user's sessions or pending
	// logins, which may live in another store (Redis): the use case ends
	// them before it deletes the user.
	DeleteUser(ctx context.Context, id string) error

	// Groups returns every group, sorted by name.
	Groups(ctx context.Context) ([]*Group, error)
	// Group returns the group with that name (case-sensitive).
	Group(ctx context.Context, name string) (*Group, error)
	// CreateGroup stores a new group; an existing name is CodeConflict, an
	// empty one CodeValidation.
	CreateGroup(ctx context.Context, g *Group) error
	// PutGroup creates or replaces a group.
	PutGroup(ctx context.Context, g *Group) error
	// DeleteGroup removes a group and every membership in it.
	DeleteGroup(ctx context.Context, name string) error
	// GroupMembers returns the ids of the users in a group, sorted.
	GroupMembers(ctx context.Context, name string) ([]string, error)
}

// HasPermission reports whether the permission set perms grants p: it
// holds p itself or PermissionAll.
func HasPermission(perms []string, p string) bool {
	for _, q := range perms {
		if q == p || q == PermissionAll {
			return true
		}
	}
	return false
}

// ValidPermission reports whether p is a well-formed permission string:
// letters, digits and . : _ - (such as "section:settings" or
// "servers.write"), or "*".
func ValidPermission(p string) bool {
	if p == PermissionAll {
		return true
	}
	if p == "" || len(p) > 200 {
		return false
	}
	for _, c := range p {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == ':' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// UserBatchCreator is an optional ability of a UserStore: creating many
// users at once, for imports. Each user is created or refused on its own
// (the result holds one error, or nil, per user, in order), but the
// store may commit them together, which makes a large import fast.
type UserBatchCreator interface {
	CreateUsers(ctx context.Context, users []*User) []error
}
