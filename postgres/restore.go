package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

// restoreLockTimeout bounds the wait for the tables' locks: a server still
// running on the database makes Restore fail, not hang.
const restoreLockTimeout = "10s"

// Restore writes snap, every record another store's Snapshot read, into
// this database in one transaction, which is what `gatehouse migrate-data`
// does. It writes into an empty database only, and either writes all of
// snap or nothing:
//
//   - It locks every table (so no gatehouse process writes meanwhile;
//     waiting at most 10 seconds for one that holds a lock) and refuses,
//     with CodeConflict naming the tables, a database where any table
//     holds a row. The administrators group the migrations create counts
//     as empty: it is replaced by the snapshot's.
//   - A record PostgreSQL cannot hold is CodeValidation naming the record
//     (by id) and its field, before anything is written. Descriptive texts
//     that came from clients (user agents, audit texts) are kept as the
//     store's own writes keep them (storableText).
//   - Before it commits, it counts the rows of every area and rolls back
//     unless they are the counts of snap.
//
// Users keep their versions, and second-factor settings theirs, so that a
// record read before the move is still current after it.
func (s *Store) Restore(ctx context.Context, snap *gatehouse.Snapshot) error {
	ctx = unbounded(ctx) // a restore copies whole tables (see DefaultStatementTimeout)
	if err := checkSnapshot(snap); err != nil {
		return err
	}
	err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := lockEmpty(ctx, tx); err != nil {
			return err
		}
		// Nobody is a member yet (user_groups is empty), so the seeded
		// group goes without a trace.
		if _, err := tx.Exec(ctx, `DELETE FROM groups WHERE name = $1`, gatehouse.GroupAdministrators); err != nil {
			return err
		}
		for _, t := range restoreTables(snap) {
			if len(t.rows) == 0 {
				continue
			}
			n, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.columns, pgx.CopyFromRows(t.rows))
			if err != nil {
				return fmt.Errorf("copy %s: %w", t.name, err)
			}
			if n != int64(len(t.rows)) {
				return fmt.Errorf("copy %s: %d rows written of %d", t.name, n, len(t.rows))
			}
		}
		return verifyCounts(ctx, tx, snap)
	})
	if err != nil {
		return s.internal("restore", err)
	}
	return nil
}

// lockEmpty locks every table of the schema against writes and reads by
// others until tx ends, and returns a CodeConflict error naming the tables
// that hold a row (other than the seeded administrators group).
func lockEmpty(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '`+restoreLockTimeout+`'`); err != nil {
		return err
	}
	tables, err := schemaTables(ctx, tx)
	if err != nil {
		return err
	}
	tables = slices.DeleteFunc(tables, func(t string) bool { return t == "schema_migrations" })
	idents := make([]string, len(tables))
	for i, t := range tables {
		idents[i] = pgx.Identifier{t}.Sanitize()
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE `+strings.Join(idents, ", ")+` IN ACCESS EXCLUSIVE MODE`); err != nil {
		if sqlState(err) == "55P03" { // lock_not_available
			return &gatehouse.Error{
				Code:    gatehouse.CodeBusy,
				Message: "The target database is in use (is a gatehouse server running on it?): stop what uses it and try again; nothing was written.",
				Err:     err,
			}
		}
		return err
	}
	var full []string
	for i, t := range tables {
		q := `SELECT EXISTS (SELECT 1 FROM ` + idents[i] + `)`
		args := []any{}
		if t == "groups" {
			q = `SELECT EXISTS (SELECT 1 FROM groups WHERE name <> $1)`
			args = append(args, gatehouse.GroupAdministrators)
		}
		var found bool
		if err := tx.QueryRow(ctx, q, args...).Scan(&found); err != nil {
			return err
		}
		if found {
			full = append(full, t)
		}
	}
	if len(full) > 0 {
		return &gatehouse.Error{
			Code:    gatehouse.CodeConflict,
			Message: fmt.Sprintf("The target database already holds records (in %s): records are copied into an empty database only, and nothing was written.", strings.Join(full, ", ")),
		}
	}
	return nil
}

