// Package sqlite implements gatehouse.Store on a single SQLite database file,
// which is all a gatehouse on one machine needs.
//
// It uses modernc.org/sqlite, a pure-Go port of SQLite, so that a binary
// built with CGO_ENABLED=0 is still a single static file.
//
// A Store holds two connection pools on the same file: one writer connection,
// because SQLite allows one writer at a time and queueing writers in Go is
// cheaper and fairer than having them spin on SQLITE_BUSY, and a small pool of
// read-only connections, which WAL mode lets read while the writer writes.
// Several processes may open the same file; SQLite's file locks and the
// busy timeout serialise their writers.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse/gatehouse"
)

// Store is a gatehouse.Store backed by a SQLite database file. It is safe for
// concurrent use, and by several processes on the same file.
type Store struct {
	path string
	// writer has exactly one connection; every write goes through it.
	writer *sql.DB
	// reader is a pool of query-only connections for everything else.
	reader *sql.DB

	// The lookups of every authenticated request, by session cookie or by
	// Bearer token, are prepared once: parsing the SQL is about half the
	// time of a lookup in the transpiled SQLite.
	sessionByHash, tokenByHash, userByID *sql.Stmt
}

var _ gatehouse.Store = (*Store)(nil)

// readerConns is the size of the read pool. Each SQLite connection has its
// own page cache and libc state, so the pool is bounded; a handful is plenty
// for the lookups an authentication server does.
const readerConns = 4

// busyTimeout is how long a connection waits for another one, in this or
// another process, to release the database lock before giving up.
const busyTimeout = 10 * time.Second

// Open opens the SQLite database at path, creating the file (but not its
// directory) if needed, and migrates it to the current schema.
//
// A new file is created readable and writable by its owner only, because it
// holds password hashes; SQLite gives the WAL and shared-memory files it
// creates beside it the same permissions.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		// An in-memory database would be a different, empty database on
		// each connection of the two pools.
		return nil, fmt.Errorf("sqlite: open %q: need the path of a database file", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	if err := createFile(abs); err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}

	writer, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)

	reader, err := sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	reader.SetMaxOpenConns(readerConns)
	reader.SetMaxIdleConns(readerConns)
	reader.SetConnMaxLifetime(0)
	reader.SetConnMaxIdleTime(0)

	s := &Store{path: abs, writer: writer, reader: reader}
	// The writer connects first, so the database is in WAL mode before any
	// reader opens it.
	if err := s.connectWriter(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	return s, nil
}

// connectWriter opens the writer's connection, waiting while the database is
// busy. Its journal_mode pragma switches a new file to WAL mode, which takes
// an exclusive lock without calling the busy handler: when another process
// opens the same new file at that moment, the pragma fails at once with
// SQLITE_BUSY rather than waiting out busy_timeout. So connectWriter waits
// and tries again, for about as long as busy_timeout would have waited.
func (s *Store) connectWriter(ctx context.Context) error {
	var waited time.Duration
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		err := s.writer.PingContext(ctx)
		if err == nil || sqliteCode(err)&0xff != sqlite3.SQLITE_BUSY || waited >= busyTimeout {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		waited += wait
	}
}

