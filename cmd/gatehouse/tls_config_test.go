package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigTLS runs `gatehouse config check` over tls settings: each
// mistake is an exit 2 naming its key, and the certificate files are read
// as serve reads them. In yaml, env and wantErr, DIR is a directory with
// a good pair (cert.pem, key.pem), another certificate's key (other.pem)
// and a CA file (ca.pem); CONF is the configuration file.
func TestConfigTLS(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		env     map[string]string
		wantErr string // "": configuration OK
	}{
		{"certificate files", "tls: {cert_file: DIR/cert.pem, key_file: DIR/key.pem, redirect_addr: ':80'}\n", nil, ""},
		{"certificate files from the environment", "", map[string]string{"GATEHOUSE_TLS_CERT_FILE": "DIR/cert.pem", "GATEHOUSE_TLS_KEY_FILE": "DIR/key.pem"}, ""},
		{"acme", "tls:\n  acme:\n    domains: [Admin.Example.com, admin.example.com.]\n    email: ops@example.com\n    ca_file: DIR/ca.pem\n", nil, ""},
		{"acme from the environment", "", map[string]string{"GATEHOUSE_TLS_ACME_DOMAINS": "a.example.com,b.example.com", "GATEHOUSE_TLS_ACME_DIRECTORY_URL": "https://acme.internal/dir"}, ""},

		{"cert_file without key_file", "tls:\n  cert_file: DIR/cert.pem\n", nil, "CONF:2: tls.cert_file: needs tls.key_file"},
		{"key_file without cert_file", "tls:\n  key_file: DIR/key.pem\n", nil, "CONF:2: tls.key_file: needs tls.cert_file"},
		{"files and acme", "tls:\n  cert_file: DIR/cert.pem\n  key_file: DIR/key.pem\n  acme:\n    domains: [a.example.com]\n", nil, "CONF:4: tls.acme: cannot be used with tls.cert_file and tls.key_file"},
		{"missing certificate", "tls: {cert_file: DIR/none.pem, key_file: DIR/key.pem}\n", nil, "CONF:1: tls.cert_file: DIR/none.pem: no such file or directory"},
		{"missing key", "tls:\n  cert_file: DIR/cert.pem\n  key_file: DIR/none.pem\n", nil, "CONF:3: tls.key_file: DIR/none.pem: no such file or directory"},
		{"key in the certificate file", "tls:\n  cert_file: DIR/key.pem\n  key_file: DIR/key.pem\n", nil, "CONF:2: tls.cert_file: DIR/key.pem: holds a private key"},
		{"key of another certificate", "tls:\n  cert_file: DIR/cert.pem\n  key_file: DIR/other.pem\n", nil, "CONF:3: tls.key_file: DIR/other.pem: tls: private key does not match public key"},
		{"missing key from the environment", "", map[string]string{"GATEHOUSE_TLS_CERT_FILE": "DIR/cert.pem", "GATEHOUSE_TLS_KEY_FILE": "DIR/none.pem"}, "GATEHOUSE_TLS_KEY_FILE: tls.key_file: DIR/none.pem: no such file"},
		{"acme without domains", "tls:\n  acme:\n    email: ops@example.com\n", nil, "CONF:2: tls.acme.domains: needs at least one host name"},
		{"acme that sets nothing", "tls:\n  acme: {}\n", nil, "CONF:2: tls.acme.domains: needs at least one host name"},
		{"acme that sets nothing, with a redirect", "tls:\n  acme: {}\n  redirect_addr: ':80'\n", nil, "CONF:2: tls.acme.domains: needs at least one host name"},
		{"acme wildcard", "tls:\n  acme:\n    domains: [example.com, '*.example.com']\n", nil, `CONF:3: tls.acme.domains: entry 2: "*.example.com" is not a host name`},
		{"acme IP address", "tls:\n  acme:\n    domains: [192.0.2.1]\n", nil, `tls.acme.domains: entry 1: "192.0.2.1" is not a host name`},
		{"acme host with port", "tls:\n  acme:\n    domains: ['example.com:443']\n", nil, `tls.acme.domains: entry 1: "example.com:443" is not a host name`},
		{"acme email", "tls:\n  acme:\n    domains: [example.com]\n    email: 'Ops <ops@example.com>'\n", nil, "CONF:4: tls.acme.email: \"Ops <ops@example.com>\" is not an email address"},
		{"acme plain-HTTP directory", "tls:\n  acme:\n    domains: [example.com]\n    directory_url: http://acme.internal/dir\n", nil, "CONF:4: tls.acme.directory_url: must be the https:// URL"},
		{"acme CA file missing", "tls:\n  acme:\n    domains: [example.com]\n    ca_file: DIR/none.pem\n", nil, "CONF:4: tls.acme.ca_file: DIR/none.pem: no such file or directory"},
		{"acme CA file not PEM", "tls:\n  acme:\n    domains: [example.com]\n    ca_file: CONF\n", nil, "tls.acme.ca_file: CONF holds no PEM certificate"},
		{"redirect without TLS", "tls:\n  redirect_addr: ':80'\n", nil, "CONF:2: tls.redirect_addr: redirects to HTTPS, which needs tls.cert_file and tls.key_file, or tls.acme"},
		{"redirect address", "tls: {cert_file: DIR/cert.pem, key_file: DIR/key.pem, redirect_addr: 'port80'}\n", nil, "tls.redirect_addr: must be HOST:PORT"},
		{"redirect on addr", "addr: 127.0.0.1:8443\ntls: {cert_file: DIR/cert.pem, key_file: DIR/key.pem, redirect_addr: '127.0.0.1:8443'}\n", nil, "tls.redirect_addr: 127.0.0.1:8443 would listen where addr 127.0.0.1:8443 serves HTTPS"},
		{"redirect on every address of addr's port", "addr: ':443'\ntls: {cert_file: DIR/cert.pem, key_file: DIR/key.pem, redirect_addr: '0.0.0.0:443'}\n", nil, "tls.redirect_addr: 0.0.0.0:443 would listen where addr :443 serves HTTPS"},
		{"redirect on addr's port, addr on every address", "addr: '[::]:443'\ntls: {cert_file: DIR/cert.pem, key_file: DIR/key.pem, redirect_addr: '127.0.0.1:443'}\n", nil, "would listen where addr [::]:443 serves HTTPS"},
		{"redirect on the same port of another address", "addr: '127.0.0.1:443'\ntls: {cert_file: DIR/cert.pem, key_file: DIR/key.pem, redirect_addr: '127.0.0.2:443'}\n", nil, ""},
		{"unknown key", "tls:\n  acme:\n    domain: [example.com]\n", nil, "CONF:3: unknown key tls.acme.domain; did you mean tls.acme.domains?"},
	}
	dir := t.TempDir()
	ca := newTestCA(t)
	ca.issue(t, 1, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	ca.issue(t, 2, filepath.Join(dir, "ca.pem"), filepath.Join(dir, "other.pem"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "gatehouse.yaml")
			expand := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "DIR", dir), "CONF", file) }
			if err := os.WriteFile(file, []byte(expand(tt.yaml)), 0o600); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"GATEHOUSE_DATA_DIR": filepath.Join(t.TempDir(), "data")}
			for k, v := range tt.env {
				env[k] = expand(v)
			}
			code, stdout, stderr := runCmd(t, env, "", "config", "check", "--config", file)
			if tt.wantErr == "" {
				if code != exitOK || !strings.Contains(stdout, "configuration OK") {
					t.Fatalf("exit %d, want 0\nstdout: %s\nstderr: %s", code, stdout, stderr)
				}
				return
			}
			if code != exitUsage || !strings.Contains(stderr, expand(tt.wantErr)) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, expand(tt.wantErr))
			}
			if strings.Contains(stderr, "PRIVATE KEY") {
				t.Errorf("the error quotes key material:\n%s", stderr)
			}
		})
	}
}

