package postgres_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/storetest"
)

func TestSessions(t *testing.T) {
	storetest.RunSessions(t, func(t *testing.T) storetest.SessionStores {
		s := open(t)
		return storetest.SessionStores{SessionStore: s, UserStore: s}
	})
}

// A cursor the store did not make is a validation error naming "cursor",
// never a query PostgreSQL refuses: well-formed base64 of an id that is no
// text, or of a time timestamptz cannot hold, included.
func TestSessionCursorsTheStoreDidNotMake(t *testing.T) {
	s := open(t)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, bad := range []string{
		enc("1741964966535897.\xff\xfe"),                  // an id that is not UTF-8
		enc("1741964966535897.a\x00b"),                    // NUL in the id
		enc("1741964966535897."),                          // no id
		enc("-9223372036854775808.id"),                    // before 4714 BC
		enc("99999999999999999999.id"),                    // not an int64
		enc("12 34.id"),                                   // not a number
		enc("1741964966535897.id") + "=",                  // padded
		base64.URLEncoding.EncodeToString([]byte("1.xy")), // padded form
	} {
		_, _, err := s.Sessions(t.Context(), bad, 2)
		var ge *gatehouse.Error
		if !errors.As(err, &ge) || ge.Code != gatehouse.CodeValidation || ge.Fields["cursor"] == "" {
			t.Errorf("Sessions(%q) = %v, want CodeValidation naming the cursor", bad, err)
		}
	}
	// The earliest time the store can hold is a cursor like any other.
	if _, _, err := s.Sessions(t.Context(), enc("-210866803200000000.id"), 2); err != nil {
		t.Errorf("Sessions(cursor at 4714 BC) = %v, want no error", err)
	}
}

