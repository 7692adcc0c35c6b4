package account

import (
	"context"
	"time"
)

// Sweep deletes ended sessions, and throttle counters, used or expired
// links and delivered mail that no longer matter.
func (s *Service) Sweep(ctx context.Context) error {
	if n, err := s.sessions.Sweep(ctx); err != nil {
		return err
	} else if n > 0 {
		s.log.DebugContext(ctx, "swept expired sessions", "count", n)
	}
	now := s.now().UTC()
	window := max(s.cfg.UserThrottle.Window, s.cfg.AddrThrottle.Window, s.cfg.ForgotThrottle.Window, s.cfg.GuestThrottle.Window)
	if _, err := s.stores.Throttles.DeleteStaleThrottles(ctx, now, window); err != nil {
		return err
	}
	if _, err := s.stores.ActionTokens.DeleteStaleActionTokens(ctx, now); err != nil {
		return err
	}
	if _, err := s.stores.Devices.DeleteExpiredDevices(ctx, now); err != nil {
		return err
	}
	if _, err := s.stores.PendingLogins.DeleteExpiredPendingLogins(ctx, now); err != nil {
		return err
	}
	// Sent mail is kept a week for the operator to see, then forgotten:
	// it holds addresses.
	if _, err := s.stores.Outbox.DeleteOldMail(ctx, now.Add(-7*24*time.Hour)); err != nil {
		return err
	}
	return nil
}

// RunSweeper calls Sweep every interval until ctx ends. Errors are logged:
// a failed sweep only delays the removal of records that are already
// refused.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Sweep(ctx); err != nil {
				s.log.ErrorContext(ctx, "sweeping expired records", "err", err)
			}
		}
	}
}
