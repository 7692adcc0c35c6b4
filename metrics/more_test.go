package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/metrics"
	"github.com/gatehouse/gatehouse/metrics/metricstest"
)

// TestLogins: logins count by method and outcome; the common series show
// at 0 before any login, and nothing outside the fixed sets is counted.
func TestLogins(t *testing.T) {
	m := metrics.New()
	fams := metricstest.Scrape(t, m.Handler(), "/metrics")
	metricstest.Check(t, fams, []metricstest.Series{
		{Name: "gatehouse_logins_total", Labels: map[string]string{"method": "password", "outcome": "success"}, Want: 0},
		{Name: "gatehouse_logins_total", Labels: map[string]string{"method": "password", "outcome": "invalid_credentials"}, Want: 0},
		{Name: "gatehouse_logins_total", Labels: map[string]string{"method": "password", "outcome": "locked"}, Want: 0},
		{Name: "gatehouse_logins_total", Labels: map[string]string{"method": "token", "outcome": "success"}, Want: 0},
		{Name: "gatehouse_logins_total", Labels: map[string]string{"method": "password", "outcome": "disabled"}, Want: -1},
		{Name: "gatehouse_lockouts_total", Want: 0},
	})

	m.Login(gatehouse.LoginPassword, gatehouse.LoginSucceeded)
	m.Login(gatehouse.LoginPassword, gatehouse.LoginInvalidCredentials)
	m.Login(gatehouse.LoginPassword, gatehouse.LoginInvalidCredentials)
	m.Login(gatehouse.LoginPassword, gatehouse.LoginDisabled) // rare: its series appears now
	m.Login(gatehouse.LoginBasic, gatehouse.LoginLocked)
	m.Login("carrier pigeon", gatehouse.LoginSucceeded)
	m.Login(gatehouse.LoginPassword, "made up")
	m.Audit(gatehouse.AuditLockout)
	m.Audit(gatehouse.AuditLoginFailed)
	fams = metricstest.Scrape(t, m.Handler(), "/metrics")
	metricstest.Check(t, fams, []metricstest.Series{
		{Name: "gatehouse_logins_total", Labels: map[string]string{"method": "password", "outcome": "success"}, Want: 1},
		{Name: "gatehouse_logins_total", Labels: map[string]string{"method": "password", "outcome": "invalid_credentials"}, Want: 2},
		{Name: "gatehouse_logins_total", Labels: map[string]string{"method": "password", "outcome": "disabled"}, Want: 1},
		{Name: "gatehouse_logins_total", Labels: map[string]string{"method": "basic", "outcome": "locked"}, Want: 1},
		{Name: "gatehouse_logins_total", Labels: map[string]string{"method": "carrier pigeon"}, Want: -1},
		{Name: "gatehouse_logins_total", Labels: map[string]string{"outcome": "made up"}, Want: -1},
		{Name: "gatehouse_lockouts_total", Want: 1},
		{Name: "gatehouse_audit_events_total", Labels: map[string]string{"kind": "login.locked"}, Want: 1},
	})
}

// TestStoreCall: every call is timed; only the store's own failures
// count as errors, not its answers (not found, conflict).
func TestStoreCall(t *testing.T) {
	m := metrics.New()
	m.StoreCall("database", "UserByLogin", 300*time.Microsecond, nil)
	m.StoreCall("database", "UserByLogin", time.Millisecond, gatehouse.ErrNotFound)
	m.StoreCall("database", "UserByLogin", 2*time.Second, fmt.Errorf("find user: %w", errors.New("connection reset")))
	m.StoreCall("sessions", "SessionByTokenHash", time.Millisecond, &gatehouse.Error{Code: gatehouse.CodeStoreUnavailable})
	m.StoreCall("database", "CreateUser", time.Millisecond, &gatehouse.Error{Code: gatehouse.CodeConflict})

	fams := metricstest.Scrape(t, m.Handler(), "/metrics")
	metricstest.Check(t, fams, []metricstest.Series{
		{Name: "gatehouse_store_duration_seconds", Labels: map[string]string{"store": "database", "op": "UserByLogin"}, Want: 3},
		{Name: "gatehouse_store_duration_seconds", Labels: map[string]string{"store": "sessions", "op": "SessionByTokenHash"}, Want: 1},
		{Name: "gatehouse_store_errors_total", Labels: map[string]string{"store": "database", "op": "UserByLogin"}, Want: 1},
		{Name: "gatehouse_store_errors_total", Labels: map[string]string{"store": "sessions", "op": "SessionByTokenHash"}, Want: 1},
		{Name: "gatehouse_store_errors_total", Labels: map[string]string{"store": "database", "op": "CreateUser"}, Want: 0},
	})
	// The buckets reach from 100µs to 2.5s: the 2s call is in the last
	// finite one, the 300µs call in none below 250µs.
	h := fams["gatehouse_store_duration_seconds"]
	for _, s := range h.GetMetric() {
		if s.GetLabel()[0].GetValue() != "UserByLogin" {
			continue
		}
		b := s.GetHistogram().GetBucket()
		if math.IsInf(b[len(b)-1].GetUpperBound(), 1) {
			b = b[:len(b)-1]
		}
		if first, last := b[0], b[len(b)-1]; first.GetUpperBound() != 0.0001 || last.GetUpperBound() != 2.5 || first.GetCumulativeCount() != 0 || last.GetCumulativeCount() != 3 {
			t.Errorf("buckets: first %v (%d), last %v (%d); want 0.0001 (0), 2.5 (3)",
				first.GetUpperBound(), first.GetCumulativeCount(), last.GetUpperBound(), last.GetCumulativeCount())
		}
	}
}

