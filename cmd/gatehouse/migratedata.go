package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/sqlite"
)

// connectTimeout bounds opening the target database, so that a server
// that does not answer (a firewall dropping packets) fails the command
// rather than hanging it. The copy itself is not bounded: a large audit
// log takes the time it takes.
const connectTimeout = 30 * time.Second

// cmdMigrateData copies every record of a SQLite database into an empty
// PostgreSQL database, in one transaction on the PostgreSQL side (see
// postgres.Store.Restore), and prints what it copied per area.
//
// A relative --from file is in the data directory, as the database
// setting's is (--data, GATEHOUSE_DATA_DIR, the configuration's data_dir,
// else ./gatehouse-data): the file `gatehouse serve` uses with the same
// flags. The file must exist; it is brought to the current schema, as
// serve would, and otherwise only read.
func cmdMigrateData(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	flags := newFlagSet("migrate-data", stdout)
	var cf commonFlags
	cf.register(flags)
	var from, to string
	flags.StringVar(&from, "from", "", "the SQLite database to copy, sqlite://`FILE` (required)")
	flags.StringVar(&to, "to", "", "the empty PostgreSQL database to copy into, postgres://`URL` (required)")
	if err := parseNoArgs(flags, args); err != nil {
		return err
	}
	file, ok := strings.CutPrefix(from, "sqlite://")
	if !ok || file == "" {
		return usagef("migrate-data: --from must be sqlite://FILE, such as sqlite://gatehouse.db")
	}
	if to == "" {
		return usagef("migrate-data: --to must be postgres://USER@HOST:PORT/DATABASE")
	}
	if err := checkServiceURL(to, "postgres", "postgresql"); err != nil {
		return usagef("migrate-data: --to %v", err)
	}
	if !filepath.IsAbs(file) {
		s, err := loadSettings(cf, "", getenv)
		if err != nil {
			return err
		}
		file = filepath.Join(s.cfg.DataDir, file)
	}
	// sqlite.Open would create a missing file: a mistyped name would copy
	// an empty database.
	if fi, err := os.Stat(file); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("migrate-data: no SQLite database at %s", file)
		}
		return fmt.Errorf("migrate-data: %w", err)
	} else if fi.IsDir() {
		return fmt.Errorf("migrate-data: %s is a directory, not a SQLite database", file)
	}

	// What a running server writes after the copy's one read would be
	// lost: refuse while one runs on the file, and keep one from starting.
	release, err := lockDatabase(file)
	if errors.Is(err, errDatabaseInUse) {
		return fmt.Errorf("migrate-data: %w: stop it first", err)
	}
	if err != nil {
		return fmt.Errorf("migrate-data: %w", err)
	}
	defer release()
	src, err := sqlite.Open(ctx, file)
	if err != nil {
		return fmt.Errorf("migrate-data: %w", err)
	}
	defer src.Close()
	snap, err := src.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("migrate-data: read %s: %w", file, err)
	}

	openCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	dst, err := postgres.Open(openCtx, to)
	cancel()
	if err != nil {
		return fmt.Errorf("migrate-data: %w", err)
	}
	defer dst.Close()
	target := postgresName(to)
	if err := dst.Restore(ctx, snap); err != nil {
		return fmt.Errorf("migrate-data: copy into %s: %w", target, describe(err))
	}

	fmt.Fprintf(stdout, "copied %s into %s:\n", file, target)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, a := range snap.Counts() {
		fmt.Fprintf(tw, "  %s\t%d\n", a.Name, a.Count)
	}
	tw.Flush()
	fmt.Fprintln(stdout, "Next: set database: to the PostgreSQL URL and start gatehouse with the same key file (secrets.key in the data directory: second-factor secrets are sealed with it).")
	return nil
}

// postgresName names the PostgreSQL database of a postgres:// URL for
// messages: its server and name, never its user or password.
func postgresName(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the PostgreSQL database"
	}
	return fmt.Sprintf("PostgreSQL database %q on %s", strings.TrimPrefix(u.Path, "/"), u.Host)
}
