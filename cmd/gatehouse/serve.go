package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/tracing"
)

func cmdServe(ctx context.Context, args []string, getenv func(string) string, environ func() []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stdout)
	var cf commonFlags
	cf.register(fs)
	addr := fs.String("addr", "", "listen address HOST:PORT (default 127.0.0.1:8080)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	s, err := loadSettings(cf, *addr, getenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, s.cfg.Log.Format, s.cfg.Log.Level)
	redisLog.Store(log)
	for _, w := range s.warnings {
		log.Warn(w)
	}
	// Refused by config check, but no reason not to start.
	for _, e := range unknownEnv(environ()) {
		log.Warn(e.Error())
	}
	if s.cfg.Tracing.Enabled {
		shutdown, err := tracing.Setup(ctx, versionString(), log)
		if err != nil {
			return &configError{where: "tracing", msg: err.Error()}
		}
		defer func() {
			flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := shutdown(flushCtx); err != nil {
				log.Warn("could not send the last spans to the OpenTelemetry collector", "err", err)
			}
		}()
		log.Info("tracing on: spans go to the OpenTelemetry collector", "endpoint", tracing.Endpoint())
	}
	// Listen first: without public_url, links (the setup link among them)
	// point to the address actually listened on (a port 0 resolved).
	// The certificate files are read (or the ACME cache made) before
	// anything listens: a mistake there is a configuration error.
	if s.postgresURL == "" {
		release, err := lockDatabase(s.dbPath)
		if err != nil {
			return err
		}
		defer release()
	}
	tlsServe, err := s.openTLS(log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	defer ln.Close()
	var redirectLn net.Listener
	if s.tls != nil && s.tls.redirectAddr != "" {
		if redirectLn, err = net.Listen("tcp", s.tls.redirectAddr); err != nil {
			return fmt.Errorf("listen on %s (tls.redirect_addr): %w", s.tls.redirectAddr, err)
		}
		defer redirectLn.Close()
	}
	sc := s.serverConfig(ln.Addr().String(), log)
	if tlsServe != nil {
		// https links, to a name the certificate is for.
		sc.ListenTLS = true
		sc.ListenAddr = tlsServe.linkAddr(sc.ListenAddr)
	}
	gh, err := server.Open(ctx, sc)
	if err != nil {
		if ctx.Err() != nil {
			return nil // told to stop (SIGINT, SIGTERM) while starting: not a failure
		}
		if ce := (*server.ConfigError)(nil); errors.As(err, &ce) {
			return &configError{where: "config", msg: err.Error()} // exit 2
		}
		return err
	}
	defer gh.Close()
	if tlsServe != nil {
		gh.Metrics().WatchCertificates(tlsServe.watchExpiry())
	}

	srv := newHTTPServer(gh, log)
	scheme := "http"
	if tlsServe != nil {
		scheme = "https"
		srv.TLSConfig = tlsServe.config
	}
	log.Info("gatehouse listening", "addr", ln.Addr().String(), "scheme", scheme, "base_path", s.basePath, "database", s.databaseName(), "version", versionString())
	if tlsServe != nil && tlsServe.acme != nil {
		log.Info("tls: certificates from ACME", "domains", strings.Join(s.tls.domains, ","), "directory_url", s.tls.directoryURL, "cache_dir", s.tls.cacheDir)
	}
	if s.upstream != nil {
		log.Info("gateway mode: proxying to the upstream", "upstream", s.upstream.Redacted())
	}

	errc := make(chan error, 2)
	go func() {
		if tlsServe != nil {
			// The certificate comes from TLSConfig.GetCertificate.
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	var redirectSrv *http.Server
	if redirectLn != nil {
		redirectSrv = newHTTPServer(tlsServe.redirectHandler(s.cfg.PublicURL, ln.Addr().String()), log)
		log.Info("redirecting plain HTTP to HTTPS", "addr", redirectLn.Addr().String())
		go func() { errc <- redirectSrv.Serve(redirectLn) }()
	}
	// The socket listens and the stores are open: requests are answered
	// from here on (systemd's Type=notify starts dependent units now).
	if err := notifySystemd(getenv, "READY=1"); err != nil {
		log.Warn("could not tell systemd the server is ready (NOTIFY_SOCKET)", "err", err)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	if err := notifySystemd(getenv, "STOPPING=1"); err != nil {
		log.Warn("could not tell systemd the server is stopping (NOTIFY_SOCKET)", "err", err)
	}
	// Both listeners finish their requests in the same 30 s, and the
	// stores close after both, whatever either said.
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	servers := []*http.Server{srv}
	if redirectSrv != nil {
		servers = append(servers, redirectSrv)
	}
	shut := make(chan error, len(servers))
	for _, hs := range servers {
		go func() { shut <- hs.Shutdown(shutCtx) }()
	}
	var errs []error
	for range servers {
		if err := <-shut; err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, gh.Close())
	if err := errors.Join(errs...); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// newHTTPServer is an http.Server of h with serve's timeouts and limits,
// logging its own errors as warnings (see serverErrorLog).
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          stdlog.New(serverErrorLog{log}, "", 0),
	}
}

// serverErrorLog writes net/http's own error lines to the log as
// warnings, but for failed TLS handshakes, which any scanner on the
// Internet causes by the thousand: those are debug lines, unless ACME
// failed to get a certificate, which the operator must see. autocert's
// refusals of names it is not for (no SNI, a name not in tls.acme.domains)
// are the scanners' too: debug.
type serverErrorLog struct{ log *slog.Logger }

// scannerRefusals are autocert's errors about the name a client asked
// for, not about getting a certificate.
var scannerRefusals = []string{
	"acme/autocert: missing server name",
	"not configured in HostWhitelist",
	"acme/autocert: server name component count invalid",
	"acme/autocert: server name contains invalid character",
}

func (l serverErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	level := slog.LevelWarn
	if strings.HasPrefix(msg, "http: TLS handshake error") {
		level = slog.LevelDebug
		if strings.Contains(msg, "acme/autocert") && !slices.ContainsFunc(scannerRefusals, func(r string) bool { return strings.Contains(msg, r) }) {
			level = slog.LevelWarn
		}
	}
	l.log.Log(context.Background(), level, msg)
	return len(p), nil
}

// parseLogLevel reads a log level: debug, info, warn or error (any case).
func parseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("must be debug, info, warn or error, not %q", s)
}

// newLogger is serve's logger on w: format text or json (log.format), at
// least level (log.level), both checked by the configuration already.
func newLogger(w io.Writer, format, level string) *slog.Logger {
	l, _ := parseLogLevel(level)
	opts := &slog.HandlerOptions{Level: l}
	// Every line logged with a request's context names its request_id,
	// the account service's included.
	if format == "json" {
		return slog.New(httpapi.RequestIDHandler(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(httpapi.RequestIDHandler(slog.NewTextHandler(w, opts)))
}
