package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// healthTimeout bounds `gatehouse healthcheck`: connecting, the request and
// the answer. Docker's HEALTHCHECK gives 30 seconds by default.
const healthTimeout = 5 * time.Second

// cmdHealthcheck asks the server that the same configuration would run for
// BASE/healthz, for a container's HEALTHCHECK. It exits 0 when the answer is
// 200 and 1 otherwise, never 2: Docker reserves that code, so a mistake in
// the configuration is reported as unhealthy too.
func cmdHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("healthcheck", stdout)
	var cf commonFlags
	cf.register(fs)
	addr := fs.String("addr", "", "the address serve listens on, HOST:PORT (default: as serve)")
	if err := parseNoArgs(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return unhealthy(err)
	}
	s, err := loadSettings(cf, *addr, getenv)
	if err != nil {
		return unhealthy(err)
	}
	u, err := healthURL(s)
	if err != nil {
		return unhealthy(err)
	}
	if err := checkHealth(ctx, u, healthTLS(s)); err != nil {
		return unhealthy(err)
	}
	return nil
}

// unhealthy is err as one line that run reports with exit 1 (a plain error,
// not a usage or configuration error, which would exit 2).
func unhealthy(err error) error {
	return errors.New("healthcheck: " + strings.ReplaceAll(err.Error(), "\n", "; "))
}

// healthURL is the URL of BASE/healthz on the server s configures. A listen
// address that means every interface (0.0.0.0, [::] or no host) is asked on
// loopback, where the server also listens.
func healthURL(s *settings) (*url.URL, error) {
	host, port, err := splitHostPort(s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("addr %q: %v", s.cfg.Addr, err)
	}
	if port == 0 {
		return nil, fmt.Errorf("addr %q has port 0 (any free port): there is no way to know which one serve got", s.cfg.Addr)
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	// The scheme serve speaks.
	scheme := "http"
	if s.tls != nil {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: s.basePath + "/healthz"}, nil
}

// healthTLS is the TLS configuration for asking serve over HTTPS. It
// names an ACME domain in SNI, as autocert answers only for those, and
// does not verify the certificate: the check asks whether the process
// answers, sends nothing secret and believes nothing but the status; a
// certificate that clients will not trust is for monitoring from outside
// (see gatehouse_tls_certificate_expiry_timestamp_seconds) to catch.
func healthTLS(s *settings) *tls.Config {
	if s.tls == nil {
		return nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true} // #nosec G402: see above
	if len(s.tls.domains) > 0 {
		c.ServerName = s.tls.domains[0]
	}
	return c
}

// checkHealth GETs u and returns nil on a 200 answer, within healthTimeout;
// tc is the TLS configuration for an https URL.
func checkHealth(ctx context.Context, u *url.URL, tc *tls.Config) error {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "gatehouse-healthcheck")
	c := &http.Client{
		// No proxy from the environment: the server is asked directly.
		Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: tc},
		// healthz answers itself: a redirect means something else answers.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is said below, once
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("GET %s: no answer within %v", u, healthTimeout)
		}
		return fmt.Errorf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusBadRequest && u.Scheme == "http" && strings.Contains(string(body), "HTTP request to an HTTPS server") {
		return fmt.Errorf("GET %s: the server speaks HTTPS: give healthcheck the configuration with its tls settings (--config or GATEHOUSE_CONFIG)", u)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s, want 200 OK", u, resp.Status)
	}
	return nil
}
