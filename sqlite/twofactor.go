package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse/gatehouse"
)

var (
	_ gatehouse.TwoFactorStore    = (*Store)(nil)
	_ gatehouse.PendingLoginStore = (*Store)(nil)
)

// nullBlob is a []byte for a nullable BLOB column, where nil and empty are
// both NULL, so that "none" has one form and reads back as nil.
func nullBlob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// newTwoFactorVersion returns a new version for a write of second-factor
// settings: random, so that settings deleted and created again never take
// up a version a stale writer still holds (a counter would start over),
// and never 0 (none read) or 1 (settings of earlier releases, migration
// 0011). Two writes of one user's settings collide with probability 2⁻⁶³.
func newTwoFactorVersion() int64 {
	return 2 + rand.Int64N(math.MaxInt64-1)
}

// TwoFactor returns the second-factor settings of userID, with its recovery
// codes sorted byte-wise and nil when it has none, or gatehouse.ErrNotFound
// when the user has no settings.
func (s *Store) TwoFactor(ctx context.Context, userID string) (*gatehouse.TwoFactor, error) {
	// One read transaction, so the settings and the codes agree.
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, s.internal("two factor", err)
	}
	defer tx.Rollback()
	var (
		tf      = gatehouse.TwoFactor{UserID: userID}
		updated int64
	)
	const q = `SELECT totp_secret, totp_pending, totp_last_step, phone, updated_at, version FROM two_factor WHERE user_id = ?`
	err = tx.QueryRowContext(ctx, q, userID).Scan(&tf.TOTPSecret, &tf.TOTPPending, &tf.TOTPLastStep, &tf.Phone, &updated, &tf.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal("two factor", err)
	}
	tf.TOTPSecret, tf.TOTPPending = nullBlob(tf.TOTPSecret), nullBlob(tf.TOTPPending)
	tf.UpdatedAt = fromMicros(updated)

	// SQLite compares BLOBs with memcmp, shorter first on a common prefix:
	// the order of bytes.Compare.
	rows, err := tx.QueryContext(ctx, `SELECT hash FROM recovery_codes WHERE user_id = ? ORDER BY hash`, userID)
	if err != nil {
		return nil, s.internal("two factor", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, s.internal("two factor", err)
		}
		tf.RecoveryCodes = append(tf.RecoveryCodes, h)
	}
	if err := rows.Err(); err != nil {
		return nil, s.internal("two factor", err)
	}
	return &tf, nil
}

