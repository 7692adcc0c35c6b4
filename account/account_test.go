package account_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sqlite"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var cheap = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newService(t *testing.T) (*account.Service, *sqlite.Store, *clock) {
	t.Helper()
	return newServiceWith(t, account.DefaultConfig)
}

// newServiceWith is newService with the account settings cfg.
func newServiceWith(t *testing.T, cfg account.Config) (*account.Service, *sqlite.Store, *clock) {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clk := &clock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	sm := session.NewManager(store, session.DefaultConfig, clk.Now, nil)
	return account.New(account.StoresOf(store), password.NewHasher(cheap, 0, 0), sm, cfg, clk.Now, nil, nil), store, clk
}

func code(err error) gatehouse.Code { return gatehouse.ErrorCode(err) }

func TestCreateUserValidation(t *testing.T) {
	svc, _, _ := newService(t)
	ctx := context.Background()
	const pw = "a long enough password"
	cases := []struct {
		name  string
		nu    account.NewUser
		code  gatehouse.Code
		field string
	}{
		{"ok", account.NewUser{Username: "alice", Email: "alice@example.com", Password: pw}, "", ""},
		{"email as username", account.NewUser{Username: "bob@example.com", Email: "bob@example.com", Password: pw}, "", ""},
		{"unicode username", account.NewUser{Username: "zoë.müller", Email: "zoe@example.com", Password: pw}, "", ""},
		{"no username", account.NewUser{Email: "x@example.com", Password: pw}, gatehouse.CodeValidation, "username"},
		{"space in username", account.NewUser{Username: "a b", Email: "ab@example.com", Password: pw}, gatehouse.CodeValidation, "username"},
		{"markup in username", account.NewUser{Username: "<b>", Email: "b@example.com", Password: pw}, gatehouse.CodeValidation, "username"},
		{"comma in username", account.NewUser{Username: "a,b", Email: "ab@example.com", Password: pw}, gatehouse.CodeValidation, "username"},
		{"bad email", account.NewUser{Username: "carl", Email: "carl", Password: pw}, gatehouse.CodeValidation, "email"},
		{"email with name", account.NewUser{Username: "carl", Email: "Carl <carl@example.com>", Password: pw}, gatehouse.CodeValidation, "email"},
		{"control char in name", account.NewUser{Username: "dora", Email: "dora@example.com", Name: "Do\x00ra", Password: pw}, gatehouse.CodeValidation, "name"},
		{"no password", account.NewUser{Username: "erin", Email: "erin@example.com"}, gatehouse.CodeValidation, "password"},
		{"short password", account.NewUser{Username: "fred", Email: "fred@example.com", Password: "short"}, gatehouse.CodePasswordPolicy, ""},
		{"duplicate username any case", account.NewUser{Username: "ALICE", Email: "other@example.com", Password: pw}, gatehouse.CodeConflict, ""},
		{"duplicate email", account.NewUser{Username: "alice2", Email: "Alice@Example.com", Password: pw}, gatehouse.CodeConflict, ""},
		{"unknown group", account.NewUser{Username: "gina", Email: "gina@example.com", Password: pw, Groups: []string{"nope"}}, gatehouse.CodeValidation, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := svc.CreateUser(ctx, c.nu)
			if code(err) != c.code {
				t.Fatalf("err = %v, want code %q", err, c.code)
			}
			if c.code == "" {
				if u.State != gatehouse.StateActive || u.PasswordHash == "" || u.PasswordHash == c.nu.Password || u.SecurityStamp == "" {
					t.Errorf("user = %+v", u)
				}
				return
			}
			var ge *gatehouse.Error
			errors.As(err, &ge)
			if c.field != "" && ge.Fields[c.field] == "" {
				t.Errorf("fields = %v, want %q", ge.Fields, c.field)
			}
		})
	}
}

