package session

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/sqlite"
)

// TestSQLiteFilesHoldNoToken looks at the bytes SQLite wrote: the hash of a
// session token is there, the token itself nowhere.
func TestSQLiteFilesHoldNoToken(t *testing.T) {
	dir := t.TempDir()
	store, err := sqlite.Open(t.Context(), filepath.Join(dir, "db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	u := &gatehouse.User{ID: gatehouse.NewID(), Username: "u", Email: "u@example.com", State: gatehouse.StateActive, CreatedAt: epoch, UpdatedAt: epoch}
	if err := store.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	m := NewManager(store, Config{}, clock.Now, nil)
	var toks []string
	var hashes [][]byte
	for _, remember := range []bool{false, true} {
		tok, s, err := m.Create(t.Context(), u.ID, CreateOptions{Remember: remember})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Minute)
		if _, err := m.Load(t.Context(), tok); err != nil { // touches
			t.Fatal(err)
		}
		toks, hashes = append(toks, tok), append(hashes, s.TokenHash)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	var all []byte
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range entries {
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	for i, tok := range toks {
		if bytes.Contains(all, []byte(tok)) {
			t.Errorf("the database files contain session token %d", i)
		}
		if !bytes.Contains(all, hashes[i]) {
			t.Errorf("the database files do not contain the hash of session token %d; is this the right database?", i)
		}
	}
}

// newBenchManager returns a Manager over a real SQLite store with one live
// session, and its token. The fake clock never moves, so Load never touches.
func newBenchManager(b *testing.B, cfg Config) (*Manager, string) {
	b.Helper()
	e := newSQLiteEnv(b, cfg)
	tok, _ := e.create(b, e.newUser(b), CreateOptions{})
	return e.m, tok
}

func BenchmarkLoadCached(b *testing.B) {
	m, tok := newBenchManager(b, Config{CacheTTL: time.Hour})
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Load(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadUncached(b *testing.B) {
	m, tok := newBenchManager(b, Config{CacheTTL: -1})
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Load(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
