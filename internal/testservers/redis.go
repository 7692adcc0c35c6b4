package testservers

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Redis is a private redis-server, run as a child of the test process.
// Every write it acknowledges is in its append-only file before the
// acknowledgement (appendfsync always), so a write acknowledged before
// Stop is there after Start, as a durable deployment keeps it.
type Redis struct {
	port int
	dir  string

	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

// StartRedis starts a Redis server on a free loopback port, with its data
// in a temporary directory, and waits until it answers. The test's
// cleanup kills it and removes the directory. Without redis-server, it
// skips the test.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed: install it (Debian: apt-get install redis-server) to run the tests that stop and restart Redis")
	}
	dir, err := os.MkdirTemp("", "gatehouse-redis-")
	if err != nil {
		t.Fatalf("testservers: %v", err)
	}
	r := &Redis{port: freePort(t), dir: dir}
	t.Cleanup(func() {
		r.kill()
		os.RemoveAll(dir)
	})
	r.Start(t)
	return r
}

// URL is the server's redis:// URL, database 0.
func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// Start starts the server again after Stop, on the same port with the
// same data, and waits until it answers PING (once it has loaded its
// append-only file).
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	if r.cmd != nil {
		t.Fatal("testservers: Redis is already running")
	}
	log := filepath.Join(r.dir, "redis.log")
	cmd := exec.Command("redis-server",
		"--bind", "127.0.0.1", "--port", strconv.Itoa(r.port),
		"--dir", r.dir, "--logfile", log,
		"--daemonize", "no", "--protected-mode", "yes",
		"--appendonly", "yes", "--appendfsync", "always", "--save", "")
	if err := cmd.Start(); err != nil {
		t.Fatalf("testservers: start redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	r.cmd, r.exited = cmd, exited
	deadline := time.Now().Add(startTimeout)
	for !r.pong() {
		select {
		case <-exited:
			r.cmd = nil
			t.Fatalf("testservers: redis-server exited at start: %s; log:\n%s", cmd.ProcessState, tail(log, 2000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("testservers: redis-server does not answer on port %d after %s; log:\n%s", r.port, startTimeout, tail(log, 2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the server down as its service manager would (SIGTERM: it
// finishes the append-only file and exits) and waits until it has.
func (r *Redis) Stop(t testing.TB) {
	t.Helper()
	if r.cmd == nil {
		t.Fatal("testservers: Redis is not running")
	}
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("testservers: stop redis-server: %v", err)
	}
	select {
	case <-r.exited:
	case <-time.After(startTimeout):
		t.Fatalf("testservers: redis-server (pid %d) still runs %s after SIGTERM", r.cmd.Process.Pid, startTimeout)
	}
	r.cmd = nil
}

// Pause freezes the server (SIGSTOP): connections are still accepted by
// the kernel, but nothing is answered, as with a hung server or a network
// that drops packets. Resume undoes it.
func (r *Redis) Pause(t testing.TB) {
	t.Helper()
	if r.cmd == nil {
		t.Fatal("testservers: Redis is not running")
	}
	if err := r.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("testservers: pause redis-server: %v", err)
	}
}

// Resume lets a paused server run again (SIGCONT).
func (r *Redis) Resume(t testing.TB) {
	t.Helper()
	if r.cmd == nil {
		t.Fatal("testservers: Redis is not running")
	}
	if err := r.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("testservers: resume redis-server: %v", err)
	}
}

// kill ends the server, if it runs, at once (SIGKILL ends a paused one
// too).
func (r *Redis) kill() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	<-r.exited
	r.cmd = nil
}

// pong reports whether the server answers PING with PONG; a server still
// loading its data answers -LOADING, which is not ready.
func (r *Redis) pong() bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}
