package redis

import (
	"context"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse"
)

// createBatch is how many sessions CreateSessions sends in one pipeline.
const createBatch = 500

// CreateSessions stores sessions exactly as CreateSession does, one script
// call each, but sends them in pipelines of up to 500: one round trip a
// batch instead of one a session, for bulk loads (moving sessions from
// another store, filling a store for a benchmark). It returns, for each
// session, nil or the error that refused it (CodeConflict when its id or
// token hash is taken); one refused session does not stop the others.
func (s *Store) CreateSessions(ctx context.Context, sessions []*gatehouse.Session) []error {
	errs := make([]error, len(sessions))
	// Pipelined calls cannot fall back from EVALSHA to EVAL one by one as
	// Script.Run does; the script is loaded first, and a session that
	// still meets NOSCRIPT (the scripts were flushed meanwhile) is sent
	// again alone.
	if err := createSession.Load(ctx, s.client).Err(); err != nil {
		for i := range errs {
			errs[i] = internal("create sessions", err)
		}
		return errs
	}
	for from := 0; from < len(sessions); from += createBatch {
		batch := sessions[from:min(from+createBatch, len(sessions))]
		cmds := make([]*goredis.Cmd, len(batch))
		pipe := s.client.Pipeline()
		for i, ses := range batch {
			keys, args := s.createArgs(ses)
			cmds[i] = createSession.EvalSha(ctx, pipe, keys, args...)
		}
		// Exec's error is the first command's; each is read below.
		pipe.Exec(ctx)
		for i, cmd := range cmds {
			if goredis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
				errs[from+i] = s.CreateSession(ctx, batch[i])
				continue
			}
			errs[from+i] = createResult(cmd)
		}
	}
	return errs
}
