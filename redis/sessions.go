package redis

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse"
)

// A session is a hash at tok:<hex token hash> with the fields below, and
// a string at id:<id> holding the hex token hash, both expiring at the
// session's end. Besides the session's own fields the hash keeps ord, its
// member in the sorted sets all and user:<user id>, and ref, its member
// in the sorted set ends.
//
// ord is the creation time, in microseconds as 16 hexadecimal digits with
// the sign bit flipped (so that their order is the times' order), a colon
// and the id. Every member of all and user:<id> has score 0, so Redis
// orders them by their bytes: by creation, then by id, which is the order
// of Sessions and UserSessions, read backwards, and a position in it (an
// ord) is the cursor of a page.
//
// idp and idt are the session's Provider and IDToken; a session stored
// before they existed has neither, which reads as "".
//
// ref is the creation time as in ord, a colon and the id and user as the
// prelude's ref function joins them; its score in ends is the session's
// end in whole microseconds, rounded down.

// luaSessions are the Lua functions of the session scripts. ARGV[1] is the
// key base of the sessions, from which they derive the keys of records
// and indexes.
const luaSessions = `
local B = ARGV[1]
local function sref(c, id, user) return c .. ':' .. ref(id, user) end
local function sunref(r)
  local id, user = unref(string.sub(r, 18))
  return string.sub(r, 1, 16), id, user
end
local function ends_us(m)
  local e = tonumber(m.seen) + tonumber(m.idle_us)
  local x = tonumber(m.exp)
  if x < e then e = x end
  return e
end
-- ended reports whether session m has ended at now (now_us microseconds
-- and now_rem nanoseconds): Session.Expired to the nanosecond.
local function ended(m, now_us, now_rem)
  if tonumber(m.exp) <= now_us then return true end
  local d = now_us - (tonumber(m.seen) + tonumber(m.idle_us))
  return d > 0 or (d == 0 and now_rem >= tonumber(m.idle_ns))
end
-- record returns the key and fields of session id, or nil.
local function record(id)
  local hex = redis.call('GET', B .. 'id:' .. id)
  if not hex then return nil end
  local tok = B .. 'tok:' .. hex
  local a = redis.call('HGETALL', tok)
  if #a == 0 then return nil end
  return tok, a
end
-- drop removes the session of ref r, and r from every index; it returns
-- 1 if the session was there, 0 if only index members were.
local function drop(r)
  local c, id, user = sunref(r)
  local ord = c .. ':' .. id
  local idk = B .. 'id:' .. id
  local hex = redis.call('GET', idk)
  local n = 0
  if hex then
    n = redis.call('DEL', B .. 'tok:' .. hex)
    redis.call('DEL', idk)
  end
  redis.call('ZREM', B .. 'all', ord)
  if user ~= '' then redis.call('ZREM', B .. 'user:' .. user, ord) end
  redis.call('ZREM', B .. 'ends', r)
  return n
end
-- place gives the session stored at tok, with fields m, its time to live
-- and its id key, and puts it in the indexes.
local function place(tok, m, now_us)
  local e = ends_us(m)
  local ttl = ttlms(e, now_us)
  local c, id, user = sunref(m.ref)
  local ord = c .. ':' .. id
  redis.call('PEXPIRE', tok, int(ttl))
  redis.call('SET', B .. 'id:' .. id, m.hash, 'PX', int(ttl))
  redis.call('ZADD', B .. 'all', 0, ord)
  extend(B .. 'all', ttl)
  redis.call('ZADD', B .. 'ends', e, m.ref)
  extend(B .. 'ends', ttl)
  if user ~= '' then
    local uk = B .. 'user:' .. user
    redis.call('ZADD', uk, 0, ord)
    extend(uk, ttl)
  end
end
`

// sessionScript makes a script of the prelude, the session functions and
// body.
func sessionScript(body string) *goredis.Script { return script(luaSessions + body) }

