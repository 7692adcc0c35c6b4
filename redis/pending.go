package redis

import (
	"context"
	"encoding/hex"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse"
)

// A pending login is a hash at tok:<hex token hash> and a string at
// id:<id> holding the hex token hash, both expiring at its ExpiresAt; the
// set user:<user id> holds the ids of a user's pending logins, and the
// sorted set exp scores each pending login's ref (see the prelude) by its
// ExpiresAt in microseconds. The hash's prov is the CodeProvider; idp and
// idt are the external login's Provider and IDToken, absent (read as "")
// in a pending login stored before they existed.

// luaPending are the Lua functions of the pending-login scripts. ARGV[1]
// is the key base of the pending logins.
const luaPending = `
local B = ARGV[1]
-- The scripts on one pending login take its id key, B .. 'id:' .. id, and
-- read the id from it.
-- record returns the key of pending login id, or nil.
local function record(id)
  local hex = redis.call('GET', B .. 'id:' .. id)
  if not hex then return nil end
  local tok = B .. 'tok:' .. hex
  if redis.call('EXISTS', tok) == 0 then return nil end
  return tok
end
-- drop removes the pending login of ref r, and r from the indexes; it
-- returns 1 if the pending login was there.
local function drop(r)
  local id, user = unref(r)
  local idk = B .. 'id:' .. id
  local hex = redis.call('GET', idk)
  local n = 0
  if hex then
    n = redis.call('DEL', B .. 'tok:' .. hex)
    redis.call('DEL', idk)
  end
  redis.call('SREM', B .. 'user:' .. user, id)
  redis.call('ZREM', B .. 'exp', r)
  return n
end
`

// pendingScript makes a script of the prelude, the pending-login functions
// and body.
func pendingScript(body string) *goredis.Script { return script(luaPending + body) }

var (
	// createPending: KEYS tok, id; ARGV base, now, id, user, hex, then
	// the fields. 0 when the id or token hash is taken.
	createPending = pendingScript(`
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local r = ref(ARGV[3], ARGV[4])
redis.call('HSET', KEYS[1], 'ref', r, unpack(ARGV, 6))
local e = tonumber(redis.call('HGET', KEYS[1], 'exp'))
local ttl = ttlms(e, tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], int(ttl))
redis.call('SET', KEYS[2], ARGV[5], 'PX', int(ttl))
local uk = B .. 'user:' .. ARGV[4]
redis.call('SADD', uk, ARGV[3])
extend(uk, ttl)
redis.call('ZADD', B .. 'exp', e, r)
extend(B .. 'exp', ttl)
return 1
`)

	// recordCodeSent: KEYS id; ARGV base, the sends read, then the code
	// fields and the new sends. 0 when missing or changed meanwhile.
	recordCodeSent = pendingScript(`
local tok = record(string.sub(KEYS[1], #B + 4))
if not tok or redis.call('HGET', tok, 'sends') ~= ARGV[2] then return 0 end
redis.call('HSET', tok, unpack(ARGV, 3))
return 1
`)

	// countAttempt: KEYS id; ARGV base, max. The new count, or -1 when
	// missing or at max.
	countAttempt = pendingScript(`
local tok = record(string.sub(KEYS[1], #B + 4))
if not tok or tonumber(redis.call('HGET', tok, 'att')) >= tonumber(ARGV[2]) then return -1 end
return redis.call('HINCRBY', tok, 'att', 1)
`)

	// takePending: KEYS id; ARGV base. 1 when it removed the pending
	// login, 0 when it was not there.
	takePending = pendingScript(`
local tok = record(string.sub(KEYS[1], #B + 4))
if not tok then
  redis.call('DEL', KEYS[1])
  return 0
end
return drop(redis.call('HGET', tok, 'ref'))
`)

	// deleteUserPending: KEYS user; ARGV base. How many it removed.
	deleteUserPending = pendingScript(`
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local tok = record(id)
  if tok then n = n + drop(redis.call('HGET', tok, 'ref')) else redis.call('SREM', KEYS[1], id) end
end
return n
`)

	// deleteExpiredPending: KEYS exp; ARGV base, now in microseconds
	// rounded down, batch. {removed, more}.
	deleteExpiredPending = pendingScript(`
local c = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
local n = 0
for _, r in ipairs(c) do n = n + drop(r) end
local more = 0
if #c == tonumber(ARGV[3]) then more = 1 end
return {n, more}
`)
)

// pendingTok and pendingID are the keys of a pending login by token hash
// and by id.
func (s *Store) pendingTok(hash []byte) string { return s.pending + "tok:" + hex.EncodeToString(hash) }
func (s *Store) pendingID(id string) string    { return s.pending + "id:" + id }

// CreatePendingLogin stores the new pending login p, its keys expiring at
// its ExpiresAt. One whose id or token hash is taken is CodeConflict.
func (s *Store) CreatePendingLogin(ctx context.Context, p *gatehouse.PendingLogin) error {
	h := hex.EncodeToString(p.TokenHash)
	args := []any{s.pending, micros(s.now()), p.ID, p.UserID, h,
		"id", p.ID, "hash", h, "user", p.UserID, "stamp", p.Stamp, "rem", boolField(p.Remember),
		"created", micros(p.CreatedAt), "exp", micros(p.ExpiresAt), "att", p.Attempts,
		"code", hex.EncodeToString(p.CodeHash), "prov", p.CodeProvider, "cexp", optMicros(p.CodeExpiresAt),
		"sends", p.Sends, "idp", p.Provider, "idt", p.IDToken}
	ok, err := createPending.Run(ctx, s.client, []string{s.pendingTok(p.TokenHash), s.pendingID(p.ID)}, args...).Int()
	if err != nil {
		return internal("create pending login", err)
	}
	if ok == 0 {
		return errConflict("pending login")
	}
	return nil
}

