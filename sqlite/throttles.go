package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse"
)

// scanThrottle reads failures, window_start and locked_until.
func scanThrottle(sc scanner, key string) (gatehouse.Throttle, error) {
	t := gatehouse.Throttle{Key: key}
	var (
		start  int64
		locked sql.NullInt64
	)
	if err := sc.Scan(&t.Failures, &start, &locked); err != nil {
		return gatehouse.Throttle{}, err
	}
	t.WindowStart, t.LockedUntil = fromMicros(start), fromNullMicros(locked)
	return t, nil
}

// Throttle returns the state of key; a key never seen is a zero Throttle
// with that Key.
func (s *Store) Throttle(ctx context.Context, key string) (gatehouse.Throttle, error) {
	const q = `SELECT failures, window_start, locked_until FROM throttles WHERE key = ?`
	t, err := scanThrottle(s.reader.QueryRowContext(ctx, q, key), key)
	if errors.Is(err, sql.ErrNoRows) {
		return gatehouse.Throttle{Key: key}, nil
	}
	if err != nil {
		return gatehouse.Throttle{}, s.internal("throttle", err)
	}
	return t, nil
}

// AddFailure counts one failure for key at now under rule, as
// gatehouse.ThrottleStore describes, and returns the new state as stored.
//
// It reads, computes and writes in one BEGIN IMMEDIATE transaction, which
// holds the write lock throughout, so concurrent failures from any number of
// goroutines or processes are each counted once.
func (s *Store) AddFailure(ctx context.Context, key string, now time.Time, rule gatehouse.ThrottleRule) (gatehouse.Throttle, error) {
	var t gatehouse.Throttle
	err := s.write(ctx, func(tx *sql.Tx) error {
		const q = `SELECT failures, window_start, locked_until FROM throttles WHERE key = ?`
		var err error
		t, err = scanThrottle(tx.QueryRowContext(ctx, q, key), key)
		if errors.Is(err, sql.ErrNoRows) {
			t, err = gatehouse.Throttle{Key: key}, nil
		}
		if err != nil {
			return err
		}
		var changed bool
		if t, changed = addFailure(t, now, rule); !changed {
			return nil
		}
		const upsert = `INSERT INTO throttles (key, failures, window_start, locked_until) VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
				window_start = excluded.window_start, locked_until = excluded.locked_until`
		_, err = tx.ExecContext(ctx, upsert, key, t.Failures, micros(t.WindowStart), nullMicros(t.LockedUntil))
		return err
	})
	if err != nil {
		return gatehouse.Throttle{}, s.internal("add failure", err)
	}
	return t, nil
}

// addFailure applies the domain rule and truncates the times to the
// microseconds the database keeps, so the state returned is the state stored.
func addFailure(t gatehouse.Throttle, now time.Time, rule gatehouse.ThrottleRule) (gatehouse.Throttle, bool) {
	t, changed := t.AddFailure(now, rule)
	t.WindowStart = fromMicros(micros(t.WindowStart))
	t.LockedUntil = fromNullMicros(nullMicros(t.LockedUntil))
	return t, changed
}

// ResetThrottle forgets key.
func (s *Store) ResetThrottle(ctx context.Context, key string) error {
	_, err := s.writer.ExecContext(ctx, `DELETE FROM throttles WHERE key = ?`, key)
	return s.internal("reset throttle", err)
}

// DeleteStaleThrottles forgets every key whose window, taken to be window
// long, has ended at now and whose lock ended a window ago or more, and
// returns how many it forgot.
func (s *Store) DeleteStaleThrottles(ctx context.Context, now time.Time, window time.Duration) (int, error) {
	// In nanoseconds, like Throttle.Locked and the window check of
	// addFailure, which compare time.Time values. A full scan: the cleanup
	// runs now and then, and an index would cost every failure a write.
	const q = `DELETE FROM throttles
		WHERE window_start * 1000 + ?1 <= ?2 AND (locked_until IS NULL OR locked_until * 1000 + ?1 <= ?2)`
	return s.deleteCount(ctx, "delete stale throttles", q, int64(window), nanos(now))
}
