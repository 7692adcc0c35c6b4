// Package redis keeps gatehouse's short-lived state in Redis: sessions
// (gatehouse.SessionStore), login throttles (gatehouse.ThrottleStore) and
// pending logins (gatehouse.PendingLoginStore), for several gatehouse
// processes sharing one Redis, while the durable records live in
// PostgreSQL.
//
// The store takes an open client (New), as scs does; ParseURL makes one
// from a URL. It uses github.com/redis/go-redis/v9.
//
// # Keys
//
// Every key starts with the prefix given to New ("gatehouse" for the
// server), followed by a hash tag per area:
//
//	gatehouse:{gatehouse:sessions}:tok:<hex token hash>  hash: the session
//	gatehouse:{gatehouse:sessions}:id:<id>               string: its token hash
//	gatehouse:{gatehouse:sessions}:user:<user id>        sorted set: a user's sessions
//	gatehouse:{gatehouse:sessions}:all                   sorted set: every session, by creation
//	gatehouse:{gatehouse:sessions}:ends                  sorted set: every session, by end
//	gatehouse:{gatehouse:pending}:…                      the same for pending logins
//	gatehouse:{gatehouse:throttles}:key:<key>            hash: a throttling key
//	gatehouse:{gatehouse:throttles}:idx                  sorted set: keys, by when they go stale
//
// The trade-off: all the keys of an area share one hash tag, so they are in
// one Redis Cluster slot, on one node (three slots in all). That makes every operation one Lua
// script over keys of one slot — atomic, and cluster-safe — including
// those that follow an index to the records it names (a script derives
// those keys from its first, which Redis Cluster allows within a slot).
// The price is that an area does not spread over a cluster's nodes; a
// single Redis node serves millions of sessions, and a cluster still
// gives failover. Braces and percent signs in the prefix are
// percent-escaped, so that the prefix cannot change the hash tag.
//
// # Lifetimes
//
// Sessions and pending logins carry a time to live: a session's keys
// expire at its end (gatehouse.Session.EndsAt, the earlier of the idle and
// the absolute end), which TouchSession moves; a pending login's at its
// ExpiresAt. The time to live is reckoned from the store's clock (Now), so
// a session or pending login that is over when it is stored lives a
// millisecond. Expired keys leave members in the indexes;
// DeleteExpiredSessions and DeleteExpiredPendingLogins remove them, and
// reads that meet one remove it too. A throttling key expires a second after it is stale under the
// rule it was last written with, as DeleteStaleThrottles would forget it
// given that rule's window; its time to live is reckoned from the now of
// the call that wrote it.
//
// A session lookup by token hash is one HGETALL of one key: one round
// trip, whatever the number of sessions.
//
// Times are kept as microseconds since the Unix epoch and come back in
// UTC, truncated to the microsecond. A Redis that cannot be reached is an
// error from every method, never a missing record or a free attempt.
package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse"
)

// Store keeps sessions, throttles and pending logins in Redis. It is safe
// for concurrent use, and by several processes on the same Redis.
type Store struct {
	// Now is the clock that sets how long a session or pending login key
	// lives: its time to live is what is left until it ends, at Now. nil
	// means time.Now. Set it before the store is used.
	Now func() time.Time

	client    goredis.UniversalClient
	sessions  string // the key base of the sessions: prefix:{prefix:sessions}:
	pending   string // the key base of the pending logins
	throttles string // the key base of the throttles
}

var (
	_ gatehouse.SessionStore      = (*Store)(nil)
	_ gatehouse.ThrottleStore     = (*Store)(nil)
	_ gatehouse.PendingLoginStore = (*Store)(nil)
)

// New returns a store on client whose keys all start with prefix. The
// store does not own client: closing it is the caller's job.
func New(client goredis.UniversalClient, prefix string) *Store {
	p := escapePrefix(prefix)
	base := func(area string) string { return p + ":{" + p + ":" + area + "}:" }
	return &Store{client: client, sessions: base("sessions"), pending: base("pending"), throttles: base("throttles")}
}

// escapePrefix percent-escapes the braces of prefix, which Redis Cluster
// would read as a hash tag, and the percent sign, so that distinct
// prefixes stay distinct.
func escapePrefix(prefix string) string {
	return strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D").Replace(prefix)
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	return internal("ping", s.client.Ping(ctx).Err())
}

