package postgres

import (
	"context"
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse/gatehouse"
)

// sessionColumns are the columns scanSession reads.
const sessionColumns = `id, token_hash, user_id, created_at, last_seen_at, expires_at, idle_timeout_ns,
	authenticated_at, remember, two_factor, scope, client_addr, user_agent, provider, id_token`

// scanSession reads a row of sessionColumns.
func scanSession(row pgx.Row) (*gatehouse.Session, error) {
	var (
		s                      gatehouse.Session
		userID                 pgtype.Text // NULL for a guest session
		created, seen, expires time.Time
		idle                   int64
		authenticated          pgtype.Timestamptz
	)
	err := row.Scan(&s.ID, &s.TokenHash, &userID, &created, &seen, &expires, &idle,
		&authenticated, &s.Remember, &s.TwoFactor, &s.Scope, &s.ClientAddr, &s.UserAgent, &s.Provider, &s.IDToken)
	if err != nil {
		return nil, err
	}
	s.UserID = userID.String
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = created.UTC(), seen.UTC(), expires.UTC()
	s.IdleTimeout = time.Duration(idle)
	s.AuthenticatedAt = fromNullTime(authenticated)
	return &s, nil
}

// scanSessions reads every row of sessionColumns.
func scanSessions(rows pgx.Rows) ([]*gatehouse.Session, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*gatehouse.Session, error) { return scanSession(row) })
}

// execer is what runs a statement: the pool, or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// validateSession checks what the schema requires of a session, so that a
// bad session is a CodeValidation error naming the fields rather than an
// internal constraint failure.
func validateSession(ses *gatehouse.Session) error {
	fields := map[string]string{}
	if ses.ID == "" || !validText(ses.ID) {
		fields["id"] = "The id is required, as text."
	}
	if len(ses.TokenHash) == 0 {
		fields["token_hash"] = "The token hash is required."
	}
	if !validText(ses.UserID) {
		fields["user_id"] = "The user id must be text."
	}
	if !validText(ses.Scope) {
		fields["scope"] = "The scope must be text."
	}
	// Provider and IDToken are kept exactly, not approximately as
	// ClientAddr and UserAgent: an altered ID token would no longer be
	// the provider's.
	if !validText(ses.Provider) {
		fields["provider"] = "The provider must be text."
	}
	if !validText(ses.IDToken) {
		fields["id_token"] = "The ID token must be text."
	}
	if (ses.UserID == "") != (ses.Scope == gatehouse.ScopeGuest) {
		fields["scope"] = "A session has a user unless its scope is guest, and a guest session has none."
	}
	if ses.IdleTimeout < 0 {
		fields["idle_timeout"] = "The idle timeout must not be negative."
	}
	if len(fields) > 0 {
		return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The session is not valid.", Fields: fields}
	}
	return nil
}

// errSessionTaken answers a session whose id or token hash another
// session has.
func errSessionTaken(cause error) error {
	return &gatehouse.Error{Code: gatehouse.CodeConflict, Message: "The session id or token is taken.", Err: cause}
}

// CreateSession stores a new session. One whose id or token hash is taken
// is CodeConflict. The store does not know the users (sessions may live
// apart from them): a session of a user it has not got is kept. A guest
// session (UserID "", scope guest) is stored without a user; any other
// mix of user and guest scope is CodeValidation. ClientAddr and UserAgent
// are kept as PostgreSQL text can hold them (see storableText).
func (s *Store) CreateSession(ctx context.Context, ses *gatehouse.Session) error {
	return s.internal("create session", s.createSession(ctx, s.pool, ses))
}

// createSession inserts ses with db, the pool or a transaction.
func (s *Store) createSession(ctx context.Context, db execer, ses *gatehouse.Session) error {
	if err := validateSession(ses); err != nil {
		return err
	}
	const q = `INSERT INTO sessions (` + sessionColumns + `, idle_ends_ns)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`
	_, err := db.Exec(ctx, q, ses.ID, ses.TokenHash, nullText(ses.UserID),
		pgTime(ses.CreatedAt), pgTime(ses.LastSeenAt), pgTime(ses.ExpiresAt), int64(ses.IdleTimeout),
		nullTime(ses.AuthenticatedAt), ses.Remember, ses.TwoFactor, ses.Scope,
		storableText(ses.ClientAddr), storableText(ses.UserAgent), ses.Provider, ses.IDToken,
		idleEndsNanos(ses.LastSeenAt, ses.IdleTimeout))
	if isUniqueViolation(err) {
		return errSessionTaken(err)
	}
	return err
}

// SessionByTokenHash returns the session whose token hashes to hash, or
// gatehouse.ErrNotFound. It does not check expiry.
func (s *Store) SessionByTokenHash(ctx context.Context, hash []byte) (*gatehouse.Session, error) {
	return s.sessionWhere(ctx, "session by token hash", `token_hash = $1`, hash)
}