// restoreTable is the rows of one table to copy, in the order of columns.
type restoreTable struct {
	name    string
	columns []string
	rows    [][]any
}

// restoreTables returns the rows of snap by table, in an order the
// foreign keys accept (users and groups before what refers to them), each
// value as the store's own writes store it.
func restoreTables(snap *gatehouse.Snapshot) []restoreTable {
	users := restoreTable{name: "users", columns: []string{"id", "username", "username_key", "email", "email_key",
		"name", "name_key", "state", "password_hash", "security_stamp", "email_confirmed", "created_at",
		"updated_at", "last_login_at", "version"}}
	members := restoreTable{name: "user_groups", columns: []string{"user_id", "group_name"}}
	for _, u := range snap.Users {
		users.rows = append(users.rows, []any{u.ID, u.Username, gatehouse.FoldName(u.Username), u.Email,
			gatehouse.FoldName(u.Email), u.Name, gatehouse.FoldName(u.Name), string(u.State), u.PasswordHash,
			u.SecurityStamp, u.EmailConfirmed, pgTime(u.CreatedAt), pgTime(u.UpdatedAt), nullTime(u.LastLoginAt),
			u.Version})
		for _, g := range userGroups(u) {
			members.rows = append(members.rows, []any{u.ID, g})
		}
	}
	groups := restoreTable{name: "groups", columns: []string{"name", "description", "permissions", "require_two_factor"}}
	for _, g := range snap.Groups {
		groups.rows = append(groups.rows, []any{g.Name, g.Description, permissions(g), g.RequireTwoFactor})
	}
	tokens := restoreTable{name: "tokens", columns: []string{"id", "user_id", "name", "hash", "hint", "permissions",
		"created_at", "expires_at", "last_used_at"}}
	for _, t := range snap.Tokens {
		tokens.rows = append(tokens.rows, []any{t.ID, t.UserID, t.Name, t.Hash, t.Hint, append([]string{}, t.Permissions...),
			pgTime(t.CreatedAt), nullTime(t.ExpiresAt), nullTime(t.LastUsedAt)})
	}
	actions := restoreTable{name: "action_tokens", columns: []string{"id", "user_id", "purpose", "hash", "stamp",
		"created_at", "expires_at", "used_at"}}
	for _, t := range snap.ActionTokens {
		actions.rows = append(actions.rows, []any{t.ID, t.UserID, string(t.Purpose), t.Hash, t.Stamp,
			pgTime(t.CreatedAt), pgTime(t.ExpiresAt), nullTime(t.UsedAt)})
	}
	twoFactors := restoreTable{name: "two_factor", columns: []string{"user_id", "totp_secret", "totp_pending",
		"totp_last_step", "phone", "recovery_codes", "updated_at", "version"}}
	for _, t := range snap.TwoFactors {
		twoFactors.rows = append(twoFactors.rows, []any{t.UserID, nilIfEmpty(t.TOTPSecret), nilIfEmpty(t.TOTPPending),
			t.TOTPLastStep, t.Phone, recoveryCodes(t), pgTime(t.UpdatedAt), t.Version})
	}
	devices := restoreTable{name: "devices", columns: []string{"id", "token_hash", "user_id", "session_id", "stamp",
		"created_at", "expires_at", "client_addr", "user_agent"}}
	for _, d := range snap.Devices {
		devices.rows = append(devices.rows, []any{d.ID, d.TokenHash, d.UserID, d.SessionID, d.Stamp,
			pgTime(d.CreatedAt), pgTime(d.ExpiresAt), d.ClientAddr, d.UserAgent})
	}
	identities := restoreTable{name: "identities", columns: []string{"provider", "subject", "user_id", "email",
		"email_verified", "linked_at", "last_used_at"}}
	for _, id := range snap.Identities {
		identities.rows = append(identities.rows, []any{id.Provider, id.Subject, id.UserID, id.Email, id.EmailVerified,
			pgTime(id.LinkedAt), pgTime(id.LastUsedAt)})
	}
	sessions := restoreTable{name: "sessions", columns: []string{"id", "token_hash", "user_id", "created_at",
		"last_seen_at", "expires_at", "idle_timeout_ns", "idle_ends_ns", "authenticated_at", "remember",
		"two_factor", "scope", "client_addr", "user_agent", "provider", "id_token"}}
	for _, ses := range snap.Sessions {
		sessions.rows = append(sessions.rows, []any{ses.ID, ses.TokenHash, nullText(ses.UserID), pgTime(ses.CreatedAt),
			pgTime(ses.LastSeenAt), pgTime(ses.ExpiresAt), int64(ses.IdleTimeout),
			idleEndsNanos(ses.LastSeenAt, ses.IdleTimeout), nullTime(ses.AuthenticatedAt), ses.Remember,
			ses.TwoFactor, ses.Scope, storableText(ses.ClientAddr), storableText(ses.UserAgent), ses.Provider, ses.IDToken})
	}
	throttles := restoreTable{name: "throttles", columns: []string{"key", "failures", "window_start", "locked_until",
		"pending", "pending_until"}}
	for _, t := range snap.Throttles {
		throttles.rows = append(throttles.rows, []any{t.Key, t.Failures, pgTime(t.WindowStart),
			nullTime(t.LockedUntil), t.Pending, nullTime(t.PendingUntil)})
	}
	// Copied in the snapshot's order, which the identity column seq
	// numbers: events of one microsecond keep their order.
	audit := restoreTable{name: "audit", columns: []string{"id", "time", "kind", "actor_id", "actor_name",
		"target_id", "client_addr", "user_agent", "detail"}}
	for _, e := range snap.Audit {
		detail := make(map[string]string, len(e.Detail)) // '{}', not 'null'
		for k, v := range e.Detail {
			detail[storableText(k)] = storableText(v)
		}
		audit.rows = append(audit.rows, []any{e.ID, pgTime(e.Time), storableText(string(e.Kind)),
			storableText(e.ActorID), storableText(e.ActorName), storableText(e.TargetID),
			storableText(e.ClientAddr), storableText(e.UserAgent), detail})
	}
	mail := restoreTable{name: "outbox", columns: []string{"id", "to_addr", "subject", "text_body", "html_body",
		"kind", "created_at", "attempts", "next_attempt_at", "last_error", "sent_at"}}
	for _, m := range snap.Mail {
		mail.rows = append(mail.rows, []any{m.ID, m.To, m.Subject, m.Text, m.HTML, m.Kind, pgTime(m.CreatedAt),
			int64(m.Attempts), nullTime(m.NextAttemptAt), m.LastError, nullTime(m.SentAt)})
	}
	return []restoreTable{users, groups, members, tokens, actions, twoFactors, devices, identities, sessions, throttles, audit, mail}
}

