package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Logger passes go-redis's own log lines (a failed dial, a pool that
// cannot reach the server) to a slog.Logger at warning level, so that they
// take the program's log format instead of go-redis's plain lines on
// standard error. Install it with goredis.SetLogger, which is global to the
// program: the program's main decides, not a library.
type Logger struct {
	// Log receives the lines; nil discards them.
	Log *slog.Logger
}

// Printf logs one go-redis line.
func (l Logger) Printf(ctx context.Context, format string, v ...any) {
	if l.Log == nil {
		return
	}
	msg := fmt.Sprintf(format, v...)
	if !strings.HasPrefix(msg, "redis: ") {
		msg = "redis: " + msg
	}
	l.Log.WarnContext(ctx, msg)
}
