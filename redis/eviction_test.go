package redis_test

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/redis"
)

// The shared test Redis runs with noeviction; a private one with an
// evicting policy is refused, with the policy named.
func TestCheckEvictionPolicy(t *testing.T) {
	s, _, _ := open(t)
	if err := s.CheckEvictionPolicy(t.Context()); err != nil {
		t.Fatalf("CheckEvictionPolicy on the test Redis: %v (it should run with maxmemory-policy noeviction)", err)
	}

	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (Debian package redis-server): cannot start a Redis that evicts")
	}
	addr := startPrivateRedis(t, bin, "--maxmemory-policy", "volatile-lru")
	evicting, err := redis.ParseURL("redis://" + addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer evicting.Close()
	err = redis.New(evicting, "eviction").CheckEvictionPolicy(t.Context())
	if err == nil || !strings.Contains(err.Error(), "volatile-lru") || errors.Is(err, redis.ErrEvictionPolicyUnknown) {
		t.Errorf("CheckEvictionPolicy on a volatile-lru Redis = %v, want an error naming the policy", err)
	}

	// CONFIG renamed away, as some managed services do: unknown.
	addr = startPrivateRedis(t, bin, "--rename-command", "CONFIG", "")
	hidden, err := redis.ParseURL("redis://" + addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer hidden.Close()
	if err := redis.New(hidden, "eviction").CheckEvictionPolicy(t.Context()); !errors.Is(err, redis.ErrEvictionPolicyUnknown) {
		t.Errorf("CheckEvictionPolicy without CONFIG = %v, want ErrEvictionPolicyUnknown", err)
	}
}

// startPrivateRedis starts redis-server bin on a free loopback port with
// args, without persistence, stops it when the test ends, and returns its
// address once it answers.
func startPrivateRedis(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, append([]string{"--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", t.TempDir()}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			fmt.Fprintf(c, "PING\r\n")
			buf := make([]byte, 7)
			c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			c.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				return addr
			}
		}
		if i > 100 {
			t.Fatalf("redis-server on %s does not answer", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
