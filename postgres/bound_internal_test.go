package postgres

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TestStatementBound: a statement whose context has no deadline is
// cancelled after the bound, as on a server that stopped answering, in a
// transaction too; one whose context has a longer deadline keeps it; an
// unbounded one (a sweep, a migration) runs on. pg_sleep stands for the
// server that does not answer; the bound is shortened for the test.
func TestStatementBound(t *testing.T) {
	url := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	if url == "" {
		t.Skip("GATEHOUSE_TEST_POSTGRES is not set")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	bound(cfg)
	if b, ok := cfg.ConnConfig.Tracer.(statementBound); !ok || b.d != DefaultStatementTimeout || cfg.ConnConfig.ConnectTimeout != DefaultConnectTimeout || cfg.PingTimeout != pingTimeout {
		t.Fatalf("bound: tracer %#v, connect %s, ping %s", cfg.ConnConfig.Tracer, cfg.ConnConfig.ConnectTimeout, cfg.PingTimeout)
	}
	const d = 200 * time.Millisecond
	cfg.ConnConfig.Tracer = statementBound{d}
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	const sleep = "SELECT pg_sleep(1)" // five bounds
	ctx := context.Background()
	if _, err := pool.Exec(ctx, sleep); err == nil {
		t.Error("a statement without a deadline outlived the bound")
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, sleep); err == nil {
		t.Error("a statement in a transaction outlived the bound")
	}
	tx.Rollback(ctx)
	long, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := pool.Exec(long, sleep); err != nil {
		t.Errorf("a statement within the caller's longer deadline: %v", err)
	}
	if _, err := pool.Exec(unbounded(ctx), sleep); err != nil {
		t.Errorf("an unbounded statement: %v", err)
	}
	// Rows are read under the statement's bound and release it at Close.
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM generate_series(1, 10)").Scan(&n); err != nil || n != 10 {
		t.Errorf("a quick query: %d, %v", n, err)
	}
}
