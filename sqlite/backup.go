package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"modernc.org/sqlite"
)

// BackupInfo describes a backup: the schema version it holds and its size.
type BackupInfo struct {
	SchemaVersion int
	Bytes         int64
}

// backuper and restorer are what modernc.org/sqlite's connections offer
// for SQLite's online backup API.
type (
	backuper interface {
		NewBackup(dstURI string) (*sqlite.Backup, error)
	}
	restorer interface {
		NewRestore(srcURI string) (*sqlite.Backup, error)
	}
)

// Backup copies the database at path into the new file dest with SQLite's
// online backup API: the copy is the database as it was at one instant,
// while the server (in this or another process) goes on reading and
// writing it. dest must not exist. The copy is written under a temporary
// name beside dest, checked (integrity, a schema this gatehouse knows),
// flushed to disk, and only then given its name, readable by its owner
// only: a failed backup never leaves a file that looks like one. The copy
// is one self-contained file (rollback journal, not WAL).
func Backup(ctx context.Context, path, dest string) (BackupInfo, error) {
	if err := mustBeFile(path); err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	if _, err := os.Lstat(dest); err == nil {
		return BackupInfo{}, fmt.Errorf("sqlite: backup: %s exists already; choose a new file name", dest)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".partial-*")
	if err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	defer removeDatabaseFiles(tmpPath)

	if err := copyDatabase(ctx, path, tmpPath); err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: backup %s: %w", path, err)
	}
	info, err := CheckBackup(ctx, tmpPath)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: backup %s: the copy is not sound: %w", path, err)
	}
	if err := syncFile(tmpPath); err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	// A hard link never replaces an existing file, unlike a rename: a file
	// another process created at dest meanwhile is kept.
	if err := os.Link(tmpPath, dest); err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := syncFile(filepath.Dir(dest)); err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	return info, nil
}

// copyDatabase copies the database at path into the empty file dest in
// one step (so the copy is one instant of the source: an incremental copy
// would start over after every write), then makes dest a rollback-journal
// database, one file.
func copyDatabase(ctx context.Context, path, dest string) error {
	src, err := sql.Open("sqlite", readDSN(path))
	if err != nil {
		return err
	}
	defer src.Close()
	conn, err := src.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		b, ok := dc.(backuper)
		if !ok {
			return errors.New("the SQLite driver has no backup API")
		}
		bk, err := b.NewBackup(fileURI(dest, nil))
		if err != nil {
			return err
		}
		if _, err := bk.Step(-1); err != nil {
			bk.Finish()
			return err
		}
		dst, err := bk.Commit()
		if err != nil {
			return err
		}
		defer dst.Close()
		// The copy carries the source's WAL mode in its header; a backup is
		// easier to keep and move as one file.
		_, err = execRaw(ctx, dst, "PRAGMA journal_mode=DELETE")
		return err
	})
}

// Restore replaces the database at path with the backup src, after
// checking that src is a sound gatehouse database whose schema this
// gatehouse knows (it is migrated forward when the server next opens
// it). The copy goes through SQLite's online backup API under the
// database's write lock, so a reader sees either the old or the restored
// database; still, stop every server using path first: their caches
// would otherwise keep serving what the backup does not have. Every
// session and pending login of the backup ends (one logged out or
// revoked since the backup must not come back; people log in again). A
// missing database at path is created.
func Restore(ctx context.Context, src, path string) (BackupInfo, error) {
	if err := mustBeFile(src); err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	info, err := CheckBackup(ctx, src)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: restore: %s is not a sound gatehouse backup: %w", src, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	if err := createFile(abs); err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		r, ok := dc.(restorer)
		if !ok {
			return errors.New("the SQLite driver has no backup API")
		}
		bk, err := r.NewRestore(fileURI(src, map[string]string{"mode": "ro"}))
		if err != nil {
			return err
		}
		if _, err := bk.Step(-1); err != nil {
			bk.Finish()
			return err
		}
		return bk.Finish()
	})
	if err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: restore %s: %w", src, err)
	}
	// The sessions of the backup end: a session logged out or revoked
	// since the backup was taken must not come back to life.
	if _, err := db.ExecContext(ctx, "DELETE FROM pending_logins; DELETE FROM sessions"); err != nil {
		return BackupInfo{}, fmt.Errorf("sqlite: restore %s: ending the backup's sessions: %w", src, err)
	}
	return info, nil
}

// checkBackup checks the database file at path, read-only: SQLite finds
// it intact, and it has a gatehouse schema no newer than this gatehouse's.
func CheckBackup(ctx context.Context, path string) (BackupInfo, error) {
	db, err := sql.Open("sqlite", fileURI(path, map[string]string{"mode": "ro"}))
	if err != nil {
		return BackupInfo{}, err
	}
	defer db.Close()
	var verdict string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check(1)").Scan(&verdict); err != nil {
		return BackupInfo{}, fmt.Errorf("not a SQLite database (%w)", err)
	}
	if verdict != "ok" {
		return BackupInfo{}, fmt.Errorf("SQLite finds it damaged: %s", verdict)
	}
	var version int
	if err := db.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&version); err != nil || version == 0 {
		return BackupInfo{}, errors.New("it has no gatehouse schema")
	}
	ms, err := migrations()
	if err != nil {
		return BackupInfo{}, err
	}
	if known := ms[len(ms)-1].version; version > known {
		return BackupInfo{}, fmt.Errorf("its schema version %d is newer than the %d this gatehouse knows; upgrade gatehouse", version, known)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return BackupInfo{}, err
	}
	return BackupInfo{SchemaVersion: version, Bytes: fi.Size()}, nil
}

// readDSN opens the database at path for reading, waiting for locks as
// the server's connections do.
func readDSN(path string) string {
	return fileURI(path, map[string]string{"_pragma": fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds())})
}

// mustBeFile reports an error unless path is an existing regular file (a
// mistyped name must not back up, or restore, an empty database).
func mustBeFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no database at %s", path)
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a file", path)
	}
	return nil
}

// syncFile flushes the file or directory at path to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// removeDatabaseFiles removes a database file and the journal files
// SQLite may have left beside it.
func removeDatabaseFiles(path string) {
	for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
}

// execRaw runs one statement on a driver connection outside database/sql
// (the destination connection the backup API hands back).
func execRaw(ctx context.Context, dc driver.Conn, query string) (driver.Result, error) {
	ex, ok := dc.(driver.ExecerContext)
	if !ok {
		return nil, errors.New("the SQLite driver cannot execute a statement on this connection")
	}
	return ex.ExecContext(ctx, query, nil)
}
