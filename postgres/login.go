package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

// RecordLoginSession records a login in one transaction
// (gatehouse.LoginRecorder): the user's last-login time, which is the
// session's creation time, the session and, when e is not nil, its audit
// event. All of it is stored, or none: a user that does not exist is
// gatehouse.ErrNotFound, a session or event id taken CodeConflict, and
// either rolls back what came before.
func (s *Store) RecordLoginSession(ctx context.Context, ses *gatehouse.Session, e *gatehouse.AuditEvent) error {
	if ses.UserID == "" || !validText(ses.UserID) {
		return gatehouse.ErrNotFound
	}
	err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET last_login_at = $1 WHERE id = $2`, nullTime(ses.CreatedAt), ses.UserID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return gatehouse.ErrNotFound
		}
		if err := s.createSession(ctx, tx, ses); err != nil {
			return err
		}
		if e == nil {
			return nil
		}
		return s.appendAudit(ctx, tx, e)
	})
	return s.internal("record login session", err)
}
