package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse"
)

// actionTokenColumns are the columns scanActionToken reads.
const actionTokenColumns = `id, user_id, purpose, hash, stamp, created_at, expires_at, used_at`

// scanActionToken reads a row of actionTokenColumns.
func scanActionToken(sc scanner) (*gatehouse.ActionToken, error) {
	var (
		t                gatehouse.ActionToken
		purpose          string
		created, expires int64
		used             sql.NullInt64
	)
	if err := sc.Scan(&t.ID, &t.UserID, &purpose, &t.Hash, &t.Stamp, &created, &expires, &used); err != nil {
		return nil, err
	}
	t.Purpose = gatehouse.ActionPurpose(purpose)
	t.CreatedAt, t.ExpiresAt, t.UsedAt = fromMicros(created), fromMicros(expires), fromNullMicros(used)
	return &t, nil
}

// validPurpose reports whether p is a purpose the schema takes.
func validPurpose(p gatehouse.ActionPurpose) bool {
	return p == gatehouse.PurposeReset || p == gatehouse.PurposeInvite || p == gatehouse.PurposeRecovery
}

// CreateActionToken stores the new action token t; a zero UsedAt stores it
// unused. A token whose user does not exist is gatehouse.ErrNotFound; one
// whose id or hash is taken is CodeConflict; one of an unknown purpose is
// CodeValidation.
func (s *Store) CreateActionToken(ctx context.Context, t *gatehouse.ActionToken) error {
	if !validPurpose(t.Purpose) {
		return &gatehouse.Error{
			Code:    gatehouse.CodeValidation,
			Message: "The action token is not valid.",
			Fields:  map[string]string{"purpose": "The purpose must be reset, invite or recovery."},
		}
	}
	const q = `INSERT INTO action_tokens (` + actionTokenColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	return s.insertOwned(ctx, s.writer, "action token", t.UserID, "The action token already exists.", q, t.ID, t.UserID, string(t.Purpose), t.Hash, t.Stamp,
		micros(t.CreatedAt), micros(t.ExpiresAt), nullMicros(t.UsedAt))
}

// ActionTokenByHash returns the action token whose secret hashes to hash,
// or gatehouse.ErrNotFound. It returns used and expired tokens as well: the
// caller decides whether a token is void.
func (s *Store) ActionTokenByHash(ctx context.Context, hash []byte) (*gatehouse.ActionToken, error) {
	const q = `SELECT ` + actionTokenColumns + ` FROM action_tokens WHERE hash = ?`
	t, err := scanActionToken(s.reader.QueryRowContext(ctx, q, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal("action token by hash", err)
	}
	return t, nil
}

// UseActionToken marks the unused action token id used at at. A token used
// already is CodeConflict, a missing one gatehouse.ErrNotFound.
//
// The single UPDATE, conditional on used_at being NULL, is what makes a use
// atomic: of any number of concurrent uses, in this process or another,
// exactly one changes the row. The write transaction around it only keeps
// the token from vanishing between that UPDATE and the read that tells why
// it changed nothing.
func (s *Store) UseActionToken(ctx context.Context, id string, at time.Time) error {
	return s.claim(ctx, "use action token", "The token was used already.",
		`UPDATE action_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL`, []any{micros(at), id},
		`SELECT 1 FROM action_tokens WHERE id = ?`, id)
}

// claim runs update, which changes one row or none, in a write
// transaction: none changed is gatehouse.ErrNotFound when exists (a query
// for the row, with the argument key) finds nothing, else a CodeConflict
// with conflictMsg — the row is there but the update's condition no longer
// holds (used, or a later step already). The conditional UPDATE is what
// makes a claim atomic; the transaction only keeps the row from vanishing
// between it and the read that tells why it changed nothing.
func (s *Store) claim(ctx context.Context, op, conflictMsg, update string, updateArgs []any, exists string, key any) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, update, updateArgs...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			return nil
		}
		var one int
		switch err := tx.QueryRowContext(ctx, exists, key).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			return gatehouse.ErrNotFound
		case err != nil:
			return err
		}
		return &gatehouse.Error{Code: gatehouse.CodeConflict, Message: conflictMsg}
	})
	return s.internal(op, err)
}

// DeleteActionTokens removes every action token of userID for purpose, or
// of any purpose when purpose is "", and returns how many it removed.
func (s *Store) DeleteActionTokens(ctx context.Context, userID string, purpose gatehouse.ActionPurpose) (int, error) {
	if purpose == "" {
		return s.deleteCount(ctx, "delete action tokens", `DELETE FROM action_tokens WHERE user_id = ?`, userID)
	}
	return s.deleteCount(ctx, "delete action tokens", `DELETE FROM action_tokens WHERE user_id = ? AND purpose = ?`,
		userID, string(purpose))
}

// DeleteStaleActionTokens removes the tokens used or expired before before.
func (s *Store) DeleteStaleActionTokens(ctx context.Context, before time.Time) (int, error) {
	us := micros(before)
	return s.deleteCount(ctx, "delete stale action tokens",
		`DELETE FROM action_tokens WHERE expires_at < ? OR (used_at IS NOT NULL AND used_at < ?)`, us, us)
}
