package main

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/server"
)

// serverConfig is the configuration of the server package made from the
// validated settings: the one wiring `serve` and the other commands share
// with a Go program that embeds gatehouse. listenAddr is where links point
// without public_url.
func (s *settings) serverConfig(listenAddr string, log *slog.Logger) server.Config {
	c := s.cfg
	return server.Config{
		DataDir: c.DataDir,
		// As in the configuration: a relative file is in DataDir.
		DatabaseFile: strings.TrimPrefix(c.Database, "sqlite://"),
		KeyFile:      s.keyFile,
		PostgresURL:  s.postgresURL,
		RedisURL:     s.redisURL,
		RedisPrefix:  c.RedisPrefix,

		BasePath:         s.basePath,
		PublicURL:        c.PublicURL,
		ListenAddr:       listenAddr,
		TrustedProxies:   s.trustedProxies,
		TrustedOrigins:   c.TrustedOrigins,
		CSRFEveryRequest: c.CSRF.EveryRequest,
		CORS:             s.cors,
		BasicAuth:        httpapi.BasicAuth{Enabled: c.BasicAuth.Enabled, AllowInsecure: c.BasicAuth.AllowInsecure},
		Routes:           s.routes,
		Gateway: server.Gateway{
			Upstream:            s.upstream,
			RedirectDomains:     s.redirectDomains,
			ProxyTimeout:        c.UpstreamTimeout,
			ExtraMethods:        c.Gateway.ExtraMethods,
			AllowPathParameters: c.Gateway.AllowPathParameters,
			StripHeaders:        c.Gateway.StripHeaders,
		},
		MetricsNetworks: s.metricsNetworks,
		LogRequests:     c.Log.Requests,

		Session:       s.session,
		GuestSessions: c.Session.Guest,
		Login: server.LoginLimits{
			MaxFailures:           c.Login.MaxFailures,
			MaxFailuresPerAddress: c.Login.MaxFailuresPerAddress,
			FailureWindow:         c.Login.FailureWindow,
			Lockout:               c.Login.Lockout,
		},
		Password:             s.policy,
		DisablePasswordReset: !c.Password.AllowPasswordReset,
		Groups:               c.Groups,
		TwoFactorIssuer:      c.TwoFactor.Issuer,

		SMTP:          s.smtp,
		MailTemplates: s.templates,
		SMSWebhook:    s.smsWebhook,
		NoSMS:         s.noSMS,

		ExternalProviders: s.external,

		Logger: log,
	}
}

// openApp opens gatehouse's services for a one-off command (user, import,
// policy explain): the store and the services over it, without the HTTP
// layer or background work.
func openApp(ctx context.Context, s *settings, log *slog.Logger) (*server.Services, error) {
	return server.OpenServices(ctx, s.serverConfig(s.cfg.Addr, log))
}

// resetTTL is how long reset links last.
func (s *settings) resetTTL() time.Duration { return account.DefaultConfig.ResetTTL }
