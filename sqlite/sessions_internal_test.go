package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSessionPagesUseTheIndex: a page of Sessions, the first or one after
// a cursor, is a range of the index sessions_created_at read in order, not
// a scan and sort of every session, so a page costs the same with a
// million sessions as with ten.
func TestSessionPagesUseTheIndex(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, q := range map[string]struct {
		sql  string
		args []any
	}{
		"first page": {sessionsFirstPage, []any{int64(51)}},
		"page after": {sessionsPageAfter, []any{int64(0), "ID", int64(51)}},
	} {
		rows, err := s.reader.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+q.sql, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		got := strings.Join(plan, "; ")
		if !strings.Contains(got, "sessions_created_at") || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("%s: plan %q, want the index sessions_created_at and no sort", name, got)
		}
	}
}
