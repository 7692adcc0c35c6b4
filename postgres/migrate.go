package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migrationFiles holds the schema migrations, named NNNN_description.sql,
// in a sequence of PostgreSQL's own (not SQLite's numbers). A migration is
// never edited after release, only followed by a new one.
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
	// Versions run 1, 2, 3… without a gap: Migrate applies those above
	// the newest applied, so a migration numbered below one that shipped
	// before it would never run on a database migrated in between.
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d (versions must run 1, 2, 3… without a gap or a repeat)", m.name, m.version, i+1)
		}
	}
	return ms, nil
}

// migrateLockKey is the key of the transaction-level advisory lock Migrate
// holds: "gatehous" in ASCII, unlikely to be another application's key in a
// shared database.
const migrateLockKey int64 = 0x6761746568_6f7573

// Migrate applies the migrations the database lacks, all in one
// transaction: PostgreSQL's DDL is transactional, so a failed migration
// leaves the schema as it was. It is idempotent, and Open calls it, so it
// matters only to a command that migrates explicitly.
//
// Several processes may start together on the same database: the
// transaction first takes an advisory lock (pg_advisory_xact_lock), which
// the others wait for, and only then reads which versions are applied, so
// exactly one of them migrates and the others find nothing left to do.
//
// Migrate refuses a database migrated by a newer gatehouse, whose schema
// this one does not know.
func (s *Store) Migrate(ctx context.Context) error {
	ctx = unbounded(ctx) // a migration, or the wait for another process's, may rightly take long (see DefaultStatementTimeout)
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	err = s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
			return err
		}
		const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     NOT NULL PRIMARY KEY,
			applied_at timestamptz NOT NULL
		)`
		if _, err := tx.Exec(ctx, createTable); err != nil {
			return err
		}
		var newest int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
			return err
		}
		if known := ms[len(ms)-1].version; newest > known {
			return fmt.Errorf("the database has schema version %d, newer than the %d this gatehouse knows; upgrade gatehouse", newest, known)
		}
		for _, m := range ms {
			if m.version <= newest {
				continue
			}
			// No arguments: pgx sends the file with the simple protocol,
			// which runs its several statements.
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			// The SQL clock, not Go's: applied_at is bookkeeping for
			// people, and nothing below cmd/ reads the Go clock.
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())`, m.version); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
