// Command lookup times SessionByTokenHash, the store read behind every
// session cache miss, with many live sessions in the store: issue 12's
// "p99 at 1 M sessions ≤ 1.5 × p99 at 10 k".
//
// For each size in -n it fills a fresh store with that many sessions as
// fast as the store allows (one transaction for SQLite, COPY for
// PostgreSQL, pipelined CreateSession for Redis). Then it calls
// SessionByTokenHash -samples times on each store, one call at a time and
// taking the stores in turn (so that both sizes see the same load of a
// shared machine), for tokens of existing sessions picked at random, with
// the store directly (no session cache); it checks each answer and prints
// a line per size
//
//	STORE N sessions: fill Xs; lookup p50 X µs, p90 X µs, p99 X µs, p99.9 X µs (S samples)
//
// and, with two sizes, the ratio of the larger's p99 to the smaller's.
//
// The stores: -store sqlite (a file in a temporary directory), postgres
// (a database gh_lookup_<random> created on the server of $BENCH_POSTGRES
// or $GATEHOUSE_TEST_POSTGRES and dropped at the end) or redis (keys under
// the prefix gh-lookup-<random> on $BENCH_REDIS or $GATEHOUSE_TEST_REDIS,
// deleted at the end with SCAN and UNLINK in batches, never FLUSHDB).
// bench/run-lookup.sh runs it for every store at 10,000 and 1,000,000.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite" // the driver sqlite.Open uses, for the bulk insert

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/redis"
	"github.com/gatehouse/gatehouse/sqlite"
)

// pgPrewarm is the -pg-prewarm flag.
var pgPrewarm *bool

func main() {
	store := flag.String("store", "sqlite", "`STORE`: sqlite, postgres or redis")
	sizes := flag.String("n", "10000,1000000", "comma-separated `SIZES`: numbers of live sessions, one store each")
	samples := flag.Int("samples", 20_000, "number of timed lookups")
	pgPrewarm = flag.Bool("pg-prewarm", false, "load PostgreSQL's sessions table and token index into shared_buffers (pg_prewarm) before timing")
	flag.Parse()
	var ns []int
	for f := range strings.SplitSeq(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "lookup: -n %q: want positive numbers separated by commas\n", *sizes)
			os.Exit(2)
		}
		ns = append(ns, n)
	}
	if flag.NArg() > 0 || *samples < 100 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *store, ns, *samples); err != nil {
		fmt.Fprintln(os.Stderr, "lookup:", err)
		os.Exit(1)
	}
}

// target is a store filled with sessions, and how to remove it.
type target struct {
	store   gatehouse.SessionStore
	cleanup func() error
}

func run(ctx context.Context, kind string, sizes []int, samples int) (err error) {
	open := map[string]func(context.Context, []*gatehouse.Session) (*target, error){
		"sqlite": fillSQLite, "postgres": fillPostgres, "redis": fillRedis,
	}[kind]
	if open == nil {
		return fmt.Errorf("-store %q: want sqlite, postgres or redis", kind)
	}
	type filled struct {
		*target
		sessions []*gatehouse.Session
		fill     time.Duration
		d        []time.Duration
	}
	var all []*filled
	defer func() {
		for _, f := range all {
			if cerr := f.cleanup(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("cleanup: %w", cerr))
			}
		}
	}()
	for _, n := range sizes {
		sessions := makeSessions(n)
		start := time.Now()
		t, err := open(ctx, sessions)
		if err != nil {
			return err
		}
		all = append(all, &filled{target: t, sessions: sessions, fill: time.Since(start), d: make([]time.Duration, samples)})
	}

	// A first pass over random sessions warms the connections and the
	// caches the stores have of their own; it is not timed.
	rng := mrand.New(mrand.NewPCG(1, 2))
	for range min(1000, samples/10) {
		for _, f := range all {
			if err := lookup(ctx, f.store, f.sessions[rng.IntN(len(f.sessions))]); err != nil {
				return err
			}
		}
	}
	for i := range samples {
		for _, f := range all {
			s := f.sessions[rng.IntN(len(f.sessions))]
			t0 := time.Now()
			err := lookup(ctx, f.store, s)
			f.d[i] = time.Since(t0)
			if err != nil {
				return err
			}
		}
	}
	for _, f := range all {
		slices.Sort(f.d)
		fmt.Printf("%s %d sessions: fill %.1fs; lookup p50 %s, p90 %s, p99 %s, p99.9 %s (%d samples)\n",
			kind, len(f.sessions), f.fill.Seconds(), us(quantile(f.d, 0.50)), us(quantile(f.d, 0.90)),
			us(quantile(f.d, 0.99)), us(quantile(f.d, 0.999)), samples)
	}
	if len(all) == 2 {
		a, b := all[0], all[1]
		fmt.Printf("%s p99 at %d / p99 at %d: %.2f (p50: %.2f)\n", kind, len(b.sessions), len(a.sessions),
			float64(quantile(b.d, 0.99))/float64(quantile(a.d, 0.99)), float64(quantile(b.d, 0.50))/float64(quantile(a.d, 0.50)))
	}
	return nil
}

