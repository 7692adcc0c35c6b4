package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse"
)

// mailColumns are the columns scanMail reads.
const mailColumns = `id, to_addr, subject, text_body, html_body, kind, created_at, attempts, next_attempt_at,
	last_error, sent_at`

// scanMail reads a row of mailColumns.
func scanMail(sc scanner) (*gatehouse.Mail, error) {
	var (
		m          gatehouse.Mail
		created    int64
		next, sent sql.NullInt64
	)
	err := sc.Scan(&m.ID, &m.To, &m.Subject, &m.Text, &m.HTML, &m.Kind, &created, &m.Attempts, &next,
		&m.LastError, &sent)
	if err != nil {
		return nil, err
	}
	m.CreatedAt, m.NextAttemptAt, m.SentAt = fromMicros(created), fromNullMicros(next), fromNullMicros(sent)
	return &m, nil
}

// maxMailError is how many characters of a failure's reason MarkMailFailed
// keeps: a mail server's reply can be long, and only its start says much.
const maxMailError = 1000

// truncateRunes returns s cut to at most n runes, never inside one.
func truncateRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// EnqueueMail stores the message m as given, due at m.NextAttemptAt.
//
// The caller always sets NextAttemptAt, normally to now. A zero
// NextAttemptAt is stored as never due: the message is kept, but no
// ClaimMail hands it out and PendingMail does not count it, as after
// MarkMailFailed gives up. A message whose id is taken is CodeConflict;
// negative Attempts is CodeValidation.
func (s *Store) EnqueueMail(ctx context.Context, m *gatehouse.Mail) error {
	if m.Attempts < 0 {
		return &gatehouse.Error{
			Code:    gatehouse.CodeValidation,
			Message: "The message is not valid.",
			Fields:  map[string]string{"attempts": "The number of attempts cannot be negative."},
		}
	}
	const q = `INSERT INTO outbox (` + mailColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err := s.writer.ExecContext(ctx, q, m.ID, m.To, m.Subject, m.Text, m.HTML, m.Kind, micros(m.CreatedAt),
		m.Attempts, nullMicros(m.NextAttemptAt), m.LastError, nullMicros(m.SentAt))
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
// The read and the lease are one BEGIN IMMEDIATE transaction, which holds
// the write lock throughout, so concurrent claims, in this process or
// another, never hand out the same message twice.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*gatehouse.Mail, error) {
	if n <= 0 {
		return nil, nil
	}
	until := micros(now.Add(lease))
	var claimed []*gatehouse.Mail
	err := s.write(ctx, func(tx *sql.Tx) error {
		// The partial index outbox_due answers this without a sort, and
		// without reading the messages sent already.
		const q = `SELECT ` + mailColumns + ` FROM outbox
			WHERE sent_at IS NULL AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`
		rows, err := tx.QueryContext(ctx, q, micros(now), n)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMail(rows)
			if err != nil {
				return err
			}
			claimed = append(claimed, m)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		const claim = `UPDATE outbox SET next_attempt_at = ?, attempts = attempts + 1 WHERE id = ?`
		for _, m := range claimed {
			if _, err := tx.ExecContext(ctx, claim, until, m.ID); err != nil {
				return err
			}
			m.Attempts++
			m.NextAttemptAt = fromMicros(until)
		}
		return nil
	})
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
	// micros, not nullMicros: a zero at must not leave the message unsent.
	const q = `UPDATE outbox SET sent_at = coalesce(sent_at, ?), subject = '', text_body = '', html_body = ''
		WHERE id = ?`
	return s.updateOne(ctx, "mark mail sent", q, micros(at), id)
}

// MarkMailFailed records that an attempt to send message id failed for
// reason, of which it keeps the first 1000 characters, and makes the
// message due again at next; a zero next gives up on the message, which is
// then never claimed again nor counted as pending. A missing message is
// gatehouse.ErrNotFound.
//
// A message sent already stays as it is: its sender's lease ended, another
// sender sent it, and the first one's failure changes nothing.
func (s *Store) MarkMailFailed(ctx context.Context, id, reason string, next time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		// A message given up (next is zero) loses its subject and bodies
		// like a sent one: they may hold one-time links.
		const q = `UPDATE outbox SET last_error = ?, next_attempt_at = ?,
			subject = CASE WHEN ? IS NULL THEN '' ELSE subject END,
			text_body = CASE WHEN ? IS NULL THEN '' ELSE text_body END,
			html_body = CASE WHEN ? IS NULL THEN '' ELSE html_body END
			WHERE id = ? AND sent_at IS NULL`
		nxt := nullMicros(next)
		res, err := tx.ExecContext(ctx, q, truncateRunes(reason, maxMailError), nxt, nxt, nxt, nxt, id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 1 {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM outbox WHERE id = ?`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return gatehouse.ErrNotFound
		}
		return err
	})
	return s.internal("mark mail failed", err)
}

// PendingMail counts the messages neither sent nor given up on, leased
// ones included.
func (s *Store) PendingMail(ctx context.Context) (int, error) {
	var n int
	const q = `SELECT count(*) FROM outbox WHERE sent_at IS NULL AND next_attempt_at IS NOT NULL`
	if err := s.reader.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return 0, s.internal("pending mail", err)
	}
	return n, nil
}

// DeleteOldMail removes messages sent, or given up (never due again and
// created), before before.
func (s *Store) DeleteOldMail(ctx context.Context, before time.Time) (int, error) {
	us := micros(before)
	return s.deleteCount(ctx, "delete old mail",
		`DELETE FROM outbox WHERE (sent_at IS NOT NULL AND sent_at < ?) OR (sent_at IS NULL AND next_attempt_at IS NULL AND created_at < ?)`, us, us)
}
