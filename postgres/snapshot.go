package postgres

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

// snapshotTables are the tables of the schema and whether a Snapshot
// holds their rows. Snapshot refuses a database with a table missing
// here, and Restore requires every table but schema_migrations to be
// empty, so that a kind of record added later (passkeys, say)
// is never left behind or mixed in unnoticed.
var snapshotTables = map[string]bool{
	"users": true, "groups": true, "user_groups": true, "tokens": true,
	"action_tokens": true, "two_factor": true, "devices": true, "identities": true,
	"sessions": true, "throttles": true, "audit": true, "outbox": true,
	// Minutes-long state of a login in progress: see gatehouse.Snapshot.
	"pending_logins":    false,
	"schema_migrations": false,
}

// schemaTables returns the tables of the store's schema, sorted.
func schemaTables(ctx context.Context, tx pgx.Tx) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Snapshot reads every durable record of the database, as
// gatehouse.Snapshot describes, in one read-only REPEATABLE READ
// transaction, so that what it returns is one consistent moment. A
// database holding a table Snapshot does not know is an error.
func (s *Store) Snapshot(ctx context.Context) (*gatehouse.Snapshot, error) {
	ctx = unbounded(ctx) // a snapshot reads whole tables, the audit log included (see DefaultStatementTimeout)
	var snap gatehouse.Snapshot
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := s.inTx(ctx, opts, func(tx pgx.Tx) error {
		tables, err := schemaTables(ctx, tx)
		if err != nil {
			return err
		}
		var unknown []string
		for _, t := range tables {
			if _, ok := snapshotTables[t]; !ok {
				unknown = append(unknown, t)
			}
		}
		if len(unknown) > 0 {
			return fmt.Errorf("the database has tables this gatehouse does not know how to copy (%s); use the gatehouse that created them", strings.Join(unknown, ", "))
		}
		if snap.Users, err = collect(ctx, tx, `SELECT `+userColumns+` FROM users ORDER BY id`, scanUser); err != nil {
			return err
		}
		if snap.Groups, err = collect(ctx, tx, `SELECT `+groupColumns+` FROM groups ORDER BY name`, scanGroup); err != nil {
			return err
		}
		if snap.Tokens, err = collect(ctx, tx, `SELECT `+tokenColumns+` FROM tokens ORDER BY id`, scanToken); err != nil {
			return err
		}
		if snap.ActionTokens, err = collect(ctx, tx, `SELECT `+actionTokenColumns+` FROM action_tokens ORDER BY id`, scanActionToken); err != nil {
			return err
		}
		if snap.TwoFactors, err = collect(ctx, tx, `SELECT user_id, totp_secret, totp_pending, totp_last_step, phone,
				recovery_codes, updated_at, version FROM two_factor ORDER BY user_id`, scanTwoFactor); err != nil {
			return err
		}
		if snap.Devices, err = collect(ctx, tx, `SELECT `+deviceColumns+` FROM devices ORDER BY id`, scanDevice); err != nil {
			return err
		}
		if snap.Identities, err = collect(ctx, tx, `SELECT `+identityColumns+` FROM identities ORDER BY provider, subject`, scanIdentity); err != nil {
			return err
		}
		if snap.Sessions, err = collect(ctx, tx, `SELECT `+sessionColumns+` FROM sessions ORDER BY id`, scanSession); err != nil {
			return err
		}
		if snap.Throttles, err = collect(ctx, tx, `SELECT key, `+throttleColumns+` FROM throttles ORDER BY key COLLATE "C"`, scanKeyedThrottle); err != nil {
			return err
		}
		// seq is the order of appending.
		if snap.Audit, err = collect(ctx, tx, `SELECT `+auditColumns+` FROM audit ORDER BY seq`, scanAudit); err != nil {
			return err
		}
		snap.Mail, err = collect(ctx, tx, `SELECT `+mailColumns+` FROM outbox ORDER BY id`, scanMail)
		return err
	})
	if err != nil {
		return nil, s.internal("snapshot", err)
	}
	return &snap, nil
}

// collect runs q in tx and reads every row with scan.
func collect[T any](ctx context.Context, tx pgx.Tx, q string, scan func(pgx.Row) (T, error)) ([]T, error) {
	rows, err := tx.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
}

// scanTwoFactor reads a user's second-factor settings as TwoFactor
// returns them: recovery codes sorted byte-wise, nil when none.
func scanTwoFactor(row pgx.Row) (*gatehouse.TwoFactor, error) {
	var (
		tf      gatehouse.TwoFactor
		updated time.Time
	)
	err := row.Scan(&tf.UserID, &tf.TOTPSecret, &tf.TOTPPending, &tf.TOTPLastStep, &tf.Phone,
		&tf.RecoveryCodes, &updated, &tf.Version)
	if err != nil {
		return nil, err
	}
	tf.TOTPSecret, tf.TOTPPending = nilIfEmpty(tf.TOTPSecret), nilIfEmpty(tf.TOTPPending)
	if len(tf.RecoveryCodes) == 0 {
		tf.RecoveryCodes = nil
	}
	slices.SortFunc(tf.RecoveryCodes, bytes.Compare)
	tf.UpdatedAt = updated.UTC()
	return &tf, nil
}

// scanKeyedThrottle reads a throttle's key followed by throttleColumns.
func scanKeyedThrottle(row pgx.Row) (gatehouse.Throttle, error) {
	var key string
	t, err := scanThrottle(keyedRow{row, &key}, "")
	t.Key = key
	return t, err
}

// keyedRow scans its first column into key and the rest as the row it
// wraps would, so that scanThrottle, which is given the key, reads a row
// that starts with it.
type keyedRow struct {
	pgx.Row
	key *string
}

// Scan scans the row into key and dest.
func (r keyedRow) Scan(dest ...any) error {
	return r.Row.Scan(append([]any{r.key}, dest...)...)
}
