package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/mail"
	"github.com/gatehouse/gatehouse/metrics"
	"github.com/gatehouse/gatehouse/otp"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sms"
	"github.com/gatehouse/gatehouse/sqlite"
)

// app is gatehouse wired together from validated settings.
type app struct {
	settings *settings
	store    *sqlite.Store
	sessions *session.Manager
	accounts *account.Service
	outbox   *mail.Outbox
	metrics  *metrics.Metrics
}

// openApp opens the store (creating the data directory and applying
// migrations) and builds the services over it.
func openApp(ctx context.Context, s *settings, log *slog.Logger) (*app, error) {
	for _, dir := range []string{filepath.Dir(s.dbPath), filepath.Dir(s.keyFile)} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
	}
	store, err := sqlite.Open(ctx, s.dbPath)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", s.dbPath, err)
	}
	sessions := session.NewManager(store, s.session, time.Now, log)
	cfg := account.DefaultConfig
	cfg.Policy = s.policy
	cfg.UserThrottle = gatehouse.ThrottleRule{MaxFailures: s.cfg.Login.MaxFailures, Window: s.cfg.Login.FailureWindow, Lockout: s.cfg.Login.Lockout}
	cfg.AddrThrottle = gatehouse.ThrottleRule{MaxFailures: s.cfg.Login.MaxFailuresPerAddress, Window: s.cfg.Login.FailureWindow, Lockout: s.cfg.Login.Lockout}
	cfg.AllowPasswordReset = s.cfg.Password.AllowPasswordReset
	cfg.Guest = s.cfg.Session.Guest
	cfg.LinkBase = s.linkBase()
	m := metrics.New()
	cfg.OnAudit = m.Audit
	var sender mail.Sender = mail.LogSender{Log: log}
	if s.smtp != nil {
		smtp, err := mail.NewSMTP(*s.smtp)
		if err != nil {
			store.Close()
			return nil, err
		}
		sender = smtp
	}
	tpl := s.templates
	if tpl == nil {
		tpl, _ = mail.LoadTemplates("")
	}
	outbox := mail.NewOutbox(store, sender, tpl, mail.OutboxConfig{}, time.Now, log)
	key, err := otp.LoadOrCreateKeyFile(s.keyFile)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("two-factor key: %w", err)
	}
	// The known-device cookies are signed with a key derived from the same
	// secret, so they outlive restarts and are valid on every process.
	cfg.KnownDeviceSecret = key
	hasher := password.NewHasher(password.DefaultParams, 0, 0)
	accounts := account.New(store, hasher, sessions, cfg, time.Now, log, outbox)
	sealer, err := otp.NewSealer(key)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("two-factor key %s: %w", s.keyFile, err)
	}
	var smsSender sms.Sender = sms.LogSender{Log: log}
	if s.smsWebhook != nil {
		if smsSender, err = sms.NewWebhook(*s.smsWebhook); err != nil {
			store.Close()
			return nil, err
		}
	}
	tfc := account.DefaultTwoFactorConfig
	tfc.Issuer = s.cfg.TwoFactor.Issuer
	accounts.UseTwoFactor(account.TwoFactorDeps{Sealer: sealer, SMS: smsSender, Config: tfc})
	if err := accounts.EnsureGroups(ctx, s.cfg.Groups); err != nil {
		store.Close()
		return nil, fmt.Errorf("seeding groups: %w", err)
	}
	return &app{settings: s, store: store, sessions: sessions, accounts: accounts, outbox: outbox, metrics: m}, nil
}

func (a *app) Close() error { return a.store.Close() }

// linkBase is where mailed links point: public_url (or, without one, the
// listen address) and the base path.
func (s *settings) linkBase() string {
	base := strings.TrimRight(s.cfg.PublicURL, "/")
	if base == "" {
		base = "http://" + s.cfg.Addr
		if host, port, err := splitHostPort(s.cfg.Addr); err == nil && (host == "" || host == "0.0.0.0" || host == "::" || host == "[::]") {
			base = fmt.Sprintf("http://localhost:%d", port)
		}
	}
	return base + s.basePath
}

// resetTTL is how long reset links last.
func (s *settings) resetTTL() time.Duration { return account.DefaultConfig.ResetTTL }
