package sqlite_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// queryPlan returns the EXPLAIN QUERY PLAN of q on the database at path.
func queryPlan(t *testing.T, path, q string, args ...any) string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
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
	return strings.Join(plan, "\n")
}

func TestTokenByHashUsesIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	open(t, path)
	plan := queryPlan(t, path, `SELECT * FROM tokens WHERE hash = ?`, []byte{0})
	if !strings.Contains(plan, "USING INDEX") {
		t.Errorf("query plan %q does not use the unique index on hash", plan)
	}
}

// TestAuditNewestFirstWithoutSorting checks that the indexes of the audit
// log give Audit's order, time DESC then rowid DESC, without a sort, so a
// page of a long log reads only that page.
func TestAuditNewestFirstWithoutSorting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	open(t, path)
	for _, tc := range []struct {
		where, index string
		args         []any
	}{
		{"", "audit_time", nil},
		{"WHERE time >= ? AND time < ?", "audit_time", []any{1, 2}},
		{"WHERE kind = ?", "audit_kind", []any{"logout"}},
		{"WHERE kind = ? AND time >= ?", "audit_kind", []any{"logout", 1}},
	} {
		plan := queryPlan(t, path, `SELECT * FROM audit `+tc.where+` ORDER BY time DESC, rowid DESC LIMIT 10`, tc.args...)
		if !strings.Contains(plan, tc.index) || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%q: query plan %q does not read %s in order", tc.where, plan, tc.index)
		}
	}
	plan := queryPlan(t, path, `SELECT count(*) FROM audit WHERE (actor_id = ? OR target_id = ?)`, "u", "u")
	if !strings.Contains(plan, "audit_actor_id") || !strings.Contains(plan, "audit_target_id") {
		t.Errorf("query plan %q of a user's events does not use the actor and target indexes", plan)
	}
}

func TestAuditSameMicrosecondNewestAppendedFirst(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	var appended []string
	for i := range 5 {
		e := &gatehouse.AuditEvent{
			ID:   gatehouse.NewID(),
			Time: now.Add(time.Duration(i) * 100 * time.Nanosecond), // one microsecond
			Kind: gatehouse.AuditLoginFailed,
		}
		if err := s.AppendAudit(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		appended = append(appended, e.ID)
	}
	got, _, err := s.Audit(t.Context(), gatehouse.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range got {
		if want := appended[len(appended)-1-i]; e.ID != want {
			t.Errorf("event %d = %s, want %s, the one appended %d-th", i, e.ID, want, len(appended)-i)
		}
	}
}

func TestAppendAuditDuplicateID(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	e := &gatehouse.AuditEvent{ID: gatehouse.NewID(), Time: now, Kind: gatehouse.AuditLogout}
	if err := s.AppendAudit(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	dup := *e
	dup.Kind = gatehouse.AuditLoginFailed
	if err := s.AppendAudit(t.Context(), &dup); gatehouse.ErrorCode(err) != gatehouse.CodeConflict {
		t.Errorf("AppendAudit of a taken id = %v, want CodeConflict", err)
	}
	got, n, err := s.Audit(t.Context(), gatehouse.AuditFilter{})
	if err != nil || n != 1 || got[0].Kind != gatehouse.AuditLogout {
		t.Errorf("Audit = %v, %d, %v; want only the first event", got, n, err)
	}
}

func BenchmarkTokenByHash(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "gatehouse.db"))
	ctx := context.Background()
	u := testUser("alice")
	if err := s.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	const tokens = 1000
	hashes := make([][]byte, tokens)
	for i := range tokens {
		h := sha256.Sum256(fmt.Appendf(nil, "secret-%d", i))
		hashes[i] = h[:]
		err := s.CreateToken(ctx, &gatehouse.Token{
			ID: gatehouse.NewID(), UserID: u.ID, Name: "deploy", Hash: h[:], Hint: "gh_abcdef",
			Permissions: []string{"users:read"}, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := s.TokenByHash(ctx, hashes[i%tokens]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
