package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// TestPragmas checks that the DSN's pragmas reach every connection of the
// pool they are meant for.
func TestPragmas(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		pool   string
		db     *sql.DB
		pragma string
		want   string
	}{
		{"writer", s.writer, "journal_mode", "wal"},
		{"writer", s.writer, "synchronous", "2"}, // FULL
		{"writer", s.writer, "foreign_keys", "1"},
		{"writer", s.writer, "busy_timeout", "10000"},
		{"writer", s.writer, "query_only", "0"},
		{"reader", s.reader, "journal_mode", "wal"},
		{"reader", s.reader, "foreign_keys", "1"},
		{"reader", s.reader, "busy_timeout", "10000"},
		{"reader", s.reader, "query_only", "1"},
	} {
		var got string
		if err := tc.db.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("%s: PRAGMA %s: %v", tc.pool, tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("%s: PRAGMA %s = %s, want %s", tc.pool, tc.pragma, got, tc.want)
		}
	}
	if _, err := s.reader.ExecContext(t.Context(), `DELETE FROM groups`); err == nil {
		t.Error("the reader pool could write")
	}
}

func TestAddFailureWithoutMaxFailuresNeverLocks(t *testing.T) {
	now := time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)
	th := gatehouse.Throttle{Key: "k"}
	for range 5 {
		th, _ = th.AddFailure(now, gatehouse.ThrottleRule{Window: time.Hour, Lockout: time.Hour})
		th = truncThrottle(th)
	}
	if th.Failures != 5 || !th.LockedUntil.IsZero() {
		t.Errorf("after 5 failures under MaxFailures 0: %+v, want 5 failures and no lock", th)
	}
}
