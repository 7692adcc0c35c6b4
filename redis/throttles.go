package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse"
)

// A throttling key is a hash at key:<key> with the fields f (failures), ws
// (window start), lu (locked until), p (pending) and pu (pending until),
// times in microseconds, the zero time as the microseconds of year 1 (as
// time.Time{} has them). The sorted set idx scores each key by the latest
// of its window start, lock end and, with attempts pending, their end:
// the key is stale once a window has passed since.
//
// The rules of gatehouse.Throttle (AddFailure, Reserve, Settle) are
// ported to Lua below, so that each operation is one script, atomic
// however many processes share the key. The scripts compute with times
// as pairs {microseconds, nanoseconds}, exact where Lua's doubles could
// not hold nanoseconds since the epoch, and store them truncated to the
// microsecond, as the SQL stores do. TestThrottleRulesMatchGo checks them
// against the Go rules.

// luaThrottles are the Lua functions of the throttle scripts. KEYS are the
// key's hash and idx; ARGV the key, now, and the rule (see ruleArgs).
const luaThrottles = `
local ZERO = -62135596800000000
local KEY = ARGV[1]
local now = {tonumber(ARGV[2]), tonumber(ARGV[3])}
local MAX = tonumber(ARGV[4])
local W = {tonumber(ARGV[5]), tonumber(ARGV[6])}
local LO = {tonumber(ARGV[7]), tonumber(ARGV[8])}
local BACKOFF = ARGV[9] == '1'
local D0 = {tonumber(ARGV[10]), tonumber(ARGV[11])}
local D1 = {tonumber(ARGV[12]), tonumber(ARGV[13])}
local function add(t, d)
  local u, r = t[1] + d[1], t[2] + d[2]
  if r >= 1000 then u, r = u + 1, r - 1000 end
  return {u, r}
end
local function before(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end
local function later(a, b) if before(b, a) then return a end return b end
local function load()
  local a = redis.call('HMGET', KEYS[1], 'f', 'ws', 'lu', 'p', 'pu')
  if not a[1] then return {f = 0, ws = {ZERO, 0}, lu = {ZERO, 0}, p = 0, pu = {ZERO, 0}} end
  return {f = tonumber(a[1]), ws = {tonumber(a[2]), 0}, lu = {tonumber(a[3]), 0}, p = tonumber(a[4]), pu = {tonumber(a[5]), 0}}
end
local function locked(t) return before(now, t.lu) end
local function delay(n)
  if n >= 2 then return LO elseif n == 1 then return D1 end
  return D0
end
-- addFailure is Throttle.AddFailure, changing t in place.
local function addFailure(t)
  if locked(t) then return false end
  if BACKOFF then
    if not before(now, add(later(t.ws, t.lu), W)) then t.f = 0 end
    t.ws = now
    t.f = t.f + 1
    if MAX > 0 and t.f >= MAX then t.lu = add(now, delay(t.f - MAX)) end
    return true
  end
  if not before(now, add(t.ws, W)) then t.ws, t.f = now, 0 end
  t.f = t.f + 1
  if MAX > 0 and t.f >= MAX then
    t.lu = add(now, LO)
    t.ws, t.f = t.lu, 0
  end
  return true
end
local function windowFailures(t)
  local e = t.ws
  if BACKOFF then e = later(t.ws, t.lu) end
  if not before(now, add(e, W)) then return 0 end
  return t.f
end
-- save stores t truncated to the microsecond, expiring once stale under
-- the rule, and a second later: a state must be readable right after it
-- is written even when the rule makes it stale at once (a zero window).
local function save(t)
  if t.f == 0 and t.p == 0 and t.ws[1] == ZERO and t.lu[1] == ZERO then
    redis.call('DEL', KEYS[1])
    redis.call('ZREM', KEYS[2], KEY)
    return
  end
  redis.call('HSET', KEYS[1], 'f', int(t.f), 'ws', int(t.ws[1]), 'lu', int(t.lu[1]), 'p', int(t.p), 'pu', int(t.pu[1]))
  local m = math.max(t.ws[1], t.lu[1])
  if t.p > 0 then m = math.max(m, t.pu[1]) end
  local ttl = ttlms(m + W[1] + 1, now[1]) + 1000
  redis.call('PEXPIRE', KEYS[1], int(ttl))
  redis.call('ZADD', KEYS[2], m, KEY)
  extend(KEYS[2], ttl)
end
local function state(t, ...)
  return {int(t.f), int(t.ws[1]), int(t.lu[1]), int(t.p), int(t.pu[1]), ...}
end
`

// throttleScript makes a script of the prelude, the throttle functions and
// body.
func throttleScript(body string) *goredis.Script { return script(luaThrottles + body) }

