package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sqlite"
)

// app is gatehouse wired together from validated settings.
type app struct {
	settings *settings
	store    *sqlite.Store
	sessions *session.Manager
	accounts *account.Service
}

// openApp opens the store (creating the data directory and applying
// migrations) and builds the services over it.
func openApp(ctx context.Context, s *settings, log *slog.Logger) (*app, error) {
	if err := os.MkdirAll(filepath.Dir(s.dbPath), 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
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
	hasher := password.NewHasher(password.DefaultParams, 0, 0)
	accounts := account.New(store, hasher, sessions, cfg, time.Now, log)
	if err := accounts.EnsureGroups(ctx, s.cfg.Groups); err != nil {
		store.Close()
		return nil, fmt.Errorf("seeding groups: %w", err)
	}
	return &app{settings: s, store: store, sessions: sessions, accounts: accounts}, nil
}

func (a *app) Close() error { return a.store.Close() }