// lookup reads s by its token hash and checks that the store returned it.
func lookup(ctx context.Context, st gatehouse.SessionStore, s *gatehouse.Session) error {
	got, err := st.SessionByTokenHash(ctx, s.TokenHash)
	if err != nil {
		return fmt.Errorf("SessionByTokenHash(session %s): %w", s.ID, err)
	}
	if got.ID != s.ID || got.UserID != s.UserID {
		return fmt.Errorf("SessionByTokenHash(session %s) returned session %s", s.ID, got.ID)
	}
	return nil
}

// quantile is the q-quantile of sorted d (nearest rank).
func quantile(d []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(d)))) - 1
	return d[max(i, 0)]
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }

// benchUser owns every session (SQLite's sessions reference users).
const benchUser = "bench-lookup-user"

// makeSessions returns n live sessions, as session.Manager makes them:
// random ids, the SHA-256 of a distinct token, a 20-minute idle timeout
// and 12 hours of life, spread over the last ten minutes.
func makeSessions(n int) []*gatehouse.Session {
	now := time.Now().UTC().Truncate(time.Microsecond)
	salt := make([]byte, 16)
	rand.Read(salt)
	out := make([]*gatehouse.Session, n)
	for i := range out {
		var b [24]byte
		copy(b[:], salt)
		binary.BigEndian.PutUint64(b[16:], uint64(i))
		h := sha256.Sum256(b[:])
		created := now.Add(-time.Duration(i%600) * time.Second)
		out[i] = &gatehouse.Session{
			ID: gatehouse.NewID(), TokenHash: h[:], UserID: benchUser,
			CreatedAt: created, LastSeenAt: created, ExpiresAt: created.Add(12 * time.Hour),
			IdleTimeout: 20 * time.Minute, AuthenticatedAt: created,
			ClientAddr: "192.0.2.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) bench/lookup",
		}
	}
	return out
}

// fillSQLite creates the database with sqlite.Open (its migrations), adds
// the user, inserts the sessions in one transaction through a second
// connection without fsync (the file is thrown away), and reopens it.
func fillSQLite(ctx context.Context, sessions []*gatehouse.Session) (*target, error) {
	dir, err := os.MkdirTemp("", "gatehouse-lookup-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "gatehouse.db")
	remove := func() error { return os.RemoveAll(dir) }
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, errors.Join(err, remove())
	}
	now := time.Now().UTC()
	u := &gatehouse.User{ID: benchUser, Username: "bench-lookup", Email: "bench-lookup@example.com",
		State: gatehouse.StateActive, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, u); err != nil {
		return nil, errors.Join(err, st.Close(), remove())
	}
	if err := st.Close(); err != nil {
		return nil, errors.Join(err, remove())
	}
	if err := sqliteInsert(ctx, path, sessions); err != nil {
		return nil, errors.Join(err, remove())
	}
	if st, err = sqlite.Open(ctx, path); err != nil {
		return nil, errors.Join(err, remove())
	}
	return &target{store: st, cleanup: func() error { return errors.Join(st.Close(), remove()) }}, nil
}

// sqliteInsert writes the sessions with the columns of the sqlite store's
// CreateSession (times in microseconds).
func sqliteInsert(ctx context.Context, path string, sessions []*gatehouse.Session) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=synchronous(OFF)&_pragma=foreign_keys(ON)")
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at,
		expires_at, idle_timeout_ns, remember, two_factor, client_addr, user_agent, scope, authenticated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	for _, s := range sessions {
		if _, err := stmt.ExecContext(ctx, s.ID, s.TokenHash, s.UserID, s.CreatedAt.UnixMicro(), s.LastSeenAt.UnixMicro(),
			s.ExpiresAt.UnixMicro(), int64(s.IdleTimeout), s.Remember, s.TwoFactor, s.ClientAddr, s.UserAgent,
			s.Scope, s.AuthenticatedAt.UnixMicro()); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "ANALYZE")
	return err
}