var (
	// addFailureScript counts one failure. The new state.
	addFailureScript = throttleScript(`
local t = load()
if addFailure(t) then save(t) end
return state(t)
`)

	// reserveScript: ARGV[14], ARGV[15] the lease. The new state and the
	// decision (gatehouse.Reservation).
	reserveScript = throttleScript(`
local LEASE = {tonumber(ARGV[14]), tonumber(ARGV[15])}
local t = load()
local changed = false
if t.p > 0 and not before(now, t.pu) then
  local lapsed = t.p
  t.p, t.pu = 0, {ZERO, 0}
  for i = 1, lapsed do
    if locked(t) then break end -- a locked key counts no more failures
    addFailure(t)
  end
  changed = true
end
local r
if locked(t) then
  r = 2
elseif MAX > 0 and t.p >= math.max(MAX - windowFailures(t), 1) then
  r = 3
else
  t.p = t.p + 1
  t.pu = later(t.pu, add(now, LEASE))
  r, changed = 1, true
end
if changed then save(t) end
return state(t, int(r))
`)

	// settleScript: ARGV[14] the outcome (gatehouse.Settlement). The new
	// state.
	settleScript = throttleScript(`
local t = load()
if t.p > 0 then t.p = t.p - 1 end
if t.p == 0 then t.pu = {ZERO, 0} end
if ARGV[14] == '1' then
  addFailure(t)
elseif ARGV[14] == '3' then
  t.f, t.ws, t.lu = 0, {ZERO, 0}, {ZERO, 0}
end
save(t)
return state(t)
`)

	// resetThrottle: KEYS key, idx; ARGV key. Forgets the failures and
	// lock, keeps what is pending.
	resetThrottle = script(`
local p = redis.call('HGET', KEYS[1], 'p')
if not p then return 0 end
if tonumber(p) == 0 then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
local zero = '-62135596800000000'
redis.call('HSET', KEYS[1], 'f', 0, 'ws', zero, 'lu', zero)
redis.call('ZADD', KEYS[2], redis.call('HGET', KEYS[1], 'pu'), ARGV[1])
return 1
`)

	// deleteStaleThrottles: KEYS idx; ARGV base, the latest stale score,
	// batch. {removed, more}.
	deleteStaleThrottles = script(`
local c = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
local n = 0
for _, k in ipairs(c) do
  n = n + redis.call('DEL', ARGV[1] .. 'key:' .. k)
  redis.call('ZREM', KEYS[1], k)
end
local more = 0
if #c == tonumber(ARGV[3]) then more = 1 end
return {n, more}
`)
)

// throttleKeys are the keys of the throttle scripts for key.
func (s *Store) throttleKeys(key string) []string {
	return []string{s.throttles + "key:" + key, s.throttles + "idx"}
}

// ruleArgs are the arguments every throttle script starts with: the key,
// now and the rule, times and durations as microseconds and nanoseconds.
func ruleArgs(key string, now time.Time, rule gatehouse.ThrottleRule) []any {
	nowUS, nowNS := timeArgs(now)
	wUS, wNS := durationArgs(rule.Window)
	loUS, loNS := durationArgs(rule.Lockout)
	d0US, d0NS := durationArgs(rule.Delay(0))
	d1US, d1NS := durationArgs(rule.Delay(1))
	return []any{key, nowUS, nowNS, rule.MaxFailures, wUS, wNS, loUS, loNS, boolField(rule.Backoff), d0US, d0NS, d1US, d1NS}
}

// runThrottle runs a throttle script and reads the state it returns, and
// the decision after it if any.
func (s *Store) runThrottle(ctx context.Context, sc *goredis.Script, key string, args []any) (gatehouse.Throttle, []int64, error) {
	v, err := sc.Run(ctx, s.client, s.throttleKeys(key), args...).StringSlice()
	if err != nil {
		return gatehouse.Throttle{}, nil, err
	}
	if len(v) < 5 {
		return gatehouse.Throttle{}, nil, corrupt("unexpected reply")
	}
	n := make([]int64, len(v))
	for i, x := range v {
		if n[i], err = strconv.ParseInt(x, 10, 64); err != nil {
			return gatehouse.Throttle{}, nil, corrupt("unexpected reply")
		}
	}
	return throttleState(key, n), n[5:], nil
}

// throttleState is the Throttle of the fields f, ws, lu, p and pu.
func throttleState(key string, n []int64) gatehouse.Throttle {
	t := gatehouse.Throttle{Key: key, Failures: int(n[0]), WindowStart: fromMicros(n[1]),
		LockedUntil: fromMicros(n[2]), Pending: int(n[3]), PendingUntil: fromMicros(n[4])}
	// The zero time comes back as the zero time, not its UTC twin.
	for _, tm := range []*time.Time{&t.WindowStart, &t.LockedUntil, &t.PendingUntil} {
		if tm.IsZero() {
			*tm = time.Time{}
		}
	}
	return t
}

