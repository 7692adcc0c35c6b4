package account_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/otp"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
)

// memSessions is a gatehouse.SessionStore in memory, apart from the
// database, as a Redis one will be: it knows no users, so deleting a user
// from the database does not reach it.
type memSessions struct {
	mu       sync.Mutex
	sessions map[string]gatehouse.Session
}

func (m *memSessions) CreateSession(_ context.Context, s *gatehouse.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[s.ID] = *s
	return nil
}

func (m *memSessions) SessionByTokenHash(_ context.Context, hash []byte) (*gatehouse.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.sessions {
		if bytes.Equal(s.TokenHash, hash) {
			return &s, nil
		}
	}
	return nil, gatehouse.ErrNotFound
}

func (m *memSessions) TouchSession(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sessions[id]; ok {
		s.LastSeenAt = at
		m.sessions[id] = s
	}
	return nil
}

func (m *memSessions) DeleteSession(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, id)
	return nil
}

func (m *memSessions) DeleteUserSessions(_ context.Context, userID, except string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, s := range m.sessions {
		if userID != "" && s.UserID == userID && id != except {
			delete(m.sessions, id)
			n++
		}
	}
	return n, nil
}

// sorted returns the sessions that match, newest first.
func (m *memSessions) sorted(match func(*gatehouse.Session) bool) []*gatehouse.Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	var list []*gatehouse.Session
	for _, s := range m.sessions {
		if match(&s) {
			list = append(list, &s)
		}
	}
	slices.SortFunc(list, func(a, b *gatehouse.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare([]byte(b.ID), []byte(a.ID))
	})
	return list
}

func (m *memSessions) UserSessions(_ context.Context, userID string) ([]*gatehouse.Session, error) {
	return m.sorted(func(s *gatehouse.Session) bool { return userID != "" && s.UserID == userID }), nil
}

// Sessions pages with the id of the last session shown as the cursor,
// which, unlike the contract asks, does not survive that session's
// deletion: enough for these tests, which do not page.
func (m *memSessions) Sessions(_ context.Context, after string, limit int) ([]*gatehouse.Session, string, error) {
	all := m.sorted(func(*gatehouse.Session) bool { return true })
	if after != "" {
		i := slices.IndexFunc(all, func(s *gatehouse.Session) bool { return s.ID == after })
		if i < 0 {
			return nil, "", &gatehouse.Error{Code: gatehouse.CodeValidation, Fields: map[string]string{"cursor": "unknown"}}
		}
		all = all[i+1:]
	}
	if limit > 0 && len(all) > limit {
		return all[:limit], all[limit-1].ID, nil
	}
	return all, "", nil
}

func (m *memSessions) SessionByID(_ context.Context, id string) (*gatehouse.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sessions[id]; ok {
		return &s, nil
	}
	return nil, gatehouse.ErrNotFound
}

func (m *memSessions) DeleteExpiredSessions(_ context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, s := range m.sessions {
		if s.Expired(now) {
			delete(m.sessions, id)
			n++
		}
	}
	return n, nil
}

func (m *memSessions) RekeySession(_ context.Context, oldID string, oldHash []byte, s *gatehouse.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.sessions[oldID]
	if !ok || !bytes.Equal(old.TokenHash, oldHash) {
		return gatehouse.ErrNotFound
	}
	delete(m.sessions, oldID)
	old.ID, old.TokenHash = s.ID, s.TokenHash
	old.AuthenticatedAt, old.TwoFactor, old.LastSeenAt = s.AuthenticatedAt, s.TwoFactor, s.LastSeenAt
	m.sessions[old.ID] = old
	return nil
}

// ofUser returns how many sessions of userID the store holds, ended or not.
func (m *memSessions) ofUser(userID string) int {
	return len(m.sorted(func(s *gatehouse.Session) bool { return s.UserID == userID }))
}

// TestDeleteUserEndsShortLivedStateInOtherStores: with the sessions and
// the pending logins kept apart from the users (as in Redis, which cannot
// see PostgreSQL delete a user), deleting a user ends every session and
// pending login of theirs — including the session this process has cached
// — and leaves other users' alone.
func TestDeleteUserEndsShortLivedStateInOtherStores(t *testing.T) {
	ctx := context.Background()
	db := openSQLite(t, "db")
	sessions := &memSessions{sessions: map[string]gatehouse.Session{}}
	pending := &memPendingLogins{logins: map[string]gatehouse.PendingLogin{}}
	stores := account.StoresOf(db)
	stores.Sessions, stores.PendingLogins = sessions, pending
	stores.Logins = nil // it records the session in the database
	clk := &clock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	sm := session.NewManager(sessions, session.DefaultConfig, clk.Now, nil)
	svc := account.New(stores, password.NewHasher(cheap, 0, 0), sm, account.DefaultConfig, clk.Now, nil, nil)
	sealer, err := otp.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc.UseTwoFactor(account.TwoFactorDeps{Sealer: sealer})

	const pw = "a long enough password"
	tara, err := svc.CreateUser(ctx, account.NewUser{Username: "tara", Email: "tara@example.com", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, account.NewUser{Username: "uma", Email: "uma@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}
	// uma's session, which must survive tara's deletion.
	umas, err := svc.Login(ctx, account.LoginRequest{Username: "uma", Password: pw})
	if err != nil || umas.Session == nil {
		t.Fatalf("uma's login: %+v, %v", umas, err)
	}
	// tara logs in without a second factor, then turns TOTP on, so that
	// her next password step leaves a pending login.
	taras, err := svc.Login(ctx, account.LoginRequest{Username: "tara", Password: pw})
	if err != nil || taras.Session == nil {
		t.Fatalf("tara's login: %+v, %v", taras, err)
	}
	en, err := svc.BeginTOTP(ctx, tara)
	if err != nil {
		t.Fatal(err)
	}
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(en.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ConfirmTOTP(ctx, account.Actor{User: tara}, tara, otp.TOTP{Key: key}.At(clk.Now())); err != nil {
		t.Fatal(err)
	}
	step, err := svc.Login(ctx, account.LoginRequest{Username: "tara", Password: pw})
	if err != nil || step.PendingToken == "" {
		t.Fatalf("tara's password step: %+v, %v; want a pending login", step, err)
	}
	// The session is in this process's cache now.
	if _, err := sm.Load(ctx, taras.Token); err != nil {
		t.Fatalf("tara's session before the deletion: %v", err)
	}
	if n := sessions.ofUser(tara.ID); n == 0 {
		t.Fatal("tara has no session in Stores.Sessions")
	}
	if n := pending.count(); n != 1 {
		t.Fatalf("%d pending logins, want tara's", n)
	}

	if err := svc.DeleteUser(ctx, account.Actor{}, tara.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if n := sessions.ofUser(tara.ID); n != 0 {
		t.Errorf("%d sessions of the deleted user left in Stores.Sessions, want none", n)
	}
	if _, err := sm.Load(ctx, taras.Token); code(err) != gatehouse.CodeUnauthenticated {
		t.Errorf("deleted user's (cached) session: %v, want %s", err, gatehouse.CodeUnauthenticated)
	}
	if n := pending.count(); n != 0 {
		t.Errorf("%d pending logins of the deleted user left in Stores.PendingLogins, want none", n)
	}
	if _, err := svc.PendingProviders(ctx, step.PendingToken); err == nil {
		t.Error("the deleted user's pending login still answers")
	}
	if _, err := sm.Load(ctx, umas.Token); err != nil {
		t.Errorf("another user's session after the deletion: %v, want it live", err)
	}
}
