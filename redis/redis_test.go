package redis_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/redis"
	"github.com/gatehouse/gatehouse/sqlite"
	"github.com/gatehouse/gatehouse/storetest"
)

// clock is the store's clock in the conformance suites: before every time
// the suites use (they revolve around March 14, 2025), so that no key
// expires while a suite runs, even those of sessions the suites create
// already ended, which a store must keep until swept.
var clock = time.Date(2025, time.March, 1, 0, 0, 0, 0, time.UTC)

// serverURL returns GATEHOUSE_TEST_REDIS, or skips t.
func serverURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("GATEHOUSE_TEST_REDIS")
	if u == "" {
		t.Skip("GATEHOUSE_TEST_REDIS is not set: set it to a Redis URL, such as redis://127.0.0.1:6379/0, to run the Redis tests (Debian package redis-server); they use keys under a random prefix and delete them")
	}
	return u
}

// client returns a client of url, closed when the test ends.
func client(t testing.TB, url string) goredis.UniversalClient {
	t.Helper()
	c, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// open returns a store on GATEHOUSE_TEST_REDIS under a random prefix, with
// the clock at clock, and deletes its keys when the test ends.
func open(t testing.TB) (*redis.Store, goredis.UniversalClient, string) {
	t.Helper()
	return openURL(t, serverURL(t))
}

// openURL is open on the Redis at url.
func openURL(t testing.TB, url string) (*redis.Store, goredis.UniversalClient, string) {
	t.Helper()
	c := client(t, url)
	prefix := "gatehouse-test-" + rand.Text()
	t.Cleanup(func() { deleteKeys(t, c, prefix) })
	s := redis.New(c, prefix)
	s.Now = func() time.Time { return clock }
	return s, c, prefix
}

// deleteKeys deletes every key that starts with prefix, found with SCAN
// (on every master of a cluster): never FLUSHDB, the server is shared.
func deleteKeys(t testing.TB, c goredis.UniversalClient, prefix string) {
	ctx := context.Background()
	if cc, ok := c.(*goredis.ClusterClient); ok {
		err := cc.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			deleteKeys(t, node, prefix)
			return nil
		})
		if err != nil {
			t.Errorf("scan test keys: %v", err)
		}
		return
	}
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if err := c.Del(ctx, iter.Val()).Err(); err != nil {
			t.Errorf("delete test key: %v", err)
			return
		}
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan test keys: %v", err)
	}
}

