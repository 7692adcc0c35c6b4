package account_test

import (
	"context"
	"regexp"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/password"
	"github.com/gatehouse/gatehouse/session"
	"github.com/gatehouse/gatehouse/sms"
	"github.com/gatehouse/gatehouse/sqlite"
)

// codeSender is an sms.Sender that keeps the messages it is given.
type codeSender struct {
	mu   sync.Mutex
	sent []sms.Message
}

func (c *codeSender) Send(_ context.Context, m sms.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, m)
	return nil
}

// lastCode returns the code of the last message sent, or fails t.
func (c *codeSender) lastCode(t *testing.T) string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sent) == 0 {
		t.Fatal("no SMS was sent")
	}
	code := regexp.MustCompile(`\b\d{6}\b`).FindString(c.sent[len(c.sent)-1].Body)
	if code == "" {
		t.Fatalf("no code in the SMS %q", c.sent[len(c.sent)-1].Body)
	}
	return code
}

// smsServices returns two Services on one SQLite store, standing for two
// gatehouse processes that share no lock, with second factors on and SMS
// codes going to one codeSender; a's pending logins are kept in
// pendingLogins when it is not nil, else in the store.
func smsServices(t *testing.T, pendingLogins func(*sqlite.Store) gatehouse.PendingLoginStore) (a, b *account.Service, store *sqlite.Store, clk *clock, sender *codeSender) {
	t.Helper()
	b, store, clk, sealer := newTwoFactorService(t)
	sender = &codeSender{}
	b.UseTwoFactor(account.TwoFactorDeps{Sealer: sealer, SMS: sender})
	stores := account.StoresOf(store)
	if pendingLogins != nil {
		stores.PendingLogins = pendingLogins(store)
	}
	a = account.New(stores, password.NewHasher(cheap, 0, 0),
		session.NewManager(store, session.DefaultConfig, clk.Now, nil), account.DefaultConfig, clk.Now, nil, nil)
	a.UseTwoFactor(account.TwoFactorDeps{Sealer: sealer, SMS: sender})
	return a, b, store, clk, sender
}

// smsUser creates tara with TOTP and a phone through svc, and returns her.
func smsUser(t *testing.T, svc *account.Service, clk *clock) *gatehouse.User {
	t.Helper()
	u, _ := enrolTOTP(t, svc, clk, "tara")
	if err := svc.SetPhone(context.Background(), account.Actor{User: u}, u, "+15555550100", account.Proof{Recent: true}); err != nil {
		t.Fatal(err)
	}
	return u
}

// wantSessions fails t unless u has n sessions in store.
func wantSessions(t *testing.T, store *sqlite.Store, u *gatehouse.User, n int) {
	t.Helper()
	got, err := store.UserSessions(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Errorf("%s has %d sessions, want %d", u.Username, len(got), n)
	}
}

// TestSentCodeRaceStartsOneSession: the same pending login's cookie and
// the same right SMS code, sent in parallel to two processes. Nothing but
// the pending login itself makes such a code work once, so exactly one
// request may start a session; the others are answered as for a pending
// login that ended.
func TestSentCodeRaceStartsOneSession(t *testing.T) {
	a, b, store, clk, sender := smsServices(t, nil)
	ctx := context.Background()
	u := smsUser(t, a, clk)
	const addr = "198.51.100.1"
	token := pendingLogin(t, a, "tara", addr)
	if err := a.SendCode(ctx, token, gatehouse.ProviderSMS, account.Client{Addr: addr}); err != nil {
		t.Fatal(err)
	}
	smsCode := sender.lastCode(t)

	// Below the account's budget of attempts, so that none waits for it.
	const requests = 4
	services := []*account.Service{a, b}
	results := make([]*account.LoginResult, requests)
	errs := make([]error, requests)
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			results[i], errs[i] = services[i%2].VerifyCode(ctx, account.VerifyRequest{Token: token, Provider: gatehouse.ProviderSMS,
				Code: smsCode, Client: account.Client{Addr: addr}})
		})
	}
	wg.Wait()
	in := 0
	for i, err := range errs {
		switch {
		case err == nil:
			in++
			if results[i].Token == "" || results[i].Session == nil {
				t.Errorf("request %d got in without a session: %+v", i, results[i])
			}
		case code(err) != gatehouse.CodeNoPendingLogin:
			t.Errorf("request %d with the same right code: %v, want success or %s", i, err, gatehouse.CodeNoPendingLogin)
		}
	}
	if in != 1 {
		t.Errorf("%d of %d requests with one pending login and its right code got in, want exactly 1", in, requests)
	}
	wantSessions(t, store, u, 1)
}

// raceTake is a PendingLoginStore whose first CountPendingLoginAttempt
// runs other once it counted: another process completing the same pending
// login between this request's read of it and its end.
type raceTake struct {
	gatehouse.PendingLoginStore
	once  sync.Once
	other func()
}

func (r *raceTake) CountPendingLoginAttempt(ctx context.Context, id string, max int) (int, error) {
	n, err := r.PendingLoginStore.CountPendingLoginAttempt(ctx, id, max)
	r.once.Do(r.other)
	return n, err
}

// TestSentCodeLoserOfTheTake: a request whose right SMS code was checked
// against a pending login that another process completed meanwhile starts
// no session, and gets no_pending_login; the other's session is the only
// one. The interleaving is forced, so this fails every time the end of a
// pending login does not tell its loser.
func TestSentCodeLoserOfTheTake(t *testing.T) {
	var race *raceTake
	a, b, store, clk, sender := smsServices(t, func(s *sqlite.Store) gatehouse.PendingLoginStore {
		race = &raceTake{PendingLoginStore: s}
		return race
	})
	ctx := context.Background()
	u := smsUser(t, b, clk)
	const addr = "198.51.100.1"
	token := pendingLogin(t, a, "tara", addr)
	if err := b.SendCode(ctx, token, gatehouse.ProviderSMS, account.Client{Addr: addr}); err != nil {
		t.Fatal(err)
	}
	req := account.VerifyRequest{Token: token, Provider: gatehouse.ProviderSMS, Code: sender.lastCode(t), Client: account.Client{Addr: addr}}
	var otherErr error
	race.other = func() { _, otherErr = b.VerifyCode(ctx, req) }

	_, err := a.VerifyCode(ctx, req)
	if otherErr != nil {
		t.Fatalf("the other process's completion: %v", otherErr)
	}
	if code(err) != gatehouse.CodeNoPendingLogin {
		t.Errorf("the right code for a pending login completed meanwhile: %v, want %s", err, gatehouse.CodeNoPendingLogin)
	}
	wantSessions(t, store, u, 1)
	// And it stays ended, on either process.
	for _, svc := range []*account.Service{a, b} {
		if _, err := svc.VerifyCode(ctx, req); code(err) != gatehouse.CodeNoPendingLogin {
			t.Errorf("the pending login again: %v, want %s", err, gatehouse.CodeNoPendingLogin)
		}
	}
	wantSessions(t, store, u, 1)
}
