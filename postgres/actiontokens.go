package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse/gatehouse"
)

// actionTokenColumns are the columns scanActionToken reads.
const actionTokenColumns = `id, user_id, purpose, hash, stamp, created_at, expires_at, used_at`

// scanActionToken reads a row of actionTokenColumns.
func scanActionToken(row pgx.Row) (*gatehouse.ActionToken, error) {
	var (
		t                gatehouse.ActionToken
		purpose          string
		created, expires time.Time
		used             pgtype.Timestamptz
	)
	if err := row.Scan(&t.ID, &t.UserID, &purpose, &t.Hash, &t.Stamp, &created, &expires, &used); err != nil {
		return nil, err
	}
	t.Purpose = gatehouse.ActionPurpose(purpose)
	t.CreatedAt, t.ExpiresAt, t.UsedAt = created.UTC(), expires.UTC(), fromNullTime(used)
	return &t, nil
}

// validateActionToken checks what the schema takes of an action token, so
// that a bad one is a CodeValidation error naming the fields rather than
// an internal constraint failure.
func validateActionToken(t *gatehouse.ActionToken) error {
	fields := map[string]string{}
	if t.ID == "" || !validText(t.ID) {
		fields["id"] = "The id is required, as text."
	}
	switch t.Purpose {
	case gatehouse.PurposeReset, gatehouse.PurposeInvite, gatehouse.PurposeRecovery:
	default:
		fields["purpose"] = "The purpose must be reset, invite or recovery."
	}
	if len(t.Hash) == 0 {
		fields["hash"] = "The hash is required."
	}
	if !validText(t.Stamp) {
		fields["stamp"] = "The stamp must be text."
	}
	if len(fields) > 0 {
		return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The action token is not valid.", Fields: fields}
	}
	return nil
}

// CreateActionToken stores the new action token t; a zero UsedAt stores it
// unused. A token whose user does not exist is gatehouse.ErrNotFound; one
// whose id or hash is taken is CodeConflict; one of an unknown purpose is
// CodeValidation.
func (s *Store) CreateActionToken(ctx context.Context, t *gatehouse.ActionToken) error {
	if err := validateActionToken(t); err != nil {
		return err
	}
	if !validText(t.UserID) {
		return gatehouse.ErrNotFound
	}
	const q = `INSERT INTO action_tokens (` + actionTokenColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	return s.insertOwned(ctx, s.pool, "action token", "The action token already exists.", q,
		t.ID, t.UserID, string(t.Purpose), t.Hash, t.Stamp, pgTime(t.CreatedAt), pgTime(t.ExpiresAt), nullTime(t.UsedAt))
}

// ActionTokenByHash returns the action token whose secret hashes to hash,
// or gatehouse.ErrNotFound. It returns used and expired tokens as well: the
// caller decides whether a token is void.
func (s *Store) ActionTokenByHash(ctx context.Context, hash []byte) (*gatehouse.ActionToken, error) {
	const q = `SELECT ` + actionTokenColumns + ` FROM action_tokens WHERE hash = $1`
	t, err := scanActionToken(s.pool.QueryRow(ctx, q, hash))
	if errors.Is(err, pgx.ErrNoRows) {
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
// One statement decides: the UPDATE is conditional on used_at being NULL,
// and a concurrent use waits for the row lock and then re-checks that
// condition on the row as the winner left it, so of any number of uses, in
// this process or another, exactly one changes the row. The same
// statement tells the losers' two cases apart by whether the token exists
// at all.
func (s *Store) UseActionToken(ctx context.Context, id string, at time.Time) error {
	if !validText(id) {
		return gatehouse.ErrNotFound
	}
	const q = `WITH used AS (
			UPDATE action_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL RETURNING 1
		)
		SELECT EXISTS (SELECT 1 FROM used), EXISTS (SELECT 1 FROM action_tokens WHERE id = $1)`
	var won, exists bool
	if err := s.pool.QueryRow(ctx, q, id, pgTime(at)).Scan(&won, &exists); err != nil {
		return s.internal("use action token", err)
	}
	switch {
	case won:
		return nil
	case !exists:
		return gatehouse.ErrNotFound
	}
	return &gatehouse.Error{Code: gatehouse.CodeConflict, Message: "The token was used already."}
}

// DeleteActionTokens removes every action token of userID for purpose, or
// of any purpose when purpose is "", and returns how many it removed.
func (s *Store) DeleteActionTokens(ctx context.Context, userID string, purpose gatehouse.ActionPurpose) (int, error) {
	if !validText(userID) || !validText(string(purpose)) {
		return 0, nil
	}
	if purpose == "" {
		return s.deleteCount(ctx, "delete action tokens", `DELETE FROM action_tokens WHERE user_id = $1`, userID)
	}
	return s.deleteCount(ctx, "delete action tokens", `DELETE FROM action_tokens WHERE user_id = $1 AND purpose = $2`,
		userID, string(purpose))
}

// DeleteStaleActionTokens removes the tokens used or expired before before,
// and returns how many it removed.
func (s *Store) DeleteStaleActionTokens(ctx context.Context, before time.Time) (int, error) {
	ctx = unbounded(ctx) // a sweep may rightly take long (see DefaultStatementTimeout)
	// A stored time, whole microseconds, is before before exactly when it
	// is before before rounded up to the microsecond.
	return s.deleteCount(ctx, "delete stale action tokens",
		`DELETE FROM action_tokens WHERE expires_at < $1 OR used_at < $1`, ceilMicro(before))
}
