package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// errDatabaseInUse is lockDatabase's answer while a gatehouse serve holds
// the database.
var errDatabaseInUse = errors.New("a gatehouse serve is running on it")

// lockDatabase takes the lock that `gatehouse serve` holds on its SQLite
// database while it runs (the file DB.lock beside it), so that a second
// serve does not run on the same file — its caches would not hear of the
// first one's changes — and a restore does not replace the database under
// a running server. Commands that may run beside serve (user, backup)
// take no lock. The lock ends with release, or with the process.
func lockDatabase(dbPath string) (release func(), err error) {
	name := dbPath + ".lock"
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if !held {
		f.Close()
		return nil, fmt.Errorf("%s: %w (it holds %s)", dbPath, errDatabaseInUse, name)
	}
	return func() { f.Close() }, nil
}
