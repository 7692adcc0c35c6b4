package postgres_test

import (
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres"
)

// appliedVersions returns the versions schema_migrations lists, in order,
// with repeats if any.
func appliedVersions(t *testing.T, connString string) []int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), connString)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	rows, err := conn.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// migrationVersions returns the versions of the migration files of the
// package, in order: what a migrated database lists in schema_migrations.
// Read from the directory rather than written out, so that a new migration
// does not need the tests changed.
func migrationVersions(t *testing.T) []int {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	var vs []int
	for _, name := range names {
		num, _, _ := strings.Cut(filepath.Base(name), "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			t.Fatalf("migration %s: %v", name, err)
		}
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// openAt opens a store on connString and closes it when the test ends.
func openAt(t *testing.T, connString string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), connString)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Processes starting together on a new database must not both migrate:
// the second would fail on tables that exist, or seed administrators twice.
func TestOpenConcurrentlyMigratesOnce(t *testing.T) {
	db := freshDatabase(t)
	const n = 8
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(t.Context(), db) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d of %d started together: %v", i+1, n, err)
			continue
		}
		stores[i].Close()
	}
	if got, want := appliedVersions(t, db), migrationVersions(t); !slices.Equal(got, want) {
		t.Errorf("schema_migrations = %v, want %v, each version once", got, want)
	}
	s := openAt(t, db)
	groups, err := s.Groups(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 1 || groups[0].Name != gatehouse.GroupAdministrators {
		t.Errorf("Groups after concurrent opens = %d groups, want administrators once", len(groups))
	}
}

// Reopening keeps the data and applies nothing again.
func TestReopenKeepsData(t *testing.T) {
	db := freshDatabase(t)
	s, err := postgres.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)
	u := &gatehouse.User{ID: gatehouse.NewID(), Username: "alice", Email: "alice@example.com", State: gatehouse.StateActive,
		Groups: []string{gatehouse.GroupAdministrators}, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openAt(t, db)
	got, err := s.UserByLogin(t.Context(), "ALICE")
	if err != nil {
		t.Fatalf("UserByLogin after reopening: %v", err)
	}
	if got.ID != u.ID || len(got.Groups) != 1 {
		t.Errorf("after reopening: %+v, want %+v", got, u)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Errorf("Migrate again: %v", err)
	}
	if got, want := appliedVersions(t, db), migrationVersions(t); !slices.Equal(got, want) {
		t.Errorf("schema_migrations = %v, want %v", got, want)
	}
}

// A database migrated by a newer gatehouse is refused, not written with a
// schema this one does not know.
func TestOpenRefusesNewerSchema(t *testing.T) {
	db := freshDatabase(t)
	openAt(t, db)
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, now())`); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(t.Context(), db)
	if err == nil || !strings.Contains(err.Error(), "newer") || !strings.Contains(err.Error(), "upgrade gatehouse") {
		t.Errorf("Open of a database at schema 9999 = %v, want an error saying to upgrade gatehouse", err)
	}
}

func TestPing(t *testing.T) {
	if err := open(t).Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// A bad URL or an unreachable server is an error, soon, that does not
// repeat the password. Neither needs a PostgreSQL server.
func TestOpenErrorsHidePassword(t *testing.T) {
	const secret = "s3cr3t-pw"
	for _, connString := range []string{
		"postgres://gatehouse:" + secret + "@127.0.0.1:notaport/gatehouse",
		"postgres://gatehouse:" + secret + "@127.0.0.1:5432/gatehouse?sslmode=bogus",
		"postgres://gatehouse:" + secret + "@[::1/gatehouse",
		// Port 1 on loopback: nothing listens, the connection is refused.
		"postgres://gatehouse:" + secret + "@127.0.0.1:1/gatehouse?sslmode=disable&connect_timeout=5",
	} {
		s, err := postgres.Open(t.Context(), connString)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", connString)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Open(%q) = %q, which repeats the password", connString, err)
		}
		if !strings.HasPrefix(err.Error(), "postgres: open") {
			t.Errorf("Open(%q) = %q, want it to say what failed", connString, err)
		}
		var ge *gatehouse.Error
		if errors.As(err, &ge) {
			t.Errorf("Open(%q) = %v, a *gatehouse.Error; want a plain error for the operator", connString, err)
		}
	}
}
