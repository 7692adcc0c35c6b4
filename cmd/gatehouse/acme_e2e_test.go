package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// acmeDomain is the name gatehouse gets its certificate for; the test's
// DNS server resolves it to 127.0.0.1 for Pebble's validation.
const acmeDomain = "gatehouse.test"

// lockedBuffer collects Pebble's log, written from its goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startTestDNS serves DNS over TCP (as Pebble's VA asks) on a port of its
// own: A 127.0.0.1 for acmeDomain, no other records.
func startTestDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		for _, q := range r.Question {
			if q.Qtype == dns.TypeA && strings.EqualFold(q.Name, acmeDomain+".") {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}

// pebble is Pebble, Let's Encrypt's test ACME server, run in-process
// from its own packages: its directory is served at once, and its CA and
// validation authority start when the ports gatehouse listens on are
// known (start), since the VA validates on fixed ports.
type pebble struct {
	acme    *httptest.Server
	handler atomic.Pointer[http.Handler]
	log     *lockedBuffer
	mgmt    *httptest.Server
	caFile  string // the PEM of the directory's own HTTPS certificate
}

func newPebble(t *testing.T) *pebble {
	t.Helper()
	// The VA's random waits of up to 5 seconds before each validation
	// off; validation itself stays real (PEBBLE_VA_ALWAYS_VALID unset).
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_VA_ALWAYS_VALID", "")
	p := &pebble{log: &lockedBuffer{}}
	p.acme = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := p.handler.Load()
		if h == nil {
			http.Error(w, "pebble not started", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	}))
	p.acme.Config.ErrorLog = log.New(p.log, "pebble https ", log.LstdFlags)
	p.acme.StartTLS()
	t.Cleanup(p.acme.Close)
	p.caFile = filepath.Join(t.TempDir(), "pebble-https.pem")
	if err := os.WriteFile(p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.acme.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Pebble's log:\n%s", p.log)
		}
	})
	return p
}

// directoryURL is Pebble's ACME directory.
func (p *pebble) directoryURL() string { return p.acme.URL + wfe.DirectoryPath }

