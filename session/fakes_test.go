package session

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/sqlite"
)

// epoch is the fake clock's start. It has no sub-microsecond part, so that
// the SQLite store (which keeps microseconds) sees exactly the same times.
var epoch = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: epoch} }

// Now is the clock function handed to NewManager.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeStore is an in-memory gatehouse.SessionStore that counts the calls
// the manager makes, so tests can assert the store traffic.
type fakeStore struct {
	mu       sync.Mutex
	sessions map[string]*gatehouse.Session // by id

	creates, gets, touches, deletes, userDeletes, sweeps int

	// afterGet, when set, runs after SessionByTokenHash has read a session
	// and before it returns it; beforeTouch runs before TouchSession
	// writes. Both run without the store's lock, so they may call the
	// manager: they stand for another goroutine interleaving there.
	afterGet    func(*gatehouse.Session)
	beforeTouch func(id string)
	// getErr, when set, is what SessionByTokenHash fails with.
	getErr error
}

var _ gatehouse.SessionStore = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{sessions: make(map[string]*gatehouse.Session)}
}

func clone(s *gatehouse.Session) *gatehouse.Session {
	c := *s
	c.TokenHash = bytes.Clone(s.TokenHash)
	return &c
}

func (f *fakeStore) CreateSession(_ context.Context, s *gatehouse.Session) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates++
	if _, ok := f.sessions[s.ID]; ok {
		return gatehouse.Errorf(gatehouse.CodeConflict, "The session already exists.")
	}
	f.sessions[s.ID] = clone(s)
	return nil
}

func (f *fakeStore) SessionByTokenHash(ctx context.Context, hash []byte) (*gatehouse.Session, error) {
	f.mu.Lock()
	f.gets++
	var found *gatehouse.Session
	for _, s := range f.sessions {
		if bytes.Equal(s.TokenHash, hash) {
			found = clone(s)
			break
		}
	}
	hook, getErr := f.afterGet, f.getErr
	f.mu.Unlock()
	if getErr != nil {
		return nil, getErr
	}
	if found == nil {
		return nil, gatehouse.ErrNotFound
	}
	if hook != nil {
		hook(found)
	}
	// A real store's read fails when its context ends meanwhile.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return found, nil
}

func (f *fakeStore) RekeySession(_ context.Context, oldID string, oldHash []byte, s *gatehouse.Session) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, ok := f.sessions[oldID]
	if !ok || !bytes.Equal(cur.TokenHash, oldHash) {
		return gatehouse.ErrNotFound
	}
	if _, taken := f.sessions[s.ID]; taken {
		return gatehouse.Errorf(gatehouse.CodeConflict, "The session id is taken.")
	}
	next := clone(cur)
	next.ID, next.TokenHash = s.ID, bytes.Clone(s.TokenHash)
	next.AuthenticatedAt, next.TwoFactor, next.LastSeenAt = s.AuthenticatedAt, s.TwoFactor, s.LastSeenAt
	delete(f.sessions, oldID)
	f.sessions[s.ID] = next
	return nil
}