// TestServeTLSConfigError: serve refuses, with exit 2 and before
// listening, a certificate it cannot load.
func TestServeTLSConfigError(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "gatehouse.yaml", "addr: 127.0.0.1:0\ntls:\n  cert_file: "+filepath.Join(dir, "none.pem")+"\n  key_file: "+filepath.Join(dir, "none.key")+"\n")
	code, _, stderr := runCmd(t, nil, "", "serve", "--config", conf, "--data", filepath.Join(dir, "data"))
	if code != exitUsage || !strings.Contains(stderr, conf+":3: tls.cert_file: ") || strings.Contains(stderr, "listening") {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 2 naming tls.cert_file, before listening", code, stderr)
	}
}

// TestHTTPSRedirect: the redirect listener's handler keeps the path and
// query, adds the HTTPS port, prefers public_url's host, and refuses the
// hosts it has no certificate for (no open redirect).
func TestHTTPSRedirect(t *testing.T) {
	serves := func(h string) bool { return h == "admin.example.com" || h == "::1" }
	ts := &tlsServing{serves: serves}
	tests := []struct {
		name, publicURL, httpsAddr, method, target, host string
		want                                             int
		location                                         string
	}{
		{"default port", "", "[::]:443", "GET", "/auth/ui/login?rd=%2Fx&y=1", "admin.example.com", 308, "https://admin.example.com/auth/ui/login?rd=%2Fx&y=1"},
		{"other port", "", "0.0.0.0:8443", "GET", "/a/b", "ADMIN.example.com:80", 308, "https://admin.example.com:8443/a/b"},
		{"POST keeps its method with 308", "", ":443", "POST", "/auth/session", "admin.example.com", 308, "https://admin.example.com/auth/session"},
		{"IPv6 literal", "", ":443", "GET", "/", "[::1]:80", 308, "https://[::1]/"},
		{"public_url's host wins", "https://gate.example.org:8443/", ":443", "GET", "/x?q", "whatever", 308, "https://gate.example.org:8443/x?q"},
		{"http public_url is not a target", "http://gate.example.org", ":443", "GET", "/x", "admin.example.com", 308, "https://admin.example.com/x"},
		{"unknown host", "", ":443", "GET", "/", "evil.example", 400, ""},
		{"suffix of a known host", "", ":443", "GET", "/", "xadmin.example.com", 400, ""},
		{"not a host name", "", ":443", "GET", "/", "admin.example.com@evil.example", 400, ""},
		{"empty host", "", ":443", "GET", "/", "", 400, ""},
		{"double-slash path stays on the host", "", ":443", "GET", "//evil.example/x", "admin.example.com", 308, "https://admin.example.com//evil.example/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := ts.redirectHandler(tt.publicURL, tt.httpsAddr)
			r := httptest.NewRequest(tt.method, "http://x"+tt.target, nil)
			r.Host = tt.host
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want || w.Header().Get("Location") != tt.location {
				t.Errorf("%d %q, want %d %q", w.Code, w.Header().Get("Location"), tt.want, tt.location)
			}
		})
	}
	// OPTIONS * has no path to keep.
	r := httptest.NewRequest("OPTIONS", "*", nil)
	r.Host = "admin.example.com"
	w := httptest.NewRecorder()
	ts.redirectHandler("", ":443").ServeHTTP(w, r)
	if w.Code != http.StatusBadRequest {
		t.Errorf("OPTIONS *: %d, want 400", w.Code)
	}
}