// start starts Pebble's CA and VA: HTTP-01 is validated on httpPort and
// TLS-ALPN-01 on tlsPort, at the addresses dnsAddr resolves names to.
func (p *pebble) start(t *testing.T, httpPort, tlsPort int, dnsAddr string) {
	t.Helper()
	logger := log.New(p.log, "pebble ", log.LstdFlags)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	validator := va.New(logger, httpPort, tlsPort, false, dnsAddr, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	h := front.Handler()
	p.handler.Store(&h)
	p.mgmt = httptest.NewTLSServer(front.ManagementHandler())
	t.Cleanup(p.mgmt.Close)
}

// stop makes the directory answer 503 from now on.
func (p *pebble) stop() { p.handler.Store(nil) }

// root fetches Pebble's issuing root from its management interface.
func (p *pebble) root(t *testing.T) *x509.Certificate {
	t.Helper()
	resp, err := p.mgmt.Client().Get(p.mgmt.URL + wfe.RootCertPath + "0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	b, _ := pem.Decode(body)
	if resp.StatusCode != http.StatusOK || b == nil {
		t.Fatalf("GET %s0: %d %s", wfe.RootCertPath, resp.StatusCode, body)
	}
	root, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestServeTLSACME gets gatehouse's certificate from Pebble, in-process,
// through real challenges that Pebble's VA validates by connecting to
// gatehouse at the address the test's DNS gives the name: TLS-ALPN-01 on
// gatehouse's own port; HTTP-01 through redirect_addr when TLS-ALPN-01
// cannot succeed (autocert then tries it with a new order); and no
// certificate when neither can. A client that trusts only Pebble's root
// then reaches BASE/healthz. Restarted with Pebble gone, gatehouse serves
// the same certificate from its cache.
func TestServeTLSACME(t *testing.T) {
	for _, mode := range []string{"tls-alpn-01", "http-01", "unreachable"} {
		t.Run(mode, func(t *testing.T) { testACME(t, mode) })
	}
}

func testACME(t *testing.T, mode string) {
	dir := t.TempDir()
	dnsAddr := startTestDNS(t)
	pb := newPebble(t)
	cacheDir := filepath.Join(dir, "acme-cache")
	conf := writeFile(t, dir, "gatehouse.yaml", fmt.Sprintf(`addr: 127.0.0.1:0
data_dir: %s
tls:
  acme:
    domains: [%s]
    email: admin@example.com
    directory_url: %s
    cache_dir: %s
    ca_file: %s
  redirect_addr: 127.0.0.1:0
`, filepath.Join(dir, "data"), acmeDomain, pb.directoryURL(), cacheDir, pb.caFile))
	srv := startServe(t, nil, "--config", conf)
	redirectAddr := srv.log.wait(t, redirectingRe, 10*time.Second)[1]
	_, httpsPort, _ := net.SplitHostPort(srv.addr)
	_, httpPort, _ := net.SplitHostPort(redirectAddr)
	tp, _ := strconv.Atoi(httpsPort)
	hp, _ := strconv.Atoi(httpPort)
	// A port nobody listens on, for the challenges that must fail.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	switch mode {
	case "http-01":
		tp = deadPort
	case "unreachable":
		tp, hp = deadPort, deadPort
	}
	pb.start(t, hp, tp, dnsAddr)

	// Links name the certificate's host.
	base := "https://" + net.JoinHostPort(acmeDomain, httpsPort) + "/auth"
	if m := srv.log.wait(t, setupLinkRe, 10*time.Second); !strings.HasPrefix(m[1], base+"/ui/setup?token=") {
		t.Errorf("setup link %q does not start with %s", m[1], base)
	}

	root := pb.root(t)
	roots := x509.NewCertPool()
	roots.AddCert(root)
	// The client resolves the name to gatehouse's address, as the test's
	// DNS does for Pebble.
	dialTo := func(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
		return func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
	}
	c := tlsClient(t, roots, dialTo(srv.addr))
	if mode == "unreachable" {
		if resp, err := c.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			t.Fatalf("HTTPS without a validated challenge: %d, want a failed handshake", resp.StatusCode)
		}
		if strings.Contains(pb.log.String(), "Issued certificate") || strings.Count(pb.log.String(), "set INVALID by completed challenge") != 2 {
			t.Errorf("Pebble did not refuse both challenges")
		}
		return
	}
	resp, body := get(t, c, base+"/healthz", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET healthz: %d %s", resp.StatusCode, body)
	}
	leaf := resp.TLS.PeerCertificates[0]
	chains := resp.TLS.VerifiedChains
	if len(chains) == 0 || !chains[0][len(chains[0])-1].Equal(root) {
		t.Fatalf("the certificate does not chain to Pebble's root: %v", chains)
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != acmeDomain {
		t.Errorf("certificate names %v, want [%s]", leaf.DNSNames, acmeDomain)
	}
	// Which challenge Pebble validated: it logs its HTTP-01 attempts, and
	// autocert tries TLS-ALPN-01 first.
	plog := pb.log.String()
	httpTried := strings.Contains(plog, "Attempting to validate w/ HTTP")
	failed := strings.Count(plog, "set INVALID by completed challenge")
	switch {
	case !strings.Contains(plog, "set VALID by completed challenge"):
		t.Errorf("Pebble validated no challenge")
	case mode == "tls-alpn-01" && (httpTried || failed != 0):
		t.Errorf("TLS-ALPN-01 was not the challenge validated (HTTP-01 tried: %v, %d failed)", httpTried, failed)
	case mode == "http-01" && (!httpTried || failed != 1):
		t.Errorf("HTTP-01 was not the challenge validated after TLS-ALPN-01 failed (HTTP-01 tried: %v, %d failed)", httpTried, failed)
	}
	if _, err := os.Stat(filepath.Join(cacheDir, acmeDomain)); err != nil {
		t.Errorf("certificate not in cache_dir: %v", err)
	}
	if fi, err := os.Stat(cacheDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("cache_dir: %v %v, want mode 0700", fi, err)
	}
	if mode != "tls-alpn-01" {
		return
	}

	// A second connection gets the same certificate, without Pebble.
	pb.stop()
	c2 := tlsClient(t, roots, dialTo(srv.addr))
	resp, _ = get(t, c2, base+"/healthz", nil)
	if resp.StatusCode != http.StatusOK || !resp.TLS.PeerCertificates[0].Equal(leaf) {
		t.Errorf("second connection: %d, another certificate", resp.StatusCode)
	}
	checkExpiryMetric(t, c2, base, leaf)
	// The container's HEALTHCHECK names the ACME domain (autocert
	// answers no other).
	if code, stdout, stderr := runCmd(t, nil, "", "healthcheck", "--config", conf, "--addr", srv.addr); code != exitOK {
		t.Errorf("healthcheck over HTTPS with ACME: exit %d %s %s", code, stdout, stderr)
	}

	// The redirect listener: to HTTPS on the ACME name only.
	plain := newClient(t)
	plain.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ = get(t, plain, "http://"+redirectAddr+"/auth/healthz?x=1", map[string]string{"Host": acmeDomain})
	if want := base + "/healthz?x=1"; resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Errorf("redirect: %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if resp, _ = get(t, plain, "http://"+redirectAddr+"/", map[string]string{"Host": "other.test"}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("redirect for another host: %d, want 400", resp.StatusCode)
	}
	// A name that is not in domains gets no certificate.
	other := tlsClient(t, roots, dialTo(srv.addr))
	if _, err := other.Get("https://other.test:" + httpsPort + "/auth/healthz"); err == nil {
		t.Errorf("HTTPS for a name not in tls.acme.domains succeeded")
	}
	if code := srv.stop(); code != exitOK {
		t.Fatalf("serve exited %d:\n%s", code, srv.log)
	}

	// Restarted with Pebble unreachable: the certificate comes from
	// cache_dir.
	srv = startServe(t, nil, "--config", conf)
	c3 := tlsClient(t, roots, dialTo(srv.addr))
	_, httpsPort, _ = net.SplitHostPort(srv.addr)
	resp, body = get(t, c3, "https://"+net.JoinHostPort(acmeDomain, httpsPort)+"/auth/healthz", nil)
	if resp.StatusCode != http.StatusOK || !resp.TLS.PeerCertificates[0].Equal(leaf) {
		t.Errorf("after a restart: %d %s, want 200 with the cached certificate", resp.StatusCode, body)
	}
}
