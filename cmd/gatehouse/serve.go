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
		shutdown, err := tracing.Setup(ctx, versionString())
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
		log.Info("tracing on: spans go to the OpenTelemetry collector the OTEL_* variables name")
	}
	// Listen first: without public_url, links (the setup link among them)
	// point to the address actually listened on (a port 0 resolved).
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	defer ln.Close()
	gh, err := server.Open(ctx, s.serverConfig(ln.Addr().String(), log))
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

	srv := &http.Server{
		Handler:           gh,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("gatehouse listening", "addr", ln.Addr().String(), "base_path", s.basePath, "database", s.databaseName(), "version", versionString())
	if s.upstream != nil {
		log.Info("gateway mode: proxying to the upstream", "upstream", s.upstream.Redacted())
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
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
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if err := gh.Close(); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
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
