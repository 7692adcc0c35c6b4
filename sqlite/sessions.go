package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// sessionColumns are the columns scanSession reads.
const sessionColumns = `id, token_hash, user_id, created_at, last_seen_at, expires_at, idle_timeout_ns,
	remember, two_factor, client_addr, user_agent, scope, authenticated_at, provider, id_token`

// scanSession reads a row of sessionColumns.
func scanSession(sc scanner) (*gatehouse.Session, error) {
	var (
		s                          gatehouse.Session
		created, seen, expires, ns int64
		authenticated              sql.NullInt64
		userID                     sql.NullString // NULL for a guest session
	)
	err := sc.Scan(&s.ID, &s.TokenHash, &userID, &created, &seen, &expires, &ns,
		&s.Remember, &s.TwoFactor, &s.ClientAddr, &s.UserAgent, &s.Scope, &authenticated, &s.Provider, &s.IDToken)
	if err != nil {
		return nil, err
	}
	s.UserID = userID.String
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expires)
	s.AuthenticatedAt = fromNullMicros(authenticated)
	s.IdleTimeout = time.Duration(ns)
	return &s, nil
}

// nanos returns t as nanoseconds since the Unix epoch, clamped to the int64
// range (the years 1678 to 2262) where t.UnixNano is undefined.
func nanos(t time.Time) int64 {
	switch us := t.UnixMicro(); {
	case us >= math.MaxInt64/1000:
		return math.MaxInt64
	case us < math.MinInt64/1000:
		return math.MinInt64
	}
	return t.UnixNano()
}

// CreateSession stores a new session. A session whose user does not exist
// is gatehouse.ErrNotFound; one whose id or token hash is taken is
// CodeConflict. A guest session (UserID "") is stored with user_id NULL.
func (s *Store) CreateSession(ctx context.Context, ses *gatehouse.Session) error {
	return s.createSession(ctx, s.writer, ses)
}

func (s *Store) createSession(ctx context.Context, db execer, ses *gatehouse.Session) error {
	const q = `INSERT INTO sessions (` + sessionColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	return s.insertOwned(ctx, db, "session", ses.UserID, "The session already exists.", q, ses.ID, ses.TokenHash, nullString(ses.UserID),
		micros(ses.CreatedAt), micros(ses.LastSeenAt), micros(ses.ExpiresAt), int64(ses.IdleTimeout),
		ses.Remember, ses.TwoFactor, ses.ClientAddr, ses.UserAgent, ses.Scope, nullMicros(ses.AuthenticatedAt),
		ses.Provider, ses.IDToken)
}

// RecordLoginSession records a login in one transaction: the user's
// last-login time, the session and, when e is not nil, its audit event
// (gatehouse.LoginRecorder). One commit, so one wait for the disk instead
// of three.
func (s *Store) RecordLoginSession(ctx context.Context, ses *gatehouse.Session, e *gatehouse.AuditEvent) error {
	return s.internal("record login session", s.write(ctx, func(tx *sql.Tx) error {
		if err := s.updateOneIn(ctx, tx, "record login", recordLoginQuery, nullMicros(ses.CreatedAt), ses.UserID); err != nil {
			return err
		}
		if err := s.createSession(ctx, tx, ses); err != nil {
			return err
		}
		if e == nil {
			return nil
		}
		return s.appendAudit(ctx, tx, e)
	}))
}

// SessionByTokenHash returns the session whose token hashes to hash, or
// gatehouse.ErrNotFound. It does not check expiry.
func (s *Store) SessionByTokenHash(ctx context.Context, hash []byte) (*gatehouse.Session, error) {
	ses, err := scanSession(s.sessionByHash.QueryRowContext(ctx, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal("session by token hash", err)
	}
	return ses, nil
}

// TouchSession sets the last-seen time of session id. A missing session is
// not an error.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	_, err := s.writer.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, micros(at), id)
	return s.internal("touch session", err)
}

// RekeySession replaces session oldID, whose token hash must still be
// oldHash, by the same session under the new public id ses.ID and token
// hash ses.TokenHash, with ses's AuthenticatedAt, TwoFactor and LastSeenAt
// (the rest, Provider and IDToken among it, stays as stored): one statement, so the old id and hash stop existing the moment the new
// ones start. The remembered devices created with it are the caller's to
// move (MoveDevices). A session that is missing or has another hash is
// gatehouse.ErrNotFound; a new id or hash that another session has is
// CodeConflict. Either way nothing changes.
func (s *Store) RekeySession(ctx context.Context, oldID string, oldHash []byte, ses *gatehouse.Session) error {
	// sessions.id is the primary key and nothing references it with a
	// foreign key (devices.session_id deliberately has none, see
	// 0006_devices), so it can change in place: the UPDATE is conditional
	// on the old hash, so of two concurrent rekeys only one wins.
	const q = `UPDATE sessions SET id = ?, token_hash = ?, authenticated_at = ?, two_factor = ?, last_seen_at = ?
		WHERE id = ? AND token_hash = ?`
	res, err := s.writer.ExecContext(ctx, q, ses.ID, ses.TokenHash, nullMicros(ses.AuthenticatedAt), ses.TwoFactor,
		micros(ses.LastSeenAt), oldID, oldHash)
	if isUniqueViolation(err) {
		return &gatehouse.Error{Code: gatehouse.CodeConflict, Message: "The session id or token is taken.", Err: err}
	}
	if err != nil {
		return s.internal("rekey session", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.internal("rekey session", err)
	} else if n == 0 {
		return gatehouse.ErrNotFound
	}
	return nil
}

// DeleteSession removes session id. A missing session is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	_, err := s.writer.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return s.internal("delete session", err)
}

