package account_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/otp"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sqlite"
)

func openSQLite(t *testing.T, name string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestThrottlesLiveInTheirOwnStore: with Stores.Throttles apart from the
// rest, failed logins are counted there, and only there, and still lock
// the account out.
func TestThrottlesLiveInTheirOwnStore(t *testing.T) {
	ctx := context.Background()
	db, counters := openSQLite(t, "db"), openSQLite(t, "counters")
	stores := account.StoresOf(db)
	stores.Throttles = counters
	clk := &clock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	sm := session.NewManager(db, session.DefaultConfig, clk.Now, nil)
	svc := account.New(stores, password.NewHasher(cheap, 0, 0), sm, account.DefaultConfig, clk.Now, nil, nil)
	const pw = "a long enough password"
	if _, err := svc.CreateUser(ctx, account.NewUser{Username: "alice", Email: "alice@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}
	client := account.Client{Addr: "192.0.2.7"}
	for i := range account.DefaultConfig.UserThrottle.MaxFailures {
		if _, err := svc.Login(ctx, account.LoginRequest{Username: "alice", Password: "wrong password " + fmt.Sprint(i), Client: client}); code(err) != gatehouse.CodeInvalidCredentials {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	if _, err := svc.Login(ctx, account.LoginRequest{Username: "alice", Password: pw, Client: client}); code(err) != gatehouse.CodeTooManyAttempts {
		t.Fatalf("right password after %d failures: %v, want %s", account.DefaultConfig.UserThrottle.MaxFailures, err, gatehouse.CodeTooManyAttempts)
	}
	// A day later every counter is stale: deleting them says where they were.
	later := clk.Now().Add(24 * time.Hour)
	window := account.DefaultConfig.UserThrottle.Window
	if n, err := db.DeleteStaleThrottles(ctx, later, window); err != nil || n != 0 {
		t.Errorf("counters in the main database: %d, %v; want none", n, err)
	}
	if n, err := counters.DeleteStaleThrottles(ctx, later, window); err != nil || n == 0 {
		t.Errorf("counters in Stores.Throttles: %d, %v; want some", n, err)
	}
}

// TestNewNamesAMissingStore: wiring without a required store fails at
// once, naming the field, rather than at the first request that needs it.
func TestNewNamesAMissingStore(t *testing.T) {
	stores := account.StoresOf(openSQLite(t, "db"))
	stores.Devices = nil
	stores.Logins = nil // optional: not what is reported
	defer func() {
		msg := fmt.Sprint(recover())
		if !strings.Contains(msg, "Stores.Devices") {
			t.Errorf("panic %q does not name Stores.Devices", msg)
		}
	}()
	account.New(stores, password.NewHasher(cheap, 0, 0), nil, account.DefaultConfig, time.Now, nil, nil)
	t.Error("New accepted Stores without Devices")
}

// memPendingLogins is a gatehouse.PendingLoginStore in memory, apart from
// the database, as a Redis one will be.
type memPendingLogins struct {
	mu     sync.Mutex
	logins map[string]gatehouse.PendingLogin
}

func (m *memPendingLogins) CreatePendingLogin(_ context.Context, p *gatehouse.PendingLogin) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.logins[p.ID] = *p
	return nil
}

func (m *memPendingLogins) PendingLoginByTokenHash(_ context.Context, hash []byte) (*gatehouse.PendingLogin, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.logins {
		if bytes.Equal(p.TokenHash, hash) {
			return &p, nil
		}
	}
	return nil, gatehouse.ErrNotFound
}

func (m *memPendingLogins) RecordCodeSent(_ context.Context, p *gatehouse.PendingLogin) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.logins[p.ID]
	if !ok || old.Sends != p.Sends-1 {
		return gatehouse.ErrNotFound
	}
	old.CodeHash, old.CodeProvider, old.CodeExpiresAt, old.Sends = p.CodeHash, p.CodeProvider, p.CodeExpiresAt, p.Sends
	m.logins[p.ID] = old
	return nil
}

func (m *memPendingLogins) CountPendingLoginAttempt(_ context.Context, id string, limit int) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.logins[id]
	if !ok || p.Attempts >= limit {
		return 0, gatehouse.ErrNotFound
	}
	p.Attempts++
	m.logins[id] = p
	return p.Attempts, nil
}

func (m *memPendingLogins) TakePendingLogin(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.logins[id]; !ok {
		return gatehouse.ErrNotFound
	}
	delete(m.logins, id)
	return nil
}

func (m *memPendingLogins) DeleteExpiredPendingLogins(_ context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, p := range m.logins {
		if !p.ExpiresAt.After(now) {
			delete(m.logins, id)
			n++
		}
	}
	return n, nil
}

func (m *memPendingLogins) DeleteUserPendingLogins(_ context.Context, userID string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, p := range m.logins {
		if p.UserID == userID {
			delete(m.logins, id)
			n++
		}
	}
	return n, nil
}

func (m *memPendingLogins) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.logins)
}

// TestPendingLoginsLiveInTheirOwnStore: with Stores.PendingLogins apart
// from the database, the login between the password and the second factor
// is kept there, and only there, and the second step finds it and ends it.
func TestPendingLoginsLiveInTheirOwnStore(t *testing.T) {
	ctx := context.Background()
	db := openSQLite(t, "db")
	pending := &memPendingLogins{logins: map[string]gatehouse.PendingLogin{}}
	stores := account.StoresOf(db)
	stores.PendingLogins = pending
	clk := &clock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	sm := session.NewManager(db, session.DefaultConfig, clk.Now, nil)
	svc := account.New(stores, password.NewHasher(cheap, 0, 0), sm, account.DefaultConfig, clk.Now, nil, nil)
	sealer, err := otp.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc.UseTwoFactor(account.TwoFactorDeps{Sealer: sealer})
	_, codes := enrolTOTP(t, svc, clk, "tara")
	const pw = casPassword

	res, err := svc.Login(ctx, account.LoginRequest{Username: "tara", Password: pw})
	if err != nil || res.PendingToken == "" || res.Session != nil {
		t.Fatalf("password step: %+v, %v; want a pending login", res, err)
	}
	if n := pending.count(); n != 1 {
		t.Errorf("%d pending logins in Stores.PendingLogins, want 1", n)
	}
	if _, err := db.PendingLoginByTokenHash(ctx, session.HashToken(res.PendingToken)); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("pending login in the database: %v, want ErrNotFound", err)
	}

	res, err = svc.VerifyCode(ctx, account.VerifyRequest{Token: res.PendingToken, Provider: gatehouse.ProviderRecoveryCode, Code: codes[0]})
	if err != nil || res.Session == nil {
		t.Fatalf("second step: %+v, %v; want a session", res, err)
	}
	if n := pending.count(); n != 0 {
		t.Errorf("%d pending logins left after the second step, want 0", n)
	}
}
