package postgres_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storetest"
)

func TestAudit(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) storetest.AuditStores {
		s := open(t)
		return storetest.AuditStores{AuditStore: s, UserStore: s, TokenStore: s, SessionStore: s}
	})
}

// The audit log grows without end: filtering it by user, kind or time, and
// paging it newest first, must read an index. EXPLAIN of the store's
// statements on 300,000 analysed events names the index each one uses.
func TestAuditQueriesUseIndexes(t *testing.T) {
	const fill = `INSERT INTO audit (id, time, kind, actor_id, actor_name, target_id, client_addr, user_agent, detail)
		SELECT 'id' || i, timestamptz '2025-01-01' + i * interval '1 second', 'kind' || (i % 40),
			'user' || (i % 20000), '', 'user' || (i % 30011), '', '', '{}'
		FROM generate_series(1, 300000) AS i`
	at := time.Date(2025, time.January, 2, 0, 0, 0, 0, time.UTC)
	const page = ` ORDER BY time DESC, seq DESC LIMIT $2 OFFSET $3`
	wantIndexes(t, fill, "audit", []planCase{
		{"audit_time", `SELECT * FROM audit ORDER BY time DESC, seq DESC LIMIT $1 OFFSET $2`, []any{50, 0}},
		{"audit_time", `SELECT * FROM audit WHERE time >= $1` + page, []any{at, 50, 0}},
		{"audit_actor_id", `SELECT * FROM audit WHERE (actor_id = $1 OR target_id = $1)` + page, []any{"user7", 50, 0}},
		{"audit_target_id", `SELECT count(*) FROM audit WHERE (actor_id = $1 OR target_id = $1)`, []any{"user7"}},
		{"audit_kind", `SELECT count(*) FROM audit WHERE kind = $1 AND time < $2`, []any{"kind7", at}},
	})
}
