package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testCA issues server certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gatehouse test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue writes a certificate for localhost and 127.0.0.1 with the serial
// number serial, and its key, to certFile and keyFile.
func (ca *testCA) issue(t *testing.T, serial int64, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		// Each serial ends at another minute, for the expiry metric.
		NotAfter:    time.Now().Add(24*time.Hour + time.Duration(serial)*time.Minute),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tlsClient is an HTTPS client with a cookie jar that trusts roots only,
// and that never follows redirects (the tests look at them).
func tlsClient(t *testing.T, roots *x509.CertPool, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, DialContext: dial}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Jar: jar, Timeout: 90 * time.Second, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// get sends a GET and returns the response with its body read.
func get(t *testing.T, c *http.Client, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

var redirectingRe = regexp.MustCompile(`msg="redirecting plain HTTP to HTTPS" addr=(\S+)`)

// TestServeTLSCertFiles serves HTTPS from certificate files: the setup
// link is https, the session cookie is __Host- and Secure, HSTS is sent,
// Basic auth works without allow_insecure, the files are reloaded when
// replaced, and the redirect listener sends plain HTTP to HTTPS without
// being an open redirect.
func TestServeTLSCertFiles(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.issue(t, 100, certFile, keyFile)
	conf := writeFile(t, dir, "gatehouse.yaml", fmt.Sprintf(`addr: 127.0.0.1:0
data_dir: %s
basic_auth: {enabled: true}
tls:
  cert_file: %s
  key_file: %s
  redirect_addr: 127.0.0.1:0
`, filepath.Join(dir, "data"), certFile, keyFile))
	srv := startServe(t, nil, "--config", conf)
	base := "https://" + srv.addr + "/auth"
	redirectAddr := srv.log.wait(t, redirectingRe, 10*time.Second)[1]

	// Links without public_url are https.
	m := srv.log.wait(t, setupLinkRe, 10*time.Second)
	if want := base + "/ui/setup?token="; !strings.HasPrefix(m[1], want) {
		t.Errorf("setup link %q does not start with %q", m[1], want)
	}
	c := tlsClient(t, ca.pool, nil)
	r := doJSON(t, c, "POST", base+"/setup", map[string]any{"token": m[2], "username": adminName, "email": adminEmail, "password": adminPassword}, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("POST setup over HTTPS: %d %s", r.status, r.raw)
	}

	// A plain-HTTP client is not answered on the HTTPS port.
	if resp, err := newClient(t).Get("http://" + srv.addr + "/auth/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP on the HTTPS port: 200")
		}
	}

	r = login(t, c, base, adminName, adminPassword)
	if r.status != http.StatusOK {
		t.Fatalf("login over HTTPS: %d %s", r.status, r.raw)
	}
	var session *http.Cookie
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if strings.HasSuffix(ck.Name, "gh_session") {
			session = ck
		}
	}
	if session == nil || session.Name != "__Host-gh_session" || !session.Secure || session.Path != "/" || session.Domain != "" {
		t.Errorf("session cookie over HTTPS: %+v, want __Host-gh_session, Secure, Path=/, no Domain", session)
	}
	if hsts := r.header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
		t.Errorf("Strict-Transport-Security = %q, want max-age=…", hsts)
	}

	// Basic auth over gatehouse's own TLS, without allow_insecure.
	basic := tlsClient(t, ca.pool, nil)
	req, _ := http.NewRequest("GET", base+"/sessions", nil)
	req.SetBasicAuth(adminName, adminPassword)
	resp, err := basic.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET sessions with Basic over HTTPS: %d %s, want 200", resp.StatusCode, body)
	}
	if resp.TLS == nil || resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 100 {
		t.Fatalf("first certificate: %v, want serial 100", resp.TLS)
	}
	checkExpiryMetric(t, c, base, resp.TLS.PeerCertificates[0])
	// The container's HEALTHCHECK asks over HTTPS; without the tls
	// settings it says what is missing.
	if code, stdout, stderr := runCmd(t, nil, "", "healthcheck", "--config", conf, "--addr", srv.addr); code != exitOK {
		t.Errorf("healthcheck over HTTPS: exit %d %s %s", code, stdout, stderr)
	}
	if code, _, stderr := runCmd(t, nil, "", "healthcheck", "--addr", srv.addr); code != exitFailure || !strings.Contains(stderr, "the server speaks HTTPS") {
		t.Errorf("healthcheck without the tls settings: exit %d %s", code, stderr)
	}

	// Replaced files: the next connection gets the new certificate,
	// without a restart; the session goes on.
	ca.issue(t, 101, certFile, keyFile)
	c.Transport.(*http.Transport).CloseIdleConnections()
	resp, _ = get(t, c, base+"/session", nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET session after the renewal: %d", resp.StatusCode)
	}
	if got := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); got != 101 {
		t.Errorf("after replacing the files: serial %d, want 101", got)
	}
	checkExpiryMetric(t, c, base, resp.TLS.PeerCertificates[0])
	if !strings.Contains(srv.log.String(), "serving the new certificate") {
		t.Errorf("the reload is not logged:\n%s", srv.log)
	}
	// A broken replacement keeps the last good certificate.
	if err := os.WriteFile(keyFile, []byte("-----BEGIN PRIVATE KEY-----\nnot a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Transport.(*http.Transport).CloseIdleConnections()
	if resp, _ := get(t, c, base+"/healthz", nil); resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 101 {
		t.Errorf("after a broken key file: serial %d, want the last good 101", resp.TLS.PeerCertificates[0].SerialNumber.Int64())
	}
	srv.log.wait(t, regexp.MustCompile(`level=WARN msg="tls: the certificate files changed but do not load.*key_file=`), 5*time.Second)

	// The redirect listener: 308 to the same path and query over HTTPS,
	// for the hosts the certificate is for; other hosts get 400.
	_, httpsPort, _ := net.SplitHostPort(srv.addr)
	plain := newClient(t)
	plain.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, tt := range []struct {
		host, path string
		want       int
		location   string
	}{
		{"localhost:8080", "/auth/ui/login?rd=%2Fapi%2Fx&a=b", 308, "https://localhost:" + httpsPort + "/auth/ui/login?rd=%2Fapi%2Fx&a=b"},
		{"LOCALHOST", "/a%20b/c", 308, "https://localhost:" + httpsPort + "/a%20b/c"},
		{"127.0.0.1", "/", 308, "https://127.0.0.1:" + httpsPort + "/"},
		{"evil.example", "/auth/healthz", 400, ""},
		{"localhost.evil.example", "/", 400, ""},
		{"evil.example/@localhost", "/", 400, ""},
	} {
		resp, body := get(t, plain, "http://"+redirectAddr+tt.path, map[string]string{"Host": tt.host})
		if resp.StatusCode != tt.want || resp.Header.Get("Location") != tt.location {
			t.Errorf("Host %s GET %s on the redirect listener: %d Location %q, want %d %q (%s)", tt.host, tt.path, resp.StatusCode, resp.Header.Get("Location"), tt.want, tt.location, body)
		}
	}
	// Following the redirect ends at gatehouse over HTTPS.
	resp, _ = get(t, plain, "http://"+redirectAddr+"/auth/healthz", map[string]string{"Host": "127.0.0.1"})
	if resp2, _ := get(t, c, resp.Header.Get("Location"), nil); resp2.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %d", resp.Header.Get("Location"), resp2.StatusCode)
	}

	if code := srv.stop(); code != exitOK {
		t.Errorf("serve exited %d:\n%s", code, srv.log)
	}
	if strings.Contains(srv.log.String(), "not a key") {
		t.Errorf("key file content in the log:\n%s", srv.log)
	}
}

// checkExpiryMetric: gatehouse_tls_certificate_expiry_timestamp_seconds
// at base's metrics, for leaf's first name, is when leaf, the certificate
// just presented, expires.
func checkExpiryMetric(t *testing.T, c *http.Client, base string, leaf *x509.Certificate) {
	t.Helper()
	resp, body := get(t, c, base+"/metrics", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET metrics: %d", resp.StatusCode)
	}
	re := regexp.MustCompile(`(?m)^gatehouse_tls_certificate_expiry_timestamp_seconds\{name="` + regexp.QuoteMeta(leaf.DNSNames[0]) + `"\} (\S+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no gatehouse_tls_certificate_expiry_timestamp_seconds{name=%q} in the metrics", leaf.DNSNames[0])
	}
	got, err := strconv.ParseFloat(m[1], 64)
	if err != nil || int64(got) != leaf.NotAfter.Unix() {
		t.Errorf("gatehouse_tls_certificate_expiry_timestamp_seconds %s, want %d (the certificate presented)", m[1], leaf.NotAfter.Unix())
	}
}