// Text PostgreSQL refuses (invalid UTF-8, NUL) never reaches it as a query
// that fails: a lookup by it finds nothing, a session keeps its user agent
// as near as text can hold it, and an id that is no text is refused.
func TestSessionTextsPostgreSQLRefuses(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	now := time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)
	ses := &gatehouse.Session{ID: gatehouse.NewID(), TokenHash: []byte("hash"), UserID: gatehouse.NewID(),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleTimeout: time.Hour,
		ClientAddr: "192.0.2.1\x00", UserAgent: "Navigateur \xe9t\xe9"}
	if err := s.CreateSession(ctx, ses); err != nil {
		t.Fatalf("CreateSession with a Latin-1 user agent: %v", err)
	}
	got, err := s.SessionByID(ctx, ses.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserAgent != "Navigateur \uFFFDt\uFFFD" || got.ClientAddr != "192.0.2.1\uFFFD" {
		t.Errorf("UserAgent, ClientAddr = %q, %q; want the bytes text cannot hold replaced by U+FFFD", got.UserAgent, got.ClientAddr)
	}

	// The provider and ID token are kept exactly or refused: an ID token
	// with its bytes replaced would no longer be the provider's.
	for _, field := range []string{"provider", "id_token"} {
		exact := *ses
		exact.ID, exact.TokenHash = gatehouse.NewID(), []byte("hash "+field)
		if field == "provider" {
			exact.Provider = "entra\x00"
		} else {
			exact.IDToken = "eyJ\xff"
		}
		err := s.CreateSession(ctx, &exact)
		var ge *gatehouse.Error
		if !errors.As(err, &ge) || ge.Code != gatehouse.CodeValidation || ge.Fields[field] == "" {
			t.Errorf("CreateSession with %s not text = %v, want CodeValidation naming %s", field, err, field)
		}
	}

	for _, bad := range []string{"\xff", "a\x00"} {
		if _, err := s.SessionByID(ctx, bad); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("SessionByID(%q) = %v, want ErrNotFound", bad, err)
		}
		if err := s.TouchSession(ctx, bad, now); err != nil {
			t.Errorf("TouchSession(%q) = %v, want nil", bad, err)
		}
		if err := s.DeleteSession(ctx, bad); err != nil {
			t.Errorf("DeleteSession(%q) = %v, want nil", bad, err)
		}
		if n, err := s.DeleteUserSessions(ctx, bad, bad); n != 0 || err != nil {
			t.Errorf("DeleteUserSessions(%q) = %d, %v; want 0, nil", bad, n, err)
		}
		if list, err := s.UserSessions(ctx, bad); len(list) != 0 || err != nil {
			t.Errorf("UserSessions(%q) = %d sessions, %v; want none, nil", bad, len(list), err)
		}
		if err := s.RekeySession(ctx, bad, ses.TokenHash, ses); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("RekeySession(%q) = %v, want ErrNotFound", bad, err)
		}
		if _, err := s.TokenByID(ctx, bad); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("TokenByID(%q) = %v, want ErrNotFound", bad, err)
		}
		if err := s.UseActionToken(ctx, bad, now); !errors.Is(err, gatehouse.ErrNotFound) {
			t.Errorf("UseActionToken(%q) = %v, want ErrNotFound", bad, err)
		}
		if events, n, err := s.Audit(ctx, gatehouse.AuditFilter{UserID: bad}); len(events) != 0 || n != 0 || err != nil {
			t.Errorf("Audit(UserID %q) = %d events, %d, %v; want none", bad, len(events), n, err)
		}

		other := *ses
		other.ID, other.TokenHash = bad, []byte("other "+bad)
		if code := gatehouse.ErrorCode(s.CreateSession(ctx, &other)); code != gatehouse.CodeValidation {
			t.Errorf("CreateSession(id %q) = %q, want CodeValidation", bad, code)
		}
	}

	// A guest session has no user, and a session without a user is a
	// guest's: anything else is refused before the schema's check.
	mixed := *ses
	mixed.ID, mixed.TokenHash, mixed.Scope = gatehouse.NewID(), []byte("mixed"), gatehouse.ScopeGuest
	if code := gatehouse.ErrorCode(s.CreateSession(ctx, &mixed)); code != gatehouse.CodeValidation {
		t.Errorf("CreateSession(a user's guest session) = %q, want CodeValidation", code)
	}
	mixed.UserID, mixed.Scope = "", ""
	if code := gatehouse.ErrorCode(s.CreateSession(ctx, &mixed)); code != gatehouse.CodeValidation {
		t.Errorf("CreateSession(no user, full scope) = %q, want CodeValidation", code)
	}
}

// The audit log keeps an event whose texts came from a client with bytes
// PostgreSQL refuses, rather than losing it.
func TestAuditKeepsTextsPostgreSQLRefuses(t *testing.T) {
	s := open(t)
	e := &gatehouse.AuditEvent{ID: gatehouse.NewID(), Time: time.Now(), Kind: gatehouse.AuditLoginFailed,
		ActorName: "al\x00ice\xff", UserAgent: "\xe9", Detail: map[string]string{"k\x00": "v\xff"}}
	if err := s.AppendAudit(t.Context(), e); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	got, _, err := s.Audit(t.Context(), gatehouse.AuditFilter{})
	if err != nil || len(got) != 1 {
		t.Fatalf("Audit = %d events, %v; want 1", len(got), err)
	}
	if got[0].ActorName != "al\uFFFDice\uFFFD" || got[0].UserAgent != "\uFFFD" || got[0].Detail["k\uFFFD"] != "v\uFFFD" {
		t.Errorf("event = %+v, want the refused bytes replaced by U+FFFD", got[0])
	}
	if code := gatehouse.ErrorCode(s.AppendAudit(t.Context(), &gatehouse.AuditEvent{ID: "\xff", Time: time.Now()})); code != gatehouse.CodeValidation {
		t.Errorf("AppendAudit(id not text) = %q, want CodeValidation", code)
	}
}