// PendingLoginByTokenHash returns the pending login whose cookie secret
// hashes to hash, or gatehouse.ErrNotFound: one HGETALL. It does not check
// expiry.
func (s *Store) PendingLoginByTokenHash(ctx context.Context, hash []byte) (*gatehouse.PendingLogin, error) {
	m, err := s.client.HGetAll(ctx, s.pendingTok(hash)).Result()
	if err != nil {
		return nil, internal("pending login by token hash", err)
	}
	if len(m) == 0 {
		return nil, gatehouse.ErrNotFound
	}
	p, err := decodePending(m)
	if err != nil {
		return nil, internal("pending login by token hash", err)
	}
	return p, nil
}

// decodePending reads the fields of a pending login.
func decodePending(m map[string]string) (*gatehouse.PendingLogin, error) {
	p := &gatehouse.PendingLogin{ID: m["id"], UserID: m["user"], Stamp: m["stamp"], Remember: m["rem"] == "1", CodeProvider: m["prov"],
		Provider: m["idp"], IDToken: m["idt"]}
	var err error
	if p.TokenHash, err = hex.DecodeString(m["hash"]); err != nil {
		return nil, corrupt("field hash: not hexadecimal")
	}
	if p.CodeHash, err = hex.DecodeString(m["code"]); err != nil {
		return nil, corrupt("field code: not hexadecimal")
	}
	if len(p.CodeHash) == 0 {
		p.CodeHash = nil // an empty code hash has one form
	}
	ints := map[string]int64{}
	for _, f := range []string{"created", "exp", "att", "sends"} {
		if ints[f], err = parseInt(f, m[f]); err != nil {
			return nil, err
		}
	}
	p.CreatedAt, p.ExpiresAt = fromMicros(ints["created"]), fromMicros(ints["exp"])
	p.Attempts, p.Sends = int(ints["att"]), int(ints["sends"])
	if c := m["cexp"]; c != "" {
		us, err := parseInt("cexp", c)
		if err != nil {
			return nil, err
		}
		p.CodeExpiresAt = fromMicros(us)
	}
	return p, nil
}

// RecordCodeSent stores the code and sends of pending login p.ID, only if
// its stored sends are still p.Sends-1: one script, so of two sends
// racing from one read only one is recorded. A pending login that is
// missing or changed meanwhile is gatehouse.ErrNotFound.
func (s *Store) RecordCodeSent(ctx context.Context, p *gatehouse.PendingLogin) error {
	ok, err := recordCodeSent.Run(ctx, s.client, []string{s.pendingID(p.ID)}, s.pending, strconv.Itoa(p.Sends-1),
		"code", hex.EncodeToString(p.CodeHash), "prov", p.CodeProvider, "cexp", optMicros(p.CodeExpiresAt),
		"sends", p.Sends).Int()
	if err != nil {
		return internal("record code sent", err)
	}
	if ok == 0 {
		return gatehouse.ErrNotFound
	}
	return nil
}

// CountPendingLoginAttempt adds one to the attempts of pending login id if
// they are below max, in one script, and returns the new count. A pending
// login that is missing or at max is gatehouse.ErrNotFound.
func (s *Store) CountPendingLoginAttempt(ctx context.Context, id string, max int) (int, error) {
	n, err := countAttempt.Run(ctx, s.client, []string{s.pendingID(id)}, s.pending, max).Int()
	if err != nil {
		return 0, internal("count pending login attempt", err)
	}
	if n < 0 {
		return 0, gatehouse.ErrNotFound
	}
	return n, nil
}

// TakePendingLogin removes pending login id, as gatehouse.PendingLoginStore
// describes: one script, which Redis runs alone, so of concurrent takes
// only the first finds the pending login; the others remove nothing and
// are gatehouse.ErrNotFound.
func (s *Store) TakePendingLogin(ctx context.Context, id string) error {
	n, err := takePending.Run(ctx, s.client, []string{s.pendingID(id)}, s.pending).Int()
	if err != nil {
		return internal("take pending login", err)
	}
	if n == 0 {
		return gatehouse.ErrNotFound
	}
	return nil
}

// DeleteExpiredPendingLogins removes the pending logins whose expiry, as
// stored (truncated to the microsecond), is not after now, and the index
// members of those whose keys expired, and returns how many pending
// logins it removed.
func (s *Store) DeleteExpiredPendingLogins(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		v, err := deleteExpiredPending.Run(ctx, s.client, []string{s.pending + "exp"}, s.pending, micros(now), sweepBatch).Int64Slice()
		if err != nil {
			return total, internal("delete expired pending logins", err)
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

// DeleteUserPendingLogins removes every pending login of userID and
// returns how many it removed.
func (s *Store) DeleteUserPendingLogins(ctx context.Context, userID string) (int, error) {
	n, err := deleteUserPending.Run(ctx, s.client, []string{s.pending + "user:" + userID}, s.pending).Int()
	if err != nil {
		return 0, internal("delete user pending logins", err)
	}
	return n, nil
}
