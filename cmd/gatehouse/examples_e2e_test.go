package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
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

// TestTraefikExample reads examples/gateway/traefik.yml, which no test can
// run (Traefik is neither in Debian's archive nor buildable from the module
// proxy), and checks what a user relies on: every request to the
// application passes the stripping and forward-auth middlewares, in that
// order; forward auth asks /auth/verify without trusting the client's
// X-Forwarded-* and copies the four Remote-* headers; the Remote_*
// spellings and the other proxies' identity headers are removed, as the
// Caddyfile removes them; every router and middleware named exists; and
// /auth/verify is not routed to gatehouse for clients.
func TestTraefikExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "gateway", "traefik.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		HTTP struct {
			Middlewares map[string]struct {
				ForwardAuth *struct {
					Address             string   `yaml:"address"`
					TrustForwardHeader  *bool    `yaml:"trustForwardHeader"`
					AuthResponseHeaders []string `yaml:"authResponseHeaders"`
				} `yaml:"forwardAuth"`
				Headers *struct {
					CustomRequestHeaders map[string]string `yaml:"customRequestHeaders"`
				} `yaml:"headers"`
			} `yaml:"middlewares"`
			Routers map[string]struct {
				Rule        string   `yaml:"rule"`
				Middlewares []string `yaml:"middlewares"`
				Service     string   `yaml:"service"`
			} `yaml:"routers"`
			Services map[string]struct {
				LoadBalancer struct {
					Servers []struct {
						URL string `yaml:"url"`
					} `yaml:"servers"`
				} `yaml:"loadBalancer"`
			} `yaml:"services"`
		} `yaml:"http"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&conf); err != nil {
		t.Fatalf("traefik.yml: %v", err)
	}
	h := conf.HTTP
	for name, r := range h.Routers {
		if _, ok := h.Services[r.Service]; !ok {
			t.Errorf("router %s: no service %q", name, r.Service)
		}
		for _, m := range r.Middlewares {
			if _, ok := h.Middlewares[m]; !ok {
				t.Errorf("router %s: no middleware %q", name, m)
			}
		}
	}
	app := h.Routers["app"]
	if len(app.Middlewares) != 2 || h.Middlewares[app.Middlewares[0]].Headers == nil || h.Middlewares[app.Middlewares[1]].ForwardAuth == nil {
		t.Fatalf("router app: middlewares %v, want the header stripping, then forward auth", app.Middlewares)
	}
	fa := h.Middlewares[app.Middlewares[1]].ForwardAuth
	if fa.Address != "http://127.0.0.1:8080/auth/verify" || fa.TrustForwardHeader == nil || *fa.TrustForwardHeader {
		t.Errorf("forwardAuth: address %q, trustForwardHeader %v; want /auth/verify and false", fa.Address, fa.TrustForwardHeader)
	}
	if want := []string{"Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups"}; !slices.Equal(fa.AuthResponseHeaders, want) {
		t.Errorf("authResponseHeaders = %v, want %v", fa.AuthResponseHeaders, want)
	}
	strip := h.Middlewares[app.Middlewares[0]].Headers.CustomRequestHeaders
	// Every header the Caddyfile clears, but those authResponseHeaders
	// replaces: the Remote_* spellings, the other proxies' identity
	// headers, in both spellings. (Not the optional "#cors" lines.)
	for _, m := range regexp.MustCompile(`(?m)^\s*request_header -(\S+)`).FindAllStringSubmatch(exampleFile(t, "Caddyfile"), -1) {
		name := m[1]
		if slices.Contains(fa.AuthResponseHeaders, name) {
			continue
		}
		if v, ok := strip[name]; !ok || v != "" {
			t.Errorf("customRequestHeaders[%s] = %q, %v; want present and empty (removed), as in the Caddyfile", name, v, ok)
		}
	}
	if rule := h.Routers["gatehouse"].Rule; !strings.Contains(rule, "PathPrefix(`/auth/`)") || !strings.Contains(rule, "!Path(`/auth/verify`)") {
		t.Errorf("router gatehouse: rule %q, want /auth/ without /auth/verify", rule)
	}
}
