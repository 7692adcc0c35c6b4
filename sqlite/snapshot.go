package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse"
)

// snapshotTables are the tables of the schema and whether Snapshot copies
// them. Snapshot refuses a database with a table missing here, so that a
// migration adding a kind of record (passkeys, say) cannot be
// followed by a move to another store that silently leaves it behind.
var snapshotTables = map[string]bool{
	"users": true, "groups": true, "user_groups": true, "tokens": true,
	"action_tokens": true, "two_factor": true, "recovery_codes": true,
	"devices": true, "identities": true, "sessions": true, "throttles": true, "audit": true,
	"outbox": true,
	// Minutes-long state of a login in progress: see gatehouse.Snapshot.
	"pending_logins": false,
	// The schema's own bookkeeping, which the target has its own of.
	"schema_migrations": false,
}

// Snapshot reads every durable record of the database, as
// gatehouse.Snapshot describes, in one read transaction: what it returns
// is one consistent moment, even while a server writes (though what the
// server writes afterwards is not in it: stop the server first). A
// database holding a table Snapshot does not know is an error.
func (s *Store) Snapshot(ctx context.Context) (*gatehouse.Snapshot, error) {
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, s.internal("snapshot", err)
	}
	defer tx.Rollback()
	if err := checkSnapshotTables(ctx, tx); err != nil {
		return nil, err
	}
	var snap gatehouse.Snapshot
	steps := []struct {
		what string
		read func() error
	}{
		{"users", func() (err error) {
			snap.Users, err = collect(ctx, tx, `SELECT `+userColumns+` FROM users ORDER BY id`, scanUser)
			return err
		}},
		{"groups", func() (err error) {
			snap.Groups, err = collect(ctx, tx, `SELECT `+groupColumns+` FROM groups ORDER BY name`, scanGroup)
			return err
		}},
		{"tokens", func() (err error) {
			snap.Tokens, err = collect(ctx, tx, `SELECT `+tokenColumns+` FROM tokens ORDER BY id`, scanToken)
			return err
		}},
		{"action tokens", func() (err error) {
			snap.ActionTokens, err = collect(ctx, tx, `SELECT `+actionTokenColumns+` FROM action_tokens ORDER BY id`, scanActionToken)
			return err
		}},
		{"two-factor settings", func() (err error) {
			snap.TwoFactors, err = readTwoFactors(ctx, tx)
			return err
		}},
		{"devices", func() (err error) {
			snap.Devices, err = collect(ctx, tx, `SELECT `+deviceColumns+` FROM devices ORDER BY id`, scanDevice)
			return err
		}},
		{"identities", func() (err error) {
			snap.Identities, err = collect(ctx, tx, `SELECT `+identityColumns+` FROM identities ORDER BY provider, subject`, scanIdentity)
			return err
		}},
		{"sessions", func() (err error) {
			snap.Sessions, err = collect(ctx, tx, `SELECT `+sessionColumns+` FROM sessions ORDER BY id`, scanSession)
			return err
		}},
		{"throttles", func() (err error) {
			snap.Throttles, err = collect(ctx, tx, `SELECT key, `+throttleColumns+` FROM throttles ORDER BY key`,
				func(sc scanner) (gatehouse.Throttle, error) {
					var key string
					t, err := scanThrottle(prefixScanner{sc, &key}, "")
					t.Key = key
					return t, err
				})
			return err
		}},
		// rowid is the order of appending (see 0002_tokens_audit).
		{"audit", func() (err error) {
			snap.Audit, err = collect(ctx, tx, `SELECT `+auditColumns+` FROM audit ORDER BY rowid`, scanAudit)
			return err
		}},
		{"outbox", func() (err error) {
			snap.Mail, err = collect(ctx, tx, `SELECT `+mailColumns+` FROM outbox ORDER BY id`, scanMail)
			return err
		}},
	}
	for _, st := range steps {
		if err := st.read(); err != nil {
			return nil, s.internal("snapshot "+st.what, err)
		}
	}
	return &snap, nil
}

// checkSnapshotTables returns an error naming the tables of the database
// that snapshotTables does not know.
func checkSnapshotTables(ctx context.Context, tx *sql.Tx) error {
	names, err := collect(ctx, tx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
		func(sc scanner) (string, error) {
			var n string
			return n, sc.Scan(&n)
		})
	if err != nil {
		return fmt.Errorf("sqlite: snapshot: list tables: %w", err)
	}
	var unknown []string
	for _, n := range names {
		if _, ok := snapshotTables[n]; !ok {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("sqlite: snapshot: the database has tables this gatehouse does not know how to copy (%s); use the gatehouse that created them", strings.Join(unknown, ", "))
	}
	return nil
}

// readTwoFactors reads every user's second-factor settings, each with its
// recovery codes sorted byte-wise, as TwoFactor returns them.
func readTwoFactors(ctx context.Context, tx *sql.Tx) ([]*gatehouse.TwoFactor, error) {
	const q = `SELECT user_id, totp_secret, totp_pending, totp_last_step, phone, updated_at, version FROM two_factor ORDER BY user_id`
	tfs, err := collect(ctx, tx, q, func(sc scanner) (*gatehouse.TwoFactor, error) {
		var (
			tf      gatehouse.TwoFactor
			updated int64
		)
		if err := sc.Scan(&tf.UserID, &tf.TOTPSecret, &tf.TOTPPending, &tf.TOTPLastStep, &tf.Phone, &updated, &tf.Version); err != nil {
			return nil, err
		}
		tf.TOTPSecret, tf.TOTPPending = nullBlob(tf.TOTPSecret), nullBlob(tf.TOTPPending)
		tf.UpdatedAt = fromMicros(updated)
		return &tf, nil
	})
	if err != nil {
		return nil, err
	}
	type code struct {
		user string
		hash []byte
	}
	// SQLite compares BLOBs as bytes.Compare does.
	codes, err := collect(ctx, tx, `SELECT user_id, hash FROM recovery_codes ORDER BY user_id, hash`, func(sc scanner) (code, error) {
		var c code
		return c, sc.Scan(&c.user, &c.hash)
	})
	if err != nil {
		return nil, err
	}
	for _, c := range codes {
		i, ok := slices.BinarySearchFunc(tfs, c.user, func(tf *gatehouse.TwoFactor, id string) int { return strings.Compare(tf.UserID, id) })
		if !ok {
			// The foreign key makes this impossible; say so rather than drop it.
			return nil, fmt.Errorf("recovery code of user %s, who has no two-factor settings", c.user)
		}
		tfs[i].RecoveryCodes = append(tfs[i].RecoveryCodes, c.hash)
	}
	return tfs, nil
}

// collect runs q in tx and reads every row with scan.
func collect[T any](ctx context.Context, tx *sql.Tx, q string, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// prefixScanner scans its first column into first and the rest with sc,
// so that a scan function for the columns after it (scanThrottle, which
// is given the key) reads a row that starts with one more.
type prefixScanner struct {
	sc    scanner
	first *string
}

// Scan scans the row into first and dest.
func (p prefixScanner) Scan(dest ...any) error {
	return p.sc.Scan(append([]any{p.first}, dest...)...)
}
