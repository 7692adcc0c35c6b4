package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"github.com/gatehouse/gatehouse/certfile"
)

// tlsSettings are the checked tls settings: HTTPS at gatehouse itself.
type tlsSettings struct {
	certFile, keyFile string   // "" with ACME
	domains           []string // ACME's host names, lower case; nil with files
	email             string
	directoryURL      string
	cacheDir          string
	caFile            string // "": the system's roots only
	redirectAddr      string // "": no plain-HTTP listener
}

// validateTLS checks the tls section without reading any file (other
// commands than serve and config check load the settings too); s.tls is
// nil without TLS.
func (c *config) validateTLS(s *settings, fail func(field, format string, args ...any) error) error {
	t := &c.TLS
	// An acme section that sets nothing is still ACME asked for: without
	// domains it must be refused, not served as plain HTTP.
	acme := t.acme() || s.src != nil && s.src.has("tls.acme")
	if !t.enabled() && !acme {
		if t.RedirectAddr != "" {
			return fail("tls.redirect_addr", "redirects to HTTPS, which needs tls.cert_file and tls.key_file, or tls.acme")
		}
		return nil
	}
	ts := &tlsSettings{certFile: t.CertFile, keyFile: t.KeyFile, redirectAddr: t.RedirectAddr}
	switch {
	case (t.CertFile != "" || t.KeyFile != "") && acme:
		return fail("tls.acme", "cannot be used with tls.cert_file and tls.key_file: choose certificate files or ACME")
	case t.CertFile == "" && t.KeyFile != "":
		return fail("tls.key_file", "needs tls.cert_file, the certificate of the key")
	case t.KeyFile == "" && t.CertFile != "":
		return fail("tls.cert_file", "needs tls.key_file, the private key of the certificate")
	case acme:
		a := t.ACME
		if len(a.Domains) == 0 {
			return fail("tls.acme.domains", "needs at least one host name the certificate is for, such as admin.example.com")
		}
		for i, d := range a.Domains {
			name, ok := hostName(d)
			if _, err := netip.ParseAddr(d); !ok || err == nil {
				return fail("tls.acme.domains", "entry %d: %q is not a host name such as admin.example.com (no scheme, port, path, IP address or wildcard: ACME here gets a certificate for each name)", i+1, d)
			}
			if !slices.Contains(ts.domains, name) {
				ts.domains = append(ts.domains, name)
			}
		}
		if a.Email != "" {
			if m, err := mail.ParseAddress(a.Email); err != nil || m.Address != a.Email {
				return fail("tls.acme.email", "%q is not an email address such as admin@example.com", a.Email)
			}
		}
		if u, err := url.Parse(a.DirectoryURL); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			return fail("tls.acme.directory_url", "must be the https:// URL of an ACME directory, such as %s", autocert.DefaultACMEDirectory)
		}
		ts.email, ts.directoryURL, ts.caFile = a.Email, a.DirectoryURL, a.CAFile
		ts.cacheDir = a.CacheDir
		if ts.cacheDir == "" {
			ts.cacheDir = filepath.Join(c.DataDir, "acme")
		}
	}
	if t.RedirectAddr != "" {
		_, port, err := splitHostPort(t.RedirectAddr)
		if err != nil {
			return fail("tls.redirect_addr", "must be HOST:PORT, such as :80: %v", err)
		}
		if port != 0 && addrsCollide(t.RedirectAddr, c.Addr) {
			return fail("tls.redirect_addr", "%s would listen where addr %s serves HTTPS: give it another port (80)", t.RedirectAddr, c.Addr)
		}
	}
	if strings.HasPrefix(c.PublicURL, "http://") {
		s.warnings = append(s.warnings, "public_url starts with http:// while gatehouse serves HTTPS (tls): links will point to plain HTTP")
	}
	if host := publicHost(c.PublicURL); host != "" && len(ts.domains) > 0 && !slices.Contains(ts.domains, host) {
		s.warnings = append(s.warnings, fmt.Sprintf("public_url's host %s is not in tls.acme.domains: links and redirects will point at a name gatehouse has no certificate for (unless a proxy in front has one)", host))
	}
	s.tls = ts
	return nil
}

// hostName returns the host name s in lower case without a final dot,
// and whether it is one: labels of letters, digits and '-'.
func hostName(s string) (string, bool) {
	h := strings.TrimSuffix(strings.ToLower(s), ".")
	if h == "" || len(h) > 253 {
		return "", false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", false
		}
		for _, r := range label {
			if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-') {
				return "", false
			}
		}
	}
	return h, true
}

// tlsServing is how serve answers HTTPS: the listener's TLS configuration,
// and the plain-HTTP handler of tls.redirect_addr.
type tlsServing struct {
	config *tls.Config
	// serves says whether HTTPS is served for the host name: the
	// certificate covers it, or ACME gets one for it.
	serves func(host string) bool
	// names are the host names of the certificate at start, or ACME's
	// domains: links name the first when the listen address is not one.
	names []string
	// acme is nil with certificate files.
	acme *autocert.Manager
	// notAfter is the end of validity of each certificate as last
	// presented, by its first name (see watchExpiry): name → time.Time.
	notAfter sync.Map
}

