package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

// nilIfEmpty returns nil for an empty b, so that a nullable bytea column
// stores "none" in one form, NULL, which reads back as nil.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// newTwoFactorVersion returns a new version for a write of second-factor
// settings: random, so that settings deleted and created again never take
// up a version a stale writer still holds (a counter would start over),
// and never 0 (none read) or 1 (the first version SQLite gave settings of
// its earlier releases; not used here, but kept out so the two stores
// agree). Two writes of one user's settings collide with probability 2⁻⁶³.
func newTwoFactorVersion() int64 {
	return 2 + rand.Int64N(math.MaxInt64-1)
}

// recoveryCodes returns the hashes of t to store: never nil, since pgx
// sends a nil slice as NULL. PutTwoFactor has checked that none is empty.
func recoveryCodes(t *gatehouse.TwoFactor) [][]byte {
	return append([][]byte{}, t.RecoveryCodes...)
}

// checkTwoFactor returns a CodeValidation error for settings the store
// must refuse: an empty recovery code hash, the same hash twice, or a
// phone that is not UTF-8 text.
func checkTwoFactor(t *gatehouse.TwoFactor) error {
	const invalid = "The two-factor settings are not valid."
	seen := make(map[string]bool, len(t.RecoveryCodes))
	for _, h := range t.RecoveryCodes {
		if len(h) == 0 || seen[string(h)] {
			return &gatehouse.Error{
				Code:    gatehouse.CodeValidation,
				Message: invalid,
				Fields:  map[string]string{"recovery_codes": "The recovery code hashes must be non-empty and all differ."},
			}
		}
		seen[string(h)] = true
	}
	return checkText(invalid, map[string]string{"phone": t.Phone})
}

// TwoFactor returns the second-factor settings of userID, with its
// recovery codes sorted byte-wise and nil when it has none, or
// gatehouse.ErrNotFound when the user has no settings. One row holds them
// all, so what it returns is one consistent state.
func (s *Store) TwoFactor(ctx context.Context, userID string) (*gatehouse.TwoFactor, error) {
	var (
		tf      = gatehouse.TwoFactor{UserID: userID}
		updated time.Time
	)
	const q = `SELECT totp_secret, totp_pending, totp_last_step, phone, recovery_codes, updated_at, version
		FROM two_factor WHERE user_id = $1`
	err := s.pool.QueryRow(ctx, q, userID).Scan(&tf.TOTPSecret, &tf.TOTPPending, &tf.TOTPLastStep, &tf.Phone,
		&tf.RecoveryCodes, &updated, &tf.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal("two factor", err)
	}
	tf.TOTPSecret, tf.TOTPPending = nilIfEmpty(tf.TOTPSecret), nilIfEmpty(tf.TOTPPending)
	if len(tf.RecoveryCodes) == 0 {
		tf.RecoveryCodes = nil
	}
	// Sorted here rather than by the query: unnest and ORDER BY would do,
	// but bytes.Compare is the order the contract names.
	slices.SortFunc(tf.RecoveryCodes, bytes.Compare)
	tf.UpdatedAt = updated.UTC()
	return &tf, nil
}

