package gatehouse

// Snapshot is every durable record of a gatehouse database, with all of
// its state, as one consistent moment: what `gatehouse migrate-data` reads
// from one store and writes into another, so that moving from SQLite to
// PostgreSQL loses nothing and logs nobody out.
//
// It holds the users (with their password hashes, security stamps,
// versions and memberships, User.Groups), the groups, the API tokens and
// action tokens (hashes only, as stored), the second-factor settings
// (sealed secrets and recovery code hashes: the target must use the same
// key file), the remembered devices, the linked external logins
// (identities), the live sessions, the throttles (so
// that a lockout in force stays in force), the audit log and the mail
// outbox. Pending logins are left out: they last minutes, and a browser
// half way through a login only has to enter its password again.
//
// Each slice is in a fixed order (by id, groups by name, identities by
// provider and subject, throttles by key), except Audit, which is in the
// order the events were appended, oldest first, so that events of the
// same microsecond keep their order.
//
// The stores that read a Snapshot refuse a database holding a table they
// do not copy, so that a new kind of record cannot be lost silently.
type Snapshot struct {
	Users        []*User
	Groups       []*Group
	Tokens       []*Token
	ActionTokens []*ActionToken
	TwoFactors   []*TwoFactor
	Devices      []*Device
	Identities   []*Identity
	Sessions     []*Session
	Throttles    []Throttle
	Audit        []*AuditEvent
	Mail         []*Mail
}

// SnapshotArea names one kind of record of a Snapshot and how many it
// holds.
type SnapshotArea struct {
	Name  string
	Count int
}

// The names of the areas of a Snapshot, as Counts returns them. A store
// that writes a Snapshot counts what it wrote by the same names.
const (
	AreaUsers        = "users"
	AreaGroups       = "groups"
	AreaMemberships  = "memberships"
	AreaTokens       = "api tokens"
	AreaActionTokens = "action tokens"
	AreaTwoFactors   = "two-factor settings"
	AreaDevices      = "remembered devices"
	AreaIdentities   = "external logins"
	AreaSessions     = "sessions"
	AreaThrottles    = "throttles"
	AreaAudit        = "audit events"
	AreaMail         = "mail messages"
)

// Counts returns how many records of each area s holds, in a fixed order;
// memberships count each user in each of their groups once.
func (s *Snapshot) Counts() []SnapshotArea {
	members := 0
	for _, u := range s.Users {
		members += len(u.Groups)
	}
	return []SnapshotArea{
		{AreaUsers, len(s.Users)},
		{AreaGroups, len(s.Groups)},
		{AreaMemberships, members},
		{AreaTokens, len(s.Tokens)},
		{AreaActionTokens, len(s.ActionTokens)},
		{AreaTwoFactors, len(s.TwoFactors)},
		{AreaDevices, len(s.Devices)},
		{AreaIdentities, len(s.Identities)},
		{AreaSessions, len(s.Sessions)},
		{AreaThrottles, len(s.Throttles)},
		{AreaAudit, len(s.Audit)},
		{AreaMail, len(s.Mail)},
	}
}