// now returns the store's clock.
func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// internal wraps an error of Redis in operation op; nil and
// *gatehouse.Error pass unchanged. The text names the operation, never a
// key's contents, and is only logged. The error stays bare, which the
// HTTP layer answers as a store it could not reach
// (gatehouse.CodeStoreUnavailable).
func internal(op string, err error) error {
	var ge *gatehouse.Error
	if err == nil || errors.As(err, &ge) {
		return err
	}
	return fmt.Errorf("redis: %s: %w", op, err)
}

// micros is t as microseconds since the Unix epoch, rounded down, as the
// store keeps times.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros is the inverse of micros, in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// usRem splits a duration or a time in nanoseconds into whole
// microseconds, rounded down, and the nanoseconds left (0 to 999): the
// form the scripts compute with, since Lua's numbers (doubles) cannot hold
// nanoseconds since the epoch exactly.
func usRem(ns int64) (us, rem int64) {
	us, rem = ns/1000, ns%1000
	if rem < 0 {
		us, rem = us-1, rem+1000
	}
	return us, rem
}

// timeArgs is t as the two script arguments of usRem: microseconds and
// nanoseconds.
func timeArgs(t time.Time) (string, string) {
	return strconv.FormatInt(micros(t), 10), strconv.Itoa(t.Nanosecond() % 1000)
}

// durationArgs is d as the two script arguments of usRem.
func durationArgs(d time.Duration) (string, string) {
	us, rem := usRem(int64(d))
	return strconv.FormatInt(us, 10), strconv.FormatInt(rem, 10)
}

// parseInt reads an integer field of a record; a malformed one is an
// internal error, not a zero.
func parseInt(field, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, corrupt("field " + field + ": not an integer")
	}
	return n, nil
}

// corrupt is a fault of the store's own, a reply or a record it cannot
// read: an *Error with CodeInternal, answered 500, where a bare error
// would be taken for a Redis that cannot be reached.
func corrupt(what string) error {
	return &gatehouse.Error{Code: gatehouse.CodeInternal, Message: "An internal error occurred.", Err: errors.New("redis: " + what)}
}

// luaPrelude are the Lua functions the scripts share.
//
// Numbers passed to redis.call are formatted by Redis, possibly with an
// exponent; int formats an integer exactly, for values Go reads back.
// extend makes an index key live at least ttl milliseconds, so that an
// index outlives every record it names and vanishes when they all have.
// ref and unref make and read the member of an expiry index: the length
// of the id, the id and the user, so that the sweep can find every index
// a record is in without the record, which may have expired already.
const luaPrelude = `
local function int(x) return string.format('%d', x) end
local function extend(key, ttl)
  local t = redis.call('PTTL', key)
  if t ~= -2 and t < ttl then redis.call('PEXPIRE', key, int(ttl)) end
end
local function ref(id, user) return #id .. ':' .. id .. user end
local function unref(r)
  local c = string.find(r, ':', 1, true)
  local n = tonumber(string.sub(r, 1, c - 1))
  return string.sub(r, c + 1, c + n), string.sub(r, c + n + 1)
end
local function ttlms(ends_us, now_us)
  local ms = math.floor((ends_us - now_us) / 1000) + 1
  if ms < 1 then ms = 1 end
  return ms
end
local function pairs2map(a)
  local m = {}
  for i = 1, #a, 2 do m[a[i]] = a[i + 1] end
  return m
end
`

// script makes a script of the prelude and body.
func script(body string) *goredis.Script { return goredis.NewScript(luaPrelude + body) }

// fields turns the reply of HGETALL inside a script, a flat list of
// names and values, into a map.
func fields(v any) (map[string]string, error) {
	list, ok := v.([]any)
	if !ok || len(list)%2 != 0 {
		return nil, corrupt("unexpected reply")
	}
	m := make(map[string]string, len(list)/2)
	for i := 0; i < len(list); i += 2 {
		k, ok1 := list[i].(string)
		val, ok2 := list[i+1].(string)
		if !ok1 || !ok2 {
			return nil, corrupt("unexpected reply")
		}
		m[k] = val
	}
	return m, nil
}

// errConflict answers a create or rekey whose id or token hash is taken.
func errConflict(what string) error {
	return &gatehouse.Error{Code: gatehouse.CodeConflict, Message: "The " + what + " already exists."}
}