// TestServerErrorLog: net/http's lines are warnings, but a failed TLS
// handshake (a scanner, a client that distrusts the certificate) is a
// debug line, unless ACME could not get a certificate.
func TestServerErrorLog(t *testing.T) {
	var buf strings.Builder
	w := serverErrorLog{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, line := range []string{
		"http: TLS handshake error from 192.0.2.1:5555: EOF\n",
		"http: TLS handshake error from 192.0.2.1:5556: acme/autocert: unable to satisfy challenge\n",
		"http: panic serving 192.0.2.1:5557: boom\n",
		// Scanners: no SNI, or a name gatehouse is not for.
		"http: TLS handshake error from 192.0.2.1:5558: acme/autocert: missing server name\n",
		"http: TLS handshake error from 192.0.2.1:5559: acme/autocert: host \"evil.example\" not configured in HostWhitelist\n",
		"http: TLS handshake error from 192.0.2.1:5560: acme/autocert: server name component count invalid\n",
	} {
		w.Write([]byte(line))
	}
	want := []string{
		`level=DEBUG msg="http: TLS handshake error from 192.0.2.1:5555: EOF"`,
		`level=WARN msg="http: TLS handshake error from 192.0.2.1:5556: acme/autocert: unable to satisfy challenge"`,
		`level=WARN msg="http: panic serving 192.0.2.1:5557: boom"`,
		`level=DEBUG msg="http: TLS handshake error from 192.0.2.1:5558: acme/autocert: missing server name"`,
		`level=DEBUG msg="http: TLS handshake error from 192.0.2.1:5559: acme/autocert: host \"evil.example\" not configured in HostWhitelist"`,
		`level=DEBUG msg="http: TLS handshake error from 192.0.2.1:5560: acme/autocert: server name component count invalid"`,
	}
	for _, w := range want {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("log lacks %s:\n%s", w, buf.String())
		}
	}
}