// watchExpiry makes the listener's configuration remember the end of
// validity of each certificate it presents (ACME's TLS-ALPN-01 challenge
// certificates aside), by its first name, for the expiry metric, and
// returns the function that reads them. Names come from the certificates
// gatehouse has (its files', or ACME's for tls.acme.domains), never from
// a client: the series stay few.
func (t *tlsServing) watchExpiry() func() map[string]time.Time {
	get := t.config.GetCertificate
	t.config.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		c, err := get(hello)
		if err == nil && c != nil && !slices.Equal(hello.SupportedProtos, []string{acme.ALPNProto}) {
			t.remember(c.Leaf)
		}
		return c, err
	}
	return func() map[string]time.Time {
		out := map[string]time.Time{}
		t.notAfter.Range(func(k, v any) bool {
			out[k.(string)] = v.(time.Time)
			return true
		})
		return out
	}
}

// remember notes when leaf, a certificate presented, expires.
func (t *tlsServing) remember(leaf *x509.Certificate) {
	if leaf == nil {
		return
	}
	name := leaf.Subject.CommonName
	if len(leaf.DNSNames) > 0 {
		name = leaf.DNSNames[0]
	}
	if old, ok := t.notAfter.Load(name); !ok || !old.(time.Time).Equal(leaf.NotAfter) {
		t.notAfter.Store(name, leaf.NotAfter)
	}
}

// linkAddr is the HOST:PORT links point to without public_url: the
// listen address, if HTTPS is served for its host (localhost for an
// unspecified one), else the certificate's first name with its port.
func (t *tlsServing) linkAddr(listenAddr string) string {
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return listenAddr
	}
	if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
		host = "localhost"
	}
	if t.serves(host) {
		return listenAddr
	}
	for _, n := range t.names {
		if !strings.HasPrefix(n, "*.") {
			return net.JoinHostPort(n, port)
		}
	}
	return listenAddr
}

// openTLS loads the certificate files, or prepares ACME (the cache
// directory, the CA file): what fails is a configuration error naming its
// key. Without TLS it returns nil.
func (s *settings) openTLS(log *slog.Logger) (*tlsServing, error) {
	ts := s.tls
	switch {
	case ts == nil:
		return nil, nil
	case ts.certFile != "":
		pair, err := s.loadCertFiles(log)
		if err != nil {
			return nil, err
		}
		if w := s.certFilesWarning(pair.Certificate().Leaf); w != "" {
			log.Warn(w)
		}
		t := &tlsServing{
			config: &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: pair.GetCertificate},
			serves: func(host string) bool { return pair.Certificate().Leaf.VerifyHostname(host) == nil },
			names:  pair.Certificate().Leaf.DNSNames,
		}
		t.remember(pair.Certificate().Leaf)
		return t, nil
	}
	roots, err := s.acmeRoots()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(ts.cacheDir, 0o700); err != nil {
		return nil, s.tlsError("tls.acme.cache_dir", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		HostPolicy: autocert.HostWhitelist(ts.domains...),
		Cache:      autocert.DirCache(ts.cacheDir),
		Email:      ts.email,
		Client: &acme.Client{
			DirectoryURL: ts.directoryURL,
			HTTPClient:   &http.Client{Transport: tr, Timeout: time.Minute},
			UserAgent:    "gatehouse/" + versionString(),
		},
	}
	// TLSConfig answers the TLS-ALPN-01 challenge (acme.ALPNProto in
	// NextProtos) on the HTTPS listener itself.
	cfg := m.TLSConfig()
	cfg.MinVersion = tls.VersionTLS12
	return &tlsServing{
		config: cfg,
		serves: func(host string) bool { return slices.Contains(ts.domains, host) },
		names:  ts.domains,
		acme:   m,
	}, nil
}

// checkTLSFiles reads the files of the tls settings, as serve would, for
// config check: the certificate pair, or ACME's CA file.
func (s *settings) checkTLSFiles() error {
	switch {
	case s.tls == nil:
		return nil
	case s.tls.certFile != "":
		pair, err := s.loadCertFiles(slog.New(slog.DiscardHandler))
		if err != nil {
			return err
		}
		if w := s.certFilesWarning(pair.Certificate().Leaf); w != "" {
			s.warnings = append(s.warnings, w)
		}
		return nil
	}
	_, err := s.acmeRoots()
	return err
}

// loadCertFiles loads tls.cert_file and tls.key_file.
func (s *settings) loadCertFiles(log *slog.Logger) (*certfile.Pair, error) {
	pair, err := certfile.Load(s.tls.certFile, s.tls.keyFile, log)
	if err != nil {
		field := "tls.cert_file"
		if fe := (*certfile.Error)(nil); errors.As(err, &fe) && fe.Key {
			field = "tls.key_file"
		}
		return nil, s.tlsError(field, err)
	}
	return pair, nil
}

// acmeRoots are the roots trusted for the ACME directory's HTTPS: the
// system's and tls.acme.ca_file's.
func (s *settings) acmeRoots() (*x509.CertPool, error) {
	return s.rootsWith("tls.acme.ca_file", s.tls.caFile)
}