var (
	// createSession: KEYS tok, id; ARGV base, now, created, id, user,
	// then the fields. 0 when the id or the token hash is taken.
	createSession = sessionScript(`
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local c, id, user = ARGV[3], ARGV[4], ARGV[5]
redis.call('HSET', KEYS[1], 'ord', c .. ':' .. id, 'ref', sref(c, id, user), unpack(ARGV, 6))
place(KEYS[1], pairs2map(redis.call('HGETALL', KEYS[1])), tonumber(ARGV[2]))
return 1
`)

	// sessionByID: KEYS id; ARGV base. The session's fields, or none.
	sessionByID = sessionScript(`
local hex = redis.call('GET', KEYS[1])
if not hex then return {} end
return redis.call('HGETALL', B .. 'tok:' .. hex)
`)

	// touchSession: KEYS id; ARGV base, now, last seen.
	touchSession = sessionScript(`
local hex = redis.call('GET', KEYS[1])
if not hex then return 0 end
local tok = B .. 'tok:' .. hex
if redis.call('EXISTS', tok) == 0 then return 0 end
redis.call('HSET', tok, 'seen', ARGV[3])
place(tok, pairs2map(redis.call('HGETALL', tok)), tonumber(ARGV[2]))
return 1
`)

	// rekeySession: KEYS old id, new id, old tok, new tok; ARGV base, now,
	// old hash, new hash, new id, authenticated, two-factor, last seen. 1
	// when rekeyed, 0 when the old session is missing or has another
	// hash, -1 when the new id or hash is taken.
	rekeySession = sessionScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[3] or redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
if KEYS[2] ~= KEYS[1] and redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
if KEYS[4] ~= KEYS[3] and redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
local m = pairs2map(redis.call('HGETALL', KEYS[3]))
local c, _, user = sunref(m.ref)
drop(m.ref)
m.id, m.hash, m.auth, m.tf, m.seen = ARGV[5], ARGV[4], ARGV[6], ARGV[7], ARGV[8]
m.ord, m.ref = c .. ':' .. m.id, sref(c, m.id, user)
local a = {}
for k, v in pairs(m) do a[#a + 1] = k; a[#a + 1] = v end
redis.call('HSET', KEYS[4], unpack(a))
place(KEYS[4], m, tonumber(ARGV[2]))
return 1
`)

	// deleteSession: KEYS id; ARGV base.
	deleteSession = sessionScript(`
local hex = redis.call('GET', KEYS[1])
if not hex then return 0 end
local r = redis.call('HGET', B .. 'tok:' .. hex, 'ref')
if not r then
  redis.call('DEL', KEYS[1])
  return 0
end
return drop(r)
`)

	// deleteUserSessions: KEYS user; ARGV base, the id to keep. How many
	// sessions it removed.
	deleteUserSessions = sessionScript(`
local n = 0
for _, ord in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local id = string.sub(ord, 18)
  if id ~= ARGV[2] then
    local tok, a = record(id)
    if tok then n = n + drop(pairs2map(a).ref) else redis.call('ZREM', KEYS[1], ord) end
  end
end
return n
`)

	// userSessions: KEYS user; ARGV base. The fields of each session,
	// newest first; members whose session expired are removed.
	userSessions = sessionScript(`
local out = {}
for _, ord in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, -1)) do
  local tok, a = record(string.sub(ord, 18))
  if tok then out[#out + 1] = a else redis.call('ZREM', KEYS[1], ord) end
end
return out
`)

	// sessionsPage: KEYS all; ARGV base, the exclusive start ("+" for
	// the first page), how many (0 for all). The fields of the sessions,
	// newest first; members whose session expired are removed, and
	// replaced by the next ones, so that every page but the last is full.
	sessionsPage = sessionScript(`
local out = {}
local want = tonumber(ARGV[3])
local start = ARGV[2]
while true do
  local batch
  if want > 0 then
    batch = redis.call('ZREVRANGEBYLEX', KEYS[1], start, '-', 'LIMIT', 0, want - #out)
  else
    batch = redis.call('ZREVRANGEBYLEX', KEYS[1], start, '-')
  end
  if #batch == 0 then break end
  for _, ord in ipairs(batch) do
    local tok, a = record(string.sub(ord, 18))
    if tok then out[#out + 1] = a else redis.call('ZREM', KEYS[1], ord) end
  end
  if want == 0 or #out >= want then break end
  start = '(' .. batch[#batch]
end
return out
`)

	// deleteExpiredSessions: KEYS ends; ARGV base, now (microseconds),
	// now (nanoseconds past them), batch. {removed, more}: the sessions
	// whose end, rounded down, is before now's microsecond have ended, in
	// batches; those ending in now's microsecond are checked to the
	// nanosecond once no batch is left.
	deleteExpiredSessions = sessionScript(`
local now_us, now_rem, batch = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local n = 0
local c = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, batch)
for _, r in ipairs(c) do n = n + drop(r) end
if #c == batch then return {n, 1} end
for _, r in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], ARGV[2])) do
  local _, id = sunref(r)
  local tok, a = record(id)
  if not tok then
    drop(r)
  elseif ended(pairs2map(a), now_us, now_rem) then
    n = n + drop(r)
  end
