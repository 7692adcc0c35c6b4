package postgres_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/sqlite"
)

// sessionStore returns the SessionStore that the suites needing one
// (RunPendingLogins, RunDevices) use next to the PostgreSQL store pg.
//
// Stopgap until the PostgreSQL store holds sessions: then this returns pg
// (the one line to change), and the rest of the file goes. Until then it
// is a SQLite store on a temporary file, whose sessions refuse users it
// does not know; so each session's user is copied from pg into it first.
func sessionStore(t *testing.T, pg *postgres.Store) gatehouse.SessionStore {
	t.Helper()
	lite, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "sessions.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { lite.Close() })
	return liteSessions{Store: lite, users: pg}
}

// liteSessions is a SQLite store's sessions whose users live in users.
type liteSessions struct {
	*sqlite.Store
	users gatehouse.UserStore
}

// CreateSession copies the session's user from users into the SQLite
// store, unless it is there already, and then creates the session.
func (l liteSessions) CreateSession(ctx context.Context, ses *gatehouse.Session) error {
	if ses.UserID != "" {
		u, err := l.users.UserByID(ctx, ses.UserID)
		if err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
			return err
		}
		if u != nil {
			u.Groups = nil // the SQLite store's groups are not pg's
			if err := l.Store.CreateUser(ctx, u); err != nil && !errors.Is(err, gatehouse.ErrConflict) {
				return err
			}
		}
	}
	return l.Store.CreateSession(ctx, ses)
}