// rootsWith is the system's root certificates and those of the PEM file
// (none when ""), which field names: a configuration error naming it when
// the file cannot be read or holds no certificate.
func (s *settings) rootsWith(field, file string) (*x509.CertPool, error) {
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if file == "" {
		return roots, nil
	}
	pem, err := os.ReadFile(file)
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		return nil, s.tlsError(field, fmt.Errorf("%s: %w", file, pe.Err))
	} else if err != nil {
		return nil, s.tlsError(field, err)
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, s.tlsError(field, fmt.Errorf("%s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", file))
	}
	return roots, nil
}

// tlsError is a configuration error of the tls setting field, located
// where it was set.
func (s *settings) tlsError(field string, err error) error {
	return &configError{where: s.src.locate(field), field: field, msg: err.Error()}
}

// redirectHandler is the handler of tls.redirect_addr: with ACME, the
// HTTP-01 challenge's answers, and a redirect to HTTPS for the rest.
// httpsAddr is the HTTPS listener's address.
func (t *tlsServing) redirectHandler(publicURL, httpsAddr string) http.Handler {
	h := &httpsRedirect{serves: t.serves}
	if pu, err := url.Parse(publicURL); err == nil && pu.Scheme == "https" {
		h.host = pu.Host
	}
	if _, port, err := net.SplitHostPort(httpsAddr); err == nil && port != "443" {
		h.port = port
	}
	if t.acme == nil {
		return h
	}
	challenge := t.acme.HTTPHandler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// autocert checks the Host header against its host policy as
		// it is, port included: drop the port (a CA sends none for
		// port 80; a listener on another port behind a port mapping
		// may see one).
		if host, _, err := net.SplitHostPort(r.Host); err == nil {
			r = r.Clone(r.Context())
			r.Host = host
		}
		challenge.ServeHTTP(w, r)
	})
}

// httpsRedirect answers every plain-HTTP request with a permanent
// redirect (308, which keeps the method and body) to the same path and
// query over HTTPS. It is no open redirect: the target host is public_url's
// or a host HTTPS is served for, never just any Host header.
type httpsRedirect struct {
	// host is the target host[:port] (public_url's); "" for the
	// request's own host name, if serves accepts it.
	host string
	// port is the HTTPS port added to a request's host name; "" for 443.
	port string
	// serves says whether HTTPS is served for a host name.
	serves func(host string) bool
}

func (h *httpsRedirect) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := h.host
	if host == "" {
		name, ok := requestHostName(r.Host)
		if !ok || !h.serves(name) {
			http.Error(w, "400 Bad Request: no HTTPS for this host", http.StatusBadRequest)
			return
		}
		host = name
		switch {
		case h.port != "":
			host = net.JoinHostPort(name, h.port)
		case strings.Contains(name, ":"):
			host = "[" + name + "]"
		}
	}
	path := r.URL.EscapedPath()
	if !strings.HasPrefix(path, "/") {
		http.Error(w, "400 Bad Request: no path to redirect", http.StatusBadRequest)
		return
	}
	target := "https://" + host + path
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, target, http.StatusPermanentRedirect)
}

// requestHostName returns the host name or IP address of a Host header
// without its port, in lower case, and whether it is one.
func requestHostName(hostport string) (string, bool) {
	h := hostport
	if strings.HasPrefix(h, "[") || strings.Count(h, ":") == 1 {
		var err error
		if h, _, err = net.SplitHostPort(hostport); err != nil {
			// "[::1]" without a port
			h = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
		}
	}
	if a, err := netip.ParseAddr(h); err == nil && a.Zone() == "" {
		return a.String(), true
	}
	return hostName(h)
}

// addrsCollide reports whether listening on both a and b (HOST:PORT) would
// take the same port: the same port, on the same host or where either
// means every address (no host, 0.0.0.0 or [::]).
func addrsCollide(a, b string) bool {
	ha, pa, errA := splitHostPort(a)
	hb, pb, errB := splitHostPort(b)
	if errA != nil || errB != nil || pa != pb {
		return false
	}
	any := func(h string) bool {
		ip, err := netip.ParseAddr(strings.Trim(h, "[]"))
		return h == "" || err == nil && ip.IsUnspecified()
	}
	return any(ha) || any(hb) || strings.EqualFold(strings.Trim(ha, "[]"), strings.Trim(hb, "[]"))
}

// publicHost is the host name of public_url, lower case; "" without one.
func publicHost(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
}

// certFilesWarning says when public_url's host is not a name of leaf, the
// certificate of the files: links and redirects would point where
// browsers refuse gatehouse's certificate. "" when it is, or without
// public_url.
func (s *settings) certFilesWarning(leaf *x509.Certificate) string {
	host := publicHost(s.cfg.PublicURL)
	if host == "" || leaf == nil || leaf.VerifyHostname(host) == nil {
		return ""
	}
	return fmt.Sprintf("public_url's host %s is not a name of the certificate in tls.cert_file (%s): links and redirects will point at a name browsers refuse it for (unless a proxy in front has its own)", host, strings.Join(leaf.DNSNames, ", "))
}