end
return {n, 0}
`)
)

// sweepBatch is how many index members a sweep script removes at most in
// one call, so that a sweep of a million ended sessions does not hold
// Redis for seconds.
const sweepBatch = 500

// tokKey and idKey are the keys of a session by token hash and by id.
func (s *Store) tokKey(hash []byte) string { return s.sessions + "tok:" + hex.EncodeToString(hash) }
func (s *Store) idKey(id string) string    { return s.sessions + "id:" + id }

// orderTime is t as the first 16 bytes of an ord: its microseconds with
// the sign bit flipped, in hexadecimal, so that bytes order as times.
func orderTime(t time.Time) string {
	return fmt.Sprintf("%016x", uint64(micros(t))^(1<<63))
}

// boolField and optMicros encode fields: a boolean as "1" or "0", an
// optional time as "" when zero.
func boolField(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func optMicros(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(micros(t), 10)
}

// CreateSession stores a new session, its keys expiring at its end. One
// whose id or token hash is taken is CodeConflict. A guest session (user
// "") is in no user's index.
func (s *Store) CreateSession(ctx context.Context, ses *gatehouse.Session) error {
	keys, args := s.createArgs(ses)
	return createResult(createSession.Run(ctx, s.client, keys, args...))
}

// createArgs are the keys and arguments of createSession for ses.
func (s *Store) createArgs(ses *gatehouse.Session) ([]string, []any) {
	idleUS, idleNS := usRem(int64(ses.IdleTimeout))
	args := []any{s.sessions, micros(s.now()), orderTime(ses.CreatedAt), ses.ID, ses.UserID,
		"id", ses.ID, "hash", hex.EncodeToString(ses.TokenHash), "user", ses.UserID,
		"created", micros(ses.CreatedAt), "seen", micros(ses.LastSeenAt), "exp", micros(ses.ExpiresAt),
		"idle_us", idleUS, "idle_ns", idleNS, "auth", optMicros(ses.AuthenticatedAt),
		"rem", boolField(ses.Remember), "tf", boolField(ses.TwoFactor), "scope", ses.Scope,
		"addr", ses.ClientAddr, "ua", ses.UserAgent, "idp", ses.Provider, "idt", ses.IDToken}
	return []string{s.tokKey(ses.TokenHash), s.idKey(ses.ID)}, args
}

// createResult reads createSession's reply: 1 created, 0 taken.
func createResult(cmd *goredis.Cmd) error {
	ok, err := cmd.Int()
	if err != nil {
		return internal("create session", err)
	}
	if ok == 0 {
		return errConflict("session")
	}
	return nil
}

// SessionByTokenHash returns the session whose token hashes to hash, or
// gatehouse.ErrNotFound: one HGETALL. It does not check expiry.
func (s *Store) SessionByTokenHash(ctx context.Context, hash []byte) (*gatehouse.Session, error) {
	m, err := s.client.HGetAll(ctx, s.tokKey(hash)).Result()
	if err != nil {
		return nil, internal("session by token hash", err)
	}
	return decodeSession("session by token hash", m)
}

// SessionByID returns the session with public id id, or
// gatehouse.ErrNotFound. It does not check expiry.
func (s *Store) SessionByID(ctx context.Context, id string) (*gatehouse.Session, error) {
	v, err := sessionByID.Run(ctx, s.client, []string{s.idKey(id)}, s.sessions).Result()
	if err != nil {
		return nil, internal("session by id", err)
	}
	m, err := fields(v)
	if err != nil {
		return nil, internal("session by id", err)
	}
	return decodeSession("session by id", m)
}

// TouchSession sets the last-seen time of session id and moves the end of
// its keys to the session's new end. A missing session is not an error.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	err := touchSession.Run(ctx, s.client, []string{s.idKey(id)}, s.sessions, micros(s.now()), micros(at)).Err()
	return internal("touch session", err)
}

// RekeySession replaces session oldID, whose token hash must still be
// oldHash, by the same session under ses.ID and ses.TokenHash, with ses's
// AuthenticatedAt, TwoFactor and LastSeenAt and the rest (Provider and
// IDToken among it) as stored: one script, so the old id and
// hash are gone the moment the new ones exist. A session that is missing
// or has another hash is gatehouse.ErrNotFound; a new id or hash another
// session has is CodeConflict. Either way nothing changes. Remembered
// devices live in another store: the caller moves them.
func (s *Store) RekeySession(ctx context.Context, oldID string, oldHash []byte, ses *gatehouse.Session) error {
	keys := []string{s.idKey(oldID), s.idKey(ses.ID), s.tokKey(oldHash), s.tokKey(ses.TokenHash)}
	r, err := rekeySession.Run(ctx, s.client, keys, s.sessions, micros(s.now()),
		hex.EncodeToString(oldHash), hex.EncodeToString(ses.TokenHash), ses.ID,
		optMicros(ses.AuthenticatedAt), boolField(ses.TwoFactor), micros(ses.LastSeenAt)).Int()
	switch {
	case err != nil:
		return internal("rekey session", err)
	case r == 0:
		return gatehouse.ErrNotFound
	case r < 0:
		return &gatehouse.Error{Code: gatehouse.CodeConflict, Message: "The session id or token is taken."}
	}
	return nil
}

// DeleteSession removes session id. A missing session is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return internal("delete session", deleteSession.Run(ctx, s.client, []string{s.idKey(id)}, s.sessions).Err())
}

// DeleteUserSessions removes every session of userID but the one with id
// except, which may be "", and returns how many it removed. Guest
// sessions are no user's: userID "" removes none.
func (s *Store) DeleteUserSessions(ctx context.Context, userID, except string) (int, error) {
	if userID == "" {
		return 0, nil
	}
	n, err := deleteUserSessions.Run(ctx, s.client, []string{s.sessions + "user:" + userID}, s.sessions, except).Int()
	if err != nil {
		return 0, internal("delete user sessions", err)
	}
	return n, nil
}

// UserSessions returns the sessions of userID, newest first.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]*gatehouse.Session, error) {
	if userID == "" {
		return nil, nil
	}
	v, err := userSessions.Run(ctx, s.client, []string{s.sessions + "user:" + userID}, s.sessions).Result()
	if err != nil {
		return nil, internal("user sessions", err)
	}
	sessions, _, err := decodeSessions("user sessions", v)
	return sessions, err
}

// Sessions returns a page of every session, newest first by creation time
// and id, after the session cursor after names, and the cursor of the
// next page ("" when none follows). A limit of zero or less means no
// limit. The cursor is the last session's position in the index all, so it
// survives that session's deletion.
func (s *Store) Sessions(ctx context.Context, after string, limit int) ([]*gatehouse.Session, string, error) {
	start := "+"
	if after != "" {
		ord, ok := parseSessionCursor(after)
		if !ok {
			return nil, "", errBadSessionCursor
		}
		start = "(" + ord
	}
	want := 0
	if limit > 0 {
		want = limit + 1 // one more says whether a next page exists
	}
	v, err := sessionsPage.Run(ctx, s.client, []string{s.sessions + "all"}, s.sessions, start, want).Result()
	if err != nil {
		return nil, "", internal("sessions", err)
	}
	sessions, ords, err := decodeSessions("sessions", v)
	if err != nil {
		return nil, "", err
	}
	if limit <= 0 || len(sessions) <= limit {
		return sessions, "", nil
	}
	return sessions[:limit], base64.RawURLEncoding.EncodeToString([]byte(ords[limit-1])), nil
}

// errBadSessionCursor answers a cursor that Sessions did not make.
var errBadSessionCursor = &gatehouse.Error{
	Code:    gatehouse.CodeValidation,
	Message: "The cursor is not valid.",
	Fields:  map[string]string{"cursor": "must be the next value of a previous page"},
}

// parseSessionCursor reads a cursor of Sessions: an ord, base64url-encoded.
func parseSessionCursor(cursor string) (string, bool) {
	if len(cursor) > 1024 {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) < 18 || b[16] != ':' {
		return "", false
	}
	for _, c := range b[:16] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	return string(b), true
}

// DeleteExpiredSessions removes every session that has ended at now, as
// gatehouse.Session.Expired has it, and the index members of sessions
// whose keys expired, and returns how many sessions it removed.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	us, rem := timeArgs(now)
	total := 0
	for {
		v, err := deleteExpiredSessions.Run(ctx, s.client, []string{s.sessions + "ends"}, s.sessions, us, rem, sweepBatch).Int64Slice()
		if err != nil {
			return total, internal("delete expired sessions", err)
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

// decodeSessions reads the reply of a script listing sessions, and
// returns their ords too.
func decodeSessions(op string, v any) ([]*gatehouse.Session, []string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, nil, corrupt("unexpected reply")
	}
	sessions := make([]*gatehouse.Session, 0, len(list))
	ords := make([]string, 0, len(list))
	for _, item := range list {
		m, err := fields(item)
		if err != nil {
			return nil, nil, internal(op, err)
		}
		ses, err := decodeSession(op, m)
		if err != nil {
			return nil, nil, err
		}
		sessions = append(sessions, ses)
		ords = append(ords, m["ord"])
	}
	return sessions, ords, nil
}

// decodeSession reads the fields of a session; none is
// gatehouse.ErrNotFound, a malformed field an internal error.
func decodeSession(op string, m map[string]string) (*gatehouse.Session, error) {
	if len(m) == 0 {
		return nil, gatehouse.ErrNotFound
	}
	ses := &gatehouse.Session{
		ID: m["id"], UserID: m["user"], Scope: m["scope"], ClientAddr: m["addr"], UserAgent: m["ua"],
		Remember: m["rem"] == "1", TwoFactor: m["tf"] == "1", Provider: m["idp"], IDToken: m["idt"],
	}
	var err error
	if ses.TokenHash, err = hex.DecodeString(m["hash"]); err != nil {
		return nil, corrupt("field hash: not hexadecimal")
	}
	ints := map[string]int64{}
	for _, f := range []string{"created", "seen", "exp", "idle_us", "idle_ns"} {
		if ints[f], err = parseInt(f, m[f]); err != nil {
			return nil, internal(op, err)
		}
	}
	ses.CreatedAt, ses.LastSeenAt, ses.ExpiresAt = fromMicros(ints["created"]), fromMicros(ints["seen"]), fromMicros(ints["exp"])
	ses.IdleTimeout = time.Duration(ints["idle_us"]*1000 + ints["idle_ns"])
	if a := m["auth"]; a != "" {
		us, err := parseInt("auth", a)
		if err != nil {
			return nil, internal(op, err)
		}
		ses.AuthenticatedAt = fromMicros(us)
	}
	return ses, nil
}

var _ gatehouse.SessionCounter = (*Store)(nil)

// CountSessions counts the sessions that have not ended at now (see
// gatehouse.SessionCounter): the members of the sorted set ends whose end
// is after now's microsecond, one ZCOUNT (logarithmic in the sessions).
// A session that ends within now's microsecond is not counted.
func (s *Store) CountSessions(ctx context.Context, now time.Time) (int, error) {
	us, _ := timeArgs(now)
	n, err := s.client.ZCount(ctx, s.sessions+"ends", "("+us, "+inf").Result()
	if err != nil {
		return 0, internal("count sessions", err)
	}
	return int(n), nil
}
