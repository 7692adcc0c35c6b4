package account

import "github.com/gatehouse/gatehouse"

// Stores are the stores the account use cases keep their records in, one
// per area, so that each area can live where its data belongs: short-lived
// state (sessions, throttles, pending logins) apart from durable records.
// The fields may all be one database (see StoresOf).
type Stores struct {
	// Users holds users and groups.
	Users gatehouse.UserStore
	// Sessions holds login sessions; the use cases list and end them
	// (the session.Manager reads and touches them on its own).
	Sessions gatehouse.SessionStore
	// Throttles counts failed logins, reset requests and guest sessions.
	Throttles gatehouse.ThrottleStore
	// Tokens holds API tokens.
	Tokens gatehouse.TokenStore
	// Audit records and lists audit events.
	Audit gatehouse.AuditStore
	// ActionTokens holds mailed reset and invitation links.
	ActionTokens gatehouse.ActionTokenStore
	// Outbox is the mail queue; the use cases only sweep old mail from it
	// (mail.Outbox queues and sends).
	Outbox gatehouse.OutboxStore
	// TwoFactor holds second-factor settings.
	TwoFactor gatehouse.TwoFactorStore
	// PendingLogins holds the logins between a correct password and the
	// second factor.
	PendingLogins gatehouse.PendingLoginStore
	// Devices holds remembered devices.
	Devices gatehouse.DeviceStore
	// Identities holds external logins linked to users.
	Identities gatehouse.IdentityStore
	// Logins, when set, records a login (the user's last-login time, the
	// new session, its audit event) in one write; it can only be the
	// store that holds Users, Sessions and Audit. Nil: three writes.
	Logins gatehouse.LoginRecorder
}

// StoresOf returns Stores that are all db, for a program with one database
// (gatehouse's SQLite store); Logins is db when db records a login in one
// write.
func StoresOf(db gatehouse.Store) Stores {
	s := Stores{
		Users:         db,
		Sessions:      db,
		Throttles:     db,
		Tokens:        db,
		Audit:         db,
		ActionTokens:  db,
		Outbox:        db,
		TwoFactor:     db,
		PendingLogins: db,
		Devices:       db,
		Identities:    db,
	}
	if lr, ok := db.(gatehouse.LoginRecorder); ok {
		s.Logins = lr
	}
	return s
}

// missing names the first required field that is nil, or returns "".
func (s Stores) missing() string {
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"Users", s.Users != nil},
		{"Sessions", s.Sessions != nil},
		{"Throttles", s.Throttles != nil},
		{"Tokens", s.Tokens != nil},
		{"Audit", s.Audit != nil},
		{"ActionTokens", s.ActionTokens != nil},
		{"Outbox", s.Outbox != nil},
		{"TwoFactor", s.TwoFactor != nil},
		{"PendingLogins", s.PendingLogins != nil},
		{"Devices", s.Devices != nil},
		{"Identities", s.Identities != nil},
	} {
		if !f.set {
			return f.name
		}
	}
	return ""
}
