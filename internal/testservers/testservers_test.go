package testservers_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/testservers"
)

// TestRedisRestart: a key written (and acknowledged) before Stop is there
// after Start, on the same URL; while stopped, the port refuses.
func TestRedisRestart(t *testing.T) {
	r := testservers.StartRedis(t)
	addr := strings.TrimSuffix(strings.TrimPrefix(r.URL(), "redis://"), "/0")
	if got := redisCmd(t, addr, "SET k durable"); got != "+OK" {
		t.Fatalf("SET: %q", got)
	}
	r.Stop(t)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the port accepts connections while Redis is stopped")
	}
	r.Start(t)
	if got := redisCmd(t, addr, "GET k"); got != "$7" {
		t.Fatalf("GET after the restart: %q, want the 7-byte value", got)
	}
}

// redisCmd sends one inline command and returns the first line of the
// answer.
func redisCmd(t *testing.T, addr, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "%s\r\n", cmd)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(line, "\r\n")
}

// TestPostgresRestart: a committed row is there after a restart on the
// same URL; while stopped, connecting fails.
func TestPostgresRestart(t *testing.T) {
	p := testservers.StartPostgres(t)
	ctx := t.Context()
	exec := func(sql string) error {
		c, err := pgx.Connect(ctx, p.URL())
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		_, err = c.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE TABLE t (v text); INSERT INTO t VALUES ('durable')"); err != nil {
		t.Fatal(err)
	}
	p.Stop(t)
	if err := exec("SELECT 1"); err == nil {
		t.Fatal("connected while PostgreSQL is stopped")
	}
	p.Start(t)
	c, err := pgx.Connect(ctx, p.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var v string
	if err := c.QueryRow(ctx, "SELECT v FROM t").Scan(&v); err != nil || v != "durable" {
		t.Fatalf("after the restart: %q, %v", v, err)
	}
}
