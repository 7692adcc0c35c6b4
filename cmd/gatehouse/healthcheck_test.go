package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// checkUnhealthy checks that a healthcheck run failed with exit 1 (never
// 2, which Docker reserves) and one line on stderr containing every want.
func checkUnhealthy(t *testing.T, code int, stderr string, want ...string) {
	t.Helper()
	if code != exitFailure {
		t.Errorf("healthcheck exit %d, want 1", code)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("healthcheck stderr is not one line:\n%s", stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("healthcheck stderr %q lacks %q", stderr, w)
		}
	}
}

func TestHealthcheckAgainstServe(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServe(t, nil, "--addr", "127.0.0.1:0", "--data", dataDir)
	_, port, _ := net.SplitHostPort(srv.addr)

	t.Run("flag", func(t *testing.T) {
		code, stdout, stderr := runCmd(t, nil, "", "healthcheck", "--addr", srv.addr, "--data", dataDir)
		if code != exitOK || stdout != "" || stderr != "" {
			t.Errorf("healthcheck: exit %d, stdout %q, stderr %q; want 0 and silence", code, stdout, stderr)
		}
	})
	t.Run("GATEHOUSE_ADDR on every interface means loopback", func(t *testing.T) {
		// The server listens on 127.0.0.1 only: a healthcheck that asked
		// 0.0.0.0 literally, or another interface, would not reach it.
		env := map[string]string{"GATEHOUSE_ADDR": "0.0.0.0:" + port, "GATEHOUSE_DATA_DIR": dataDir}
		if code, _, stderr := runCmd(t, env, "", "healthcheck"); code != exitOK {
			t.Errorf("healthcheck with GATEHOUSE_ADDR 0.0.0.0:%s: exit %d: %s", port, code, stderr)
		}
		env["GATEHOUSE_ADDR"] = ":" + port
		if code, _, stderr := runCmd(t, env, "", "healthcheck"); code != exitOK {
			t.Errorf("healthcheck with GATEHOUSE_ADDR :%s: exit %d: %s", port, code, stderr)
		}
	})
	t.Run("wrong base_path", func(t *testing.T) {
		env := map[string]string{"GATEHOUSE_BASE_PATH": "/sso"}
		code, _, stderr := runCmd(t, env, "", "healthcheck", "--addr", srv.addr, "--data", dataDir)
		checkUnhealthy(t, code, stderr, "http://"+srv.addr+"/sso/healthz", "404")
	})
	t.Run("stopped", func(t *testing.T) {
		if code := srv.stop(); code != exitOK {
			t.Fatalf("serve exit %d", code)
		}
		code, _, stderr := runCmd(t, nil, "", "healthcheck", "--addr", srv.addr, "--data", dataDir)
		checkUnhealthy(t, code, stderr, "http://"+srv.addr+"/auth/healthz", "connection refused")
	})
}

func TestHealthcheckBasePath(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "gatehouse.yaml", "base_path: /sso\n")
	srv := startServe(t, nil, "--config", cfg, "--addr", "127.0.0.1:0", "--data", dir)
	env := map[string]string{"GATEHOUSE_CONFIG": cfg, "GATEHOUSE_ADDR": srv.addr, "GATEHOUSE_DATA_DIR": dir}
	if code, _, stderr := runCmd(t, env, "", "healthcheck"); code != exitOK {
		t.Errorf("healthcheck with base_path /sso: exit %d: %s", code, stderr)
	}
}

func TestHealthcheckNothingListening(t *testing.T) {
	addr := "127.0.0.1:" + freePort(t)
	code, stdout, stderr := runCmd(t, nil, "", "healthcheck", "--addr", addr, "--data", t.TempDir())
	checkUnhealthy(t, code, stderr, "gatehouse: healthcheck: GET http://"+addr+"/auth/healthz", "connection refused")
	if stdout != "" {
		t.Errorf("stdout %q, want nothing", stdout)
	}
}

func TestHealthcheckAnswers(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string // "" means healthy
	}{
		{"200", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/auth/healthz" || r.Method != http.MethodGet {
				http.NotFound(w, r)
			}
		}, ""},
		{"503", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }, "503 Service Unavailable, want 200 OK"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) }, "302 Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(tt.handler)
			defer ts.Close()
			addr := strings.TrimPrefix(ts.URL, "http://")
			code, _, stderr := runCmd(t, nil, "", "healthcheck", "--addr", addr, "--data", t.TempDir())
			if tt.want == "" {
				if code != exitOK {
					t.Errorf("exit %d: %s", code, stderr)
				}
				return
			}
			checkUnhealthy(t, code, stderr, tt.want)
		})
	}
}

// TestHealthcheckBadSettings: a mistake in the command line or the
// configuration is unhealthy (exit 1), said in one line naming the key.
func TestHealthcheckBadSettings(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"bad addr", map[string]string{"GATEHOUSE_ADDR": "nowhere"}, nil, "GATEHOUSE_ADDR"},
		{"port 0", nil, []string{"--addr", "127.0.0.1:0"}, "port 0"},
		{"bad base_path", map[string]string{"GATEHOUSE_BASE_PATH": "sso"}, nil, "GATEHOUSE_BASE_PATH"},
		{"unknown flag", nil, []string{"--adr", "127.0.0.1:8080"}, "did you mean --addr"},
		{"argument", nil, []string{"now"}, `unexpected argument "now"`},
		{"missing config file", map[string]string{"GATEHOUSE_CONFIG": dir + "/missing.yaml"}, nil, "missing.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, tt.env, "", append([]string{"healthcheck", "--data", dir}, tt.args...)...)
			checkUnhealthy(t, code, stderr, tt.want)
		})
	}
}

func TestHealthURL(t *testing.T) {
	tests := []struct{ addr, base, want string }{
		{"127.0.0.1:8080", "/auth", "http://127.0.0.1:8080/auth/healthz"},
		{"0.0.0.0:8080", "/auth", "http://127.0.0.1:8080/auth/healthz"},
		{":8080", "", "http://127.0.0.1:8080/healthz"},
		{"[::]:8080", "/sso", "http://[::1]:8080/sso/healthz"},
		{"[::1]:9000", "/auth", "http://[::1]:9000/auth/healthz"},
		{"192.0.2.7:80", "/auth", "http://192.0.2.7:80/auth/healthz"},
		{"gatehouse.internal:8080", "/auth", "http://gatehouse.internal:8080/auth/healthz"},
	}
	for _, tt := range tests {
		u, err := healthURL(&settings{cfg: &config{Addr: tt.addr}, basePath: tt.base})
		if err != nil || u.String() != tt.want {
			t.Errorf("healthURL(%q, %q) = %v, %v; want %s", tt.addr, tt.base, u, err, tt.want)
		}
	}
}

func TestHealthcheckHelp(t *testing.T) {
	out := mustRun(t, nil, "", "help", "healthcheck")
	for _, want := range []string{"usage: gatehouse healthcheck", "--addr", "--config", "exit 0 on 200"} {
		if !strings.Contains(out, want) {
			t.Errorf("help healthcheck lacks %q:\n%s", want, out)
		}
	}
}
