package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse"
)

var _ gatehouse.DeviceStore = (*Store)(nil)

// deviceColumns are the columns scanDevice reads.
const deviceColumns = `id, token_hash, user_id, session_id, stamp, created_at, expires_at, client_addr, user_agent`

// scanDevice reads a row of deviceColumns.
func scanDevice(sc scanner) (*gatehouse.Device, error) {
	var (
		d                gatehouse.Device
		created, expires int64
	)
	err := sc.Scan(&d.ID, &d.TokenHash, &d.UserID, &d.SessionID, &d.Stamp, &created, &expires,
		&d.ClientAddr, &d.UserAgent)
	if err != nil {
		return nil, err
	}
	d.CreatedAt, d.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &d, nil
}

// CreateDevice stores the new remembered device d. One whose user does not
// exist is gatehouse.ErrNotFound; one whose id or token hash is taken is
// CodeConflict. Its session need not exist, and its SessionID may be "".
func (s *Store) CreateDevice(ctx context.Context, d *gatehouse.Device) error {
	const q = `INSERT INTO devices (` + deviceColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	return s.insertOwned(ctx, s.writer, "device", d.UserID, "The device already exists.", q, d.ID, d.TokenHash, d.UserID, d.SessionID, d.Stamp,
		micros(d.CreatedAt), micros(d.ExpiresAt), d.ClientAddr, d.UserAgent)
}

// DeviceByTokenHash returns the device whose cookie secret hashes to hash,
// or gatehouse.ErrNotFound. It does not check expiry or the stamp.
//
// TODO: prepare the statement once in Store.prepare, like sessionByHash,
// when sqlite.go can take the field.
func (s *Store) DeviceByTokenHash(ctx context.Context, hash []byte) (*gatehouse.Device, error) {
	const q = `SELECT ` + deviceColumns + ` FROM devices WHERE token_hash = ?`
	d, err := scanDevice(s.reader.QueryRowContext(ctx, q, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gatehouse.ErrNotFound
	}
	if err != nil {
		return nil, s.internal("device by token hash", err)
	}
	return d, nil
}

// DeleteDevices removes the devices of userID created with session
// sessionID, or all of them when sessionID is "", and returns how many it
// removed.
func (s *Store) DeleteDevices(ctx context.Context, userID, sessionID string) (int, error) {
	if sessionID == "" {
		return s.deleteCount(ctx, "delete devices", `DELETE FROM devices WHERE user_id = ?`, userID)
	}
	return s.deleteCount(ctx, "delete devices", `DELETE FROM devices WHERE user_id = ? AND session_id = ?`,
		userID, sessionID)
}

// MoveDevices gives the devices of userID created with session
// fromSessionID the session id toSessionID, and returns how many it moved.
func (s *Store) MoveDevices(ctx context.Context, userID, fromSessionID, toSessionID string) (int, error) {
	// The devices are found by (user_id, session_id), their index.
	res, err := s.writer.ExecContext(ctx, `UPDATE devices SET session_id = ? WHERE user_id = ? AND session_id = ?`,
		toSessionID, userID, fromSessionID)
	if err != nil {
		return 0, s.internal("move devices", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.internal("move devices", err)
	}
	return int(n), nil
}

// DeleteExpiredDevices removes the devices whose expiry, as stored
// (truncated to the microsecond), is not after now, and returns how many it
// removed.
func (s *Store) DeleteExpiredDevices(ctx context.Context, now time.Time) (int, error) {
	return s.deleteCount(ctx, "delete expired devices", `DELETE FROM devices WHERE expires_at <= ?`, micros(now))
}
