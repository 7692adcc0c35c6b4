package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

// auditColumns are the columns scanAudit reads.
const auditColumns = `id, time, kind, actor_id, actor_name, target_id, client_addr, user_agent, detail`

// scanAudit reads a row of auditColumns. An event without detail has nil
// Detail, however it was appended.
func scanAudit(row pgx.Row) (*gatehouse.AuditEvent, error) {
	var (
		e      gatehouse.AuditEvent
		at     time.Time
		kind   string
		detail map[string]string
	)
	err := row.Scan(&e.ID, &at, &kind, &e.ActorID, &e.ActorName, &e.TargetID, &e.ClientAddr, &e.UserAgent, &detail)
	if err != nil {
		return nil, err
	}
	e.Time, e.Kind = at.UTC(), gatehouse.AuditKind(kind)
	if len(detail) > 0 {
		e.Detail = detail
	}
	return &e, nil
}

// AppendAudit stores event e. An event whose id is taken is CodeConflict,
// one without an id CodeValidation. The log has no foreign keys: an event
// may name a user, group, session or token that no longer exists, and
// outlives those it names.
//
// Its other texts are kept as PostgreSQL text can hold them (see
// storableText): they are partly what clients sent (a failed login's
// username, a user agent), and an event must never be lost to a byte
// PostgreSQL refuses.
func (s *Store) AppendAudit(ctx context.Context, e *gatehouse.AuditEvent) error {
	return s.internal("append audit", s.appendAudit(ctx, s.pool, e))
}

// appendAudit inserts e with db, the pool or a transaction.
func (s *Store) appendAudit(ctx context.Context, db execer, e *gatehouse.AuditEvent) error {
	if e.ID == "" || !validText(e.ID) {
		return &gatehouse.Error{
			Code:    gatehouse.CodeValidation,
			Message: "The audit event is not valid.",
			Fields:  map[string]string{"id": "The id is required, as text."},
		}
	}
	detail := make(map[string]string, len(e.Detail)) // '{}', not 'null'
	for k, v := range e.Detail {
		detail[storableText(k)] = storableText(v)
	}
	const q = `INSERT INTO audit (` + auditColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	_, err := db.Exec(ctx, q, e.ID, pgTime(e.Time), storableText(string(e.Kind)),
		storableText(e.ActorID), storableText(e.ActorName), storableText(e.TargetID),
		storableText(e.ClientAddr), storableText(e.UserAgent), detail)
	if isUniqueViolation(err) {
		return &gatehouse.Error{Code: gatehouse.CodeConflict, Message: "The audit event already exists.", Err: err}
	}
	return err
}

// Audit returns a page of the events matching f, newest first, and how many
// match in all. Events of the same microsecond come newest appended first.
//
// Since and Until are compared with the microsecond times the table keeps,
// and so the times Audit returns: an event is selected exactly when
// f.Since <= e.Time < f.Until holds of the e.Time it comes back with, even
// when the bounds have nanoseconds.
func (s *Store) Audit(ctx context.Context, f gatehouse.AuditFilter) ([]*gatehouse.AuditEvent, int, error) {
	ctx, cancel := listBound(ctx) // it counts every match (see ListStatementTimeout)
	defer cancel()
	var (
		where []string
		args  []any
	)
	// A user id or kind that is no text matches no stored event, which
	// storableText made text.
	if !validText(f.UserID) || !validText(string(f.Kind)) {
		return nil, 0, nil
	}
	if f.UserID != "" {
		// Answered by a BitmapOr of audit_actor_id and audit_target_id.
		args = append(args, f.UserID)
		where = append(where, fmt.Sprintf(`(actor_id = $%d OR target_id = $%[1]d)`, len(args)))
	}
	if f.Kind != "" {
		args = append(args, string(f.Kind))
		where = append(where, fmt.Sprintf(`kind = $%d`, len(args)))
	}
	// A stored time, a whole number of microseconds, is at or after Since
	// exactly when it is at or after Since rounded up to the microsecond,
	// and likewise before Until. The column stays bare, so the indexes
	// serve the comparison.
	if !f.Since.IsZero() {
		args = append(args, ceilMicro(f.Since))
		where = append(where, fmt.Sprintf(`time >= $%d`, len(args)))
	}
	if !f.Until.IsZero() {
		args = append(args, ceilMicro(f.Until))
		where = append(where, fmt.Sprintf(`time < $%d`, len(args)))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	// A NULL limit is no limit.
	var limit *int64
	if f.Limit > 0 {
		l := int64(f.Limit)
		limit = &l
	}
	offset := int64(max(f.Offset, 0))

	var (
		events []*gatehouse.AuditEvent
		total  int
	)
	// One repeatable-read transaction, so the page and the total see the
	// same snapshot.
	err := s.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM audit`+cond, args...).Scan(&total); err != nil {
			return err
		}
		// seq orders the events of one microsecond by when they were
		// appended; every index ends with (time, seq), so no sort is needed.
		q := fmt.Sprintf(`SELECT %s FROM audit%s ORDER BY time DESC, seq DESC LIMIT $%d OFFSET $%d`,
			auditColumns, cond, len(args)+1, len(args)+2)
		rows, err := tx.Query(ctx, q, append(args, limit, offset)...)
		if err != nil {
			return err
		}
		events, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*gatehouse.AuditEvent, error) { return scanAudit(row) })
		return err
	})
	if err != nil {
		return nil, 0, s.internal("audit", err)
	}
	return events, total, nil
}

// ceilMicro is pgTime rounded up instead of down: the first whole
// microsecond at or after t.
func ceilMicro(t time.Time) time.Time {
	us := pgTime(t)
	if us.Before(t) {
		us = us.Add(time.Microsecond)
	}
	return us
}

// validText reports whether s can be a parameter of a text column: valid
// UTF-8 without NUL, which PostgreSQL refuses with an error. A key that is
// not can match no stored row, so lookups answer "not found" without
// asking the database.
func validText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// storableText returns s as a text column can hold it: s itself when it
// is validText, else with each invalid byte and NUL replaced by U+FFFD.
// It is for descriptive texts that come from clients (a user agent, a
// name a failed login gave), which are better kept approximately than
// refused with the record they describe.
func storableText(s string) string {
	if validText(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