// PutTwoFactor writes the second-factor settings of t.UserID, its set of
// recovery codes included, in one transaction, as
// gatehouse.TwoFactorStore describes: an INSERT when t.Version is 0, else
// an UPDATE conditional on the version stored (a compare-and-swap SQLite
// applies under its write lock), and on success sets t.Version to the new
// version. Settings of a user that does not exist are
// gatehouse.ErrNotFound; settings that exist already (Version 0), or were
// changed or deleted since read, gatehouse.ErrConflict; an empty recovery
// code hash, or the same hash twice, CodeValidation. Each stores nothing.
func (s *Store) PutTwoFactor(ctx context.Context, t *gatehouse.TwoFactor) error {
	seen := make(map[string]bool, len(t.RecoveryCodes))
	for _, h := range t.RecoveryCodes {
		if len(h) == 0 || seen[string(h)] {
			return &gatehouse.Error{
				Code:    gatehouse.CodeValidation,
				Message: "The two-factor settings are not valid.",
				Fields:  map[string]string{"recovery_codes": "The recovery code hashes must be non-empty and all differ."},
			}
		}
		seen[string(h)] = true
	}
	version := newTwoFactorVersion()
	err := s.write(ctx, func(tx *sql.Tx) error {
		if t.Version == 0 {
			const insert = `INSERT INTO two_factor (user_id, totp_secret, totp_pending, totp_last_step, phone, updated_at, version)
				VALUES (?, ?, ?, ?, ?, ?, ?)`
			_, err := tx.ExecContext(ctx, insert, t.UserID, nullBlob(t.TOTPSecret), nullBlob(t.TOTPPending),
				t.TOTPLastStep, t.Phone, micros(t.UpdatedAt), version)
			switch code := sqliteCode(err); {
			case code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
				// The user was deleted, perhaps a moment ago.
				return fmt.Errorf("sqlite: put two factor: user %s: %w (%w)", t.UserID, gatehouse.ErrNotFound, err)
			case code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
				// Another writer created the settings since they were read.
				return gatehouse.ErrConflict
			case err != nil:
				return err
			}
		} else {
			const update = `UPDATE two_factor SET totp_secret = ?, totp_pending = ?, totp_last_step = ?, phone = ?,
				updated_at = ?, version = ? WHERE user_id = ? AND version = ?`
			res, err := tx.ExecContext(ctx, update, nullBlob(t.TOTPSecret), nullBlob(t.TOTPPending),
				t.TOTPLastStep, t.Phone, micros(t.UpdatedAt), version, t.UserID, t.Version)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				// Changed or deleted since read (perhaps with the user).
				return gatehouse.ErrConflict
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, t.UserID); err != nil {
			return err
		}
		if len(t.RecoveryCodes) == 0 {
			return nil
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO recovery_codes (user_id, hash) VALUES (?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, h := range t.RecoveryCodes {
			if _, err := ins.ExecContext(ctx, t.UserID, h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.internal("put two factor", err)
	}
	t.Version = version
	return nil
}

// DeleteTwoFactor removes the second-factor settings of userID and, by the
// foreign key, its recovery codes. Settings that do not exist are no error.
func (s *Store) DeleteTwoFactor(ctx context.Context, userID string) error {
	_, err := s.writer.ExecContext(ctx, `DELETE FROM two_factor WHERE user_id = ?`, userID)
	return s.internal("delete two factor", err)
}

// UseTOTPStep records step as the last accepted TOTP step of userID if it
// is later than the one stored, with a new version. A step not later is
// CodeConflict; a user without settings gatehouse.ErrNotFound.
//
// As in UseActionToken, the single conditional UPDATE is what makes the use
// atomic: of concurrent uses of a step, in this process or another, exactly
// one raises it. The transaction only keeps the row from vanishing between
// that UPDATE and the read that tells why it changed nothing.
func (s *Store) UseTOTPStep(ctx context.Context, userID string, step int64) error {
	return s.claim(ctx, "use totp step", "The code was used already.",
		`UPDATE two_factor SET totp_last_step = ?, version = ? WHERE user_id = ? AND totp_last_step < ?`,
		[]any{step, newTwoFactorVersion(), userID, step},
		`SELECT 1 FROM two_factor WHERE user_id = ?`, userID)
}

// UseRecoveryCode removes the recovery code with hash from those of userID
// and gives the settings a new version, in one transaction; a code not
// among them, or a user without settings, is gatehouse.ErrNotFound. The
// DELETE is what makes the use atomic: of concurrent uses of a code, in
// this process or another, exactly one removes it; the new version makes
// a PutTwoFactor of settings read before the use fail, rather than bring
// the code back.
func (s *Store) UseRecoveryCode(ctx context.Context, userID string, hash []byte) error {
	if len(hash) == 0 {
		return gatehouse.ErrNotFound // PutTwoFactor stores no empty hash
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.updateOneIn(ctx, tx, "use recovery code", `DELETE FROM recovery_codes WHERE user_id = ? AND hash = ?`, userID, hash); err != nil {
			return err
		}
		// The code's row hangs off the settings' row: it is there.
		_, err := tx.ExecContext(ctx, `UPDATE two_factor SET version = ? WHERE user_id = ?`, newTwoFactorVersion(), userID)
		return err
	})
	return s.internal("use recovery code", err)
}

// pendingLoginColumns are the columns scanPendingLogin reads.
const pendingLoginColumns = `id, token_hash, user_id, stamp, remember, created_at, expires_at,
	attempts, code_hash, code_provider, code_expires_at, sends, provider, id_token`

// scanPendingLogin reads a row of pendingLoginColumns.
func scanPendingLogin(sc scanner) (*gatehouse.PendingLogin, error) {
	var (
		p                gatehouse.PendingLogin
		created, expires int64
		codeExpires      sql.NullInt64
	)
	err := sc.Scan(&p.ID, &p.TokenHash, &p.UserID, &p.Stamp, &p.Remember, &created, &expires,
		&p.Attempts, &p.CodeHash, &p.CodeProvider, &codeExpires, &p.Sends, &p.Provider, &p.IDToken)
	if err != nil {
		return nil, err
	}
	p.CodeHash = nullBlob(p.CodeHash)
	p.CreatedAt, p.ExpiresAt, p.CodeExpiresAt = fromMicros(created), fromMicros(expires), fromNullMicros(codeExpires)
	return &p, nil
}

// CreatePendingLogin stores the new pending login p. One whose user does
// not exist is gatehouse.ErrNotFound; one whose id or token hash is taken
// is CodeConflict.
func (s *Store) CreatePendingLogin(ctx context.Context, p *gatehouse.PendingLogin) error {
	const q = `INSERT INTO pending_logins (` + pendingLoginColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	return s.insertOwned(ctx, s.writer, "pending login", p.UserID, "The pending login already exists.", q, p.ID, p.TokenHash, p.UserID, p.Stamp, p.Remember,
		micros(p.CreatedAt), micros(p.ExpiresAt), p.Attempts, nullBlob(p.CodeHash), p.CodeProvider,
		nullMicros(p.CodeExpiresAt), p.Sends, p.Provider, p.IDToken)
}

// PendingLoginByTokenHash returns the pending login whose cookie secret
// hashes to hash, or gatehouse.ErrNotFound. It does not check expiry.
//
// TODO: prepare the statement once in Store.prepare, like sessionByHash,
// when sqlite.go can take the field.
func (s *Store) PendingLoginByTokenHash(ctx context.Context, hash []byte) (*gatehouse.PendingLogin, error) {
	const q = `SELECT ` + pendingLoginColumns + ` FROM pending_logins WHERE token_hash = ?`
	p, err := scanPendingLogin(s.reader.QueryRowContext(ctx, q, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal("pending login by token hash", err)
	}
	return p, nil
}

// RecordCodeSent stores the code and sends of the pending login p.ID, as
// gatehouse.PendingLoginStore describes: one UPDATE, conditional on the
// sends stored (a compare-and-swap SQLite applies under its write lock).
func (s *Store) RecordCodeSent(ctx context.Context, p *gatehouse.PendingLogin) error {
	const q = `UPDATE pending_logins SET code_hash = ?, code_provider = ?, code_expires_at = ?, sends = ?
		WHERE id = ? AND sends = ?`
	return s.updateOne(ctx, "record code sent", q, nullBlob(p.CodeHash), p.CodeProvider,
		nullMicros(p.CodeExpiresAt), p.Sends, p.ID, p.Sends-1)
}

// CountPendingLoginAttempt adds one to the attempts of pending login id if
// they are below max, as gatehouse.PendingLoginStore describes: one UPDATE,
// whose condition and increment SQLite applies under its write lock.
func (s *Store) CountPendingLoginAttempt(ctx context.Context, id string, max int) (int, error) {
	const q = `UPDATE pending_logins SET attempts = attempts + 1 WHERE id = ? AND attempts < ? RETURNING attempts`
	var n int
	err := s.writer.QueryRowContext(ctx, q, id, max).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, gatehouse.ErrNotFound
	}
	if err != nil {
		return 0, s.internal("count pending login attempt", err)
	}
	return n, nil
}

// TakePendingLogin removes pending login id, as gatehouse.PendingLoginStore
// describes: one DELETE, which SQLite applies under its write lock, so of
// concurrent takes only the first finds the row; the others, removing
// nothing, are gatehouse.ErrNotFound.
func (s *Store) TakePendingLogin(ctx context.Context, id string) error {
	return s.updateOne(ctx, "take pending login", `DELETE FROM pending_logins WHERE id = ?`, id)
}

// DeleteExpiredPendingLogins removes the pending logins whose expiry, as
// stored (truncated to the microsecond), is not after now, and returns how
// many it removed.
func (s *Store) DeleteExpiredPendingLogins(ctx context.Context, now time.Time) (int, error) {
	return s.deleteCount(ctx, "delete expired pending logins", `DELETE FROM pending_logins WHERE expires_at <= ?`, micros(now))
}

// DeleteUserPendingLogins removes every pending login of userID and returns
// how many it removed.
func (s *Store) DeleteUserPendingLogins(ctx context.Context, userID string) (int, error) {
	return s.deleteCount(ctx, "delete user pending logins", `DELETE FROM pending_logins WHERE user_id = ?`, userID)
}
