// Package postgres implements gatehouse's stores on PostgreSQL, for several
// gatehouse processes sharing one database.
//
// It uses github.com/jackc/pgx/v5 with a connection pool (pgxpool). Open
// migrates the database with the SQL files embedded in the package, one
// sequence of PostgreSQL's own.
//
// The Store holds every area (gatehouse.Store, and gatehouse.LoginRecorder):
// users and groups, sessions, login throttles, API tokens, the audit log,
// action tokens, the mail outbox, second-factor settings, pending logins and
// remembered devices. A deployment may keep the short-lived ones (sessions,
// throttles, pending logins) in Redis instead; the tables stay empty then.
// Every read-check-write is one transaction that locks what it reads, or a
// single conditional statement (the claim of mail, the use of a code, the
// count of an attempt), so that processes racing on the same record cannot
// all pass a check together.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse"
)

// Store keeps gatehouse's records in a PostgreSQL database. It is safe for
// concurrent use, and by several processes on the same database.
type Store struct {
	pool *pgxpool.Pool
}

var (
	_ gatehouse.Store         = (*Store)(nil)
	_ gatehouse.LoginRecorder = (*Store)(nil)
)

// Open connects to the PostgreSQL database at connString (a postgres:// URL or a
// key=value connection string, as pgx accepts) and migrates it to the
// current schema. The connection pool is pgxpool's, sized by the URL's
// pool_max_conns and friends when given. The waits on the server are
// bounded (see DefaultConnectTimeout and DefaultStatementTimeout), so that a
// server that is down or does not answer fails a call within seconds.
//
// Errors never repeat connString, which may hold a password.
func Open(ctx context.Context, connString string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: the database URL is not valid: %w", redactedParseError(err))
	}
	bound(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", where(cfg), err)
	}
	s := &Store{pool: pool}
	if err := s.Migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where(cfg), err)
	}
	return s, nil
}

// where names the server and database of cfg for error messages, without
// user or password.
func where(cfg *pgxpool.Config) string {
	return fmt.Sprintf("database %q on %s:%d", cfg.ConnConfig.Database, cfg.ConnConfig.Host, cfg.ConnConfig.Port)
}

// redactedParseError returns the reason of a connection string parse
// error without the connection string, which pgx and net/url quote and
// which may hold a password that pgx could not recognise to mask.
func redactedParseError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) && pe.Unwrap() != nil {
		return pe.Unwrap()
	}
	// "cannot parse `…`: reason": keep the reason.
	if _, reason, ok := strings.Cut(err.Error(), "`: "); ok && !strings.Contains(reason, "`") {
		return errors.New(reason)
	}
	return errors.New("cannot parse it")
}

// Close closes every connection of the pool, waiting for those in use to be
// returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks that the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return s.internal("ping", err)
	}
	return nil
}

// internal wraps an unexpected error of operation op; nil and
// *gatehouse.Error pass unchanged. A serialization failure, deadlock or lock
// timeout becomes CodeBusy, so clients are told to retry rather than that
// the server failed; anything else stays an internal error, whose text is
// only logged.
func (s *Store) internal(op string, err error) error {
	var ge *gatehouse.Error
	if err == nil || errors.As(err, &ge) {
		return err
	}
	err = fmt.Errorf("postgres: %s: %w", op, err)
	switch sqlState(err) {
	case "40001", "40P01", "55P03": // serialization_failure, deadlock_detected, lock_not_available
		return &gatehouse.Error{
			Code:       gatehouse.CodeBusy,
			Message:    "The server is busy. Try again shortly.",
			RetryAfter: time.Second,
			Err:        err,
		}
	case "22021", "22P05": // character_not_in_repertoire, untranslatable_character
		// Text that is not UTF-8, or holds NUL, which PostgreSQL's text
		// refuses: the client's input (an id in a path, a name), not a
		// failure of the store, which the HTTP layer would answer 503.
		return &gatehouse.Error{
			Code:    gatehouse.CodeValidation,
			Message: "The request holds text that is not valid UTF-8.",
			Err:     err,
		}
	}
	return err
}

// sqlState returns the SQLSTATE of err, or "" when err did not come from
// the server.
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// isUniqueViolation reports whether err is a violated UNIQUE or PRIMARY KEY
// constraint.
func isUniqueViolation(err error) bool { return sqlState(err) == "23505" }

// pgTime is t as the schema stores it: in UTC, truncated (not rounded) to
// the microsecond that timestamptz keeps. pgx would truncate too; doing it
// here makes the state a store method returns the state stored.
func pgTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nullTime is pgTime for a nullable column, where the zero time is NULL.
func nullTime(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: pgTime(t), Valid: true}
}

// fromNullTime is the inverse of nullTime, in UTC.
func fromNullTime(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// inTx runs fn in a transaction with opts and commits it unless fn fails,
// in which case it rolls back and returns fn's error unwrapped, so that
// err == gatehouse.ErrNotFound holds.
func (s *Store) inTx(ctx context.Context, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		// A rollback that fails leaves the connection to the pool, which
		// closes it; fn's error is the one that matters.
		if rerr := tx.Rollback(context.WithoutCancel(ctx)); rerr != nil && !errors.Is(rerr, pgx.ErrTxClosed) {
			return errors.Join(err, rerr)
		}
		return err
	}
	return tx.Commit(ctx)
}

// updateOne runs an UPDATE or DELETE of one row, a user's or a group's,
// and turns "no row" into gatehouse.ErrNotFound.
func (s *Store) updateOne(ctx context.Context, op, q string, args ...any) error {
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return s.internal(op, err)
	}
	if tag.RowsAffected() == 0 {
		return gatehouse.ErrNotFound
	}
	return nil
}
