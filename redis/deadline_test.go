package redis_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/redis"
)

// A Redis that accepts connections but never answers (a hung server, a
// black-holed network) must not hold a caller past its context's deadline:
// readyz and every request bound their store calls that way.
func TestClientHonoursContextDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	// go-redis's own read timeout is set to a minute: a client that did
	// not honour the caller's deadline would hang for minutes (retries
	// included), which the ten seconds below tell from 200 ms without
	// being a close timing call.
	client, err := redis.ParseURL("redis://" + ln.Addr().String() + "/0?read_timeout=60s&write_timeout=60s")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		done <- redis.New(client, "deadline").Ping(ctx)
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Ping = %v, want the context's deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Ping still waiting 10 s after its context's 200 ms deadline")
	}
}
