package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// migrationFiles holds the schema migrations, named NNNN_description.sql.
// Each is applied once, in order of NNNN, inside its own transaction; a
// migration is never edited after release, only followed by a new one.
//
// Foreign keys cannot be switched off inside a transaction, so a future
// migration that rebuilds a referenced table must follow SQLite's
// "generalized ALTER TABLE procedure" with that in mind.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one embedded migration file.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations sorted by version.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || path.Ext(name) != ".sql" {
			return nil, fmt.Errorf("migration %s: name is not NNNN_description.sql", name)
		}
		b, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s have the same version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// Migrate applies the migrations the database lacks. It is idempotent, and
// Open calls it, so it matters only to a command that migrates explicitly.
//
// Several processes may migrate the same file at once: each migration runs
// in a BEGIN IMMEDIATE transaction, which holds the database's write lock
// from its start, and checks inside it whether another process applied that
// version in the meantime.
//
// Migrate refuses a database migrated by a newer gatehouse, whose schema
// this one does not know.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	// CREATE TABLE IF NOT EXISTS is a single statement and so atomic; a
	// process that loses the race finds the table there.
	const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at TEXT    NOT NULL
	) STRICT`
	if _, err := s.writer.ExecContext(ctx, createTable); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	var newest int
	if err := s.writer.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if known := ms[len(ms)-1].version; newest > known {
		return fmt.Errorf("sqlite: migrate: the database has schema version %d, newer than the %d this gatehouse knows; upgrade gatehouse", newest, known)
	}
	for _, m := range ms {
		if m.version <= newest {
			continue
		}
		if err := s.apply(ctx, m); err != nil {
			return fmt.Errorf("sqlite: migrate: %s: %w", m.name, err)
		}
	}
	return nil
}

// apply runs one migration in its own transaction unless it was applied.
func (s *Store) apply(ctx context.Context, m migration) (err error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, rollback(tx))
		}
	}()
	var one int
	switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations WHERE version = ?`, m.version).Scan(&one); {
	case err == nil:
		return tx.Rollback() // another process applied it meanwhile
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	// The SQL clock, not Go's: applied_at is bookkeeping for people, and
	// nothing below cmd/ reads the Go clock.
	const record = `INSERT INTO schema_migrations (version, applied_at) VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`
	if _, err := tx.ExecContext(ctx, record, m.version); err != nil {
		return err
	}
	return tx.Commit()
}

// rollback rolls tx back, ignoring the error of a transaction that already
// ended.
func rollback(tx *sql.Tx) error {
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}