// fillPostgres creates a database, migrates it with postgres.Open, copies
// the sessions in with the columns of the postgres store's CreateSession,
// and analyzes the table as autovacuum would.
func fillPostgres(ctx context.Context, sessions []*gatehouse.Session) (*target, error) {
	admin := os.Getenv("BENCH_POSTGRES")
	if admin == "" {
		admin = os.Getenv("GATEHOUSE_TEST_POSTGRES")
	}
	if admin == "" {
		return nil, errors.New("-store postgres needs BENCH_POSTGRES or GATEHOUSE_TEST_POSTGRES (a postgres:// URL)")
	}
	u, err := url.Parse(admin)
	if err != nil {
		return nil, errors.New("BENCH_POSTGRES/GATEHOUSE_TEST_POSTGRES is not a URL") // the URL may hold a password
	}
	name := "gh_lookup_" + strings.ToLower(rand.Text()[:10])
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, err
	}
	drop := func() error {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		_, err = c.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
		return err
	}
	u.Path = "/" + name
	st, err := postgres.Open(ctx, u.String())
	if err != nil {
		return nil, errors.Join(err, drop())
	}
	fail := func(err error) (*target, error) {
		st.Close()
		return nil, errors.Join(err, drop())
	}
	db, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return fail(err)
	}
	defer db.Close(context.Background())
	rows := make([][]any, len(sessions))
	for i, s := range sessions {
		rows[i] = []any{s.ID, s.TokenHash, s.UserID, s.CreatedAt, s.LastSeenAt, s.ExpiresAt, int64(s.IdleTimeout),
			s.LastSeenAt.Add(s.IdleTimeout).UnixNano(), s.AuthenticatedAt, s.Remember, s.TwoFactor, s.Scope,
			s.ClientAddr, s.UserAgent}
	}
	cols := []string{"id", "token_hash", "user_id", "created_at", "last_seen_at", "expires_at", "idle_timeout_ns",
		"idle_ends_ns", "authenticated_at", "remember", "two_factor", "scope", "client_addr", "user_agent"}
	if _, err := db.CopyFrom(ctx, pgx.Identifier{"sessions"}, cols, pgx.CopyFromRows(rows)); err != nil {
		return fail(fmt.Errorf("copy sessions: %w", err))
	}
	if _, err := db.Exec(ctx, "VACUUM ANALYZE sessions"); err != nil {
		return fail(err)
	}
	// COPY and VACUUM go through a small ring of buffers, so the table
	// starts out of PostgreSQL's cache: the first read of each page comes
	// from the OS. Say how big it is against shared_buffers, and with
	// -pg-prewarm load it, as a server whose sessions are in use has them.
	var size, buffers string
	if err := db.QueryRow(ctx, `SELECT pg_size_pretty(pg_total_relation_size('sessions')), current_setting('shared_buffers')`).Scan(&size, &buffers); err != nil {
		return fail(err)
	}
	fmt.Printf("# postgres %d sessions: table and indexes %s, shared_buffers %s", len(sessions), size, buffers)
	if *pgPrewarm {
		if _, err := db.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_prewarm`); err != nil {
			return fail(fmt.Errorf("-pg-prewarm: %w", err))
		}
		if _, err := db.Exec(ctx, `SELECT pg_prewarm('sessions'), pg_prewarm('sessions_token_hash_key')`); err != nil {
			return fail(fmt.Errorf("-pg-prewarm: %w", err))
		}
		fmt.Print(", table and token index prewarmed")
	}
	fmt.Println()
	return &target{store: st, cleanup: func() error { st.Close(); return drop() }}, nil
}

// fillRedis creates the sessions with the store's CreateSessions: its
// CreateSession script (which keeps the indexes), pipelined.
func fillRedis(ctx context.Context, sessions []*gatehouse.Session) (*target, error) {
	addr := os.Getenv("BENCH_REDIS")
	if addr == "" {
		addr = os.Getenv("GATEHOUSE_TEST_REDIS")
	}
	if addr == "" {
		return nil, errors.New("-store redis needs BENCH_REDIS or GATEHOUSE_TEST_REDIS (a redis:// URL)")
	}
	client, err := redis.ParseURL(addr)
	if err != nil {
		return nil, err
	}
	prefix := "gh-lookup-" + strings.ToLower(rand.Text()[:10])
	st := redis.New(client, prefix)
	cleanup := func() error {
		return errors.Join(deleteKeys(context.Background(), client, prefix+":*"), client.Close())
	}
	for i, err := range st.CreateSessions(ctx, sessions) {
		if err != nil {
			return nil, errors.Join(fmt.Errorf("create session %d: %w", i, err), cleanup())
		}
	}
	return &target{store: st, cleanup: cleanup}, nil
}

// deleteKeys deletes the keys matching pattern with SCAN and UNLINK, a
// batch at a time, so that a shared server is never blocked for long.
func deleteKeys(ctx context.Context, client goredis.UniversalClient, pattern string) error {
	var cursor uint64
	for {
		keys, next, err := client.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := client.Unlink(ctx, keys...).Err(); err != nil {
				return err
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}
