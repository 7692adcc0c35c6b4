package account_test

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/redis"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sqlite"
)

// hour is the cache lifetime of these tests: long enough that only an
// invalidation can make a process see a change made elsewhere.
const hour = time.Hour

// hourCache is the default account settings with hour-long caches.
func hourCache() account.Config {
	cfg := account.DefaultConfig
	cfg.UserCacheTTL = hour
	return cfg
}

// scriptedInvalidator is an in-memory gatehouse.Invalidator whose
// deliveries the test makes.
type scriptedInvalidator struct {
	mu        sync.Mutex
	deliver   func(gatehouse.Invalidation)
	published []gatehouse.Invalidation
	ready     chan struct{}
}

func (s *scriptedInvalidator) Publish(_ context.Context, inv gatehouse.Invalidation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.published = append(s.published, inv)
	return nil
}

func (s *scriptedInvalidator) Subscribe(ctx context.Context, deliver func(gatehouse.Invalidation)) error {
	s.mu.Lock()
	s.deliver = deliver
	s.mu.Unlock()
	close(s.ready)
	<-ctx.Done()
	return ctx.Err()
}

// send delivers inv as a message from another process would arrive.
func (s *scriptedInvalidator) send(t *testing.T, kind gatehouse.InvalidationKind, id string) {
	t.Helper()
	select {
	case <-s.ready:
	case <-time.After(5 * time.Second):
		t.Fatal("Subscribe was not called")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliver(gatehouse.Invalidation{Kind: kind, ID: id})
}

// setStateDirectly changes a user's state in the store behind every
// Service's back, as a process without an Invalidator would.
func setStateDirectly(t *testing.T, store gatehouse.UserStore, id string, state gatehouse.UserState) {
	t.Helper()
	u, err := store.UserByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	u.State = state
	if err := store.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
}

// TestServiceInvalidations: with hour-long caches, a user or group changed
// behind the Service's back stays as cached until an invalidation names
// it; a lost subscription empties the caches and stops caching until the
// subscription is back; the Service publishes its own changes.
func TestServiceInvalidations(t *testing.T) {
	svc, store, _ := newServiceWith(t, hourCache())
	ctx := t.Context()
	inv := &scriptedInvalidator{ready: make(chan struct{})}
	svc.UseInvalidator(ctx, inv)
	if svc.Listening() {
		t.Fatal("Listening before the subscription is ready")
	}
	inv.send(t, gatehouse.SubscriptionReady, "")
	if !svc.Listening() {
		t.Fatal("not Listening after SubscriptionReady")
	}
	if err := svc.CreateGroup(ctx, account.Actor{}, &gatehouse.Group{Name: "editors", Permissions: []string{"posts.read", "posts.write"}}); err != nil {
		t.Fatal(err)
	}
	u, err := svc.CreateUser(ctx, account.NewUser{Username: "ivy", Email: "ivy@example.com", Password: "a long enough password", Groups: []string{"editors"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Login(ctx, account.LoginRequest{Username: "ivy", Password: "a long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	accepted := func() bool {
		t.Helper()
		_, _, err := svc.Authenticate(ctx, res.Token)
		if err != nil && code(err) != gatehouse.CodeUnauthenticated {
			t.Fatal(err)
		}
		return err == nil
	}
	if !accepted() {
		t.Fatal("the new session is refused")
	}

	setStateDirectly(t, store, u.ID, gatehouse.StateDisabled)
	if !accepted() {
		t.Fatal("control: the user cache is not in use (a change nobody announced was seen at once)")
	}
	inv.send(t, gatehouse.InvalidateUser, u.ID)
	if accepted() {
		t.Error("a disabled user is accepted after InvalidateUser")
	}

	// Lost: the caches are flushed and bypassed.
	setStateDirectly(t, store, u.ID, gatehouse.StateActive)
	inv.send(t, gatehouse.InvalidateUser, u.ID)
	accepted()
	setStateDirectly(t, store, u.ID, gatehouse.StateDisabled)
	inv.send(t, gatehouse.SubscriptionLost, "")
	if svc.Listening() {
		t.Error("Listening after SubscriptionLost")
	}
	if accepted() {
		t.Error("a user disabled before the subscription was lost is accepted after")
	}
	setStateDirectly(t, store, u.ID, gatehouse.StateActive)
	if !accepted() {
		t.Error("while deaf, an enabled user is refused")
	}
	setStateDirectly(t, store, u.ID, gatehouse.StateDisabled)
	if accepted() {
		t.Error("while deaf, a disabled user is accepted: the cache is still in use")
	}
	// Ready: cached again (and flushed).
	setStateDirectly(t, store, u.ID, gatehouse.StateActive)
	inv.send(t, gatehouse.SubscriptionReady, "")
	if !accepted() {
		t.Error("after SubscriptionReady, an enabled user is refused")
	}
	setStateDirectly(t, store, u.ID, gatehouse.StateDisabled)
	if !accepted() {
		t.Error("after SubscriptionReady, the user cache is not in use")
	}
	setStateDirectly(t, store, u.ID, gatehouse.StateActive)
	inv.send(t, gatehouse.InvalidateAll, "")

	// Groups.
	user, _, err := svc.Authenticate(ctx, res.Token)
	if err != nil {
		t.Fatal(err)
	}
	perms := func() []string {
		t.Helper()
		p, err := svc.Permissions(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if !slices.Contains(perms(), "posts.write") {
		t.Fatal("the group's permission is missing")
	}
	if err := store.PutGroup(ctx, &gatehouse.Group{Name: "editors", Permissions: []string{"posts.read"}}); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(perms(), "posts.write") {
		t.Fatal("control: the groups cache is not in use")
	}
	inv.send(t, gatehouse.InvalidateGroups, "")
	if slices.Contains(perms(), "posts.write") {
		t.Error("a removed permission is granted after InvalidateGroups")
	}

	// What this Service changes, it publishes.
	inv.mu.Lock()
	inv.published = nil
	inv.mu.Unlock()
	if err := svc.UpdateGroup(ctx, account.Actor{}, &gatehouse.Group{Name: "editors", Permissions: []string{"posts.read", "posts.write"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DisableUser(ctx, account.Actor{}, u.ID); err != nil {
		t.Fatal(err)
	}
	inv.mu.Lock()
	published := inv.published
	inv.mu.Unlock()
	for _, want := range []gatehouse.Invalidation{
		{Kind: gatehouse.InvalidateGroups},
		{Kind: gatehouse.InvalidateUser, ID: u.ID},
		{Kind: gatehouse.InvalidateUserTokens, ID: u.ID},
	} {
		if !slices.Contains(published, want) {
			t.Errorf("published %v, missing %v", published, want)
		}
	}
}

// process is one gatehouse process of TestInvalidationAcrossProcesses: a
// session.Manager and an account.Service over its own handle on the
// shared SQLite file, with hour-long caches and its own Invalidator.
type process struct {
	svc   *account.Service
	store *sqlite.Store
	// drop ends this process's subscriptions from the server side.
	drop func(t *testing.T)
}

func newProcess(t *testing.T, path string, inv gatehouse.Invalidator, drop func(t *testing.T)) *process {
	t.Helper()
	store, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sm := session.NewManager(store, session.Config{CacheTTL: hour}, time.Now, nil)
	svc := account.New(account.StoresOf(store), password.NewHasher(cheap, 0, 0), sm, hourCache(), time.Now, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sm.UseInvalidator(ctx, inv)
	svc.UseInvalidator(ctx, inv)
	p := &process{svc: svc, store: store, drop: drop}
	p.waitListening(t)
	return p
}

// waitListening waits up to 5 s for both subscriptions of p to be ready.
func (p *process) waitListening(t *testing.T) {
	t.Helper()
	eventually(t, "the subscriptions are ready", func() bool { return p.svc.Listening() && p.svc.Sessions().Listening() })
}

// accepts reports whether p authenticates the session token.
func (p *process) accepts(t *testing.T, token string) bool {
	t.Helper()
	_, _, err := p.svc.Authenticate(t.Context(), token)
	if err != nil && code(err) != gatehouse.CodeUnauthenticated {
		t.Fatal(err)
	}
	return err == nil
}

// eventually polls cond for up to 5 s, and returns how long it took.
func eventually(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s: not within 5 s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
	return time.Since(start)
}

// invalidationBackends are the Invalidators with a server to test on:
// each returns a new Invalidator for one process and a function that ends
// that process's subscriptions from the server side.
func invalidationBackends(t *testing.T) map[string]func(t *testing.T, proc string) (gatehouse.Invalidator, func(t *testing.T)) {
	backends := map[string]func(t *testing.T, proc string) (gatehouse.Invalidator, func(t *testing.T)){}
	if u := os.Getenv("GATEHOUSE_TEST_POSTGRES"); u != "" {
		backends["postgres"] = postgresBackend(t, u)
	}
	if u := os.Getenv("GATEHOUSE_TEST_REDIS"); u != "" {
		backends["redis"] = redisBackend(t, u)
	}
	if len(backends) == 0 {
		t.Skip("neither GATEHOUSE_TEST_POSTGRES nor GATEHOUSE_TEST_REDIS is set")
	}
	return backends
}

// postgresBackend makes Notifiers on a database of the test's own (NOTIFY
// reaches every listener of a database), each process's connections
// named after it, so that drop ends only that process's listeners.
func postgresBackend(t *testing.T, serverURL string) func(t *testing.T, proc string) (gatehouse.Invalidator, func(t *testing.T)) {
	return func(t *testing.T, proc string) (gatehouse.Invalidator, func(t *testing.T)) {
		t.Helper()
		db := testDatabase(t, serverURL)
		u, err := url.Parse(db)
		if err != nil {
			t.Fatal(err)
		}
		appName := "ghtest-" + proc + "-" + strings.ToLower(rand.Text())
		q := u.Query()
		q.Set("application_name", appName)
		u.RawQuery = q.Encode()
		n, err := postgres.NewNotifier(u.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		drop := func(t *testing.T) {
			t.Helper()
			admin, err := pgx.Connect(t.Context(), serverURL)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close(context.Background())
			var killed int
			err = admin.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE application_name = $1 AND (query LIKE 'LISTEN%' OR query = '-- ping')`, appName).Scan(&killed)
			if err != nil {
				t.Fatal(err)
			}
			if killed == 0 {
				t.Fatal("no listening connection to end")
			}
		}
		return n, drop
	}
}

var (
	testDBMu sync.Mutex
	testDBs  = map[*testing.T]string{}
)

// testDatabase returns the URL of a database created for t (one per
// test, shared by its processes) and dropped when it ends.
func testDatabase(t *testing.T, serverURL string) string {
	t.Helper()
	testDBMu.Lock()
	defer testDBMu.Unlock()
	if db, ok := testDBs[t]; ok {
		return db
	}
	admin, err := pgx.Connect(t.Context(), serverURL)
	if err != nil {
		t.Fatalf("connect to GATEHOUSE_TEST_POSTGRES: %v", err)
	}
	name := "gatehouse_test_" + strings.ToLower(rand.Text())
	if _, err := admin.Exec(t.Context(), "CREATE DATABASE "+name); err != nil {
		admin.Close(context.Background())
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close(context.Background())
		if _, err := admin.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		testDBMu.Lock()
		delete(testDBs, t)
		testDBMu.Unlock()
	})
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	testDBs[t] = u.String()
	return testDBs[t]
}

// redisBackend makes Notifiers under a prefix of the test's own, each
// process's client named after it, so that drop kills only that
// process's subscriptions (the Redis is shared).
func redisBackend(t *testing.T, serverURL string) func(t *testing.T, proc string) (gatehouse.Invalidator, func(t *testing.T)) {
	prefixes := map[*testing.T]string{}
	return func(t *testing.T, proc string) (gatehouse.Invalidator, func(t *testing.T)) {
		t.Helper()
		if prefixes[t] == "" {
			prefixes[t] = "ghtest:" + strings.ToLower(rand.Text()) + ":"
		}
		opt, err := goredis.ParseURL(serverURL)
		if err != nil {
			t.Fatal(err)
		}
		opt.ClientName = "ghtest-" + proc + "-" + strings.ToLower(rand.Text())
		c := goredis.NewClient(opt)
		t.Cleanup(func() { c.Close() })
		drop := func(t *testing.T) {
			t.Helper()
			admin := goredis.NewClient(opt)
			defer admin.Close()
			list, err := admin.ClientList(t.Context()).Result()
			if err != nil {
				t.Fatal(err)
			}
			killed := 0
			for line := range strings.Lines(list) {
				fields := strings.Fields(line)
				if !slices.Contains(fields, "name="+opt.ClientName) || slices.Contains(fields, "sub=0") {
					continue
				}
				for _, f := range fields {
					if id, ok := strings.CutPrefix(f, "id="); ok {
						if err := admin.Do(t.Context(), "CLIENT", "KILL", "ID", id).Err(); err != nil {
							t.Fatal(err)
						}
						killed++
					}
				}
			}
			if killed == 0 {
				t.Fatal("no subscribed client to kill")
			}
		}
		return redis.NewNotifier(c, prefixes[t], nil), drop
	}
}

// TestInvalidationAcrossProcesses: two processes A and B over one SQLite
// file, with hour-long caches, each with its own Invalidator. What one
// revokes, the other refuses as soon as the message arrives (polled for
// up to 5 s; the time is logged); a change made behind both their backs
// stays cached (the control: only invalidations explain the rest); and
// when B's subscriptions are cut, B drops its caches.
func TestInvalidationAcrossProcesses(t *testing.T) {
	for name, backend := range invalidationBackends(t) {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gatehouse.db")
			invA, dropA := backend(t, "a")
			invB, dropB := backend(t, "b")
			a := newProcess(t, path, invA, dropA)
			b := newProcess(t, path, invB, dropB)
			ctx := t.Context()
			const pw = "a long enough password"
			if err := a.svc.CreateGroup(ctx, account.Actor{}, &gatehouse.Group{Name: "editors", Permissions: []string{"posts.read", "posts.write"}}); err != nil {
				t.Fatal(err)
			}
			login := func(p *process, name string) (*gatehouse.User, string) {
				t.Helper()
				if _, err := p.svc.CreateUser(ctx, account.NewUser{Username: name, Email: name + "@example.com", Password: pw, Groups: []string{"editors"}}); err != nil && code(err) != gatehouse.CodeConflict {
					t.Fatal(err)
				}
				res, err := p.svc.Login(ctx, account.LoginRequest{Username: name, Password: pw})
				if err != nil {
					t.Fatal(err)
				}
				return res.User, res.Token
			}

			// Control: B caches sessions and users for an hour, so a
			// change nobody announces goes unseen.
			_, ctlToken := login(a, "control")
			if !b.accepts(t, ctlToken) {
				t.Fatal("B refuses a live session")
			}
			if err := a.store.DeleteSession(ctx, mustSession(t, a, ctlToken).ID); err != nil {
				t.Fatal(err)
			}
			if !b.accepts(t, ctlToken) {
				t.Fatal("control: B does not cache sessions; the test below would prove nothing")
			}

			t.Run("revoke a session on A, B refuses", func(t *testing.T) {
				_, token := login(a, "rita")
				if !b.accepts(t, token) {
					t.Fatal("B refuses a live session")
				}
				sess := mustSession(t, a, token)
				start := time.Now()
				if err := a.svc.Sessions().Revoke(ctx, sess.ID); err != nil {
					t.Fatal(err)
				}
				eventually(t, "B refuses the revoked session", func() bool { return !b.accepts(t, token) })
				t.Logf("revocation reached B %v after Revoke began", time.Since(start))
			})

			t.Run("disable a user on A, B refuses", func(t *testing.T) {
				u, token := login(a, "dora")
				if !b.accepts(t, token) {
					t.Fatal("B refuses a live session")
				}
				// Basic credentials go by the user alone, not a session.
				if _, err := b.svc.AuthenticateBasic(ctx, "dora", pw, account.Client{}); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				if _, err := a.svc.DisableUser(ctx, account.Actor{}, u.ID); err != nil {
					t.Fatal(err)
				}
				eventually(t, "B refuses the disabled user's session", func() bool { return !b.accepts(t, token) })
				t.Logf("disable reached B %v after DisableUser began", time.Since(start))
				if _, err := b.svc.AuthenticateBasic(ctx, "dora", pw, account.Client{}); code(err) != gatehouse.CodeInvalidCredentials {
					t.Errorf("B's Basic check of a disabled user: %v, want invalid credentials", err)
				}
			})

			t.Run("remove a permission on B, A enforces", func(t *testing.T) {
				_, token := login(a, "pete")
				user, _, err := a.svc.Authenticate(ctx, token)
				if err != nil {
					t.Fatal(err)
				}
				has := func() bool {
					perms, err := a.svc.Permissions(ctx, user)
					if err != nil {
						t.Fatal(err)
					}
					return slices.Contains(perms, "posts.write")
				}
				if !has() {
					t.Fatal("A does not grant the group's permission")
				}
				start := time.Now()
				if err := b.svc.UpdateGroup(ctx, account.Actor{}, &gatehouse.Group{Name: "editors", Permissions: []string{"posts.read"}}); err != nil {
					t.Fatal(err)
				}
				eventually(t, "A stops granting the removed permission", func() bool { return !has() })
				t.Logf("permission removal reached A %v after UpdateGroup began", time.Since(start))
			})

			t.Run("B's subscription cut: B flushes, then caches again", func(t *testing.T) {
				_, token := login(a, "lena")
				if !b.accepts(t, token) {
					t.Fatal("B refuses a live session")
				}
				if err := a.store.DeleteSession(ctx, mustSession(t, a, token).ID); err != nil {
					t.Fatal(err)
				}
				if !b.accepts(t, token) {
					t.Fatal("control: B does not cache the session")
				}
				b.drop(t)
				eventually(t, "B drops its cache when its subscription is cut", func() bool { return !b.accepts(t, token) })
				b.waitListening(t)
				// Cached again once back: a change nobody announces is
				// unseen once more.
				_, token = login(a, "lena")
				b.accepts(t, token)
				if err := a.store.DeleteSession(ctx, mustSession(t, a, token).ID); err != nil {
					t.Fatal(err)
				}
				if !b.accepts(t, token) {
					t.Error("B does not cache again after its subscription is back")
				}
			})
		})
	}
}

// mustSession returns the session of token, read by p.
func mustSession(t *testing.T, p *process, token string) *gatehouse.Session {
	t.Helper()
	_, s, err := p.svc.Peek(t.Context(), token)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
