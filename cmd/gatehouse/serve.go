package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/password"
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
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel(getenv("GATEHOUSE_LOG_LEVEL"))}))
	for _, w := range s.warnings {
		log.Warn(w)
	}
	// Refused by config check, but no reason not to start.
	for _, e := range unknownEnv(environ()) {
		log.Warn(e.Error())
	}
	// Load the password blocklist now, not on the first request that
	// needs it (it takes a few tens of milliseconds).
	password.BlocklistSize()
	a, err := openApp(ctx, s, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil // told to stop (SIGINT, SIGTERM) while starting: not a failure
		}
		return err
	}
	defer a.Close()

	api, err := httpapi.New(httpapi.Config{
		BasePath:       s.basePath,
		PublicURL:      s.cfg.PublicURL,
		TrustedProxies: s.trustedProxies,
		TrustedOrigins: s.cfg.TrustedOrigins,
		CORS:           s.cors,
		Logger:         log,
		Ready:          a.store.Ping,
		BasicAuth:      httpapi.BasicAuth{Enabled: s.cfg.BasicAuth.Enabled, AllowInsecure: s.cfg.BasicAuth.AllowInsecure},
		Routes:         s.routes,

		CSRFEveryRequest: s.cfg.CSRF.EveryRequest,

		Upstream:        s.upstream,
		RedirectDomains: s.redirectDomains,
		ProxyTimeout:    s.cfg.UpstreamTimeout,

		ExtraMethods:        s.cfg.Gateway.ExtraMethods,
		AllowPathParameters: s.cfg.Gateway.AllowPathParameters,
		StripHeaders:        s.cfg.Gateway.StripHeaders,

		Metrics:         a.metrics,
		MetricsNetworks: s.metricsNetworks,
	}, a.accounts)
	if err != nil {
		return &configError{where: "config", msg: err.Error()}
	}

	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("gatehouse listening", "addr", ln.Addr().String(), "base_path", s.basePath, "database", s.dbPath, "version", versionString())
	if s.upstream != nil {
		log.Info("gateway mode: proxying to the upstream", "upstream", s.upstream.Redacted())
	}

	token, err := a.accounts.StartSetup(ctx)
	if err != nil {
		ln.Close()
		if ctx.Err() != nil {
			log.Info("stopped")
			return nil // told to stop while starting: not a failure
		}
		return err
	}
	if token != "" {
		log.Info("no users yet: open the setup link to create the first administrator (it works once)",
			"url", publicBase(s, ln.Addr())+s.basePath+"/ui/setup?token="+token)
	}

	sweepCtx, stopSweep := context.WithCancel(context.Background())
	defer stopSweep()
	go a.accounts.RunSweeper(sweepCtx, time.Minute)
	go a.outbox.Run(sweepCtx)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	a.accounts.WaitBackground()
	log.Info("stopped")
	return nil
}

// publicBase is where links point: the configured public URL, else the
// address the server listens on.
func publicBase(s *settings, addr net.Addr) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		return fmt.Sprintf("http://localhost:%d", tcp.Port)
	}
	return "http://" + addr.String()
}

func logLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}