// PutTwoFactor writes the second-factor settings of t.UserID, its set of
// recovery codes included, as gatehouse.TwoFactorStore describes: an
// INSERT when t.Version is 0, else an UPDATE conditional on the version
// stored, each a single statement on the one row that holds the settings
// (a compare-and-swap under the row's lock), and on success sets t.Version
// to the new version. Settings of a user that does not exist are
// gatehouse.ErrNotFound; settings that exist already (Version 0), or were
// changed or deleted since read, gatehouse.ErrConflict; an empty recovery
// code hash, the same hash twice, or a phone that is not UTF-8 text,
// CodeValidation. Each stores nothing.
func (s *Store) PutTwoFactor(ctx context.Context, t *gatehouse.TwoFactor) error {
	if err := checkTwoFactor(t); err != nil {
		return err
	}
	version := newTwoFactorVersion()
	if t.Version == 0 {
		// ON CONFLICT DO NOTHING: settings created by another writer since
		// these were read are a conflict, told by the row count, not an
		// error.
		const insert = `INSERT INTO two_factor (user_id, totp_secret, totp_pending, totp_last_step, phone,
				recovery_codes, updated_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (user_id) DO NOTHING`
		tag, err := s.pool.Exec(ctx, insert, t.UserID, nilIfEmpty(t.TOTPSecret), nilIfEmpty(t.TOTPPending),
			t.TOTPLastStep, t.Phone, recoveryCodes(t), pgTime(t.UpdatedAt), version)
		switch {
		case userMissing(err):
			// The user was deleted, perhaps a moment ago.
			return fmt.Errorf("postgres: put two factor: user %s: %w (%w)", t.UserID, gatehouse.ErrNotFound, err)
		case err != nil:
			return s.internal("put two factor", err)
		case tag.RowsAffected() == 0:
			return gatehouse.ErrConflict
		}
	} else {
		const update = `UPDATE two_factor SET totp_secret = $1, totp_pending = $2, totp_last_step = $3, phone = $4,
				recovery_codes = $5, updated_at = $6, version = $7
			WHERE user_id = $8 AND version = $9`
		tag, err := s.pool.Exec(ctx, update, nilIfEmpty(t.TOTPSecret), nilIfEmpty(t.TOTPPending),
			t.TOTPLastStep, t.Phone, recoveryCodes(t), pgTime(t.UpdatedAt), version, t.UserID, t.Version)
		if err != nil {
			return s.internal("put two factor", err)
		}
		if tag.RowsAffected() == 0 {
			// Changed or deleted since read (perhaps with the user).
			return gatehouse.ErrConflict
		}
	}
	t.Version = version
	return nil
}

// DeleteTwoFactor removes the second-factor settings of userID, recovery
// codes included. Settings that do not exist are no error.
func (s *Store) DeleteTwoFactor(ctx context.Context, userID string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM two_factor WHERE user_id = $1`, userID)
	return s.internal("delete two factor", err)
}

// useCode runs update, a conditional UPDATE of the settings of userID
// that uses a code and stores a new version, and the check of whether the
// settings exist, as one statement, so both see one snapshot. It returns
// whether update changed the row and whether the settings exist.
//
// The conditional UPDATE is what makes a use atomic: concurrent uses of
// the settings, from any number of processes, queue on the row's lock,
// and each re-evaluates its condition on the row as the one before left
// it (PostgreSQL's READ COMMITTED rechecks an updated row), so a code is
// used once, and every use stores its own version.
func (s *Store) useCode(ctx context.Context, update string, args ...any) (used, exists bool, err error) {
	q := `WITH used AS (` + update + ` RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM used), EXISTS (SELECT 1 FROM two_factor WHERE user_id = $1)`
	err = s.pool.QueryRow(ctx, q, args...).Scan(&used, &exists)
	return used, exists, err
}

// UseTOTPStep records step as the last accepted TOTP step of userID if it
// is later than the one stored, with a new version, in one conditional
// UPDATE (see useCode). A step not later is CodeConflict; a user without
// settings gatehouse.ErrNotFound.
func (s *Store) UseTOTPStep(ctx context.Context, userID string, step int64) error {
	const update = `UPDATE two_factor SET totp_last_step = $2, version = $3 WHERE user_id = $1 AND totp_last_step < $2`
	used, exists, err := s.useCode(ctx, update, userID, step, newTwoFactorVersion())
	switch {
	case err != nil:
		return s.internal("use totp step", err)
	case used:
		return nil
	case !exists:
		return gatehouse.ErrNotFound
	}
	return &gatehouse.Error{Code: gatehouse.CodeConflict, Message: "The code was used already."}
}

// UseRecoveryCode removes the recovery code with hash from those of userID
// and gives the settings a new version, in one conditional UPDATE (see
// useCode); a code not among them, or a user without settings, is
// gatehouse.ErrNotFound. Of concurrent uses of a code, in this process or
// another, exactly one removes it; the new version makes a PutTwoFactor of
// settings read before the use fail, rather than bring the code back.
func (s *Store) UseRecoveryCode(ctx context.Context, userID string, hash []byte) error {
	if len(hash) == 0 {
		return gatehouse.ErrNotFound // PutTwoFactor stores no empty hash
	}
	const update = `UPDATE two_factor SET recovery_codes = array_remove(recovery_codes, $2), version = $3
		WHERE user_id = $1 AND $2 = ANY (recovery_codes)`
	used, _, err := s.useCode(ctx, update, userID, hash, newTwoFactorVersion())
	if err != nil {
		return s.internal("use recovery code", err)
	}
	if !used {
		return gatehouse.ErrNotFound
	}
	return nil
}
