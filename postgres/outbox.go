package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse/gatehouse"
)

// mailColumns are the columns scanMail reads.
const mailColumns = `id, to_addr, subject, text_body, html_body, kind, created_at, attempts, next_attempt_at,
	last_error, sent_at`

// scanMail reads a row of mailColumns.
func scanMail(row pgx.Row) (*gatehouse.Mail, error) {
	var (
		m          gatehouse.Mail
		created    time.Time
		next, sent pgtype.Timestamptz
	)
	err := row.Scan(&m.ID, &m.To, &m.Subject, &m.Text, &m.HTML, &m.Kind, &created, &m.Attempts, &next,
		&m.LastError, &sent)
	if err != nil {
		return nil, err
	}
	m.CreatedAt, m.NextAttemptAt, m.SentAt = created.UTC(), fromNullTime(next), fromNullTime(sent)
	return &m, nil
}

// maxMailError is how many characters of a failure's reason MarkMailFailed
// keeps: a mail server's reply can be long, and only its start says much.
const maxMailError = 1000

// mailReason returns the reason of a failed attempt as MarkMailFailed
// stores it: cut to maxMailError runes, never inside one, and made valid
// UTF-8 text without NUL bytes, which a text column cannot hold. The
// reason is a remote server's reply, not the caller's input: it is
// cleaned, never refused, so that the failure is recorded whatever it says.
func mailReason(reason string) string {
	reason = strings.ToValidUTF8(strings.ReplaceAll(reason, "\x00", ""), "\uFFFD")
	n := maxMailError
	for i := range reason {
		if n == 0 {
			return reason[:i]
		}
		n--
	}
	return reason
}

// EnqueueMail stores the message m as given, due at m.NextAttemptAt.
//
// The caller always sets NextAttemptAt, normally to now. A zero
// NextAttemptAt is stored as never due: the message is kept, but no
// ClaimMail hands it out and PendingMail does not count it, as after
// MarkMailFailed gives up. A message whose id is taken is CodeConflict;
// negative Attempts, or a field that is not UTF-8 text, is CodeValidation.
func (s *Store) EnqueueMail(ctx context.Context, m *gatehouse.Mail) error {
	const invalid = "The message is not valid."
	if m.Attempts < 0 {
		return &gatehouse.Error{
			Code:    gatehouse.CodeValidation,
			Message: invalid,
			Fields:  map[string]string{"attempts": "The number of attempts cannot be negative."},
		}
	}
	err := checkText(invalid, map[string]string{"id": m.ID, "to": m.To, "subject": m.Subject, "text": m.Text,
		"html": m.HTML, "kind": m.Kind, "last_error": m.LastError})
	if err != nil {
		return err
	}
	const q = `INSERT INTO outbox (` + mailColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	_, err = s.pool.Exec(ctx, q, m.ID, m.To, m.Subject, m.Text, m.HTML, m.Kind, pgTime(m.CreatedAt),
		m.Attempts, nullTime(m.NextAttemptAt), m.LastError, nullTime(m.SentAt))
	if isUniqueViolation(err) {
		return &gatehouse.Error{Code: gatehouse.CodeConflict, Message: "The message already exists.", Err: err}
	}
	return s.internal("enqueue mail", err)
}