// SessionByID returns the session whose public id is id, or
// gatehouse.ErrNotFound. It does not check expiry.
func (s *Store) SessionByID(ctx context.Context, id string) (*gatehouse.Session, error) {
	if !validText(id) {
		return nil, gatehouse.ErrNotFound
	}
	return s.sessionWhere(ctx, "session by id", `id = $1`, id)
}

// sessionWhere returns the one session matching cond with arg, or
// gatehouse.ErrNotFound.
func (s *Store) sessionWhere(ctx context.Context, op, cond string, arg any) (*gatehouse.Session, error) {
	ses, err := scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE `+cond, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal(op, err)
	}
	return ses, nil
}

// setIdleEnds is the SQL that keeps idle_ends_ns with a new last_seen_at,
// given in nanoseconds as $1: numeric, so that a long idle timeout clamps
// to the largest bigint instead of overflowing.
const setIdleEnds = `idle_ends_ns = least($1::numeric + idle_timeout_ns, 9223372036854775807)::bigint`

// TouchSession sets the last-seen time of session id, and with it when the
// session ends unless used again. A missing session is not an error.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	if !validText(id) {
		return nil
	}
	const q = `UPDATE sessions SET last_seen_at = $2, ` + setIdleEnds + ` WHERE id = $3`
	_, err := s.pool.Exec(ctx, q, nanos(pgTime(at)), pgTime(at), id)
	return s.internal("touch session", err)
}

// RekeySession replaces session oldID, whose token hash must still be
// oldHash, by the same session under the new public id ses.ID and token
// hash ses.TokenHash, with ses's AuthenticatedAt, TwoFactor and LastSeenAt;
// the rest, Provider and IDToken among it, stays as stored. It moves
// nothing else: remembered devices are the caller's to move.
//
// One UPDATE of the row in place, conditional on the old id and hash, so
// the old id and hash stop existing the moment the new ones start, and of
// two concurrent rekeys of one token the second, waiting on the row lock,
// finds the id and hash changed and matches nothing. A session that is
// missing or has another hash is gatehouse.ErrNotFound; a new id or hash
// that another session has is CodeConflict. Either way nothing changes.
func (s *Store) RekeySession(ctx context.Context, oldID string, oldHash []byte, ses *gatehouse.Session) error {
	if !validText(oldID) || len(oldHash) == 0 {
		return gatehouse.ErrNotFound
	}
	if ses.ID == "" || !validText(ses.ID) || len(ses.TokenHash) == 0 {
		return &gatehouse.Error{
			Code:    gatehouse.CodeValidation,
			Message: "The session is not valid.",
			Fields:  map[string]string{"id": "The new id and token hash are required."},
		}
	}
	const q = `UPDATE sessions SET id = $2, token_hash = $3, authenticated_at = $4, two_factor = $5,
		last_seen_at = $6, ` + setIdleEnds + `
		WHERE id = $7 AND token_hash = $8`
	tag, err := s.pool.Exec(ctx, q, nanos(pgTime(ses.LastSeenAt)), ses.ID, ses.TokenHash,
		nullTime(ses.AuthenticatedAt), ses.TwoFactor, pgTime(ses.LastSeenAt), oldID, oldHash)
	switch {
	case isUniqueViolation(err):
		return errSessionTaken(err)
	case err != nil:
		return s.internal("rekey session", err)
	case tag.RowsAffected() == 0:
		return gatehouse.ErrNotFound
	}
	return nil
}

// DeleteSession removes session id. A missing session is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if !validText(id) {
		return nil
	}
	_, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	return s.internal("delete session", err)
}

// DeleteUserSessions removes every session of userID but the one with id
// except, which may be "", and returns how many it removed. Guest
// sessions (user_id NULL) are no user's: userID "" removes none.
func (s *Store) DeleteUserSessions(ctx context.Context, userID, except string) (int, error) {
	if !validText(userID) {
		return 0, nil
	}
	// An except that is not text names no session: exclude nothing.
	if !validText(except) {
		except = ""
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2`, userID, except)
	if err != nil {
		return 0, s.internal("delete user sessions", err)
	}
	return int(tag.RowsAffected()), nil
}

// UserSessions returns the sessions of userID, newest first.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]*gatehouse.Session, error) {
	if !validText(userID) {
		return nil, nil
	}
	const q = `SELECT ` + sessionColumns + ` FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id DESC`
	rows, err := s.pool.Query(ctx, q, userID)
	if err != nil {
		return nil, s.internal("user sessions", err)
	}
	sessions, err := scanSessions(rows)
	if err != nil {
		return nil, s.internal("user sessions", err)
	}
	return sessions, nil
}

