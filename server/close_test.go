package server

import (
	"testing"
)

// TestCloseStopsBackground: Close returns only once the sweeper and the
// mail outbox have returned, closes the store, and may be called again.
func TestCloseStopsBackground(t *testing.T) {
	gh, err := Open(t.Context(), Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-gh.done:
		t.Fatal("the background work ended before Close")
	default:
	}
	if err := gh.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-gh.done:
	default:
		t.Fatal("Close returned while the sweeper or the outbox still runs")
	}
	if err := gh.services.Store.Ping(t.Context()); err == nil {
		t.Error("the store still answers after Close")
	}
	if err := gh.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
