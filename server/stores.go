package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/observedstore"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/redis"
	"github.com/gatehouse/gatehouse/sqlite"
)

// storage is what openStorage opened: the database, the stores by area
// (the short-lived ones in Redis when configured), the checks readyz runs,
// and how to close it all.
type storage struct {
	// db is the database: SQLite or PostgreSQL.
	db gatehouse.Store
	// stores are the stores by area (newServices wraps them, see
	// observedstore).
	stores account.Stores
	// backends name the backend of each area: "sqlite", "postgres" or
	// "redis".
	backends observedstore.Backends
	// counter counts the live sessions where they are kept, for the
	// metrics: the database, or Redis (nil when that store cannot count
	// them: the gauge is then absent, never wrong). It is the store
	// itself, not a decorator of it, as the scrape's count is no request's.
	counter gatehouse.SessionCounter
	// ready are readyz's checks, one per dependency.
	ready []httpapi.ReadyCheck
	// inv tells the other processes sharing the stores what changed, so
	// that none trusts its cache of a revoked session, a disabled user or
	// a removed permission (nil with SQLite: one process).
	inv gatehouse.Invalidator
	// closers close what was opened, in reverse order.
	closers []func() error
}

// openStorage opens the database of c (creating the SQLite file's
// directory, 0700, when missing) and, with c.RedisURL, Redis for the
// short-lived state.
func openStorage(ctx context.Context, c *config) (_ *storage, err error) {
	log := c.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st := &storage{}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	switch {
	case c.PostgresURL != "":
		db, err := postgres.Open(ctx, c.PostgresURL)
		if err != nil {
			return nil, fmt.Errorf("gatehouse: %w", err)
		}
		st.db = db
		st.backends = observedstore.AllIn("postgres")
		st.closers = append(st.closers, db.Close)
		st.inv = db.Notifier(log)
	default:
		if err := os.MkdirAll(filepath.Dir(c.dbPath), 0o700); err != nil {
			return nil, fmt.Errorf("gatehouse: data directory: %w", err)
		}
		db, err := sqlite.Open(ctx, c.dbPath)
		if err != nil {
			return nil, fmt.Errorf("gatehouse: open database %s: %w", c.dbPath, err)
		}
		st.db = db
		st.backends = observedstore.AllIn("sqlite")
		st.closers = append(st.closers, db.Close)
	}
	st.stores = account.StoresOf(st.db)
	st.counter, _ = st.db.(gatehouse.SessionCounter)
	st.ready = append(st.ready, httpapi.ReadyCheck{Name: "database", Check: st.db.Ping})
	if c.RedisURL != "" {
		client, err := redis.ParseURL(c.RedisURL)
		if err != nil {
			return nil, &ConfigError{Err: fmt.Errorf("gatehouse: RedisURL: %w", err)}
		}
		st.closers = append(st.closers, client.Close)
		rs := redis.New(client, c.RedisPrefix)
		rs.Now = c.now
		if err := rs.Ping(ctx); err != nil {
			return nil, fmt.Errorf("gatehouse: cannot reach Redis: %w", err)
		}
		// An evicting Redis would fail open (see CheckEvictionPolicy):
		// refused, unless it will not say, which is the operator's to
		// make sure of.
		switch err := rs.CheckEvictionPolicy(ctx); {
		case errors.Is(err, redis.ErrEvictionPolicyUnknown):
			log.Warn("Redis does not say its eviction policy: make sure maxmemory-policy is noeviction, or evicted keys will unlock throttled accounts and keep revoked sessions alive", "err", err)
		case err != nil:
			return nil, fmt.Errorf("gatehouse: %w", err)
		}
		st.stores.Sessions = rs
		st.counter = rs
		st.stores.Throttles = rs
		st.stores.PendingLogins = rs
		st.backends.Sessions, st.backends.Throttles, st.backends.PendingLogins = "redis", "redis", "redis"
		// A login's session is in Redis, its user and audit event in the
		// database: no one write can hold them.
		st.stores.Logins = nil
		st.ready = append(st.ready, httpapi.ReadyCheck{Name: "sessions", Check: rs.Ping})
		// Sessions are revoked in Redis: their news travels there too,
		// and so does the rest, one channel for every process.
		st.inv = redis.NewNotifier(client, c.RedisPrefix, log)
	}
	return st, nil
}

// close closes what openStorage opened, the last opened first.
func (st *storage) close() error {
	var errs []error
	for i := len(st.closers) - 1; i >= 0; i-- {
		errs = append(errs, st.closers[i]())
	}
	st.closers = nil
	return errors.Join(errs...)
}
