package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse"
)

var _ gatehouse.IdentityStore = (*Store)(nil)

// identityColumns are the columns scanIdentity reads.
const identityColumns = `provider, subject, user_id, email, email_verified, linked_at, last_used_at`

// scanIdentity reads a row of identityColumns.
func scanIdentity(sc scanner) (*gatehouse.Identity, error) {
	var (
		id           gatehouse.Identity
		linked, used int64
	)
	if err := sc.Scan(&id.Provider, &id.Subject, &id.UserID, &id.Email, &id.EmailVerified, &linked, &used); err != nil {
		return nil, err
	}
	id.LinkedAt, id.LastUsedAt = fromMicros(linked), fromMicros(used)
	return &id, nil
}

// CreateIdentity links the new identity id. One whose user does not exist
// is gatehouse.ErrNotFound; one whose (provider, subject) is taken, or
// whose user has an identity of the provider already, is CodeConflict.
func (s *Store) CreateIdentity(ctx context.Context, id *gatehouse.Identity) error {
	const q = `INSERT INTO identities (` + identityColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?)`
	return s.insertOwned(ctx, s.writer, "identity", id.UserID, "The external login is already linked.", q,
		id.Provider, id.Subject, id.UserID, id.Email, id.EmailVerified, micros(id.LinkedAt), micros(id.LastUsedAt))
}

// IdentityBySubject returns the identity of the provider's subject, or
// gatehouse.ErrNotFound.
func (s *Store) IdentityBySubject(ctx context.Context, provider, subject string) (*gatehouse.Identity, error) {
	const q = `SELECT ` + identityColumns + ` FROM identities WHERE provider = ? AND subject = ?`
	id, err := scanIdentity(s.reader.QueryRowContext(ctx, q, provider, subject))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal("identity by subject", err)
	}
	return id, nil
}

// UserIdentities returns the identities of userID ordered by provider; an
// empty list when there are none.
func (s *Store) UserIdentities(ctx context.Context, userID string) ([]*gatehouse.Identity, error) {
	const q = `SELECT ` + identityColumns + ` FROM identities WHERE user_id = ? ORDER BY provider`
	rows, err := s.reader.QueryContext(ctx, q, userID)
	if err != nil {
		return nil, s.internal("user identities", err)
	}
	defer rows.Close()
	ids := []*gatehouse.Identity{}
	for rows.Next() {
		id, err := scanIdentity(rows)
		if err != nil {
			return nil, s.internal("user identities", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, s.internal("user identities", err)
	}
	return ids, nil
}

// DeleteIdentity unlinks the identity of userID at provider, or returns
// gatehouse.ErrNotFound when there is none.
func (s *Store) DeleteIdentity(ctx context.Context, userID, provider string) error {
	n, err := s.deleteCount(ctx, "delete identity", `DELETE FROM identities WHERE user_id = ? AND provider = ?`, userID, provider)
	if err != nil {
		return err
	}
	if n == 0 {
		return gatehouse.ErrNotFound
	}
	return nil
}

// TouchIdentity sets the last use of the provider's subject to at, or
// returns gatehouse.ErrNotFound when there is no such identity.
func (s *Store) TouchIdentity(ctx context.Context, provider, subject string, at time.Time) error {
	// deleteCount counts the rows any write on the writer changed.
	n, err := s.deleteCount(ctx, "touch identity", `UPDATE identities SET last_used_at = ? WHERE provider = ? AND subject = ?`,
		micros(at), provider, subject)
	if err != nil {
		return err
	}
	if n == 0 {
		return gatehouse.ErrNotFound
	}
	return nil
}
