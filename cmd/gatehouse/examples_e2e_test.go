package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exampleFile reads a file of examples/gateway and makes the replacements
// of old, new pairs, each of which must apply: an example that changes
// shape fails here rather than being tested in some other form.
func exampleFile(t *testing.T, name string, oldNew ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "gateway", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			t.Fatalf("examples/gateway/%s no longer contains %q", name, oldNew[i])
		}
		s = strings.ReplaceAll(s, oldNew[i], oldNew[i+1])
	}
	return s
}

// TestGatewayExamples runs examples/gateway as shipped: gatehouse with
// gatehouse.yaml (base_path /auth, duplistatus's routes) behind nginx with
// nginx.conf and behind Caddy with the Caddyfile, only their addresses
// moved to free loopback ports, and walks duplistatus's flow through each
// as a client of admin.example.com.
func TestGatewayExamples(t *testing.T) {
	for _, proxy := range []string{"nginx", "caddy"} {
		t.Run(proxy, func(t *testing.T) {
			bin := needBinary(t, proxy)
			up := newRecordingUpstream(t)
			dir := t.TempDir()
			dataDir := filepath.Join(dir, "data")
			createUser(t, dataDir, "ada", adminPassword)
			gh := startServe(t, nil, "--config", filepath.Join("..", "..", "examples", "gateway", "gatehouse.yaml"),
				"--addr", "127.0.0.1:0", "--data", dataDir)
			port := freePort(t)
			addr := "127.0.0.1:" + port
			switch proxy {
			case "nginx":
				startNginx(t, bin, addr, exampleFile(t, "nginx.conf",
					"listen 80;", "listen "+addr+";",
					"127.0.0.1:8080", gh.addr,
					"127.0.0.1:3000", "127.0.0.1:"+up.port()))
			case "caddy":
				conf := writeFile(t, dir, "Caddyfile", "{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n}\n"+
					exampleFile(t, "Caddyfile",
						"admin.example.com {", "http://admin.example.com:"+port+" {",
						"127.0.0.1:8080", gh.addr,
						"127.0.0.1:3000", "127.0.0.1:"+up.port()))
				startProxyProcess(t, addr, caddyCommand(bin, dir, conf))
			}
			front := "http://admin.example.com:" + port
			walkDuplistatus(t, frontDoor{
				url: front, dial: addr, base: "/auth", up: up,
				body401: true, body403: true, rd: front + dashboardPage, verifyHidden: true,
			})
		})
	}
}