// areaTables names the table that holds each area of a Snapshot.
var areaTables = map[string]string{
	gatehouse.AreaUsers:        "users",
	gatehouse.AreaGroups:       "groups",
	gatehouse.AreaMemberships:  "user_groups",
	gatehouse.AreaTokens:       "tokens",
	gatehouse.AreaActionTokens: "action_tokens",
	gatehouse.AreaTwoFactors:   "two_factor",
	gatehouse.AreaDevices:      "devices",
	gatehouse.AreaIdentities:   "identities",
	gatehouse.AreaSessions:     "sessions",
	gatehouse.AreaThrottles:    "throttles",
	gatehouse.AreaAudit:        "audit",
	gatehouse.AreaMail:         "outbox",
}

// verifyCounts returns an error unless every area's table in tx holds as
// many rows as snap has records of it.
func verifyCounts(ctx context.Context, tx pgx.Tx, snap *gatehouse.Snapshot) error {
	var wrong []string
	for _, a := range snap.Counts() {
		table, ok := areaTables[a.Name]
		if !ok {
			return fmt.Errorf("verify: no table holds the %s", a.Name)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
			return fmt.Errorf("verify: count %s: %w", table, err)
		}
		if n != a.Count {
			wrong = append(wrong, fmt.Sprintf("%s: %d stored of %d", a.Name, n, a.Count))
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("verify: the counts differ, nothing was written (%s)", strings.Join(wrong, "; "))
	}
	return nil
}

// checkSnapshot returns a CodeValidation error naming the first record of
// snap that the schema cannot hold, with the store's own validation of
// that kind of record; nil when all can be stored.
func checkSnapshot(snap *gatehouse.Snapshot) error {
	if snap == nil {
		return errors.New("postgres: restore: no snapshot")
	}
	for _, u := range snap.Users {
		fields := map[string]string{"id": u.ID, "username": u.Username, "email": u.Email, "name": u.Name,
			"password_hash": u.PasswordHash, "security_stamp": u.SecurityStamp}
		for _, g := range u.Groups {
			if !validText(g) {
				fields["groups"] = g
			}
		}
		if err := recordError("user", u.ID, validateUser(u), checkText("The user is not valid.", fields)); err != nil {
			return err
		}
	}
	for _, g := range snap.Groups {
		fields := map[string]string{"name": g.Name, "description": g.Description}
		for _, p := range g.Permissions {
			if !validText(p) {
				fields["permissions"] = p
			}
		}
		if err := recordError("group", g.Name, validateGroup(g), checkText("The group is not valid.", fields)); err != nil {
			return err
		}
	}
	for _, t := range snap.Tokens {
		if err := recordError("API token", t.ID, validateToken(t), checkText("The token is not valid.", map[string]string{"user_id": t.UserID})); err != nil {
			return err
		}
	}
	for _, t := range snap.ActionTokens {
		if err := recordError("action token", t.ID, validateActionToken(t), checkText("The action token is not valid.", map[string]string{"user_id": t.UserID})); err != nil {
			return err
		}
	}
	for _, t := range snap.TwoFactors {
		var version error
		if t.Version == 0 {
			version = &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The two-factor settings are not valid.",
				Fields: map[string]string{"version": "The version must not be 0."}}
		}
		if err := recordError("two-factor settings of user", t.UserID, checkTwoFactor(t), version,
			checkText("The two-factor settings are not valid.", map[string]string{"user_id": t.UserID})); err != nil {
			return err
		}
	}
	for _, d := range snap.Devices {
		if err := recordError("remembered device", d.ID, checkDevice(d)); err != nil {
			return err
		}
	}
	for _, id := range snap.Identities {
		if err := recordError("external login", id.Provider+" "+id.Subject, checkIdentity(id)); err != nil {
			return err
		}
	}
	for _, ses := range snap.Sessions {
		if err := recordError("session", ses.ID, validateSession(ses)); err != nil {
			return err
		}
	}
	for _, t := range snap.Throttles {
		if err := recordError("throttle", t.Key, checkText("The throttle is not valid.", map[string]string{"key": t.Key})); err != nil {
			return err
		}
	}
	for _, e := range snap.Audit {
		if err := recordError("audit event", e.ID, checkText("The audit event is not valid.", map[string]string{"id": e.ID})); err != nil {
			return err
		}
	}
	for _, m := range snap.Mail {
		fields := map[string]string{"id": m.ID, "to": m.To, "subject": m.Subject, "text": m.Text, "html": m.HTML,
			"kind": m.Kind, "last_error": m.LastError}
		if err := recordError("mail message", m.ID, checkText("The message is not valid.", fields)); err != nil {
			return err
		}
	}
	return nil
}

// recordError returns the first of errs that is not nil, as a
// CodeValidation error whose message names the record (what, id) and
// whose fields are that error's; nil when all are nil. The id is printed
// as Go quotes it, since it may be the very text that cannot be stored.
func recordError(what, id string, errs ...error) error {
	for _, err := range errs {
		if err == nil {
			continue
		}
		var ge *gatehouse.Error
		if !errors.As(err, &ge) {
			return fmt.Errorf("%s %q: %w", what, id, err)
		}
		return &gatehouse.Error{
			Code:    gatehouse.CodeValidation,
			Message: fmt.Sprintf("The %s %q cannot be stored in PostgreSQL: %s", what, id, ge.Message),
			Fields:  maps.Clone(ge.Fields),
			Err:     err,
		}
	}
	return nil
}
