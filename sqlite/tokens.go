package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse"
)

// tokenColumns are the columns scanToken reads.
const tokenColumns = `id, user_id, name, hash, hint, permissions, created_at, expires_at, last_used_at`

// scanToken reads a row of tokenColumns. A token without permissions has
// nil Permissions, however it was created.
func scanToken(sc scanner) (*gatehouse.Token, error) {
	var (
		t             gatehouse.Token
		perms         string
		created       int64
		expires, used sql.NullInt64
	)
	err := sc.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &t.Hint, &perms, &created, &expires, &used)
	if err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt = fromMicros(created), fromNullMicros(expires), fromNullMicros(used)
	if perms != "[]" {
		if err := json.Unmarshal([]byte(perms), &t.Permissions); err != nil {
			return nil, fmt.Errorf("permissions of token %s: %w", t.ID, err)
		}
	}
	return &t, nil
}

// scanTokens reads every row of tokenColumns.
func scanTokens(rows *sql.Rows) ([]*gatehouse.Token, error) {
	defer rows.Close()
	var tokens []*gatehouse.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, t)
	}
	return tokens, rows.Err()
}

// CreateToken stores the new token t, its permissions in their order. A
// token whose user does not exist is gatehouse.ErrNotFound; one whose id or
// hash is taken is CodeConflict.
func (s *Store) CreateToken(ctx context.Context, t *gatehouse.Token) error {
	perms, err := jsonArray(t.Permissions)
	if err != nil {
		return s.internal("create token", err)
	}
	const q = `INSERT INTO tokens (` + tokenColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	return s.insertOwned(ctx, s.writer, "token", t.UserID, "The token already exists.", q, t.ID, t.UserID, t.Name, t.Hash, t.Hint, perms,
		micros(t.CreatedAt), nullMicros(t.ExpiresAt), nullMicros(t.LastUsedAt))
}

// TokenByHash returns the token whose secret hashes to hash, or
// gatehouse.ErrNotFound. It does not check expiry: Token.Expired does.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (*gatehouse.Token, error) {
	t, err := scanToken(s.tokenByHash.QueryRowContext(ctx, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal("token by hash", err)
	}
	return t, nil
}

// TokenByID returns the token with that id, or gatehouse.ErrNotFound.
func (s *Store) TokenByID(ctx context.Context, id string) (*gatehouse.Token, error) {
	t, err := scanToken(s.reader.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal("token by id", err)
	}
	return t, nil
}

// UserTokens returns the tokens of userID, newest first.
func (s *Store) UserTokens(ctx context.Context, userID string) ([]*gatehouse.Token, error) {
	const q = `SELECT ` + tokenColumns + ` FROM tokens WHERE user_id = ? ORDER BY created_at DESC, id DESC`
	rows, err := s.reader.QueryContext(ctx, q, userID)
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
	// One read transaction, so the page and the total agree.
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, s.internal("tokens", err)
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tokens`).Scan(&total); err != nil {
		return nil, 0, s.internal("tokens", err)
	}
	const q = `SELECT ` + tokenColumns + ` FROM tokens ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`
	lim, off := page(offset, limit)
	rows, err := tx.QueryContext(ctx, q, lim, off)
	if err != nil {
		return nil, 0, s.internal("tokens", err)
	}
	tokens, err := scanTokens(rows)
	if err != nil {
		return nil, 0, s.internal("tokens", err)
	}
	return tokens, total, nil
}

// TouchToken sets the last-used time of token id. A missing token is not an
// error.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	_, err := s.writer.ExecContext(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ?`, nullMicros(at), id)
	return s.internal("touch token", err)
}

// DeleteToken removes token id. A missing token is not an error.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	_, err := s.writer.ExecContext(ctx, `DELETE FROM tokens WHERE id = ?`, id)
	return s.internal("delete token", err)
}

// DeleteUserTokens removes every token of userID and returns how many it
// removed.
func (s *Store) DeleteUserTokens(ctx context.Context, userID string) (int, error) {
	return s.deleteCount(ctx, "delete user tokens", `DELETE FROM tokens WHERE user_id = ?`, userID)
}