// Sessions returns a page of every session, newest first by (created_at,
// id), after the session cursor after names, and the cursor of the next
// page ("" when none follows). A limit of zero or less means no limit. The
// cursor is the last session's created_at and id, so it survives that
// session's deletion; the index sessions_created_at serves each page as
// one range scan.
func (s *Store) Sessions(ctx context.Context, after string, limit int) ([]*gatehouse.Session, string, error) {
	// One more than asked says whether a next page exists; NULL is no limit.
	var lim *int64
	if limit > 0 {
		l := int64(limit)
		if l < math.MaxInt64 {
			l++
		}
		lim = &l
	}
	q, args := `SELECT `+sessionColumns+` FROM sessions ORDER BY created_at DESC, id DESC LIMIT $1`, []any{lim}
	if after != "" {
		created, id, ok := parseSessionCursor(after)
		if !ok {
			return nil, "", errBadSessionCursor
		}
		q = `SELECT ` + sessionColumns + ` FROM sessions WHERE (created_at, id) < ($2, $3)
			ORDER BY created_at DESC, id DESC LIMIT $1`
		args = append(args, created, id)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", s.internal("sessions", err)
	}
	sessions, err := scanSessions(rows)
	if err != nil {
		return nil, "", s.internal("sessions", err)
	}
	if limit <= 0 || len(sessions) <= limit {
		return sessions, "", nil
	}
	sessions = sessions[:limit]
	last := sessions[limit-1]
	return sessions, sessionCursor(last.CreatedAt, last.ID), nil
}

// errBadSessionCursor answers a cursor that sessionCursor did not make.
var errBadSessionCursor = &gatehouse.Error{
	Code:    gatehouse.CodeValidation,
	Message: "The cursor is not valid.",
	Fields:  map[string]string{"cursor": "must be the next value of a previous page"},
}

// sessionCursor is the cursor after the session created at created with
// id: its microseconds since the Unix epoch and id, base64url-encoded so
// that it is opaque and safe in a URL. The same form as the SQLite
// store's, so a cursor survives neither more nor less than there.
func sessionCursor(created time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(created.UnixMicro(), 10) + "." + id))
}

// minPGMicros is the earliest time timestamptz holds, 4714-11-24 BC, in
// microseconds since the Unix epoch; a cursor before it cannot have come
// from a stored session, and PostgreSQL would refuse it as a parameter.
const minPGMicros = -210866803200000000

// parseSessionCursor reads a cursor of sessionCursor, refusing anything a
// query could not take: a time timestamptz cannot hold, an id that is no
// text.
func parseSessionCursor(cursor string) (created time.Time, id string, ok bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	if err != nil {
		return time.Time{}, "", false
	}
	c, id, found := strings.Cut(string(b), ".")
	if !found || id == "" || !validText(id) {
		return time.Time{}, "", false
	}
	us, err := strconv.ParseInt(c, 10, 64)
	if err != nil || us < minPGMicros {
		return time.Time{}, "", false
	}
	return time.UnixMicro(us).UTC(), id, true
}

// DeleteExpiredSessions removes every session that has ended at now, as
// gatehouse.Session.Expired has it, and returns how many it removed.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	ctx = unbounded(ctx) // a sweep may rightly take long (see DefaultStatementTimeout)
	// The idle end is compared in nanoseconds. expires_at holds whole
	// microseconds, so it is at or before now exactly when it is at or
	// before now truncated to the microsecond. Both columns are indexed.
	const q = `DELETE FROM sessions WHERE idle_ends_ns <= $1 OR expires_at <= $2`
	tag, err := s.pool.Exec(ctx, q, nanos(now), pgTime(now))
	if err != nil {
		return 0, s.internal("delete expired sessions", err)
	}
	return int(tag.RowsAffected()), nil
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

// idleEndsNanos is the idle_ends_ns of a session last seen at lastSeen with
// idle timeout idle (not negative): the stored last-seen time plus idle,
// clamped to int64 as setIdleEnds clamps it.
func idleEndsNanos(lastSeen time.Time, idle time.Duration) int64 {
	seen := nanos(pgTime(lastSeen))
	if seen > math.MaxInt64-int64(idle) {
		return math.MaxInt64
	}
	return seen + int64(idle)
}

// nullText is s, or NULL when s is "" (the user of a guest session).
func nullText(s string) pgtype.Text {
	return pgtype.Text{String: s, Valid: s != ""}
}

var _ gatehouse.SessionCounter = (*Store)(nil)

// CountSessions counts the sessions that have not ended at now (see
// gatehouse.SessionCounter), by the index on idle_ends_ns or expires_at.
func (s *Store) CountSessions(ctx context.Context, now time.Time) (int, error) {
	// The complement of DeleteExpiredSessions's condition.
	const q = `SELECT count(*) FROM sessions WHERE idle_ends_ns > $1 AND expires_at > $2`
	var n int
	if err := s.pool.QueryRow(ctx, q, nanos(now), pgTime(now)).Scan(&n); err != nil {
		return 0, s.internal("count sessions", err)
	}
	return n, nil
}
