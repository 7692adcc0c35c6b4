package certfile_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/certfile"
)

// testCA issues leaf certificates for localhost.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "certfile test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// leaf issues a certificate for localhost with the serial number serial
// and returns its PEM and its key's PEM.
func (ca *testCA) leaf(t testing.TB, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// syncBuffer is a log sink written by the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fixture is a Pair served by a real TLS listener.
type fixture struct {
	ca                *testCA
	certFile, keyFile string
	log               *syncBuffer
	pair              *certfile.Pair
	addr              string
}

func newFixture(t *testing.T) (*fixture, []byte) {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{ca: newTestCA(t), certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem"), log: &syncBuffer{}}
	c, k := f.ca.leaf(t, 1)
	write(t, f.certFile, c)
	write(t, f.keyFile, k)
	var err error
	f.pair, err = certfile.Load(f.certFile, f.keyFile, slog.New(slog.NewTextHandler(f.log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: f.pair.GetCertificate, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				conn.(*tls.Conn).Handshake()
			}()
		}
	}()
	f.addr = ln.Addr().String()
	return f, k
}

// serial handshakes with the listener, verifying its certificate against
// the CA, and returns the serial number of the certificate presented.
func (f *fixture) serial(t *testing.T) int64 {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", f.addr, &tls.Config{ServerName: "localhost", RootCAs: f.ca.pool})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func write(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRotatedFilesAreServedOnTheNextHandshake(t *testing.T) {
	f, _ := newFixture(t)
	if got := f.serial(t); got != 1 {
		t.Fatalf("first handshake presented serial %d, want 1", got)
	}
	c, k := f.ca.leaf(t, 2)
	write(t, f.certFile, c)
	write(t, f.keyFile, k)
	if got := f.serial(t); got != 2 {
		t.Fatalf("after rotation: serial %d, want 2", got)
	}
	if !strings.Contains(f.log.String(), "serving the new certificate") {
		t.Errorf("the reload was not logged:\n%s", f.log)
	}

	// Renamed into place, as certbot's and Kubernetes' atomic updates do.
	c, k = f.ca.leaf(t, 3)
	dir := filepath.Dir(f.certFile)
	write(t, filepath.Join(dir, "new-cert"), c)
	write(t, filepath.Join(dir, "new-key"), k)
	if err := os.Rename(filepath.Join(dir, "new-key"), f.keyFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "new-cert"), f.certFile); err != nil {
		t.Fatal(err)
	}
	if got := f.serial(t); got != 3 {
		t.Fatalf("after renames: serial %d, want 3", got)
	}
}

func TestBrokenNewFilesKeepTheOldCertificate(t *testing.T) {
	f, oldKey := newFixture(t)
	newCert, newKey := f.ca.leaf(t, 2)

	// The certificate half written, then complete but with the old key
	// (the key not written yet): each state is warned about once.
	write(t, f.certFile, newCert[:len(newCert)/2])
	for range 2 {
		if got := f.serial(t); got != 1 {
			t.Fatalf("half-written certificate: serial %d, want the old 1", got)
		}
	}
	write(t, f.certFile, newCert)
	for range 2 {
		if got := f.serial(t); got != 1 {
			t.Fatalf("certificate with the old key: serial %d, want the old 1", got)
		}
	}
	log := f.log.String()
	if n := strings.Count(log, "do not load"); n != 2 {
		t.Errorf("%d warnings, want 2 (one per broken state):\n%s", n, log)
	}
	if !strings.Contains(log, "key.pem") || !strings.Contains(log, "private key does not match public key") {
		t.Errorf("the mismatch is not blamed on the key file:\n%s", log)
	}

	// Both files gone for a moment: still the old pair, one warning.
	os.Remove(f.keyFile)
	for range 2 {
		if got := f.serial(t); got != 1 {
			t.Fatalf("key file missing: serial %d, want the old 1", got)
		}
	}
	if n := strings.Count(f.log.String(), "do not load"); n != 3 {
		t.Errorf("%d warnings, want 3 (the missing file once):\n%s", n, f.log)
	}

	write(t, f.keyFile, newKey)
	if got := f.serial(t); got != 2 {
		t.Fatalf("complete pair: serial %d, want 2", got)
	}
	// Never any key material in the log.
	for _, k := range [][]byte{oldKey, newKey} {
		body := strings.Split(string(k), "\n")[1]
		if strings.Contains(f.log.String(), body[:20]) || strings.Contains(f.log.String(), "PRIVATE KEY-----") {
			t.Fatalf("key material in the log:\n%s", f.log)
		}
	}
}

func TestLoadNamesTheFileAtFault(t *testing.T) {
	ca := newTestCA(t)
	cert, key := ca.leaf(t, 1)
	_, otherKey := ca.leaf(t, 2)
	tests := []struct {
		name      string
		cert, key []byte // nil: no file
		blame     string // "cert" or "key"
		want      string
	}{
		{"no certificate file", nil, key, "cert", "no such file"},
		{"no key file", cert, nil, "key", "no such file"},
		{"empty certificate", []byte{}, key, "cert", "holds no PEM certificate"},
		{"key in the certificate file", key, key, "cert", "holds a private key"},
		{"truncated certificate", cert[:len(cert)-40], key, "cert", "holds no PEM certificate"},
		{"certificate in the key file", cert, cert, "key", ""},
		{"key of another certificate", cert, otherKey, "key", "private key does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"cert": filepath.Join(dir, "cert.pem"), "key": filepath.Join(dir, "key.pem")}
			if tt.cert != nil {
				write(t, files["cert"], tt.cert)
			}
			if tt.key != nil {
				write(t, files["key"], tt.key)
			}
			_, err := certfile.Load(files["cert"], files["key"], slog.New(slog.DiscardHandler))
			var fe *certfile.Error
			if !errors.As(err, &fe) {
				t.Fatalf("Load: %v, want a *certfile.Error", err)
			}
			if fe.File != files[tt.blame] || fe.Key != (tt.blame == "key") {
				t.Errorf("blames %s, want %s (%v)", fe.File, files[tt.blame], err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY-----") {
				t.Errorf("error quotes the key: %v", err)
			}
		})
	}
}

// BenchmarkGetCertificate is the cost a handshake pays when the files did
// not change: two os.Stat calls under a mutex.
func BenchmarkGetCertificate(b *testing.B) {
	dir := b.TempDir()
	ca := newTestCA(b)
	c, k := ca.leaf(b, 1)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, c, 0o600)
	os.WriteFile(keyFile, k, 0o600)
	p, err := certfile.Load(certFile, keyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		p.GetCertificate(nil)
	}
}

// BenchmarkHandshake is a whole TLS handshake (over loopback TCP) served
// through GetCertificate, to set BenchmarkGetCertificate against.
func BenchmarkHandshake(b *testing.B) {
	dir := b.TempDir()
	ca := newTestCA(b)
	c, k := ca.leaf(b, 1)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, c, 0o600)
	os.WriteFile(keyFile, k, 0o600)
	p, err := certfile.Load(certFile, keyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: p.GetCertificate})
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.(*tls.Conn).Handshake()
			conn.Close()
		}
	}()
	cfg := &tls.Config{ServerName: "localhost", RootCAs: ca.pool}
	for b.Loop() {
		conn, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		conn.Close()
	}
}
