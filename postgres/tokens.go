package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse/gatehouse"
)

// tokenColumns are the columns scanToken reads.
const tokenColumns = `id, user_id, name, hash, hint, permissions, created_at, expires_at, last_used_at`

// scanToken reads a row of tokenColumns. A token without permissions has
// nil Permissions, however it was created.
func scanToken(row pgx.Row) (*gatehouse.Token, error) {
	var (
		t             gatehouse.Token
		created       time.Time
		expires, used pgtype.Timestamptz
	)
	err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &t.Hint, &t.Permissions, &created, &expires, &used)
	if err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt = created.UTC(), fromNullTime(expires), fromNullTime(used)
	if len(t.Permissions) == 0 {
		t.Permissions = nil
	}
	return &t, nil
}

// scanTokens reads every row of tokenColumns.
func scanTokens(rows pgx.Rows) ([]*gatehouse.Token, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*gatehouse.Token, error) { return scanToken(row) })
}

// isForeignKeyViolation reports whether err is a violated foreign key: a
// record written for a user that does not exist.
func isForeignKeyViolation(err error) bool { return sqlState(err) == "23503" }

// insertOwned runs q, the INSERT of a record of a user (what), with args,
// and turns a foreign key violation (the user does not exist, or was
// deleted a moment ago: the key check and the user's deletion are
// serialized by the row lock the check takes) into gatehouse.ErrNotFound
// and a unique violation into CodeConflict with conflictMsg.
func (s *Store) insertOwned(ctx context.Context, db execer, what, conflictMsg, q string, args ...any) error {
	_, err := db.Exec(ctx, q, args...)
	switch {
	case err == nil:
		return nil
	case isForeignKeyViolation(err):
		return fmt.Errorf("postgres: create %s: %w (%w)", what, gatehouse.ErrNotFound, err)
	case isUniqueViolation(err):
		return &gatehouse.Error{Code: gatehouse.CodeConflict, Message: conflictMsg, Err: err}
	}
	return s.internal("create "+what, err)
}

// validateToken checks what the schema takes of a token, so that a bad
// token is a CodeValidation error naming the fields rather than an
// internal failure. Its texts are names people gave or the store made,
// kept exactly, so text PostgreSQL cannot hold is refused.
func validateToken(t *gatehouse.Token) error {
	fields := map[string]string{}
	if t.ID == "" || !validText(t.ID) {
		fields["id"] = "The id is required, as text."
	}
	if len(t.Hash) == 0 {
		fields["hash"] = "The hash is required."
	}
	if !validText(t.Name) {
		fields["name"] = "The name must be text without NUL characters."
	}
	if !validText(t.Hint) {
		fields["hint"] = "The hint must be text."
	}
	for _, p := range t.Permissions {
		if !validText(p) {
			fields["permissions"] = "The permissions must be text."
		}
	}
	if len(fields) > 0 {
		return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: "The token is not valid.", Fields: fields}
	}
	return nil
}

// CreateToken stores the new token t, its permissions in their order. A
// token whose user does not exist is gatehouse.ErrNotFound; one whose id or
// hash is taken is CodeConflict.
func (s *Store) CreateToken(ctx context.Context, t *gatehouse.Token) error {
	if err := validateToken(t); err != nil {
		return err
	}
	if !validText(t.UserID) {
		return gatehouse.ErrNotFound
	}
	perms := t.Permissions
	if perms == nil {
		perms = []string{} // pgx sends a nil slice as NULL
	}
	const q = `INSERT INTO tokens (` + tokenColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	return s.insertOwned(ctx, s.pool, "token", "The token already exists.", q, t.ID, t.UserID, t.Name, t.Hash, t.Hint, perms,
		pgTime(t.CreatedAt), nullTime(t.ExpiresAt), nullTime(t.LastUsedAt))
}

// TokenByHash returns the token whose secret hashes to hash, or
// gatehouse.ErrNotFound. It does not check expiry: Token.Expired does.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (*gatehouse.Token, error) {
	return s.tokenWhere(ctx, "token by hash", `hash = $1`, hash)
}

// TokenByID returns the token with that id, or gatehouse.ErrNotFound.
func (s *Store) TokenByID(ctx context.Context, id string) (*gatehouse.Token, error) {
	if !validText(id) {
		return nil, gatehouse.ErrNotFound
	}
	return s.tokenWhere(ctx, "token by id", `id = $1`, id)
}

// tokenWhere returns the one token matching cond with arg, or
// gatehouse.ErrNotFound.
func (s *Store) tokenWhere(ctx context.Context, op, cond string, arg any) (*gatehouse.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE `+cond, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal(op, err)
	}
	return t, nil
}

// UserTokens returns the tokens of userID, newest first.
func (s *Store) UserTokens(ctx context.Context, userID string) ([]*gatehouse.Token, error) {
	if !validText(userID) {
		return nil, nil
	}
	const q = `SELECT ` + tokenColumns + ` FROM tokens WHERE user_id = $1 ORDER BY created_at DESC, id DESC`
	rows, err := s.pool.Query(ctx, q, userID)
	if err != nil {
		return nil, s.internal("user tokens", err)
	}
	tokens, err := scanTokens(rows)
	if err != nil {
		return nil, s.internal("user tokens", err)
	}
	return tokens, nil
}

// Tokens returns a page of every user's tokens, newest first, and how many
// there are in all. A limit of zero or less means no limit.
func (s *Store) Tokens(ctx context.Context, offset, limit int) ([]*gatehouse.Token, int, error) {
	// A NULL limit is no limit.
	var lim *int64
	if limit > 0 {
		l := int64(limit)
		lim = &l
	}
	var (
		tokens []*gatehouse.Token
		total  int
	)
	// One repeatable-read transaction, so the page and the total see the
	// same snapshot.
	err := s.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM tokens`).Scan(&total); err != nil {
			return err
		}
		const q = `SELECT ` + tokenColumns + ` FROM tokens ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2`
		rows, err := tx.Query(ctx, q, lim, int64(max(offset, 0)))
		if err != nil {
			return err
		}
		tokens, err = scanTokens(rows)
		return err
	})
	if err != nil {
		return nil, 0, s.internal("tokens", err)
	}
	return tokens, total, nil
}

// TouchToken sets the last-used time of token id. A missing token is not an
// error.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	if !validText(id) {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE tokens SET last_used_at = $1 WHERE id = $2`, nullTime(at), id)
	return s.internal("touch token", err)
}

// DeleteToken removes token id. A missing token is not an error.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	if !validText(id) {
		return nil
	}
	_, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE id = $1`, id)
	return s.internal("delete token", err)
}

// DeleteUserTokens removes every token of userID and returns how many it
// removed.
func (s *Store) DeleteUserTokens(ctx context.Context, userID string) (int, error) {
	if !validText(userID) {
		return 0, nil
	}
	return s.deleteCount(ctx, "delete user tokens", `DELETE FROM tokens WHERE user_id = $1`, userID)
}

// deleteCount runs a DELETE and returns how many rows it removed.
func (s *Store) deleteCount(ctx context.Context, op, q string, args ...any) (int, error) {
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return 0, s.internal(op, err)
	}
	return int(tag.RowsAffected()), nil
}