// ClaimMail hands out up to n unsent messages due at now, the earliest due
// first (and, among those due at the same microsecond, by id), and leases
// them until now+lease: each comes back with one more attempt counted and
// NextAttemptAt at the end of its lease, as stored, truncated to the
// microsecond. A message is due at now when its NextAttemptAt, as stored, is
// not after now; when its lease ends it is due again, unless marked sent or
// failed meanwhile. n of zero or less claims nothing.
//
// The choice and the lease are one statement. FOR UPDATE SKIP LOCKED makes
// concurrent claims, from any number of processes, pass over the messages
// another claim is leasing instead of waiting for them; a message leased
// by a claim that committed after this one's snapshot is checked again
// once locked (PostgreSQL re-evaluates the WHERE on the row's newest
// version), and, leased now, is no longer due. So no message is handed out
// twice while its lease lasts.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*gatehouse.Mail, error) {
	if n <= 0 {
		return nil, nil
	}
	const q = `WITH due AS (
			SELECT id, next_attempt_at FROM outbox
			WHERE sent_at IS NULL AND next_attempt_at <= $1
			ORDER BY next_attempt_at, id
			LIMIT $2
			FOR UPDATE SKIP LOCKED
		), claimed AS (
			UPDATE outbox SET next_attempt_at = $3, attempts = outbox.attempts + 1
			FROM due WHERE outbox.id = due.id
			RETURNING outbox.id, to_addr, subject, text_body, html_body, kind, created_at, attempts,
				outbox.next_attempt_at, last_error, sent_at, due.next_attempt_at AS due_at
		)
		SELECT ` + mailColumns + ` FROM claimed ORDER BY due_at, id`
	rows, err := s.pool.Query(ctx, q, pgTime(now), int64(n), pgTime(now.Add(lease)))
	if err != nil {
		return nil, s.internal("claim mail", err)
	}
	claimed, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*gatehouse.Mail, error) { return scanMail(row) })
	if err != nil {
		return nil, s.internal("claim mail", err)
	}
	return claimed, nil
}

// MarkMailSent records that message id was sent at at and blanks its
// subject and bodies, which may hold one-time links; the address, kind and
// times stay, for the record. Marking a message sent again keeps the first
// time. A missing message is gatehouse.ErrNotFound.
func (s *Store) MarkMailSent(ctx context.Context, id string, at time.Time) error {
	// pgTime, not nullTime: a zero at must not leave the message unsent.
	const q = `UPDATE outbox SET sent_at = coalesce(sent_at, $1), subject = '', text_body = '', html_body = ''
		WHERE id = $2`
	return s.updateOne(ctx, "mark mail sent", q, pgTime(at), id)
}

// MarkMailFailed records that an attempt to send message id failed for
// reason, of which it keeps the first 1000 characters, and makes the
// message due again at next; a zero next gives up on the message, which is
// then never claimed again nor counted as pending, and blanks its subject
// and bodies as MarkMailSent does. A missing message is
// gatehouse.ErrNotFound.
//
// A message sent already stays as it is: its sender's lease ended, another
// sender sent it, and the first one's failure changes nothing.
func (s *Store) MarkMailFailed(ctx context.Context, id, reason string, next time.Time) error {
	// One statement: the UPDATE and the check that tells a message sent
	// already from a missing one see the same snapshot.
	const q = `WITH failed AS (
			UPDATE outbox SET last_error = $2, next_attempt_at = $3,
				subject = CASE WHEN $3::timestamptz IS NULL THEN '' ELSE subject END,
				text_body = CASE WHEN $3::timestamptz IS NULL THEN '' ELSE text_body END,
				html_body = CASE WHEN $3::timestamptz IS NULL THEN '' ELSE html_body END
			WHERE id = $1 AND sent_at IS NULL
			RETURNING 1
		)
		SELECT EXISTS (SELECT 1 FROM outbox WHERE id = $1)`
	var exists bool
	if err := s.pool.QueryRow(ctx, q, id, mailReason(reason), nullTime(next)).Scan(&exists); err != nil {
		return s.internal("mark mail failed", err)
	}
	if !exists {
		return gatehouse.ErrNotFound
	}
	return nil
}

// PendingMail counts the messages neither sent nor given up on, leased
// ones included.
func (s *Store) PendingMail(ctx context.Context) (int, error) {
	var n int
	const q = `SELECT count(*) FROM outbox WHERE sent_at IS NULL AND next_attempt_at IS NOT NULL`
	if err := s.pool.QueryRow(ctx, q).Scan(&n); err != nil {
		return 0, s.internal("pending mail", err)
	}
	return n, nil
}

// DeleteOldMail removes messages sent, or given up (never due again) and
// created, before before, and returns how many it removed.
func (s *Store) DeleteOldMail(ctx context.Context, before time.Time) (int, error) {
	const q = `DELETE FROM outbox
		WHERE (sent_at IS NOT NULL AND sent_at < $1) OR (sent_at IS NULL AND next_attempt_at IS NULL AND created_at < $1)`
	ctx = unbounded(ctx) // a sweep may rightly take long (see DefaultStatementTimeout)
	return s.rowsChanged(ctx, "delete old mail", q, pgTime(before))
}