func (f *fakeStore) TouchSession(_ context.Context, id string, at time.Time) error {
	f.mu.Lock()
	f.touches++
	hook := f.beforeTouch
	f.mu.Unlock()
	if hook != nil {
		hook(id)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.sessions[id]; ok {
		s.LastSeenAt = at
	}
	return nil
}

func (f *fakeStore) DeleteSession(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes++
	delete(f.sessions, id)
	return nil
}

func (f *fakeStore) DeleteUserSessions(_ context.Context, userID, except string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.userDeletes++
	n := 0
	for id, s := range f.sessions {
		if s.UserID == userID && id != except {
			delete(f.sessions, id)
			n++
		}
	}
	return n, nil
}

func (f *fakeStore) UserSessions(_ context.Context, userID string) ([]*gatehouse.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*gatehouse.Session
	for _, s := range f.sessions {
		if s.UserID == userID {
			out = append(out, clone(s))
		}
	}
	slices.SortFunc(out, func(a, b *gatehouse.Session) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

func (f *fakeStore) Sessions(_ context.Context, after string, limit int) ([]*gatehouse.Session, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*gatehouse.Session
	for _, s := range f.sessions {
		out = append(out, clone(s))
	}
	// Newest first, then by id; the cursor is the id of the last session
	// shown (ids are unique), found in that order.
	slices.SortFunc(out, func(a, b *gatehouse.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	if after != "" {
		i := slices.IndexFunc(out, func(s *gatehouse.Session) bool { return s.ID == after })
		if i < 0 {
			return nil, "", &gatehouse.Error{Code: gatehouse.CodeValidation, Fields: map[string]string{"cursor": "unknown"}}
		}
		out = out[i+1:]
	}
	if limit > 0 && len(out) > limit {
		return out[:limit], out[limit-1].ID, nil
	}
	return out, "", nil
}

func (f *fakeStore) SessionByID(_ context.Context, id string) (*gatehouse.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.sessions[id]; ok {
		return clone(s), nil
	}
	return nil, gatehouse.ErrNotFound
}

func (f *fakeStore) DeleteExpiredSessions(_ context.Context, now time.Time) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sweeps++
	n := 0
	for id, s := range f.sessions {
		if s.Expired(now) {
			delete(f.sessions, id)
			n++
		}
	}
	return n, nil
}

// removeDirectly deletes a session behind the manager's back, as another
// gatehouse process sharing the database would.
func (f *fakeStore) removeDirectly(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sessions, id)
}

// counts is a snapshot of the store traffic.
type counts struct {
	Creates, Gets, Touches, Deletes, UserDeletes, Sweeps int
}

func (f *fakeStore) counts() counts {
	f.mu.Lock()
	defer f.mu.Unlock()
	return counts{f.creates, f.gets, f.touches, f.deletes, f.userDeletes, f.sweeps}
}

func (f *fakeStore) stored(id string) *gatehouse.Session {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.sessions[id]; ok {
		return clone(s)
	}
	return nil
}

// env is a Manager under test with its clock and store, and a way to make
// users (the SQLite store needs them for its foreign key).
type env struct {
	m       *Manager
	store   gatehouse.SessionStore
	clock   *fakeClock
	newUser func(t testing.TB) string
}

// backends are the stores the shared scenarios run against.
var backends = []struct {
	name string
	new  func(t testing.TB, cfg Config) env
}{
	{"fake", newFakeEnv},
	{"sqlite", newSQLiteEnv},
}

func newFakeEnv(t testing.TB, cfg Config) env {
	clock := newFakeClock()
	store := newFakeStore()
	n := 0
	return env{
		m:     NewManager(store, cfg, clock.Now, nil),
		store: store,
		clock: clock,
		newUser: func(testing.TB) string {
			n++
			return "user-" + string(rune('a'+n-1))
		},
	}
}

func newSQLiteEnv(t testing.TB, cfg Config) env {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	clock := newFakeClock()
	n := 0
	return env{
		m:     NewManager(store, cfg, clock.Now, nil),
		store: store,
		clock: clock,
		newUser: func(t testing.TB) string {
			t.Helper()
			n++
			u := &gatehouse.User{
				ID:        gatehouse.NewID(),
				Username:  "user" + string(rune('a'+n-1)),
				Email:     "user" + string(rune('a'+n-1)) + "@example.com",
				State:     gatehouse.StateActive,
				CreatedAt: epoch,
				UpdatedAt: epoch,
			}
			if err := store.CreateUser(t.Context(), u); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			return u.ID
		},
	}
}

// create starts a session or fails t.
func (e env) create(t testing.TB, userID string, o CreateOptions) (string, *gatehouse.Session) {
	t.Helper()
	tok, s, err := e.m.Create(t.Context(), userID, o)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return tok, s
}

// wantLive fails t unless err is nil.
func wantLive(t testing.TB, what string, s *gatehouse.Session, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v, want a live session", what, err)
	}
	if s == nil {
		t.Fatalf("%s: nil session and nil error", what)
	}
}

// wantEnded fails t unless err is a CodeUnauthenticated *gatehouse.Error.
func wantEnded(t testing.TB, what string, s *gatehouse.Session, err error) {
	t.Helper()
	var ge *gatehouse.Error
	if !errors.As(err, &ge) || ge.Code != gatehouse.CodeUnauthenticated {
		t.Fatalf("%s: session %v, err %v; want a *gatehouse.Error with code %q", what, s, err, gatehouse.CodeUnauthenticated)
	}
	if s != nil {
		t.Fatalf("%s: returned a session along with the error", what)
	}
}
