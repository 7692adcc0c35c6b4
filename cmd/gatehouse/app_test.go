package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOneOffCommandsUseTheDataDir: with a relative data directory, the
// database is where serve puts it, DATA_DIR/gatehouse.db, not joined to
// the data directory twice.
func TestOneOffCommandsUseTheDataDir(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := loadSettings(commonFlags{data: "./rel-data"}, "", mapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	a, err := openApp(t.Context(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	for _, f := range []string{"rel-data/gatehouse.db", "rel-data/secrets.key"} {
		if _, err := os.Stat(filepath.FromSlash(f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
