package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The bounds on waiting for the server. Without them, a call to a
// PostgreSQL that is unreachable (a host that is down and drops packets)
// or hung (it accepts connections and never answers) would wait for the
// operating system's TCP retries, minutes, or for ever on a connection
// already open: the request making it would hang instead of being
// answered store_unavailable. Healthy calls take milliseconds.
const (
	// DefaultConnectTimeout bounds making a connection (dialing, TLS,
	// authentication) when the connection string sets no
	// connect_timeout (or 0, which pgx reads as no limit).
	DefaultConnectTimeout = 5 * time.Second
	// DefaultStatementTimeout bounds each statement (and the reading of
	// its rows) whose context has no deadline of its own. Migrations,
	// snapshots and restores (gatehouse migrate-data), and the sweeps of
	// expired records, which may rightly take long on a large database and
	// run in the background or offline, are not bounded.
	DefaultStatementTimeout = 5 * time.Second
	// ListStatementTimeout bounds each statement of a listing with a
	// total (ListUsers, ListAudit) whose context has no deadline: the
	// count reads every matching row, which on an audit log of tens of
	// millions of events rightly takes longer than
	// DefaultStatementTimeout, and still must not wait for ever.
	ListStatementTimeout = time.Minute
	// pingTimeout bounds the liveness check pgxpool makes of a connection
	// that sat idle, before handing it out.
	pingTimeout = 2 * time.Second
)

// bound gives cfg the bounds above where it has none.
func bound(cfg *pgxpool.Config) {
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.PingTimeout == 0 {
		cfg.PingTimeout = pingTimeout
	}
	if cfg.ConnConfig.Tracer == nil {
		cfg.ConnConfig.Tracer = statementBound{DefaultStatementTimeout}
	}
}

// statementBound gives every statement whose context has no deadline one
// of d. It is a pgx.QueryTracer since that is the one hook pgx runs at
// the start of every statement — on a pool, in a transaction, BEGIN and
// COMMIT included — whose returned context the statement then uses; the
// end of the statement (for a query, the closing of its rows) releases
// the timer.
type statementBound struct{ d time.Duration }

var _ pgx.QueryTracer = statementBound{}

type (
	cancelKey    struct{}
	unboundedKey struct{}
)

// TraceQueryStart returns ctx with a deadline d from now, unless it has
// one already or is unbounded.
func (b statementBound) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	if _, ok := ctx.Deadline(); ok || ctx.Value(unboundedKey{}) != nil {
		return ctx
	}
	ctx, cancel := context.WithTimeout(ctx, b.d)
	return context.WithValue(ctx, cancelKey{}, cancel)
}

// TraceQueryEnd releases the deadline TraceQueryStart set, if any.
func (statementBound) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	if cancel, ok := ctx.Value(cancelKey{}).(context.CancelFunc); ok {
		cancel()
	}
}

// unbounded returns ctx marked so that its statements are not given
// DefaultStatementTimeout: for work that may rightly take long.
func unbounded(ctx context.Context) context.Context {
	return context.WithValue(ctx, unboundedKey{}, true)
}

// listBound returns ctx with a deadline of ListStatementTimeout when it has
// none: for the listings that count what they list.
func listBound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, ListStatementTimeout)
}
