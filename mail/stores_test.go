package mail

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/sqlite"
)

// storeCase is an outbox store the Outbox tests run against.
type storeCase struct {
	name string
	// open returns a new, empty store, and restart, which closes it and
	// opens it again as a restarted process would.
	open func(t *testing.T) (s gatehouse.OutboxStore, restart func() gatehouse.OutboxStore)
}

// storeCases are the in-memory fake and the real SQLite store.
var storeCases = []storeCase{
	{"memory", func(t *testing.T) (gatehouse.OutboxStore, func() gatehouse.OutboxStore) {
		s := newMemStore()
		return s, func() gatehouse.OutboxStore { return s }
	}},
	{"sqlite", openSQLite},
}

// openSQLite opens a SQLite store in a file of the test's temporary
// directory, closed when the test ends.
func openSQLite(t *testing.T) (gatehouse.OutboxStore, func() gatehouse.OutboxStore) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	var (
		mu  sync.Mutex
		cur *sqlite.Store
	)
	open := func() gatehouse.OutboxStore {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if cur != nil {
			if err := cur.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
		}
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		cur = s
		return s
	}
	s := open()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		cur.Close()
	})
	return s, open
}
