package postgres_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/postgres"
)

// TestConnectBounded: connecting to a server that accepts connections but
// never answers (a hung or frozen PostgreSQL, or a proxy in front of a
// dead one) fails on its own after DefaultConnectTimeout when the URL sets
// no connect_timeout, without a deadline from the caller, instead of
// waiting for ever. It needs no PostgreSQL.
func TestConnectBounded(t *testing.T) {
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
	_, port, _ := net.SplitHostPort(l.Addr().String())
	done := make(chan error, 1)
	go func() {
		s, err := postgres.Open(context.Background(), "postgres://gate:s3cret@127.0.0.1:"+port+"/x?sslmode=disable")
		if err == nil {
			s.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Open on a silent server succeeded")
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error repeats the password: %v", err)
		}
		t.Logf("Open: %v", err)
	case <-time.After(10 * postgres.DefaultConnectTimeout):
		t.Fatalf("Open on a silent server still waits after %s", 10*postgres.DefaultConnectTimeout)
	}
}