// DeleteUserSessions removes every session of userID but the one with id
// except, which may be "", and returns how many it removed. Guest
// sessions (user_id NULL) are no user's: userID "" removes none.
func (s *Store) DeleteUserSessions(ctx context.Context, userID, except string) (int, error) {
	return s.deleteCount(ctx, "delete user sessions", `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, except)
}

// UserSessions returns the sessions of userID, newest first.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]*gatehouse.Session, error) {
	const q = `SELECT ` + sessionColumns + ` FROM sessions WHERE user_id = ? ORDER BY created_at DESC, id DESC`
	rows, err := s.reader.QueryContext(ctx, q, userID)
	if err != nil {
		return nil, s.internal("user sessions", err)
	}
	defer rows.Close()
	var sessions []*gatehouse.Session
	for rows.Next() {
		ses, err := scanSession(rows)
		if err != nil {
			return nil, s.internal("user sessions", err)
		}
		sessions = append(sessions, ses)
	}
	if err := rows.Err(); err != nil {
		return nil, s.internal("user sessions", err)
	}
	return sessions, nil
}

// Sessions returns a page of every session, newest first by (created_at,
// id), after the session cursor after names, and the cursor of the next
// page ("" when none follows). A limit of zero or less means no limit. The
// cursor is the last session's created_at and id, so it survives that
// session's deletion; the index sessions_created_at serves the order.
func (s *Store) Sessions(ctx context.Context, after string, limit int) ([]*gatehouse.Session, string, error) {
	// One more than asked says whether a next page exists; -1 is SQLite's
	// "no limit".
	lim := int64(-1)
	if limit > 0 {
		lim = int64(limit) + 1
	}
	q, args := sessionsFirstPage, []any{lim}
	if after != "" {
		created, id, ok := parseSessionCursor(after)
		if !ok {
			return nil, "", errBadSessionCursor
		}
		q, args = sessionsPageAfter, []any{created, id, lim}
	}
	rows, err := s.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", s.internal("sessions", err)
	}
	defer rows.Close()
	var sessions []*gatehouse.Session
	for rows.Next() {
		ses, err := scanSession(rows)
		if err != nil {
			return nil, "", s.internal("sessions", err)
		}
		sessions = append(sessions, ses)
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.internal("sessions", err)
	}
	if limit <= 0 || len(sessions) <= limit {
		return sessions, "", nil
	}
	sessions = sessions[:limit]
	last := sessions[limit-1]
	return sessions, sessionCursor(micros(last.CreatedAt), last.ID), nil
}

// sessionsFirstPage and sessionsPageAfter read a page of Sessions, the
// first one and the one after a cursor's (created_at, id).
const (
	sessionsFirstPage = `SELECT ` + sessionColumns + ` FROM sessions ORDER BY created_at DESC, id DESC LIMIT ?`
	sessionsPageAfter = `SELECT ` + sessionColumns + ` FROM sessions WHERE (created_at, id) < (?, ?)
		ORDER BY created_at DESC, id DESC LIMIT ?`
)

// errBadSessionCursor answers a cursor that sessionCursor did not make.
var errBadSessionCursor = &gatehouse.Error{
	Code:    gatehouse.CodeValidation,
	Message: "The cursor is not valid.",
	Fields:  map[string]string{"cursor": "must be the next value of a previous page"},
}

// sessionCursor is the cursor after the session created at micros with id:
// both, base64url-encoded so that it is opaque and safe in a URL.
func sessionCursor(created int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(created, 10) + "." + id))
}

// parseSessionCursor reads a cursor of sessionCursor.
func parseSessionCursor(cursor string) (created int64, id string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, "", false
	}
	c, id, found := strings.Cut(string(b), ".")
	if !found || id == "" {
		return 0, "", false
	}
	created, err = strconv.ParseInt(c, 10, 64)
	if err != nil {
		return 0, "", false
	}
	return created, id, true
}

// SessionByID returns the session whose public id is id, or
// gatehouse.ErrNotFound. It does not check expiry.
func (s *Store) SessionByID(ctx context.Context, id string) (*gatehouse.Session, error) {
	ses, err := scanSession(s.reader.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal("session by id", err)
	}
	return ses, nil
}

// DeleteExpiredSessions removes every session that has ended at now, as
// gatehouse.Session.Expired has it, and returns how many it removed.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	// The expression is that of the index sessions_ends_at, so that SQLite
	// finds the ended sessions without reading the others.
	const q = `DELETE FROM sessions WHERE min(last_seen_at * 1000 + idle_timeout_ns, expires_at * 1000) <= ?`
	return s.deleteCount(ctx, "delete expired sessions", q, nanos(now))
}

// deleteCount runs a DELETE on the writer and returns how many rows it removed.
func (s *Store) deleteCount(ctx context.Context, op, q string, args ...any) (int, error) {
	res, err := s.writer.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, s.internal(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.internal(op, err)
	}
	return int(n), nil
}

// nullString is s, or NULL when s is "" (the user of a guest session).
func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

var _ gatehouse.SessionCounter = (*Store)(nil)

// CountSessions counts the sessions that have not ended at now (see
// gatehouse.SessionCounter), by the index sessions_ends_at.
func (s *Store) CountSessions(ctx context.Context, now time.Time) (int, error) {
	// The expression is that of the index, as in DeleteExpiredSessions.
	const q = `SELECT count(*) FROM sessions WHERE min(last_seen_at * 1000 + idle_timeout_ns, expires_at * 1000) > ?`
	var n int
	if err := s.reader.QueryRowContext(ctx, q, nanos(now)).Scan(&n); err != nil {
		return 0, s.internal("count sessions", err)
	}
	return n, nil
}
