// Package server runs gatehouse inside a Go program: Open wires the
// store, the services, the HTTP handlers and the background work exactly
// as `gatehouse serve` does, and returns one value that serves gatehouse's
// endpoints and guards the program's own handlers.
//
//	gh, err := server.Open(ctx, server.Config{DataDir: "data"})
//	if err != nil { … }
//	defer gh.Close()
//	mux.Handle("/auth/", gh)
//	mux.Handle("/api/", gh.Protect(api))
//
// Inside a guarded handler, gatehouse.UserFrom(r.Context()) is the user.
package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/mail"
	"github.com/gatehouse/gatehouse/metrics"
	"github.com/gatehouse/gatehouse/observedstore"
	"github.com/gatehouse/gatehouse/otp"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sms"
	"github.com/gatehouse/gatehouse/web"
)

// Services are gatehouse's services over its store, without the HTTP
// layer and without background work: what a one-off command (creating a
// user, an import) needs. Open builds on them.
type Services struct {
	// Store is the database, SQLite or PostgreSQL: every record but, with
	// Config.RedisURL, the short-lived ones (Stores says where each area
	// lives).
	Store gatehouse.Store
	// Stores are the stores by area, as the account service uses them.
	Stores account.Stores
	// Sessions is the session manager.
	Sessions *session.Manager
	// Accounts is the account service: users, groups, logins, links.
	Accounts *account.Service
	// Outbox holds the mail to send; Open runs it in the background.
	Outbox *mail.Outbox
	// Metrics are the metrics served at BASE/metrics (audit events
	// included).
	Metrics *metrics.Metrics

	storage *storage
	// key is the secrets key (Config.KeyFile), which also keys the
	// external-login flow cookie.
	key []byte
}

// OpenServices checks cfg, creates the data directory (0700) when
// missing, opens the database (applying its migrations) and Redis when
// configured, loads or creates the two-factor key file, and builds the
// services, creating cfg.Groups when missing. Close closes the stores.
func OpenServices(ctx context.Context, cfg Config) (*Services, error) {
	c, err := cfg.check()
	if err != nil {
		return nil, err
	}
	return openServices(ctx, c)
}

func openServices(ctx context.Context, c *config) (*Services, error) {
	if err := os.MkdirAll(filepath.Dir(c.KeyFile), 0o700); err != nil {
		return nil, fmt.Errorf("gatehouse: data directory: %w", err)
	}
	st, err := openStorage(ctx, c)
	if err != nil {
		return nil, err
	}
	s, err := newServices(ctx, c, st)
	if err != nil {
		st.close()
		return nil, err
	}
	return s, nil
}

