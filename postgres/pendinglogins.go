package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse/gatehouse"
)

// pendingLoginColumns are the columns scanPendingLogin reads.
const pendingLoginColumns = `id, token_hash, user_id, stamp, remember, created_at, expires_at,
	attempts, code_hash, code_provider, code_expires_at, sends, provider, id_token`

// scanPendingLogin reads a row of pendingLoginColumns.
func scanPendingLogin(row pgx.Row) (*gatehouse.PendingLogin, error) {
	var (
		p                gatehouse.PendingLogin
		created, expires time.Time
		codeExpires      pgtype.Timestamptz
	)
	err := row.Scan(&p.ID, &p.TokenHash, &p.UserID, &p.Stamp, &p.Remember, &created, &expires,
		&p.Attempts, &p.CodeHash, &p.CodeProvider, &codeExpires, &p.Sends, &p.Provider, &p.IDToken)
	if err != nil {
		return nil, err
	}
	p.CodeHash = nilIfEmpty(p.CodeHash)
	p.CreatedAt, p.ExpiresAt, p.CodeExpiresAt = created.UTC(), expires.UTC(), fromNullTime(codeExpires)
	return &p, nil
}

// checkPendingLogin returns a CodeValidation error for a pending login the
// schema cannot hold: without id or token hash, with negative counts, or
// with a field that is not UTF-8 text.
func checkPendingLogin(p *gatehouse.PendingLogin) error {
	const invalid = "The pending login is not valid."
	fields := map[string]string{}
	if p.ID == "" {
		fields["id"] = "The id is required."
	}
	if len(p.TokenHash) == 0 {
		fields["token_hash"] = "The token hash is required."
	}
	if p.Attempts < 0 {
		fields["attempts"] = "The number of attempts cannot be negative."
	}
	if p.Sends < 0 {
		fields["sends"] = "The number of codes sent cannot be negative."
	}
	if len(fields) > 0 {
		return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: invalid, Fields: fields}
	}
	return checkText(invalid, map[string]string{"id": p.ID, "user_id": p.UserID, "stamp": p.Stamp,
		"code_provider": p.CodeProvider, "provider": p.Provider, "id_token": p.IDToken})
}

// CreatePendingLogin stores the new pending login p. One whose user does
// not exist is gatehouse.ErrNotFound: pending logins here belong to the
// users of the same database, and go with them (a foreign key). One whose
// id or token hash is taken is CodeConflict; one without id or token hash,
// or with negative counts, CodeValidation.
func (s *Store) CreatePendingLogin(ctx context.Context, p *gatehouse.PendingLogin) error {
	if err := checkPendingLogin(p); err != nil {
		return err
	}
	const q = `INSERT INTO pending_logins (` + pendingLoginColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`
	return s.insertForUser(ctx, "pending login", p.UserID, "The pending login already exists.", q,
		p.ID, p.TokenHash, p.UserID, p.Stamp, p.Remember, pgTime(p.CreatedAt), pgTime(p.ExpiresAt),
		p.Attempts, nilIfEmpty(p.CodeHash), p.CodeProvider, nullTime(p.CodeExpiresAt), p.Sends, p.Provider, p.IDToken)
}

// PendingLoginByTokenHash returns the pending login whose cookie secret
// hashes to hash, or gatehouse.ErrNotFound. It does not check expiry.
func (s *Store) PendingLoginByTokenHash(ctx context.Context, hash []byte) (*gatehouse.PendingLogin, error) {
	const q = `SELECT ` + pendingLoginColumns + ` FROM pending_logins WHERE token_hash = $1`
	p, err := scanPendingLogin(s.pool.QueryRow(ctx, q, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal("pending login by token hash", err)
	}
	return p, nil
}

// RecordCodeSent stores the code and sends of the pending login p.ID, as
// gatehouse.PendingLoginStore describes: one UPDATE, conditional on the
// sends stored, a compare-and-swap under the row's lock (of sends racing,
// the later ones recheck the condition on the row the first left, and
// find the sends changed).
func (s *Store) RecordCodeSent(ctx context.Context, p *gatehouse.PendingLogin) error {
	if p.Sends <= 0 {
		return gatehouse.ErrNotFound // no stored sends are p.Sends-1 < 0
	}
	if err := checkText("The pending login is not valid.", map[string]string{"code_provider": p.CodeProvider}); err != nil {
		return err
	}
	const q = `UPDATE pending_logins SET code_hash = $1, code_provider = $2, code_expires_at = $3, sends = $4
		WHERE id = $5 AND sends = $6`
	return s.updateOne(ctx, "record code sent", q, nilIfEmpty(p.CodeHash), p.CodeProvider,
		nullTime(p.CodeExpiresAt), p.Sends, p.ID, p.Sends-1)
}

// CountPendingLoginAttempt adds one to the attempts of pending login id if
// they are below max, as gatehouse.PendingLoginStore describes: one
// UPDATE … RETURNING, whose condition PostgreSQL rechecks on the row as
// the previous counter left it, so parallel counts never pass max.
func (s *Store) CountPendingLoginAttempt(ctx context.Context, id string, max int) (int, error) {
	const q = `UPDATE pending_logins SET attempts = attempts + 1 WHERE id = $1 AND attempts < $2 RETURNING attempts`
	var n int
	err := s.pool.QueryRow(ctx, q, id, int64(max)).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, gatehouse.ErrNotFound
	}
	if err != nil {
		return 0, s.internal("count pending login attempt", err)
	}
	return n, nil
}

// TakePendingLogin removes pending login id, as gatehouse.PendingLoginStore
// describes: one DELETE, and its count of rows. Of concurrent takes, the
// later ones wait on the row's lock and then find it gone: they remove
// nothing and are gatehouse.ErrNotFound. An id that is not text can name
// no stored pending login: not found, without asking the database.
func (s *Store) TakePendingLogin(ctx context.Context, id string) error {
	if !validText(id) {
		return gatehouse.ErrNotFound
	}
	return s.updateOne(ctx, "take pending login", `DELETE FROM pending_logins WHERE id = $1`, id)
}

// DeleteExpiredPendingLogins removes the pending logins whose expiry, as
// stored (truncated to the microsecond), is not after now, and returns how
// many it removed.
func (s *Store) DeleteExpiredPendingLogins(ctx context.Context, now time.Time) (int, error) {
	ctx = unbounded(ctx) // a sweep may rightly take long (see DefaultStatementTimeout)
	return s.rowsChanged(ctx, "delete expired pending logins", `DELETE FROM pending_logins WHERE expires_at <= $1`, pgTime(now))
}

// DeleteUserPendingLogins removes every pending login of userID and returns
// how many it removed.
func (s *Store) DeleteUserPendingLogins(ctx context.Context, userID string) (int, error) {
	return s.rowsChanged(ctx, "delete user pending logins", `DELETE FROM pending_logins WHERE user_id = $1`, userID)
}
