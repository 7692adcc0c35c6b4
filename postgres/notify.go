package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse"
)

// NotifyChannel is the PostgreSQL channel the Notifier publishes
// invalidations on and listens to. Every gatehouse process on the same
// database uses it.
const NotifyChannel = "gatehouse_invalidate"

// notifyListenerName is the application_name of the listening connections when
// the connection string sets none, so that an operator (or a test) can tell
// them apart in pg_stat_activity.
const notifyListenerName = "gatehouse invalidations"

// How a Notifier watches and retries its listening connection.
const (
	// notifyCheck is how often an idle listening connection is pinged, so
	// that a connection lost without a word (a dead network, not a closed
	// socket) is noticed within notifyCheck+notifyPingTimeout and the caches
	// stop being trusted.
	notifyCheck       = 10 * time.Second
	notifyPingTimeout = 5 * time.Second
	// notifyRetryMin and notifyRetryMax bound the wait between reconnection attempts,
	// which doubles after each failure.
	notifyRetryMin = 50 * time.Millisecond
	notifyRetryMax = 5 * time.Second
)

// Notifier is a gatehouse.Invalidator on PostgreSQL's LISTEN/NOTIFY: it
// publishes with pg_notify on a pool connection, and each Subscribe listens
// on a connection of its own, which it reconnects with growing waits when
// it is lost. Messages are the short text of Invalidation.MarshalText (a
// kind and a public id), never a secret.
//
// NOTIFY reaches the processes connected to the same database; it is
// delivered when the publishing transaction commits, and Publish runs
// outside any transaction, so at once.
type Notifier struct {
	pool    *pgxpool.Pool
	ownPool bool
	listen  *pgx.ConnConfig
	log     *slog.Logger
}

var _ gatehouse.Invalidator = (*Notifier)(nil)

// NewNotifier returns a Notifier on the database at connString (as Open
// takes it), with a small pool of its own for publishing; Close releases
// it. No connection is made before the first Publish or Subscribe. log
// receives connection failures of the subscriptions (nil: discarded).
//
// Errors never repeat connString, which may hold a password.
func NewNotifier(connString string, log *slog.Logger) (*Notifier, error) {
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("postgres: notifier: the database URL is not valid: %w", redactedParseError(err))
	}
	bound(cfg)
	// Publishing is one short statement now and then.
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: notifier for %s: %w", where(cfg), err)
	}
	n := newNotifier(pool, log)
	n.ownPool = true
	return n, nil
}

// Notifier returns a Notifier on the store's database that publishes
// through the store's pool; its subscriptions open connections of their
// own with the same settings. Closing it leaves the store open.
func (s *Store) Notifier(log *slog.Logger) *Notifier {
	return newNotifier(s.pool, log)
}

func newNotifier(pool *pgxpool.Pool, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	listen := pool.Config().ConnConfig.Copy()
	if listen.RuntimeParams["application_name"] == "" {
		listen.RuntimeParams["application_name"] = notifyListenerName
	}
	return &Notifier{pool: pool, listen: listen, log: log}
}

// Close releases the publishing pool when NewNotifier made it. Running
// subscriptions end with their contexts.
func (n *Notifier) Close() {
	if n.ownPool {
		n.pool.Close()
	}
}

// Publish sends inv to every Subscribe on the database, in every process.
func (n *Notifier) Publish(ctx context.Context, inv gatehouse.Invalidation) error {
	payload, err := inv.MarshalText()
	if err != nil {
		return fmt.Errorf("postgres: publish %s invalidation: %w", inv.Kind, err)
	}
	if _, err := n.pool.Exec(ctx, "SELECT pg_notify($1, $2)", NotifyChannel, string(payload)); err != nil {
		return fmt.Errorf("postgres: publish %s invalidation: %w", inv.Kind, err)
	}
	return nil
}

// Subscribe listens on NotifyChannel and calls deliver with every
// invalidation, as gatehouse.Invalidator describes: SubscriptionReady once
// the LISTEN is in place, SubscriptionLost when the connection is lost,
// then again SubscriptionReady after a reconnection. A message it cannot
// read is delivered as InvalidateAll. It returns ctx.Err() when ctx ends.
func (n *Notifier) Subscribe(ctx context.Context, deliver func(gatehouse.Invalidation)) error {
	wait := notifyRetryMin
	for {
		err := n.listenOnce(ctx, deliver)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == errNotifyLost {
			wait = notifyRetryMin // it worked for a while: retry quickly
		} else {
			n.log.Warn("cache invalidations: cannot listen on PostgreSQL; caches are bypassed until it works", "retry_in", wait, "err", err)
		}
		// Jitter, so that processes cut off together do not all come back
		// in the same instant.
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, notifyRetryMax)
	}
}

// errNotifyLost is what listenOnce returns when it listened and then lost
// the connection, as opposed to failing to listen at all.
var errNotifyLost = errors.New("listening connection lost")

// listenOnce connects, listens and delivers until the connection is lost
// or ctx ends. Once it has delivered SubscriptionReady it always delivers
// SubscriptionLost before it returns.
func (n *Notifier) listenOnce(ctx context.Context, deliver func(gatehouse.Invalidation)) error {
	conn, err := pgx.ConnectConfig(ctx, n.listen)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	deliver(gatehouse.Invalidation{Kind: gatehouse.SubscriptionReady})
	defer deliver(gatehouse.Invalidation{Kind: gatehouse.SubscriptionLost})
	for {
		waitCtx, cancel := context.WithTimeout(ctx, notifyCheck)
		msg, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case err == nil:
			deliver(parseNotification(msg.Payload, n.log))
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case waitCtx.Err() == nil || conn.IsClosed():
			n.log.Warn("cache invalidations: lost the PostgreSQL listening connection; caches are bypassed until it is back", "err", err)
			return errNotifyLost
		}
		// Quiet for notifyCheck: make sure the connection still works. A
		// deadline interrupting the wait leaves the connection usable.
		pingCtx, cancel := context.WithTimeout(ctx, notifyPingTimeout)
		err = conn.Ping(pingCtx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			n.log.Warn("cache invalidations: the PostgreSQL listening connection does not answer; caches are bypassed until it is back", "err", err)
			return errNotifyLost
		}
	}
}

// parseNotification reads a payload; one it cannot read (from a newer
// version, or not from gatehouse) drops everything rather than nothing.
func parseNotification(payload string, log *slog.Logger) gatehouse.Invalidation {
	var inv gatehouse.Invalidation
	if err := inv.UnmarshalText([]byte(payload)); err != nil {
		log.Warn("cache invalidations: unreadable message on "+NotifyChannel+"; dropping every cache", "length", len(payload))
		return gatehouse.Invalidation{Kind: gatehouse.InvalidateAll}
	}
	return inv
}