func newServices(ctx context.Context, c *config, st *storage) (*Services, error) {
	log, now := c.log, c.now
	store := st.db
	m := metrics.New()
	// Every store call is traced (when tracing is on) and timed, the
	// session manager's and the outbox's included.
	st.stores = observedstore.Wrap(st.stores, st.backends, storeCalls(m))
	sessions := session.NewManager(st.stores.Sessions, c.Session, now, log)
	// Several processes share the stores: each tells the others what it
	// changed, for as long as the services are open.
	listen, stopListening := context.WithCancel(context.Background())
	st.closers = append(st.closers, func() error { stopListening(); return nil })
	if st.inv != nil {
		sessions.UseInvalidator(listen, st.inv)
	}
	acfg := c.accountConfig()
	acfg.OnAudit = m.Audit
	acfg.OnLogin = m.Login
	if st.counter != nil {
		m.WatchSessions(now, st.counter.CountSessions)
	}
	m.WatchOutbox(now, store.PendingMail)
	var sender mail.Sender = mail.LogSender{Log: log}
	if c.SMTP != nil {
		smtp, err := mail.NewSMTP(*c.SMTP, now)
		if err != nil {
			return nil, fmt.Errorf("gatehouse: SMTP: %w", err)
		}
		sender = smtp
	}
	tpl := c.MailTemplates
	if tpl == nil {
		var err error
		if tpl, err = mail.LoadTemplates(""); err != nil {
			return nil, fmt.Errorf("gatehouse: mail templates: %w", err)
		}
	}
	outbox := mail.NewOutbox(st.stores.Outbox, sender, tpl, mail.OutboxConfig{OnDelivery: m.MailDelivery}, now, log)
	key, err := otp.LoadOrCreateKeyFile(c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("gatehouse: two-factor key: %w", err)
	}
	sealer, err := otp.NewSealer(key)
	if err != nil {
		return nil, fmt.Errorf("gatehouse: two-factor key %s: %w", c.KeyFile, err)
	}
	// The known-device cookies are signed with a key derived from the same
	// secret, so they outlive restarts and are valid on every process.
	acfg.KnownDeviceSecret = key
	hasher := password.NewHasher(password.DefaultParams, 0, 0)
	hasher.ObserveWait(m.HashWait)
	accounts := account.New(st.stores, hasher, sessions, acfg, now, log, outbox)
	if st.inv != nil {
		accounts.UseInvalidator(listen, st.inv)
	}
	var texts sms.Sender = sms.LogSender{Log: log}
	if c.NoSMS {
		texts = nil
	}
	if c.SMSWebhook != nil {
		if texts, err = sms.NewWebhook(*c.SMSWebhook, now); err != nil {
			return nil, fmt.Errorf("gatehouse: SMS webhook: %w", err)
		}
	}
	tfc := account.DefaultTwoFactorConfig
	tfc.Issuer = c.TwoFactorIssuer
	accounts.UseTwoFactor(account.TwoFactorDeps{Sealer: sealer, SMS: texts, Config: tfc})
	if err := accounts.EnsureGroups(ctx, c.Groups); err != nil {
		return nil, fmt.Errorf("gatehouse: creating groups: %w", err)
	}
	return &Services{Store: store, Stores: st.stores, Sessions: sessions, Accounts: accounts, Outbox: outbox, Metrics: m, storage: st, key: key}, nil
}

// storeCalls counts the store calls in m, under the store label the
// metrics use: "sessions" for Redis (which holds the short-lived state),
// "database" for SQLite and PostgreSQL.
func storeCalls(m *metrics.Metrics) observedstore.Observe {
	return func(backend, op string, took time.Duration, err error) {
		store := "database"
		if backend == "redis" {
			store = "sessions"
		}
		m.StoreCall(store, op, took, err)
	}
}

// Close closes the stores.
func (s *Services) Close() error { return s.storage.close() }

// Gatehouse is gatehouse running inside a program: an http.Handler for
// everything under the base path, middleware for the program's own
// handlers, and the account service. Its background work (the sweeper of
// expired records, the mail outbox) runs until Close.
type Gatehouse struct {
	services *Services
	api      *httpapi.Server
	setupURL string

	stop      context.CancelFunc
	done      chan struct{} // closed when the background work has returned
	closeOnce sync.Once
	closeErr  error
}

// Open runs gatehouse as `gatehouse serve` does, with the same defaults:
// the SQLite database in cfg.DataDir (see OpenServices), the HTTP
// handlers, and in the background the sweeper and the mail outbox. With
// no SMTP server configured, mail is written to the log, with a warning.
// When there are no users yet, it logs the one-time setup link that
// creates the first administrator (see SetupURL).
//
// ctx bounds the opening only; the background work runs until Close,
// which the caller must call.
func Open(ctx context.Context, cfg Config) (*Gatehouse, error) {
	c, err := cfg.check()
	if err != nil {
		return nil, err
	}
	// Loaded now rather than by the first request that needs it (it takes
	// a few tens of milliseconds).
	password.BlocklistSize()
	s, err := openServices(ctx, c)
	if err != nil {
		return nil, err
	}
	external, flows, err := c.externalLogins(s.key)
	if err != nil {
		s.Close()
		return nil, err
	}
	api, err := httpapi.New(c.httpConfig(), httpapi.Deps{
		Accounts:   s.Accounts,
		Sessions:   s.Sessions,
		Metrics:    s.Metrics,
		Log:        c.log,
		Now:        c.now,
		Ready:      s.storage.ready,
		External:   external,
		FlowSealer: flows,
		Pages:      web.Constructor(s.Accounts),
	})
	if err != nil {
		s.Close()
		return nil, &ConfigError{Err: fmt.Errorf("gatehouse: %w", err)}
	}
	token, err := s.Accounts.StartSetup(ctx)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("gatehouse: %w", err)
	}
	if c.SMTP == nil {
		c.log.Warn("no SMTP server is configured: mail, with its one-time links and codes, is written to the log; for development only")
	}
	if c.SMSWebhook == nil && !c.NoSMS {
		c.log.Warn("no SMS webhook is configured: SMS codes are written to the log; for development only")
	}
	g := &Gatehouse{services: s, api: api, done: make(chan struct{})}
	if token != "" {
		g.setupURL = c.linkBase() + "/ui/setup?token=" + token
		c.log.Info("no users yet: open the setup link to create the first administrator (it works once)", "url", g.setupURL)
	}
	bg, stop := context.WithCancel(context.Background())
	g.stop = stop
	var wg sync.WaitGroup
	wg.Go(func() { s.Accounts.RunSweeper(bg, SweepInterval) })
	wg.Go(func() { s.Outbox.Run(bg) })
	go func() {
		wg.Wait()
		close(g.done)
	}()
	return g, nil
}