// TestTLSLinkAddr: links without public_url point to the listen address
// when the certificate is for its host, else to the certificate's name.
func TestTLSLinkAddr(t *testing.T) {
	ts := &tlsServing{
		serves: func(h string) bool { return h == "localhost" || h == "127.0.0.1" || h == "admin.example.com" },
		names:  []string{"*.example.com", "admin.example.com"},
	}
	for addr, want := range map[string]string{
		"127.0.0.1:8443": "127.0.0.1:8443",
		"0.0.0.0:443":    "0.0.0.0:443", // localhost, which the certificate is for
		"10.0.0.5:443":   "admin.example.com:443",
	} {
		if got := ts.linkAddr(addr); got != want {
			t.Errorf("linkAddr(%s) = %s, want %s", addr, got, want)
		}
	}
	ts.serves = func(h string) bool { return h == "admin.example.com" }
	if got := ts.linkAddr("[::]:443"); got != "admin.example.com:443" {
		t.Errorf("linkAddr([::]:443) = %s, want the certificate's name", got)
	}
}

// TestConfigTLSPublicURLWarning: a public_url whose host gatehouse has no
// certificate for is worth a warning (links and redirects would point
// there), not a refusal (a proxy in front may have one).
func TestConfigTLSPublicURLWarning(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	ca.issue(t, 1, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")) // localhost, 127.0.0.1
	files := "tls: {cert_file: " + filepath.Join(dir, "cert.pem") + ", key_file: " + filepath.Join(dir, "key.pem") + "}\n"
	for _, tt := range []struct {
		name, yaml, warning string
	}{
		{"files for the host", "public_url: https://LOCALHOST:8443\n" + files, ""},
		{"files for another host", "public_url: https://auth.example.com\n" + files, "public_url's host auth.example.com is not a name of the certificate in tls.cert_file (localhost)"},
		{"acme for the host", "public_url: https://auth.example.com\ntls: {acme: {domains: [auth.example.com]}}\n", ""},
		{"acme for another host", "public_url: https://auth.example.com\ntls: {acme: {domains: [other.example.com]}}\n", "public_url's host auth.example.com is not in tls.acme.domains"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, t.TempDir(), "gatehouse.yaml", tt.yaml)
			code, stdout, stderr := runCmd(t, map[string]string{"GATEHOUSE_DATA_DIR": t.TempDir()}, "", "config", "check", "--config", file)
			if code != exitOK {
				t.Fatalf("exit %d: %s %s", code, stdout, stderr)
			}
			if got := strings.Contains(stdout, "public_url's host"); got != (tt.warning != "") || !strings.Contains(stdout, tt.warning) {
				t.Errorf("config check said %q; want the warning %q", stdout, tt.warning)
			}
		})
	}
}
