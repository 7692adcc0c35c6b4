// Package testservers starts private PostgreSQL and Redis servers for
// tests that must stop and restart them, which the shared servers of
// GATEHOUSE_TEST_POSTGRES and GATEHOUSE_TEST_REDIS must never be.
//
// Each server listens on a free loopback port and keeps its data in a
// directory of its own; Stop shuts it down cleanly, Start brings it back
// on the same port with the same data, and the test's cleanup kills
// whatever is still running (by its process id) and removes the directory.
// A test on a machine without the servers' binaries is skipped, saying
// which Debian package provides them.
package testservers

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to start or stop: a
// server that has not answered by then is a failed test, not a hang.
const startTimeout = 60 * time.Second

// freePort returns a loopback TCP port nothing listens on right now. The
// server started on it next may lose a race for it with another program;
// that fails the test with the server's own error, never silently.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testservers: no free loopback port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// alive reports whether process pid exists (and is not a zombie we could
// still reap: the callers wait for their own children).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// waitGone waits until process pid has exited, up to startTimeout.
func waitGone(pid int) bool {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// tail returns the last n bytes of file name, to show why a server
// failed.
func tail(name string, n int64) string {
	b, err := os.ReadFile(name)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}