// ServeHTTP serves gatehouse's endpoints (mount it at BasePath()+"/") and,
// in gateway mode, forward auth and the reverse proxy.
func (g *Gatehouse) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.api.ServeHTTP(w, r)
}

// BasePath is the path everything gatehouse serves is under, such as /auth.
func (g *Gatehouse) BasePath() string { return g.api.BasePath() }

// Protect guards h: the caller must be authenticated (session cookie,
// API token, or Basic when enabled), and unsafe requests with the session
// cookie must carry its CSRF token; with a route table, the table decides
// instead (401, 403).
func (g *Gatehouse) Protect(h http.Handler) http.Handler { return g.api.Protect(h) }

// Require returns middleware that lets through only callers holding one
// of perms, after the checks of Protect: 401 without credentials, 403
// without the permission.
func (g *Gatehouse) Require(perms ...string) func(http.Handler) http.Handler {
	return g.api.Require(perms...)
}

// Authenticate puts the user of a valid session or token in the request
// context (see gatehouse.UserFrom) and lets every request through.
func (g *Gatehouse) Authenticate(h http.Handler) http.Handler { return g.api.Authenticate(h) }

// CSRF refuses cross-origin unsafe requests and unsafe requests with the
// session cookie but without its CSRF token. Place it after Authenticate.
func (g *Gatehouse) CSRF(h http.Handler) http.Handler { return g.api.CSRF(h) }

// RequireUser answers 401 unless an earlier Authenticate found a user.
func (g *Gatehouse) RequireUser(h http.Handler) http.Handler { return g.api.RequireUser(h) }

// CORS gives h the CORS answers of Config.CORS, as gatehouse's own
// endpoints have them: put it outside Protect, gh.CORS(gh.Protect(h)), so
// that preflights never need a session. Without CORS origins it returns h.
func (g *Gatehouse) CORS(h http.Handler) http.Handler { return g.api.CORS(h) }

// Accounts is the account service, for a program that creates users,
// groups or links itself.
func (g *Gatehouse) Accounts() *account.Service { return g.services.Accounts }

// Metrics are the metrics served at BASE/metrics; a program may add its
// own to their Registry.
func (g *Gatehouse) Metrics() *metrics.Metrics { return g.services.Metrics }

// SetupURL is the one-time link that creates the first administrator,
// when Open found no users; else "". It stops working once used, or as
// soon as any user exists.
func (g *Gatehouse) SetupURL() string { return g.setupURL }

// Close stops the background work, waits for it and for the work
// requests started (such as audit writes), and closes the store. Stop
// serving requests first (http.Server.Shutdown). Calling it again returns
// the first call's result.
func (g *Gatehouse) Close() error {
	g.closeOnce.Do(func() {
		g.stop()
		<-g.done
		g.services.Accounts.WaitBackground()
		g.closeErr = g.services.Close()
	})
	return g.closeErr
}