// users opens a SQLite store for the users the suites need besides what
// Redis keeps.
func users(t *testing.T) *sqlite.Store {
	t.Helper()
	u, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

func TestSessions(t *testing.T) {
	storetest.RunSessions(t, func(t *testing.T) storetest.SessionStores {
		s, _, _ := open(t)
		return storetest.SessionStores{SessionStore: s, UserStore: users(t)}
	})
}

func TestThrottles(t *testing.T) {
	storetest.RunThrottles(t, func(t *testing.T) gatehouse.ThrottleStore {
		s, _, _ := open(t)
		return s
	})
}

func TestPendingLogins(t *testing.T) {
	storetest.RunPendingLogins(t, func(t *testing.T) storetest.PendingLoginStores {
		s, _, _ := open(t)
		return storetest.PendingLoginStores{PendingLoginStore: s, UserStore: users(t), SessionStore: s}
	})
}

func TestCluster(t *testing.T) {
	// Redis Cluster refuses a script that touches keys of two slots: the
	// suites on a cluster check that every script keeps to one.
	url := os.Getenv("GATEHOUSE_TEST_REDIS_CLUSTER")
	if url == "" {
		t.Skip("GATEHOUSE_TEST_REDIS_CLUSTER is not set: set it to a Redis Cluster URL, such as redis-cluster://127.0.0.1:7000, to run the suites on a cluster (a one-node cluster will do: redis-server --cluster-enabled yes, then CLUSTER ADDSLOTSRANGE 0 16383)")
	}
	t.Run("Sessions", func(t *testing.T) {
		storetest.RunSessions(t, func(t *testing.T) storetest.SessionStores {
			s, _, _ := openURL(t, url)
			return storetest.SessionStores{SessionStore: s, UserStore: users(t)}
		})
	})
	t.Run("Throttles", func(t *testing.T) {
		storetest.RunThrottles(t, func(t *testing.T) gatehouse.ThrottleStore {
			s, _, _ := openURL(t, url)
			return s
		})
	})
	t.Run("PendingLogins", func(t *testing.T) {
		storetest.RunPendingLogins(t, func(t *testing.T) storetest.PendingLoginStores {
			s, _, _ := openURL(t, url)
			return storetest.PendingLoginStores{PendingLoginStore: s, UserStore: users(t), SessionStore: s}
		})
	})
}

func TestPing(t *testing.T) {
	s, _, _ := open(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// newSession returns a session of alice created, and last seen, at now.
func newSession(now time.Time, secret string) *gatehouse.Session {
	h := sha256.Sum256([]byte(secret))
	return &gatehouse.Session{
		ID: gatehouse.NewID(), TokenHash: h[:], UserID: "alice",
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour), IdleTimeout: 2 * time.Hour,
	}
}

// wantTTL fails t unless key expires in want, give or take the time since
// start, which PTTL cannot tell from the time it measures: want is what
// the store set, start a time before it set it.
func wantTTL(t *testing.T, c goredis.UniversalClient, key string, want time.Duration, start time.Time) {
	t.Helper()
	got, err := c.PTTL(t.Context(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); got > want || got < want-elapsed-time.Millisecond {
		t.Errorf("PTTL(%s) = %v, want %v less at most the %v the test took", key, got, want, elapsed)
	}
}

func TestSessionKeysExpireAtTheEnd(t *testing.T) {
	s, c, prefix := open(t)
	now := clock
	ses := newSession(now, "secret")
	tok := prefix + ":{" + prefix + ":sessions}:tok:" + hex.EncodeToString(ses.TokenHash)
	id := prefix + ":{" + prefix + ":sessions}:id:" + ses.ID
	user := prefix + ":{" + prefix + ":sessions}:user:alice"

	// The idle end comes first: two hours, and the millisecond the store
	// adds so that a key never expires before the session ends.
	start := time.Now()
	if err := s.CreateSession(t.Context(), ses); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{tok, id} {
		wantTTL(t, c, key, 2*time.Hour+time.Millisecond, start)
	}
	if ttl, err := c.PTTL(t.Context(), user).Result(); err != nil || ttl < time.Hour {
		t.Errorf("PTTL(user index) = %v, %v; want at least the session's", ttl, err)
	}

	// A touch an hour later moves the idle end, and the keys' end with it:
	// three hours after the store's clock, which has not moved.
	start = time.Now()
	if err := s.TouchSession(t.Context(), ses.ID, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{tok, id} {
		wantTTL(t, c, key, 3*time.Hour+time.Millisecond, start)
	}

	// Touched near its absolute end, the session ends there.
	start = time.Now()
	if err := s.TouchSession(t.Context(), ses.ID, now.Add(30*24*time.Hour-time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{tok, id} {
		wantTTL(t, c, key, 30*24*time.Hour+time.Millisecond, start)
	}

	// The clock moves: the time to live is what is left.
	s.Now = func() time.Time { return now.Add(29 * 24 * time.Hour) }
	start = time.Now()
	if err := s.TouchSession(t.Context(), ses.ID, now.Add(29*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{tok, id} {
		wantTTL(t, c, key, 2*time.Hour+time.Millisecond, start)
	}
}

func TestExpiredKeysLeaveTheIndexes(t *testing.T) {
	// Sessions and pending logins whose keys Redis expired are gone from
	// every read, and their index members are removed by the reads and
	// the sweeps.
	s, c, prefix := open(t)
	s.Now = time.Now
	now := time.Now()
	ses := newSession(now, "secret")
	ses.IdleTimeout = 20 * time.Millisecond
	if err := s.CreateSession(t.Context(), ses); err != nil {
		t.Fatal(err)
	}
	p := &gatehouse.PendingLogin{ID: gatehouse.NewID(), TokenHash: ses.TokenHash, UserID: "alice", CreatedAt: now, ExpiresAt: now.Add(20 * time.Millisecond)}
	if err := s.CreatePendingLogin(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	waitGone(t, c, prefix+":{"+prefix+":sessions}:tok:"+hex.EncodeToString(ses.TokenHash))
	waitGone(t, c, prefix+":{"+prefix+":pending}:tok:"+hex.EncodeToString(p.TokenHash))

	if _, err := s.SessionByTokenHash(t.Context(), ses.TokenHash); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("SessionByTokenHash(expired) = %v, want ErrNotFound", err)
	}
	if _, err := s.SessionByID(t.Context(), ses.ID); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("SessionByID(expired) = %v, want ErrNotFound", err)
	}
	if list, err := s.UserSessions(t.Context(), "alice"); err != nil || len(list) != 0 {
		t.Errorf("UserSessions = %d sessions, %v; want none", len(list), err)
	}
	if list, _, err := s.Sessions(t.Context(), "", 10); err != nil || len(list) != 0 {
		t.Errorf("Sessions = %d sessions, %v; want none", len(list), err)
	}
	if _, err := s.CountPendingLoginAttempt(t.Context(), p.ID, 5); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("CountPendingLoginAttempt(expired) = %v, want ErrNotFound", err)
	}
	// Nothing left to remove: Redis did.
	if n, err := s.DeleteExpiredSessions(t.Context(), time.Now()); err != nil || n != 0 {
		t.Errorf("DeleteExpiredSessions = %d, %v; want 0", n, err)
	}
	if n, err := s.DeleteExpiredPendingLogins(t.Context(), time.Now()); err != nil || n != 0 {
		t.Errorf("DeleteExpiredPendingLogins = %d, %v; want 0", n, err)
	}
	keys, err := c.Keys(t.Context(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		t.Errorf("key %s is left after the session and pending login expired and were swept", k)
	}
}

// waitGone waits until Redis expired key, or fails t after ten seconds.
func waitGone(t *testing.T, c goredis.UniversalClient, key string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		n, err := c.Exists(t.Context(), key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatalf("key %s did not expire", key)
}

func TestUnreachableRedisFailsClosed(t *testing.T) {
	// Nothing listens on port 1: every method must say so, never answer
	// "not found", "not throttled" or "reserved".
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
	defer c.Close()
	s := redis.New(c, "gatehouse")
	ctx := t.Context()
	rule := gatehouse.ThrottleRule{MaxFailures: 3, Window: time.Minute, Lockout: time.Minute}
	ses := newSession(clock, "secret")
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	add(s.Ping(ctx))
	_, err := s.SessionByTokenHash(ctx, ses.TokenHash)
	add(err)
	_, err = s.SessionByID(ctx, ses.ID)
	add(err)
	add(s.CreateSession(ctx, ses))
	_, err = s.UserSessions(ctx, "alice")
	add(err)
	_, _, err = s.Sessions(ctx, "", 10)
	add(err)
	add(s.RekeySession(ctx, ses.ID, ses.TokenHash, ses))
	_, err = s.Throttle(ctx, "k")
	add(err)
	_, r, err := s.ReserveAttempt(ctx, "k", clock, rule, time.Minute)
	if r == gatehouse.Reserved {
		t.Error("ReserveAttempt reserved an attempt without Redis")
	}
	add(err)
	_, err = s.AddFailure(ctx, "k", clock, rule)
	add(err)
	_, err = s.PendingLoginByTokenHash(ctx, ses.TokenHash)
	add(err)
	_, err = s.CountPendingLoginAttempt(ctx, "id", 5)
	add(err)
	add(s.RecordCodeSent(ctx, &gatehouse.PendingLogin{ID: "id", Sends: 1}))
	for i, err := range errs {
		// A bare error: the HTTP layer answers it store_unavailable.
		var ge *gatehouse.Error
		if err == nil || errors.As(err, &ge) {
			t.Errorf("call %d without Redis = %v, want a connection error, not a *gatehouse.Error", i, err)
		}
	}
}

func TestUnreadableRecordIsInternal(t *testing.T) {
	// A record the store cannot read is its own fault (CodeInternal), not
	// a missing session nor an unreachable Redis.
	s, c, prefix := open(t)
	ses := newSession(clock, "secret")
	if err := s.CreateSession(t.Context(), ses); err != nil {
		t.Fatal(err)
	}
	tok := prefix + ":{" + prefix + ":sessions}:tok:" + hex.EncodeToString(ses.TokenHash)
	if err := c.HSet(t.Context(), tok, "seen", "yesterday").Err(); err != nil {
		t.Fatal(err)
	}
	_, err := s.SessionByTokenHash(t.Context(), ses.TokenHash)
	if gatehouse.ErrorCode(err) != gatehouse.CodeInternal || errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("SessionByTokenHash(unreadable) = %v, want a CodeInternal *gatehouse.Error", err)
	}
	var ge *gatehouse.Error
	if !errors.As(err, &ge) {
		t.Errorf("SessionByTokenHash(unreadable) = %v, a bare error, which would read as Redis unreachable", err)
	}
}

func TestPrefixCannotChooseTheSlot(t *testing.T) {
	// A prefix with braces would be a hash tag of its own: it is escaped,
	// and a prefix is not confused with its escaped form.
	s, c, prefix := open(t)
	braced := redis.New(c, prefix+"{x}")
	braced.Now = s.Now
	escaped := redis.New(c, prefix+"%7Bx%7D")
	escaped.Now = s.Now
	ses := newSession(clock, "secret")
	if err := braced.CreateSession(t.Context(), ses); err != nil {
		t.Fatal(err)
	}
	keys, err := c.Keys(t.Context(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		want := prefix + "%7Bx%7D:{" + prefix + "%7Bx%7D:sessions}:"
		if len(k) < len(want) || k[:len(want)] != want {
			t.Errorf("key %q, want it to start with %q", k, want)
		}
	}
	if _, err := escaped.SessionByTokenHash(t.Context(), ses.TokenHash); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Errorf("a session stored under prefix {x} is found under %%7Bx%%7D: %v", err)
	}
	if _, err := braced.SessionByTokenHash(t.Context(), ses.TokenHash); err != nil {
		t.Errorf("SessionByTokenHash: %v", err)
	}
}
