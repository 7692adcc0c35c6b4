package main

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestServeNotifiesSystemd: under systemd (NOTIFY_SOCKET set, as for a
// unit of Type=notify) serve says READY=1 once it answers requests, and
// STOPPING=1 when told to stop.
func TestServeNotifiesSystemd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	srv := startServe(t, map[string]string{"NOTIFY_SOCKET": sock}, "--addr", "127.0.0.1:0", "--data", t.TempDir())
	read := func() string {
		t.Helper()
		buf := make([]byte, 256)
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}
	if got := read(); got != "READY=1" {
		t.Fatalf("first notification %q, want READY=1", got)
	}
	if r := doJSON(t, newClient(t), "GET", srv.base+"/healthz", nil, nil); r.status != 200 {
		t.Errorf("healthz after READY=1: %d", r.status)
	}
	srv.stop()
	if got := read(); got != "STOPPING=1" {
		t.Errorf("notification on stop %q, want STOPPING=1", got)
	}
}

// Without NOTIFY_SOCKET nothing is sent, and an unreachable socket is an
// error the caller logs (serve goes on).
func TestNotifySystemdWithoutSocket(t *testing.T) {
	if err := notifySystemd(func(string) string { return "" }, "READY=1"); err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "nobody")
	if err := notifySystemd(func(string) string { return missing }, "READY=1"); err == nil {
		t.Error("a missing socket was not reported")
	}
}
