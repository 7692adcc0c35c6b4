package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
)

// deviceColumns are the columns scanDevice reads.
const deviceColumns = `id, token_hash, user_id, session_id, stamp, created_at, expires_at, client_addr, user_agent`

// scanDevice reads a row of deviceColumns.
func scanDevice(row pgx.Row) (*gatehouse.Device, error) {
	var (
		d                gatehouse.Device
		created, expires time.Time
	)
	err := row.Scan(&d.ID, &d.TokenHash, &d.UserID, &d.SessionID, &d.Stamp, &created, &expires,
		&d.ClientAddr, &d.UserAgent)
	if err != nil {
		return nil, err
	}
	d.CreatedAt, d.ExpiresAt = created.UTC(), expires.UTC()
	return &d, nil
}

// checkDevice returns a CodeValidation error for a device the schema
// cannot hold: without id or token hash, or with a field that is not
// UTF-8 text. The client address and User-Agent come from the request,
// so they are the likely ones.
func checkDevice(d *gatehouse.Device) error {
	const invalid = "The device is not valid."
	fields := map[string]string{}
	if d.ID == "" {
		fields["id"] = "The id is required."
	}
	if len(d.TokenHash) == 0 {
		fields["token_hash"] = "The token hash is required."
	}
	if len(fields) > 0 {
		return &gatehouse.Error{Code: gatehouse.CodeValidation, Message: invalid, Fields: fields}
	}
	return checkText(invalid, map[string]string{"id": d.ID, "user_id": d.UserID, "session_id": d.SessionID,
		"stamp": d.Stamp, "client_addr": d.ClientAddr, "user_agent": d.UserAgent})
}

// CreateDevice stores the new remembered device d. One whose user does not
// exist is gatehouse.ErrNotFound; one whose id or token hash is taken is
// CodeConflict; one without id or token hash CodeValidation. Its session
// need not exist (sessions may live in another store), and its SessionID
// may be "".
func (s *Store) CreateDevice(ctx context.Context, d *gatehouse.Device) error {
	if err := checkDevice(d); err != nil {
		return err
	}
	const q = `INSERT INTO devices (` + deviceColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	return s.insertForUser(ctx, "device", d.UserID, "The device already exists.", q,
		d.ID, d.TokenHash, d.UserID, d.SessionID, d.Stamp, pgTime(d.CreatedAt), pgTime(d.ExpiresAt),
		d.ClientAddr, d.UserAgent)
}

// DeviceByTokenHash returns the device whose cookie secret hashes to hash,
// or gatehouse.ErrNotFound. It does not check expiry or the stamp.
func (s *Store) DeviceByTokenHash(ctx context.Context, hash []byte) (*gatehouse.Device, error) {
	const q = `SELECT ` + deviceColumns + ` FROM devices WHERE token_hash = $1`
	d, err := scanDevice(s.pool.QueryRow(ctx, q, hash))
	if errors.Is(err, pgx.ErrNoRows) {
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
		return s.rowsChanged(ctx, "delete devices", `DELETE FROM devices WHERE user_id = $1`, userID)
	}
	return s.rowsChanged(ctx, "delete devices", `DELETE FROM devices WHERE user_id = $1 AND session_id = $2`,
		userID, sessionID)
}

// MoveDevices moves the devices of userID created with session
// fromSessionID to session toSessionID, as a session that changes its id
// (a rekey after a login or a second factor) keeps them, and returns how
// many it moved. One UPDATE, on the (user_id, session_id) index; devices
// have no foreign key to sessions, which may live in another store, so the
// session's own change of id is its store's business.
func (s *Store) MoveDevices(ctx context.Context, userID, fromSessionID, toSessionID string) (int, error) {
	if err := checkText("The session id is not valid.", map[string]string{"session_id": toSessionID}); err != nil {
		return 0, err
	}
	return s.rowsChanged(ctx, "move devices", `UPDATE devices SET session_id = $3 WHERE user_id = $1 AND session_id = $2`,
		userID, fromSessionID, toSessionID)
}

// DeleteExpiredDevices removes the devices whose expiry, as stored
// (truncated to the microsecond), is not after now, and returns how many it
// removed.
func (s *Store) DeleteExpiredDevices(ctx context.Context, now time.Time) (int, error) {
	ctx = unbounded(ctx) // a sweep may rightly take long (see DefaultStatementTimeout)
	return s.rowsChanged(ctx, "delete expired devices", `DELETE FROM devices WHERE expires_at <= $1`, pgTime(now))
}
