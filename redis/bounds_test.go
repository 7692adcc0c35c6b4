package redis_test

import (
	"context"
	"net"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/redis"
)

// TestParseURLBounds: a URL that sets no timeouts gets gatehouse's tight
// ones, of every kind of client; one that sets them keeps its own.
func TestParseURLBounds(t *testing.T) {
	type bounds struct {
		dial, read, write time.Duration
		retries, dials    int
	}
	tight := bounds{2 * time.Second, 3 * time.Second, 3 * time.Second, 1, 1}
	for _, tc := range []struct {
		url  string
		want bounds
	}{
		{"redis://127.0.0.1:6379/0", tight},
		{"redis-sentinel://s1,s2?master=gatehouse", tight},
		{"redis-cluster://n1,n2", tight},
		{"redis://127.0.0.1:6379/0?dial_timeout=7s&read_timeout=9s&write_timeout=4s&max_retries=4", bounds{7 * time.Second, 9 * time.Second, 4 * time.Second, 4, 1}},
		// -1 is go-redis's "none": the operator's choice, kept.
		{"redis://127.0.0.1:6379/0?max_retries=-1", bounds{2 * time.Second, 3 * time.Second, 3 * time.Second, 0, 1}},
	} {
		c, err := redis.ParseURL(tc.url)
		if err != nil {
			t.Fatalf("ParseURL(%q): %v", tc.url, err)
		}
		var got bounds
		switch c := c.(type) {
		case *goredis.Client:
			o := c.Options()
			got = bounds{o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.MaxRetries, o.DialerRetries}
		case *goredis.ClusterClient:
			o := c.Options()
			got = bounds{o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.MaxRetries, o.DialerRetries}
		default:
			t.Fatalf("ParseURL(%q) = %T", tc.url, c)
		}
		c.Close()
		if got != tc.want {
			t.Errorf("ParseURL(%q): %+v, want %+v", tc.url, got, tc.want)
		}
	}
}

// TestSilentServer: a command to a server that accepts connections but
// never answers (a hung or frozen Redis) fails on its own, without a
// deadline from the caller, instead of waiting for ever.
func TestSilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var conns []net.Conn
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c) // held open, never answered
		}
	}()
	c, err := redis.ParseURL("redis://" + l.Addr().String() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- c.Ping(context.Background()).Err() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("PING to a silent server succeeded")
		}
		t.Logf("PING: %v", err)
	case <-time.After(time.Minute):
		// Far above the bounds (two 3-second reads): this is a hang.
		t.Fatal("PING to a silent server still waits after a minute")
	}
}
