package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/gatehouse/gatehouse/sqlite"
)

// cmdBackup is `gatehouse backup --to FILE`: a consistent copy of the
// SQLite database while the server runs (see sqlite.Backup). The secrets
// key (DATA_DIR/secrets.key, which encrypts the two-factor secrets) is
// not in it, on purpose: keep it apart from the backups, since both
// together are what an attacker would want.
func cmdBackup(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	flags := newFlagSet("backup", stdout)
	var cf commonFlags
	cf.register(flags)
	var to string
	flags.StringVar(&to, "to", "", "the new `file` to write the backup to, never overwritten; or an existing directory, to write gatehouse-YYYYMMDDTHHMMSSZ.db in it (required)")
	if err := parseNoArgs(flags, args); err != nil {
		return err
	}
	if to == "" {
		return usagef("backup: --to FILE is required, such as --to /var/backups/gatehouse-$(date +%%F).db")
	}
	s, err := loadSettings(cf, "", getenv)
	if err != nil {
		return err
	}
	if s.postgresURL != "" {
		return usagef("backup: the database is %s: back it up with pg_dump (README, \"Backups\")", s.databaseName())
	}
	start := time.Now()
	if fi, err := os.Stat(to); err == nil && fi.IsDir() {
		to = backupName(to, start)
	}
	info, err := sqlite.Backup(ctx, s.dbPath, to)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s (%d bytes, schema version %d) in %s\n", s.dbPath, to, info.Bytes, info.SchemaVersion, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(stdout, "keep %s too, apart from the backups: without it the two-factor secrets cannot be read\n", filepath.Join(s.cfg.DataDir, "secrets.key"))
	return nil
}

// cmdRestore is `gatehouse restore --from FILE`: the database becomes the
// backup FILE (see sqlite.Restore). Stop the server first. What it
// replaces is backed up first, beside the database, so a restore of the
// wrong file loses nothing.
func cmdRestore(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	flags := newFlagSet("restore", stdout)
	var cf commonFlags
	cf.register(flags)
	var from string
	flags.StringVar(&from, "from", "", "the backup `file` to restore (required)")
	if err := parseNoArgs(flags, args); err != nil {
		return err
	}
	if from == "" {
		return usagef("restore: --from FILE is required")
	}
	s, err := loadSettings(cf, "", getenv)
	if err != nil {
		return err
	}
	if s.postgresURL != "" {
		return usagef("restore: the database is %s: restore it with pg_restore or psql (README, \"Backups\")", s.databaseName())
	}
	if _, err := sqlite.CheckBackup(ctx, from); err != nil {
		return fmt.Errorf("restore: %s is not a sound gatehouse backup: %w", from, err)
	}
	// Held until the restore is done: a server must not run on the
	// database while it is replaced, nor start meanwhile.
	release, err := lockDatabase(s.dbPath)
	if errors.Is(err, errDatabaseInUse) {
		return fmt.Errorf("restore: %w: stop it first", err)
	}
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer release()
	if fi, err := os.Stat(s.dbPath); err == nil && fi.Mode().IsRegular() {
		kept := keptName(s.dbPath, time.Now())
		if _, err := sqlite.Backup(ctx, s.dbPath, kept); err != nil {
			return fmt.Errorf("restore: keeping the database as it is first: %w", err)
		}
		fmt.Fprintf(stdout, "kept the database as it was in %s\n", kept)
	}
	info, err := sqlite.Restore(ctx, from, s.dbPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s from %s (schema version %d); every session ended; tokens revoked since the backup are valid again: revoke them again; start the server\n", s.dbPath, from, info.SchemaVersion)
	return nil
}

// backupName is the name of a backup made at now in dir, for `backup
// --to DIR` (a timer's backups sort by their time). Two backups within
// the same second get names of their own; sqlite.Backup still refuses to
// overwrite a file that appears in between.
func backupName(dir string, now time.Time) string {
	base := filepath.Join(dir, "gatehouse-"+now.UTC().Format("20060102T150405Z"))
	name := base + ".db"
	for i := 2; ; i++ {
		if _, err := os.Lstat(name); err != nil {
			return name
		}
		name = fmt.Sprintf("%s-%d.db", base, i)
	}
}

// keptName is a new file name beside db for the database as it was
// before a restore at now.
func keptName(db string, now time.Time) string {
	base := db + ".before-restore-" + now.UTC().Format("20060102T150405Z")
	name := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(name); err != nil {
			return name
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}
