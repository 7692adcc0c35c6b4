package postgres

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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

// The sweeps of expired records may rightly wait long (a large table, a
// lock held by a migration or a restore): none of them is cut off by the
// statement bound, or old records, mail with its addresses included, would
// never go. Each waits here for tables another transaction holds locked
// for five bounds.
func TestSweepsAreNotBounded(t *testing.T) {
	url := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	if url == "" {
		t.Skip("GATEHOUSE_TEST_POSTGRES is not set")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	name := fmt.Sprintf("gatehouse_test_sweeps_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Database = name
	const d = 200 * time.Millisecond
	cfg.ConnConfig.Tracer = statementBound{d}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := &Store{pool: pool}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	locker, err := pool.Begin(unbounded(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := locker.Exec(unbounded(ctx), `LOCK TABLE sessions, throttles, action_tokens, devices, pending_logins, outbox IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(5 * d)
		locker.Rollback(unbounded(ctx))
	}()
	now := time.Now()
	sweeps := map[string]func() error{
		"DeleteExpiredSessions":      func() error { _, err := s.DeleteExpiredSessions(ctx, now); return err },
		"DeleteStaleThrottles":       func() error { _, err := s.DeleteStaleThrottles(ctx, now, time.Hour); return err },
		"DeleteStaleActionTokens":    func() error { _, err := s.DeleteStaleActionTokens(ctx, now); return err },
		"DeleteExpiredDevices":       func() error { _, err := s.DeleteExpiredDevices(ctx, now); return err },
		"DeleteExpiredPendingLogins": func() error { _, err := s.DeleteExpiredPendingLogins(ctx, now); return err },
		"DeleteOldMail":              func() error { _, err := s.DeleteOldMail(ctx, now); return err },
	}
	errs := make(chan string, len(sweeps))
	for name, sweep := range sweeps {
		go func() {
			if err := sweep(); err != nil {
				errs <- fmt.Sprintf("%s: %v", name, err)
				return
			}
			errs <- ""
		}()
	}
	for range sweeps {
		if e := <-errs; e != "" {
			t.Errorf("a sweep was cut off by the statement bound: %s", e)
		}
	}
}
