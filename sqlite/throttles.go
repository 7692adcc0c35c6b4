package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse"
)

// throttleColumns are the columns scanThrottle reads, in its order.
const throttleColumns = `failures, window_start, locked_until, pending, pending_until`

// scanThrottle reads throttleColumns.
func scanThrottle(sc scanner, key string) (gatehouse.Throttle, error) {
	t := gatehouse.Throttle{Key: key}
	var (
		start          int64
		locked, expiry sql.NullInt64
	)
	if err := sc.Scan(&t.Failures, &start, &locked, &t.Pending, &expiry); err != nil {
		return gatehouse.Throttle{}, err
	}
	t.WindowStart, t.LockedUntil, t.PendingUntil = fromMicros(start), fromNullMicros(locked), fromNullMicros(expiry)
	return t, nil
}

// Throttle returns the state of key; a key never seen is a zero Throttle
// with that Key.
func (s *Store) Throttle(ctx context.Context, key string) (gatehouse.Throttle, error) {
	const q = `SELECT ` + throttleColumns + ` FROM throttles WHERE key = ?`
	t, err := scanThrottle(s.reader.QueryRowContext(ctx, q, key), key)
	if errors.Is(err, sql.ErrNoRows) {
		return gatehouse.Throttle{Key: key}, nil
	}
	if err != nil {
		return gatehouse.Throttle{}, s.internal("throttle", err)
	}
	return t, nil
}

// updateThrottle reads key, applies change and writes back what it
// returns when it reports a change, in one write transaction. The store
// has one writer connection and begins its transactions IMMEDIATE, which
// takes the database's write lock before the read: no other transaction,
// in this process or another, writes between the read and the write, so
// every read-check-write on a key is atomic.
func (s *Store) updateThrottle(ctx context.Context, key string, change func(gatehouse.Throttle) (gatehouse.Throttle, bool)) (gatehouse.Throttle, error) {
	var t gatehouse.Throttle
	err := s.write(ctx, func(tx *sql.Tx) error {
		const q = `SELECT ` + throttleColumns + ` FROM throttles WHERE key = ?`
		var err error
		t, err = scanThrottle(tx.QueryRowContext(ctx, q, key), key)
		if errors.Is(err, sql.ErrNoRows) {
			t, err = gatehouse.Throttle{Key: key}, nil
		}
		if err != nil {
			return err
		}
		var changed bool
		if t, changed = change(t); !changed {
			return nil
		}
		t = truncThrottle(t)
		const upsert = `INSERT INTO throttles (key, failures, window_start, locked_until, pending, pending_until) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start,
				locked_until = excluded.locked_until, pending = excluded.pending, pending_until = excluded.pending_until`
		_, err = tx.ExecContext(ctx, upsert, key, t.Failures, micros(t.WindowStart), nullMicros(t.LockedUntil), t.Pending, nullMicros(t.PendingUntil))
		return err
	})
	return t, err
}

// AddFailure counts one failure for key at now under rule, as
// gatehouse.ThrottleStore describes, and returns the new state as stored.
// It reads, computes and writes in one transaction (updateThrottle), so
// concurrent failures from any number of goroutines or processes are each
// counted once.
func (s *Store) AddFailure(ctx context.Context, key string, now time.Time, rule gatehouse.ThrottleRule) (gatehouse.Throttle, error) {
	t, err := s.updateThrottle(ctx, key, func(t gatehouse.Throttle) (gatehouse.Throttle, bool) {
		return t.AddFailure(now, rule)
	})
	if err != nil {
		return gatehouse.Throttle{}, s.internal("add failure", err)
	}
	return t, nil
}

// ReserveAttempt asks to make one attempt on key, as
// gatehouse.ThrottleStore describes: the check of the lock and the
// reservation are one transaction (updateThrottle).
func (s *Store) ReserveAttempt(ctx context.Context, key string, now time.Time, rule gatehouse.ThrottleRule, lease time.Duration) (gatehouse.Throttle, gatehouse.Reservation, error) {
	var r gatehouse.Reservation
	t, err := s.updateThrottle(ctx, key, func(t gatehouse.Throttle) (gatehouse.Throttle, bool) {
		var changed bool
		t, r, changed = t.Reserve(now, rule, lease)
		return t, changed
	})
	if err != nil {
		return gatehouse.Throttle{}, 0, s.internal("reserve attempt", err)
	}
	return t, r, nil
}

// SettleAttempt ends one reserved attempt on key, as
// gatehouse.ThrottleStore describes, in one transaction (updateThrottle).
func (s *Store) SettleAttempt(ctx context.Context, key string, now time.Time, rule gatehouse.ThrottleRule, outcome gatehouse.Settlement) (gatehouse.Throttle, error) {
	t, err := s.updateThrottle(ctx, key, func(t gatehouse.Throttle) (gatehouse.Throttle, bool) {
		return t.Settle(now, rule, outcome), true
	})
	if err != nil {
		return gatehouse.Throttle{}, s.internal("settle attempt", err)
	}
	return t, nil
}

// truncThrottle truncates the times of t to the microseconds the database
// keeps, so the state returned is the state stored.
func truncThrottle(t gatehouse.Throttle) gatehouse.Throttle {
	t.WindowStart = fromMicros(micros(t.WindowStart))
	t.LockedUntil = fromNullMicros(nullMicros(t.LockedUntil))
	t.PendingUntil = fromNullMicros(nullMicros(t.PendingUntil))
	return t
}

// ResetThrottle forgets the failures and lock of key; attempts pending on
// it stay pending (they are guesses still being verified, which the key's
// budget must go on counting). One transaction.
func (s *Store) ResetThrottle(ctx context.Context, key string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM throttles WHERE key = ? AND pending = 0`, key); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE throttles SET failures = 0, window_start = ?, locked_until = NULL WHERE key = ?`,
			micros(time.Time{}), key)
		return err
	})
	return s.internal("reset throttle", err)
}

// DeleteStaleThrottles forgets every key whose window, taken to be window
// long, has ended at now, whose lock ended a window ago or more, and whose
// pending attempts, if any, lapsed a window ago or more (they counted as
// failures then), and returns how many it forgot.
func (s *Store) DeleteStaleThrottles(ctx context.Context, now time.Time, window time.Duration) (int, error) {
	// In nanoseconds, like Throttle.Locked and the window check of
	// addFailure, which compare time.Time values. A full scan: the cleanup
	// runs now and then, and an index would cost every failure a write.
	const q = `DELETE FROM throttles
		WHERE window_start * 1000 + ?1 <= ?2 AND (locked_until IS NULL OR locked_until * 1000 + ?1 <= ?2)
			AND (pending = 0 OR pending_until * 1000 + ?1 <= ?2)`
	return s.deleteCount(ctx, "delete stale throttles", q, int64(window), nanos(now))
}