// Throttle returns the state of key; a key never seen, or forgotten, is a
// zero Throttle with that Key.
func (s *Store) Throttle(ctx context.Context, key string) (gatehouse.Throttle, error) {
	v, err := s.client.HMGet(ctx, s.throttles+"key:"+key, "f", "ws", "lu", "p", "pu").Result()
	if err != nil {
		return gatehouse.Throttle{}, internal("throttle", err)
	}
	if v[0] == nil {
		return gatehouse.Throttle{Key: key}, nil
	}
	n := make([]int64, len(v))
	for i, x := range v {
		str, _ := x.(string)
		if n[i], err = strconv.ParseInt(str, 10, 64); err != nil {
			return gatehouse.Throttle{}, corrupt("malformed throttle")
		}
	}
	return throttleState(key, n), nil
}

// AddFailure counts one failure for key at now under rule, as
// gatehouse.Throttle.AddFailure describes, in one script, and returns the
// new state as stored.
func (s *Store) AddFailure(ctx context.Context, key string, now time.Time, rule gatehouse.ThrottleRule) (gatehouse.Throttle, error) {
	t, _, err := s.runThrottle(ctx, addFailureScript, key, ruleArgs(key, now, rule))
	if err != nil {
		return gatehouse.Throttle{}, internal("add failure", err)
	}
	return t, nil
}

// ReserveAttempt asks to make one attempt on key, as
// gatehouse.Throttle.Reserve describes, in one script.
func (s *Store) ReserveAttempt(ctx context.Context, key string, now time.Time, rule gatehouse.ThrottleRule, lease time.Duration) (gatehouse.Throttle, gatehouse.Reservation, error) {
	lUS, lNS := durationArgs(lease)
	t, r, err := s.runThrottle(ctx, reserveScript, key, append(ruleArgs(key, now, rule), lUS, lNS))
	if err == nil && len(r) != 1 {
		err = corrupt("unexpected reply")
	}
	if err != nil {
		return gatehouse.Throttle{}, 0, internal("reserve attempt", err)
	}
	return t, gatehouse.Reservation(r[0]), nil
}

// SettleAttempt ends one reserved attempt on key, as
// gatehouse.Throttle.Settle describes, in one script. An outcome that is
// none of the gatehouse.Settlement values is an error, and changes
// nothing.
func (s *Store) SettleAttempt(ctx context.Context, key string, now time.Time, rule gatehouse.ThrottleRule, outcome gatehouse.Settlement) (gatehouse.Throttle, error) {
	switch outcome {
	case gatehouse.SettleFailed, gatehouse.SettleSucceeded, gatehouse.SettleReset:
	default:
		return gatehouse.Throttle{}, corrupt(fmt.Sprintf("settle attempt: unknown settlement %d", int(outcome)))
	}
	t, _, err := s.runThrottle(ctx, settleScript, key, append(ruleArgs(key, now, rule), int(outcome)))
	if err != nil {
		return gatehouse.Throttle{}, internal("settle attempt", err)
	}
	return t, nil
}

// ResetThrottle forgets the failures and lock of key; attempts pending on
// it stay pending (they are guesses still being verified, which the key's
// budget must go on counting).
func (s *Store) ResetThrottle(ctx context.Context, key string) error {
	return internal("reset throttle", resetThrottle.Run(ctx, s.client, s.throttleKeys(key), key).Err())
}

// DeleteStaleThrottles forgets every key whose window, taken to be window
// long, has ended at now, whose lock ended a window ago or more, and whose
// pending attempts, if any, lapsed a window ago or more, and returns how
// many it forgot. Keys that expired on their own are not counted.
func (s *Store) DeleteStaleThrottles(ctx context.Context, now time.Time, window time.Duration) (int, error) {
	// Stale when score*1000 + window <= now in nanoseconds, that is when
	// score <= now-window in microseconds rounded down: exact.
	bound := micros(now.Add(-window))
	total := 0
	for {
		v, err := deleteStaleThrottles.Run(ctx, s.client, []string{s.throttles + "idx"}, s.throttles, bound, sweepBatch).Int64Slice()
		if err != nil {
			return total, internal("delete stale throttles", err)
		}
		if len(v) != 2 {
			return total, corrupt("unexpected reply")
		}
		total += int(v[0])
		if v[1] == 0 {
			return total, nil
		}
	}
}
