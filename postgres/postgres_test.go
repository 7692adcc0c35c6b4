package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/storetest"
)

// serverURL returns GATEHOUSE_TEST_POSTGRES, the URL of a database on the
// PostgreSQL server the tests may create databases on, or skips t.
func serverURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	if u == "" {
		t.Skip("GATEHOUSE_TEST_POSTGRES is not set: set it to a PostgreSQL URL, such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable, to run the PostgreSQL tests (Debian package postgresql)")
	}
	return u
}

// freshDatabase creates an empty database with a unique name on the server
// of GATEHOUSE_TEST_POSTGRES, drops it when the test ends, and returns its
// connection string. A database per test, not a schema: the store is
// tested as it runs, on a database of its own, migrations included.
func freshDatabase(t testing.TB) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(serverURL(t))
	if err != nil {
		t.Fatalf("GATEHOUSE_TEST_POSTGRES: %v", err)
	}
	admin, err := pgx.ConnectConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("connect to GATEHOUSE_TEST_POSTGRES: %v", err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	name := "gatehouse_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(t.Context(), "CREATE DATABASE "+name); err != nil {
		admin.Close(context.Background())
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		defer admin.Close(ctx)
		// FORCE ends connections a failed test left open.
		if _, err := admin.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return withDatabase(t, serverURL(t), name)
}

// withDatabase returns connString naming database name instead of its own.
func withDatabase(t testing.TB, connString, name string) string {
	t.Helper()
	if !strings.Contains(connString, "://") {
		return connString + " dbname=" + name // key=value form: the last one wins
	}
	u, err := url.Parse(connString)
	if err != nil {
		t.Fatalf("GATEHOUSE_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// open opens a store on a fresh database and closes it when the test ends.
func open(t testing.TB) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), freshDatabase(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestUsers(t *testing.T) {
	storetest.RunUsers(t, func(t *testing.T) gatehouse.UserStore { return open(t) })
}

func TestGroups(t *testing.T) {
	storetest.RunGroups(t, func(t *testing.T) gatehouse.UserStore { return open(t) })
}

func TestThrottles(t *testing.T) {
	storetest.RunThrottles(t, func(t *testing.T) gatehouse.ThrottleStore { return open(t) })
}

// Text PostgreSQL refuses (bytes that are not UTF-8, NUL) in a lookup is
// the client's input, a validation error: never a bare error, which the
// HTTP layer would answer 503 store_unavailable as if the store were down.
func TestTextPostgreSQLRefusesIsValidation(t *testing.T) {
	s := open(t)
	for _, id := range []string{"\xff", "a\x00b"} {
		_, err := s.UserByID(t.Context(), id)
		if errors.Is(err, gatehouse.ErrNotFound) {
			continue // refused before the query: as good
		}
		if gatehouse.ErrorCode(err) != gatehouse.CodeValidation {
			t.Errorf("UserByID(%q) = %v, want not found or a validation error", id, err)
		}
		_, err = s.Group(t.Context(), id)
		if !errors.Is(err, gatehouse.ErrNotFound) && gatehouse.ErrorCode(err) != gatehouse.CodeValidation {
			t.Errorf("Group(%q) = %v, want not found or a validation error", id, err)
		}
	}
}
