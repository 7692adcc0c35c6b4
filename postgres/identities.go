package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

var _ gatehouse.IdentityStore = (*Store)(nil)

// identityColumns are the columns scanIdentity reads.
const identityColumns = `provider, subject, user_id, email, email_verified, linked_at, last_used_at`

// scanIdentity reads a row of identityColumns.
func scanIdentity(row pgx.Row) (*gatehouse.Identity, error) {
	var (
		id           gatehouse.Identity
		linked, used time.Time
	)
	if err := row.Scan(&id.Provider, &id.Subject, &id.UserID, &id.Email, &id.EmailVerified, &linked, &used); err != nil {
		return nil, err
	}
	id.LinkedAt, id.LastUsedAt = linked.UTC(), used.UTC()
	return &id, nil
}

// checkIdentity returns a CodeValidation error for an identity the schema
// cannot hold: a field that is not UTF-8 text. The subject and email come
// from the provider, so they are the likely ones.
func checkIdentity(id *gatehouse.Identity) error {
	return checkText("The external login is not valid.", map[string]string{"provider": id.Provider,
		"subject": id.Subject, "user_id": id.UserID, "email": id.Email})
}

// CreateIdentity links the new identity id. One whose user does not exist
// is gatehouse.ErrNotFound; one whose (provider, subject) is taken, or
// whose user has an identity of the provider already, is CodeConflict.
func (s *Store) CreateIdentity(ctx context.Context, id *gatehouse.Identity) error {
	if err := checkIdentity(id); err != nil {
		return err
	}
	const q = `INSERT INTO identities (` + identityColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	return s.insertForUser(ctx, "identity", id.UserID, "The external login is already linked.", q,
		id.Provider, id.Subject, id.UserID, id.Email, id.EmailVerified, pgTime(id.LinkedAt), pgTime(id.LastUsedAt))
}

// IdentityBySubject returns the identity of the provider's subject, or
// gatehouse.ErrNotFound.
func (s *Store) IdentityBySubject(ctx context.Context, provider, subject string) (*gatehouse.Identity, error) {
	if checkText("", map[string]string{"provider": provider, "subject": subject}) != nil {
		// Text the table cannot hold is no identity's.
		return nil, gatehouse.ErrNotFound
	}
	const q = `SELECT ` + identityColumns + ` FROM identities WHERE provider = $1 AND subject = $2`
	id, err := scanIdentity(s.pool.QueryRow(ctx, q, provider, subject))
	if errors.Is(err, pgx.ErrNoRows) {
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
	if checkText("", map[string]string{"user_id": userID}) != nil {
		return []*gatehouse.Identity{}, nil
	}
	const q = `SELECT ` + identityColumns + ` FROM identities WHERE user_id = $1 ORDER BY provider`
	rows, err := s.pool.Query(ctx, q, userID)
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
	if checkText("", map[string]string{"user_id": userID, "provider": provider}) != nil {
		return gatehouse.ErrNotFound
	}
	n, err := s.rowsChanged(ctx, "delete identity", `DELETE FROM identities WHERE user_id = $1 AND provider = $2`, userID, provider)
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
	if checkText("", map[string]string{"provider": provider, "subject": subject}) != nil {
		return gatehouse.ErrNotFound
	}
	n, err := s.rowsChanged(ctx, "touch identity", `UPDATE identities SET last_used_at = $3 WHERE provider = $1 AND subject = $2`,
		provider, subject, pgTime(at))
	if err != nil {
		return err
	}
	if n == 0 {
		return gatehouse.ErrNotFound
	}
	return nil
}