// TestMailAndHashing: deliveries, failures by whether they are given up,
// and the hashing queue's waits and refusals.
func TestMailAndHashing(t *testing.T) {
	m := metrics.New()
	m.MailDelivery(true, false)
	m.MailDelivery(true, false)
	m.MailDelivery(false, false)
	m.MailDelivery(false, true)
	m.HashWait(0, false)
	m.HashWait(30*time.Millisecond, false)
	m.HashWait(2*time.Second, true)
	fams := metricstest.Scrape(t, m.Handler(), "/metrics")
	metricstest.Check(t, fams, []metricstest.Series{
		{Name: "gatehouse_mail_sent_total", Want: 2},
		{Name: "gatehouse_mail_failures_total", Labels: map[string]string{"permanent": "false"}, Want: 1},
		{Name: "gatehouse_mail_failures_total", Labels: map[string]string{"permanent": "true"}, Want: 1},
		{Name: "gatehouse_password_hash_queue_wait_seconds", Want: 3},
		{Name: "gatehouse_password_hash_busy_total", Want: 1},
	})
	if got := fams["gatehouse_password_hash_queue_wait_seconds"].GetMetric()[0].GetHistogram().GetSampleSum(); got < 2.03 || got > 2.031 {
		t.Errorf("hash wait sum = %v, want 2.03", got)
	}
}

// TestWatchedGauges: the gauges read from a store show its count, read
// once for many scrapes; a count that fails leaves the gauge out rather
// than show a wrong value.
func TestWatchedGauges(t *testing.T) {
	m := metrics.New()
	var reads atomic.Int32
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	m.WatchSessions(func() time.Time { return at }, func(ctx context.Context, now time.Time) (int, error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("the count has no deadline")
		}
		if !now.Equal(at) {
			t.Errorf("counted at %v, want the clock's %v", now, at)
		}
		reads.Add(1)
		return 7, nil
	})
	m.WatchOutbox(nil, func(ctx context.Context) (int, error) { return 0, errors.New("database down") })
	for range 3 {
		fams := metricstest.Scrape(t, m.Handler(), "/metrics")
		metricstest.Check(t, fams, []metricstest.Series{
			{Name: "gatehouse_sessions_active", Want: 7},
			{Name: "gatehouse_mail_outbox_pending", Want: -1},
			// The failing gauge hides nothing else.
			{Name: "gatehouse_lockouts_total", Want: 0},
		})
	}
	if n := reads.Load(); n != 1 {
		t.Errorf("3 scrapes counted the sessions %d times, want once (cached)", n)
	}
}

// TestNilMetrics: a nil set records nothing, and does not panic.
func TestNilMetrics(t *testing.T) {
	var none *metrics.Metrics
	none.Login(gatehouse.LoginPassword, gatehouse.LoginSucceeded)
	none.StoreCall("database", "Ping", time.Millisecond, errors.New("down"))
	none.MailDelivery(false, true)
	none.HashWait(time.Second, true)
	none.WatchSessions(nil, func(context.Context, time.Time) (int, error) { return 1, nil })
	none.WatchOutbox(nil, func(context.Context) (int, error) { return 1, nil })
}