// Of concurrent rekeys of one session from one old cookie, each on its own
// connection, exactly one wins; the others find the old id and hash gone.
func TestConcurrentRekeySession(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	now := time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)
	old := &gatehouse.Session{ID: gatehouse.NewID(), TokenHash: []byte("old"), UserID: gatehouse.NewID(),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IdleTimeout: time.Hour}
	if err := s.CreateSession(ctx, old); err != nil {
		t.Fatal(err)
	}
	const n = 12
	next := make([]gatehouse.Session, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		next[i] = *old
		next[i].ID, next[i].TokenHash = gatehouse.NewID(), []byte(fmt.Sprint("new ", i))
		wg.Go(func() { errs[i] = s.RekeySession(context.WithoutCancel(ctx), old.ID, old.TokenHash, &next[i]) })
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("rekeys %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, gatehouse.ErrNotFound):
			t.Errorf("rekey %d = %v, want ErrNotFound for a loser", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no rekey won")
	}
	for i := range n {
		_, err := s.SessionByTokenHash(ctx, next[i].TokenHash)
		if (i == winner) != (err == nil) {
			t.Errorf("session of rekey %d (winner %d): %v", i, winner, err)
		}
	}
}

// At a million sessions a request's lookup, a page of the list, a user's
// sessions and the sweep must each read an index, not the table: EXPLAIN
// of the store's statements on a table of 300,000 analysed sessions names
// the index each one uses.
func TestSessionQueriesUseIndexes(t *testing.T) {
	const fill = `INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, idle_timeout_ns,
			idle_ends_ns, remember, two_factor, scope, client_addr, user_agent)
		SELECT 'id' || i, sha256(i::text::bytea), 'user' || (i % 50000), t, t, t + interval '30 days', 7200000000000,
			(extract(epoch FROM t) * 1e9)::bigint + 7200000000000, false, false, '', '', ''
		FROM generate_series(1, 300000) AS i, LATERAL (SELECT timestamptz '2025-01-01' + i * interval '1 second') AS x(t)`
	at := time.Date(2025, time.January, 2, 0, 0, 0, 0, time.UTC)
	wantIndexes(t, fill, "sessions", []planCase{
		{"sessions_token_hash_key", `SELECT * FROM sessions WHERE token_hash = $1`, []any{[]byte("x")}},
		{"sessions_pkey", `SELECT * FROM sessions WHERE id = $1`, []any{"id7"}},
		{"sessions_user_id", `SELECT * FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id DESC`, []any{"user7"}},
		{"sessions_user_id", `DELETE FROM sessions WHERE user_id = $1 AND id <> $2`, []any{"user7", ""}},
		{"sessions_created_at", `SELECT * FROM sessions ORDER BY created_at DESC, id DESC LIMIT $1`, []any{51}},
		{"sessions_created_at", `SELECT * FROM sessions WHERE (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $1`, []any{51, at, "id"}},
		{"sessions_idle_ends_ns", `DELETE FROM sessions WHERE idle_ends_ns <= $1 OR expires_at <= $2`, []any{at.UnixNano(), at}},
		{"sessions_expires_at", `DELETE FROM sessions WHERE idle_ends_ns <= $1 OR expires_at <= $2`, []any{at.UnixNano(), at}},
	})
}

// planCase is a statement of the store, with arguments, and an index its
// plan must use.
type planCase struct {
	index, query string
	args         []any
}

// wantIndexes fills a fresh store's database with the SQL fill, analyses
// table, and fails t unless the plan of each case names its index and
// reads no table sequentially. The statements are the store's, written
// out: the store does not export its SQL.
func wantIndexes(t *testing.T, fill, table string, cases []planCase) {
	t.Helper()
	dsn := freshDatabase(t)
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(t.Context(), fill); err != nil {
		t.Fatalf("fill: %v", err)
	}
	if _, err := conn.Exec(t.Context(), `ANALYZE `+table); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		rows, err := conn.Query(t.Context(), `EXPLAIN `+tc.query, tc.args...)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", tc.query, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(lines, "\n")
		if !strings.Contains(plan, tc.index) || strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s\nuses no %s:\n%s", tc.query, tc.index, plan)
		}
	}
}
