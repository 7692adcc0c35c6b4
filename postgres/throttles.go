package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse/gatehouse"
)

// throttleColumns are the columns scanThrottle reads, in its order.
const throttleColumns = `failures, window_start, locked_until, pending, pending_until`

// scanThrottle reads throttleColumns.
func scanThrottle(row pgx.Row, key string) (gatehouse.Throttle, error) {
	t := gatehouse.Throttle{Key: key}
	var (
		start          time.Time
		locked, expiry pgtype.Timestamptz
	)
	if err := row.Scan(&t.Failures, &start, &locked, &t.Pending, &expiry); err != nil {
		return gatehouse.Throttle{}, err
	}
	t.WindowStart, t.LockedUntil, t.PendingUntil = start.UTC(), fromNullTime(locked), fromNullTime(expiry)
	return t, nil
}

// Throttle returns the state of key; a key never seen is a zero Throttle
// with that Key.
func (s *Store) Throttle(ctx context.Context, key string) (gatehouse.Throttle, error) {
	const q = `SELECT ` + throttleColumns + ` FROM throttles WHERE key = $1`
	t, err := scanThrottle(s.pool.QueryRow(ctx, q, key), key)
	if errors.Is(err, pgx.ErrNoRows) {
		return gatehouse.Throttle{Key: key}, nil
	}
	if err != nil {
		return gatehouse.Throttle{}, s.internal("throttle", err)
	}
	return t, nil
}

// zeroTime is the window start of a key without failures: timestamptz
// holds year 1, so the zero time.Time round-trips.
var zeroTime = time.Time{}

// updateThrottle reads key, applies change and writes back what it returns
// when it reports a change, in one transaction that holds the row lock of
// key (SELECT … FOR UPDATE) from the read to the commit: a concurrent
// change of the same key, from this process or another, waits for the
// commit and then reads what this one wrote, so every read-check-write on
// a key is atomic. A key never seen is inserted first (ON CONFLICT DO
// NOTHING, so that two first failures racing both end up locking the one
// row), and deleted again when change leaves it as it was.
func (s *Store) updateThrottle(ctx context.Context, key string, change func(gatehouse.Throttle) (gatehouse.Throttle, bool)) (gatehouse.Throttle, error) {
	var t gatehouse.Throttle
	err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		const sel = `SELECT ` + throttleColumns + ` FROM throttles WHERE key = $1 FOR UPDATE`
		var err error
		t, err = scanThrottle(tx.QueryRow(ctx, sel, key), key)
		inserted := false
		if errors.Is(err, pgx.ErrNoRows) {
			const ins = `INSERT INTO throttles (key, failures, window_start) VALUES ($1, 0, $2) ON CONFLICT (key) DO NOTHING`
			tag, err := tx.Exec(ctx, ins, key, zeroTime)
			if err != nil {
				return err
			}
			inserted = tag.RowsAffected() == 1
			t, err = scanThrottle(tx.QueryRow(ctx, sel, key), key)
			if err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		var changed bool
		if t, changed = change(t); !changed {
			if inserted {
				_, err := tx.Exec(ctx, `DELETE FROM throttles WHERE key = $1`, key)
				return err
			}
			return nil
		}
		t = truncThrottle(t)
		const upd = `UPDATE throttles SET failures = $2, window_start = $3, locked_until = $4, pending = $5, pending_until = $6
			WHERE key = $1`
		_, err = tx.Exec(ctx, upd, key, t.Failures, t.WindowStart, nullTime(t.LockedUntil), t.Pending, nullTime(t.PendingUntil))
		return err
	})
	return t, err
}

// truncThrottle puts the times of t in UTC, truncated to the microseconds
// the database keeps, so the state returned is the state stored.
func truncThrottle(t gatehouse.Throttle) gatehouse.Throttle {
	t.WindowStart = pgTime(t.WindowStart)
	t.LockedUntil = fromNullTime(nullTime(t.LockedUntil))
	t.PendingUntil = fromNullTime(nullTime(t.PendingUntil))
	return t
}

// AddFailure counts one failure for key at now under rule, as
// gatehouse.ThrottleStore describes, and returns the new state as stored.
// It reads, computes and writes in one transaction holding the key's row
// lock (updateThrottle), so concurrent failures from any number of
// goroutines or processes are each counted once.
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

// ResetThrottle forgets the failures and lock of key; attempts pending on
// it stay pending (they are guesses still being verified, which the key's
// budget must go on counting). One transaction: a key with nothing pending
// goes, any other is cleared but for its reservations.
func (s *Store) ResetThrottle(ctx context.Context, key string) error {
	err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM throttles WHERE key = $1 AND pending = 0`, key); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE throttles SET failures = 0, window_start = $2, locked_until = NULL WHERE key = $1`, key, zeroTime)
		return err
	})
	return s.internal("reset throttle", err)
}

// DeleteStaleThrottles forgets every key whose window, taken to be window
// long, has ended at now, whose lock ended a window ago or more, and whose
// pending attempts, if any, lapsed a window ago or more (they counted as
// failures then), and returns how many it forgot.
func (s *Store) DeleteStaleThrottles(ctx context.Context, now time.Time, window time.Duration) (int, error) {
	ctx = unbounded(ctx) // a sweep may rightly take long (see DefaultStatementTimeout)
	// "start + window <= now" as "start <= now - window": the stored times
	// are whole microseconds, so comparing them with now - window truncated
	// to the microsecond decides exactly as Throttle.Locked and the window
	// checks of AddFailure, which compare nanoseconds, do. A full scan: the
	// cleanup runs now and then, and an index would cost every failure a
	// write.
	const q = `DELETE FROM throttles
		WHERE window_start <= $1 AND (locked_until IS NULL OR locked_until <= $1)
			AND (pending = 0 OR pending_until <= $1)`
	tag, err := s.pool.Exec(ctx, q, pgTime(now.Add(-window)))
	if err != nil {
		return 0, s.internal("delete stale throttles", err)
	}
	return int(tag.RowsAffected()), nil
}