func TestSetupOnce(t *testing.T) {
	svc, store, _ := newService(t)
	ctx := context.Background()
	token, err := svc.StartSetup(ctx)
	if err != nil || token == "" {
		t.Fatal(token, err)
	}
	// Many concurrent attempts with the right token: exactly one wins.
	var wg sync.WaitGroup
	results := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.CompleteSetup(ctx, token, account.NewUser{
				Username: "admin" + string(rune('a'+i)), Email: string(rune('a'+i)) + "@example.com", Password: "correct horse battery",
			})
			results <- err
		}()
	}
	wg.Wait()
	close(results)
	ok := 0
	for err := range results {
		switch code(err) {
		case "":
			ok++
		case gatehouse.CodeInvalidToken:
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if n, _ := store.CountUsers(ctx); ok != 1 || n != 1 {
		t.Fatalf("%d setups succeeded, %d users", ok, n)
	}
	if svc.SetupPending() {
		t.Error("setup still pending")
	}
}

func TestSetupRefusedWhenUsersExist(t *testing.T) {
	svc, _, _ := newService(t)
	ctx := context.Background()
	token, _ := svc.StartSetup(ctx)
	// A user created by other means (the CLI) closes the setup.
	if _, err := svc.CreateUser(ctx, account.NewUser{Username: "ops", Email: "ops@example.com", Password: "a long enough password"}); err != nil {
		t.Fatal(err)
	}
	_, err := svc.CompleteSetup(ctx, token, account.NewUser{Username: "root", Email: "root@example.com", Password: "a long enough password"})
	if code(err) != gatehouse.CodeInvalidToken {
		t.Fatalf("err = %v", err)
	}
}

func TestSweep(t *testing.T) {
	svc, store, clk := newService(t)
	ctx := context.Background()
	u, err := svc.CreateUser(ctx, account.NewUser{Username: "sam", Email: "sam@example.com", Password: "a long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Login(ctx, account.LoginRequest{Username: "sam", Password: "a long enough password", Client: account.Client{Addr: "192.0.2.1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Login(ctx, account.LoginRequest{Username: "sam", Password: "wrong", Client: account.Client{Addr: "192.0.2.1"}}); code(err) != gatehouse.CodeInvalidCredentials {
		t.Fatal(err)
	}
	if th, _ := store.Throttle(ctx, "login:addr:192.0.2.1"); th.Failures != 1 {
		t.Fatalf("throttle = %+v", th)
	}
	clk.Advance(21 * time.Minute)
	if err := svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if ss, _ := store.UserSessions(ctx, u.ID); len(ss) != 0 {
		t.Errorf("%d sessions left after sweep", len(ss))
	}
	if th, _ := store.Throttle(ctx, "login:addr:192.0.2.1"); th.Failures != 0 {
		t.Errorf("stale throttle kept: %+v", th)
	}
}

func TestDisabledUserLosesSessionsAndLogin(t *testing.T) {
	svc, store, _ := newService(t)
	ctx := context.Background()
	u, _ := svc.CreateUser(ctx, account.NewUser{Username: "tom", Email: "tom@example.com", Password: "a long enough password"})
	res, err := svc.Login(ctx, account.LoginRequest{Username: "tom", Password: "a long enough password"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Authenticate(ctx, res.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DisableUser(ctx, account.Actor{}, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Authenticate(ctx, res.Token); code(err) != gatehouse.CodeUnauthenticated {
		t.Errorf("session of a disabled user: %v", err)
	}
	if ss, _ := store.UserSessions(ctx, u.ID); len(ss) != 0 {
		t.Errorf("%d sessions left", len(ss))
	}
	if _, err := svc.Login(ctx, account.LoginRequest{Username: "tom", Password: "a long enough password"}); code(err) != gatehouse.CodeInvalidCredentials {
		t.Errorf("login of a disabled user: %v", err)
	}
}

func TestInvitedUserCannotLogIn(t *testing.T) {
	svc, store, clk := newService(t)
	ctx := context.Background()
	now := clk.Now()
	invited := &gatehouse.User{ID: gatehouse.NewID(), Username: "ivy", Email: "ivy@example.com", State: gatehouse.StateInvited, SecurityStamp: "s", CreatedAt: now, UpdatedAt: now}
	if err := store.CreateUser(ctx, invited); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Login(ctx, account.LoginRequest{Username: "ivy", Password: "anything at all"}); code(err) != gatehouse.CodeInvalidCredentials {
		t.Errorf("invited login: %v", err)
	}
}

// plainStore hides the optional abilities of the store it wraps, such as
// gatehouse.LoginRecorder: only gatehouse.Store's methods remain.
type plainStore struct{ gatehouse.Store }

// TestLoginRecords: a login records the last-login time, the session and
// a login.succeeded event, whether the store writes them together
// (gatehouse.LoginRecorder, which StoresOf finds) or one by one.
func TestLoginRecords(t *testing.T) {
	for name, plain := range map[string]bool{"LoginRecorder": false, "one by one": true} {
		t.Run(name, func(t *testing.T) {
			store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			var s gatehouse.Store = store
			if plain {
				s = plainStore{store}
			}
			stores := account.StoresOf(s)
			if (stores.Logins != nil) == plain {
				t.Fatalf("StoresOf: Logins is %v", stores.Logins)
			}
			clk := &clock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
			var audited []gatehouse.AuditKind
			cfg := account.DefaultConfig
			cfg.OnAudit = func(k gatehouse.AuditKind) { audited = append(audited, k) }
			svc := account.New(stores, password.NewHasher(cheap, 0, 0), session.NewManager(s, session.DefaultConfig, clk.Now, nil), cfg, clk.Now, nil, nil)
			ctx := context.Background()
			const pw = "a long enough password"
			u, err := svc.CreateUser(ctx, account.NewUser{Username: "alice", Email: "alice@example.com", Password: pw})
			if err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Hour)
			res, err := svc.Login(ctx, account.LoginRequest{Username: "alice", Password: pw, Client: account.Client{Addr: "192.0.2.7"}})
			if err != nil {
				t.Fatal(err)
			}
			stored, err := store.UserByID(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !stored.LastLoginAt.Equal(res.Session.CreatedAt) || !stored.LastLoginAt.Equal(clk.Now().UTC()) {
				t.Errorf("LastLoginAt = %v, want the session's creation %v", stored.LastLoginAt, res.Session.CreatedAt)
			}
			if !res.User.LastLoginAt.Equal(stored.LastLoginAt) {
				t.Errorf("the result's LastLoginAt = %v, stored %v", res.User.LastLoginAt, stored.LastLoginAt)
			}
			if _, err := store.SessionByID(ctx, res.Session.ID); err != nil {
				t.Errorf("session not stored: %v", err)
			}
			events, _, err := store.Audit(ctx, gatehouse.AuditFilter{Kind: gatehouse.AuditLoginSucceeded, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 || events[0].TargetID != res.Session.ID || events[0].ActorID != u.ID || events[0].ClientAddr != "192.0.2.7" {
				t.Errorf("login events = %+v, want one for session %s", events, res.Session.ID)
			}
			if n := len(audited); n == 0 || audited[n-1] != gatehouse.AuditLoginSucceeded {
				t.Errorf("OnAudit saw %v, want login.succeeded last", audited)
			}
		})
	}
}

// TestBasicUpgradesImportedHash: Basic credentials go through the same
// password check as a login, so an imported hash is remade with argon2id
// on the first success, and a wrong password leaves it alone.
func TestBasicUpgradesImportedHash(t *testing.T) {
	svc, store, _ := newService(t)
	ctx := context.Background()
	const pw = "a long enough password"
	u, err := svc.CreateUser(ctx, account.NewUser{Username: "kirby", Email: "kirby@example.com", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	imported, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SetPasswordHash(ctx, u.ID, u.PasswordHash, string(imported)); err != nil {
		t.Fatal(err)
	}
	hashOf := func() string {
		t.Helper()
		got, err := store.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.PasswordHash
	}
	if _, err := svc.AuthenticateBasic(ctx, "kirby", "not the password at all", account.Client{}); code(err) != gatehouse.CodeInvalidCredentials {
		t.Fatalf("wrong password: %v", err)
	}
	if h := hashOf(); h != string(imported) {
		t.Fatalf("a failed Basic attempt changed the hash to %.20s…", h)
	}
	if _, err := svc.AuthenticateBasic(ctx, "kirby", pw, account.Client{}); err != nil {
		t.Fatal(err)
	}
	if h := hashOf(); !strings.HasPrefix(h, "$argon2id$") {
		t.Errorf("after a Basic success the hash is %.20s…, want argon2id", h)
	}
	if _, err := svc.AuthenticateBasic(ctx, "kirby", pw, account.Client{}); err != nil {
		t.Errorf("the upgraded hash does not verify: %v", err)
	}
}
