package redis_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/redis"
)

func TestLoggerWritesToSlog(t *testing.T) {
	var buf bytes.Buffer
	l := redis.Logger{Log: slog.New(slog.NewJSONHandler(&buf, nil))}
	l.Printf(context.Background(), "connection pool: failed to dial after %d attempts: %v", 1, "connection refused")
	got := buf.String()
	for _, want := range []string{`"level":"WARN"`, `"msg":"redis: connection pool: failed to dial after 1 attempts: connection refused"`} {
		if !strings.Contains(got, want) {
			t.Errorf("log = %s, want %s", got, want)
		}
	}
	buf.Reset()
	l.Printf(context.Background(), "redis: %s", "already named")
	if got := buf.String(); !strings.Contains(got, `"msg":"redis: already named"`) {
		t.Errorf("log = %s, want one redis: prefix", got)
	}
	redis.Logger{}.Printf(context.Background(), "discarded %d", 1) // no logger: no panic
}