// prepare prepares the statements of the hot lookups, which need the schema.
func (s *Store) prepare(ctx context.Context) error {
	var err error
	if s.sessionByHash, err = s.reader.PrepareContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE token_hash = ?`); err != nil {
		return err
	}
	if s.tokenByHash, err = s.reader.PrepareContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`); err != nil {
		return err
	}
	s.userByID, err = s.reader.PrepareContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`)
	return err
}

// createFile creates the database file with mode 0600 unless it exists. It
// also turns a missing or unwritable directory into a plain *fs.PathError
// rather than SQLite's "unable to open database file".
func createFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory", path)
		}
		return nil
	case err != nil:
		return err
	}
	return f.Close()
}

// dsn returns the modernc.org/sqlite data source name for the database file
// at the absolute path. It uses the "file:" URI form, with the path escaped,
// because the driver cuts a plain file name at its first '?'.
func dsn(path string, writer bool) string {
	q := url.Values{}
	// busy_timeout: wait up to busyTimeout for a lock held by another
	// connection (the other pool, or another process) instead of failing at
	// once with SQLITE_BUSY. It comes first so the PRAGMAs below wait too.
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	// foreign_keys: SQLite leaves foreign keys unenforced unless each
	// connection turns them on; the schema relies on them to delete a user's
	// sessions, tokens and memberships with the user.
	q.Add("_pragma", "foreign_keys(1)")
	if writer {
		// journal_mode(WAL): readers do not block the writer nor the writer
		// the readers, and a commit is one append to the log. The mode is
		// stored in the file, so setting it on the writer covers every
		// connection; a query-only reader could not set it.
		q.Add("_pragma", "journal_mode(WAL)")
		// synchronous(FULL): fsync the WAL at every commit. NORMAL, the usual
		// WAL setting, can lose the last commits on a power failure, and an
		// acknowledged user, password change or revoked session must survive
		// a crash.
		q.Add("_pragma", "synchronous(FULL)")
		// _txlock=immediate: BEGIN IMMEDIATE takes the write lock at the
		// start of a transaction. With the default DEFERRED, a transaction
		// that reads and then writes fails with SQLITE_BUSY, without waiting,
		// when another process wrote in between; taking the lock up front
		// makes read-compute-write transactions such as AddFailure atomic
		// across processes and lets busy_timeout do the waiting.
		q.Set("_txlock", "immediate")
	} else {
		// query_only(1): the read pool can never write, so every write is
		// certain to go through the single writer connection.
		q.Add("_pragma", "query_only(1)")
	}
	return uriOf(path, q)
}

// fileURI is the "file:" URI of the database file at path with the
// parameters params (nil for none).
func fileURI(path string, params map[string]string) string {
	q := url.Values{}
	for k, v := range params {
		q.Set(k, v)
	}
	abs, err := filepath.Abs(path)
	if err == nil {
		path = abs
	}
	return uriOf(path, q)
}

func uriOf(path string, q url.Values) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter: file:///C:/...
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	// url.URL writes "file:" and an empty authority as "file://", which
	// SQLite accepts.
	return u.String()
}

// Close closes the database once the queries in progress have ended.
func (s *Store) Close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.sessionByHash, s.tokenByHash, s.userByID} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(append(errs, s.reader.Close(), s.writer.Close())...)
}

// Ping checks that the database can be read.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return s.internal("ping", err)
	}
	return nil
}

// IntegrityCheck runs SQLite's PRAGMA integrity_check over the whole
// database and returns an error listing the problems it reports, if any.
// It reads every page, so it is slow on a large database.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	rows, err := s.reader.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return s.internal("integrity check", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return s.internal("integrity check", err)
		}
		problems = append(problems, line)
	}
	if err := rows.Err(); err != nil {
		return s.internal("integrity check", err)
	}
	if len(problems) == 1 && problems[0] == "ok" {
		return nil
	}
	return fmt.Errorf("sqlite: integrity check of %s failed: %s", s.path, strings.Join(problems, "; "))
}

// internal wraps an unexpected error of operation op; nil and *gatehouse.Error
// pass unchanged. A busy database
// becomes CodeBusy, so clients are told to retry rather than that the server
// failed; anything else stays an internal error, whose text is only logged.
func (s *Store) internal(op string, err error) error {
	var ge *gatehouse.Error
	if err == nil || errors.As(err, &ge) {
		return err
	}
	err = fmt.Errorf("sqlite: %s: %w", op, err)
	if sqliteCode(err)&0xff == sqlite3.SQLITE_BUSY {
		return &gatehouse.Error{
			Code:       gatehouse.CodeBusy,
			Message:    "The server is busy. Try again shortly.",
			RetryAfter: time.Second,
			Err:        err,
		}
	}
	return err
}

// sqliteCode returns the extended SQLite result code of err, or 0 when err
// did not come from SQLite.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// isUniqueViolation reports whether err is a violated UNIQUE or PRIMARY KEY
// constraint.
func isUniqueViolation(err error) bool {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

// micros converts t to the INTEGER microseconds since the Unix epoch that
// the schema stores. It truncates: the sub-microsecond part is dropped.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros is the inverse of micros, in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullMicros is micros for a nullable column, where the zero time is NULL.
func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(t), Valid: true}
}

// fromNullMicros is the inverse of nullMicros.
func fromNullMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicros(n.Int64)
}

// page returns the LIMIT and OFFSET of a page that starts at offset and
// holds at most limit rows: a limit of zero or less is SQLite's -1, no
// limit, and a negative offset is zero.
func page(offset, limit int) (int64, int64) {
	if limit <= 0 {
		return -1, int64(max(offset, 0))
	}
	return int64(limit), int64(max(offset, 0))
}

// write runs fn in a transaction on the writer connection and commits it
// unless fn fails. The writer's transactions are BEGIN IMMEDIATE (see dsn),
// so fn holds the database's write lock from its first statement and may
// read, decide and write without another writer, in this process or
// another, slipping in between.
// execer runs a statement: the writer connection, or a transaction on it.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		if rerr := rollback(tx); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err // unwrapped, so err == gatehouse.ErrNotFound holds
	}
	return tx.Commit()
}

// insertOwned runs q, the insert of a record that belongs to user userID
// (a session, token, device, …), and maps its failures the same way for
// every such record: a user that does not exist (any more) is
// gatehouse.ErrNotFound, a duplicate id or secret hash CodeConflict with
// conflictMsg.
func (s *Store) insertOwned(ctx context.Context, db execer, what, userID, conflictMsg, q string, args ...any) error {
	_, err := db.ExecContext(ctx, q, args...)
	switch {
	case err == nil:
		return nil
	case sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		// The user was deleted, perhaps a moment ago.
		return fmt.Errorf("sqlite: create %s: user %s: %w (%w)", what, userID, gatehouse.ErrNotFound, err)
	case isUniqueViolation(err):
		return &gatehouse.Error{Code: gatehouse.CodeConflict, Message: conflictMsg, Err: err}
	}
	return s.internal("create "+what, err)
}
