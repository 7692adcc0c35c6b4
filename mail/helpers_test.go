package mail

import (
	"io"
	"log/slog"
)

// newJSONLogger returns a logger writing JSON lines at every level to w.
func newJSONLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
