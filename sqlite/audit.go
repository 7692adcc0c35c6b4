package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
)

// auditColumns are the columns scanAudit reads.
const auditColumns = `id, time, kind, actor_id, actor_name, target_id, client_addr, user_agent, detail`

// scanAudit reads a row of auditColumns. An event without detail has nil
// Detail, however it was appended.
func scanAudit(sc scanner) (*gatehouse.AuditEvent, error) {
	var (
		e            gatehouse.AuditEvent
		at           int64
		kind, detail string
	)
	err := sc.Scan(&e.ID, &at, &kind, &e.ActorID, &e.ActorName, &e.TargetID, &e.ClientAddr, &e.UserAgent, &detail)
	if err != nil {
		return nil, err
	}
	e.Time, e.Kind = fromMicros(at), gatehouse.AuditKind(kind)
	if detail != "{}" {
		if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
			return nil, fmt.Errorf("detail of audit event %s: %w", e.ID, err)
		}
	}
	return &e, nil
}

// AppendAudit stores event e. An event whose id is taken is CodeConflict.
// The log has no foreign keys: an event may name a user, group, session or
// token that no longer exists, and outlives those it names.
func (s *Store) AppendAudit(ctx context.Context, e *gatehouse.AuditEvent) error {
	return s.appendAudit(ctx, s.writer, e)
}

func (s *Store) appendAudit(ctx context.Context, db execer, e *gatehouse.AuditEvent) error {
	detail := e.Detail
	if detail == nil {
		detail = map[string]string{} // "{}", not "null"
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return s.internal("append audit", err)
	}
	const q = `INSERT INTO audit (` + auditColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err = db.ExecContext(ctx, q, e.ID, micros(e.Time), string(e.Kind), e.ActorID, e.ActorName, e.TargetID,
		e.ClientAddr, e.UserAgent, string(b))
	if isUniqueViolation(err) {
		return &gatehouse.Error{Code: gatehouse.CodeConflict, Message: "The audit event already exists.", Err: err}
	}
	return s.internal("append audit", err)
}

// Audit returns a page of the events matching f, newest first, and how many
// match in all. Events of the same microsecond come newest appended first.
//
// Since and Until are compared with the microsecond times the table keeps,
// and so the times Audit returns: an event is selected exactly when
// f.Since <= e.Time < f.Until holds of the e.Time it comes back with, even
// when the bounds have nanoseconds.
func (s *Store) Audit(ctx context.Context, f gatehouse.AuditFilter) ([]*gatehouse.AuditEvent, int, error) {
	var (
		where []string
		args  []any
	)
	if f.UserID != "" {
		// SQLite answers the OR from audit_actor_id and audit_target_id.
		where = append(where, `(actor_id = ? OR target_id = ?)`)
		args = append(args, f.UserID, f.UserID)
	}
	if f.Kind != "" {
		where = append(where, `kind = ?`)
		args = append(args, string(f.Kind))
	}
	// A stored time, a whole number of microseconds, is at or after Since
	// exactly when it is at or after Since rounded up to the microsecond,
	// and likewise before Until. The column stays bare, so the indexes
	// serve the comparison.
	if !f.Since.IsZero() {
		where = append(where, `time >= ?`)
		args = append(args, ceilMicros(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, `time < ?`)
		args = append(args, ceilMicros(f.Until))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	limit, offset := page(f.Offset, f.Limit)

	// One read transaction, so the page and the total agree.
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, s.internal("audit", err)
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM audit`+cond, args...).Scan(&total); err != nil {
		return nil, 0, s.internal("audit", err)
	}
	// The rowid orders the events of one microsecond by when they were
	// appended; every index ends with it, so no sort is needed (see
	// 0002_tokens_audit.sql).
	q := `SELECT ` + auditColumns + ` FROM audit` + cond + ` ORDER BY time DESC, rowid DESC LIMIT ? OFFSET ?`
	rows, err := tx.QueryContext(ctx, q, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, s.internal("audit", err)
	}
	defer rows.Close()
	var events []*gatehouse.AuditEvent
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, 0, s.internal("audit", err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, s.internal("audit", err)
	}
	return events, total, nil
}

// ceilMicros is micros rounded up instead of down: the first whole
// microsecond at or after t.
func ceilMicros(t time.Time) int64 {
	us := micros(t)
	if t.Nanosecond()%1000 != 0 {
		us++
	}
	return us
}
