package mail

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/gatehouse/gatehouse"
)

// resetData is the data of a reset message whose link holds a secret.
func resetData() Data {
	return Data{
		Product: "gatehouse", PublicURL: "https://auth.example.com",
		Username: "carol", Name: "Carol", Email: "carol@example.org",
		Link:      "https://auth.example.com/auth/reset?userId=u7&token=TOPSECRETTOKEN",
		ExpiresIn: time.Hour,
	}
}

// smtpTo returns an SMTP sender (TLS none, no auth) to addr.
func smtpTo(t testing.TB, addr string) *SMTP {
	t.Helper()
	host, port := splitAddr(t, addr)
	s, err := NewSMTP(SMTPConfig{Host: host, Port: port, TLS: TLSNone, From: "gatehouse@example.com", Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// flush runs o.Flush and fails t on an error.
func flush(t testing.TB, o *Outbox) int {
	t.Helper()
	n, err := o.Flush(t.Context())
	if err != nil {
		t.Fatalf("Flush: %v", err)
	}
	return n
}

// wantPending fails t unless store counts n pending messages.
func wantPending(t testing.TB, store gatehouse.OutboxStore, n int) {
	t.Helper()
	got, err := store.PendingMail(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Errorf("PendingMail = %d, want %d", got, n)
	}
}

// deliveries counts what OutboxConfig.OnDelivery is told.
type deliveries struct{ sent, retried, gaveUp int }

func (d *deliveries) observe(sent, permanent bool) {
	switch {
	case sent:
		d.sent++
	case permanent:
		d.gaveUp++
	default:
		d.retried++
	}
}

// tempFail is a 451 reply.
var tempFail = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}

func TestOutboxRetriesTemporaryFailure(t *testing.T) {
	for _, sc := range storeCases {
		t.Run(sc.name, func(t *testing.T) {
			store, _ := sc.open(t)
			srv := startServer(t, serverOptions{tls: TLSNone, rcpt: func(n int, _ string) error {
				if n <= 2 {
					return tempFail
				}
				return nil
			}})
			clock := newFakeClock()
			var seen deliveries
			o := NewOutbox(store, smtpTo(t, srv.Addr), mustLoad(t, ""), OutboxConfig{OnDelivery: seen.observe}, clock.Now, nil)
			rcpts := func() int { _, n := srv.counts(); return n }

			if err := o.Enqueue(t.Context(), "Carol <carol@example.org>", KindReset, resetData()); err != nil {
				t.Fatal(err)
			}
			wantPending(t, store, 1)
			steps := []struct {
				advance  time.Duration
				sent     int
				attempts int
				messages int
			}{
				{0, 0, 1, 0},                // 451
				{0, 0, 1, 0},                // not due
				{29 * time.Second, 0, 1, 0}, // not due: the first backoff is 30s to 33s
				{5 * time.Second, 0, 2, 0},  // 451 again
				{59 * time.Second, 0, 2, 0}, // not due: the second backoff is 60s to 66s
				{8 * time.Second, 1, 3, 1},  // delivered
				{24 * time.Hour, 0, 3, 1},   // and never again
			}
			for i, st := range steps {
				clock.Advance(st.advance)
				if got := flush(t, o); got != st.sent {
					t.Errorf("step %d: Flush sent %d, want %d", i, got, st.sent)
				}
				if got := rcpts(); got != st.attempts {
					t.Errorf("step %d: server saw %d attempts, want %d", i, got, st.attempts)
				}
				if got := len(srv.messages()); got != st.messages {
					t.Errorf("step %d: server accepted %d messages, want %d", i, got, st.messages)
				}
			}
			wantPending(t, store, 0)
			if seen != (deliveries{sent: 1, retried: 2}) {
				t.Errorf("OnDelivery saw %+v, want 2 retried failures and 1 sent", seen)
			}

			msgs := srv.messages()
			if len(msgs) != 1 {
				t.FailNow()
			}
			text, html := parts(t, msgs[0])
			if !strings.Contains(text, resetData().Link) || !strings.Contains(html, "TOPSECRETTOKEN") {
				t.Errorf("delivered message lacks the link:\n%s\n%s", text, html)
			}
			if s := msgs[0].Header.Get("Subject"); s != "Reset your gatehouse password" {
				t.Errorf("Subject = %q", s)
			}
			if msgs[0].To[0] != "carol@example.org" {
				t.Errorf("RCPT TO = %v", msgs[0].To)
			}
		})
	}
}

func TestOutboxGivesUpOnPermanentFailure(t *testing.T) {
	for _, sc := range storeCases {
		t.Run(sc.name, func(t *testing.T) {
			store, _ := sc.open(t)
			srv := startServer(t, serverOptions{tls: TLSNone, rcpt: func(_ int, to string) error {
				if to == "nobody@example.org" {
					return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
				}
				return nil
			}})
			var logs bytes.Buffer
			clock := newFakeClock()
			var seen deliveries
			o := NewOutbox(store, smtpTo(t, srv.Addr), mustLoad(t, ""), OutboxConfig{OnDelivery: seen.observe}, clock.Now, newJSONLogger(&logs))
			if err := o.Enqueue(t.Context(), "nobody@example.org", KindReset, resetData()); err != nil {
				t.Fatal(err)
			}
			if err := o.Enqueue(t.Context(), "carol@example.org", KindPasswordChanged, resetData()); err != nil {
				t.Fatal(err)
			}
			if got := flush(t, o); got != 1 {
				t.Errorf("Flush sent %d, want 1 (the other recipient)", got)
			}
			wantPending(t, store, 0)
			for range 3 {
				clock.Advance(100 * time.Hour)
				flush(t, o)
			}
			if _, rcpt := srv.counts(); rcpt != 2 {
				t.Errorf("server saw %d RCPT TO, want 2: one attempt each", rcpt)
			}
			if seen != (deliveries{sent: 1, gaveUp: 1}) {
				t.Errorf("OnDelivery saw %+v, want 1 sent and 1 given up", seen)
			}
			if !strings.Contains(logs.String(), `"level":"ERROR","msg":"mail given up: the failure is permanent"`) {
				t.Errorf("no error logged for the message given up:\n%s", logs.String())
			}
		})
	}
}

func TestOutboxGivesUpAfterGiveUpAfter(t *testing.T) {
	store := newMemStore()
	clock := newFakeClock()
	start := clock.Now()
	var attempts []time.Duration
	sender := senderFunc(func(context.Context, *gatehouse.Mail) error {
		attempts = append(attempts, clock.Now().Sub(start))
		return errors.New("connection refused")
	})
	var logs bytes.Buffer
	o := NewOutbox(store, sender, mustLoad(t, ""), OutboxConfig{MinBackoff: time.Minute, MaxBackoff: 4 * time.Minute, GiveUpAfter: 30 * time.Minute}, clock.Now, newJSONLogger(&logs))
	if err := o.Enqueue(t.Context(), "carol@example.org", KindReset, resetData()); err != nil {
		t.Fatal(err)
	}
	for range 400 { // 400 × 10s: a good while after GiveUpAfter
		flush(t, o)
		clock.Advance(10 * time.Second)
	}
	wantPending(t, store, 0)
	// Backoffs of 1, 2, 4, 4, 4 … minutes (plus jitter and the 10s step):
	// attempts at about 0, 1, 3, 7, 11, 15, 19, 23, 27 and 31 minutes; the
	// one after 30 minutes is the last.
	if n := len(attempts); n < 8 || n > 11 {
		t.Errorf("%d attempts at %v, want about 10", n, attempts)
	}
	if last := attempts[len(attempts)-1]; last < 30*time.Minute || last > 35*time.Minute {
		t.Errorf("last attempt at %v, want just after 30 minutes", last)
	}
	if !strings.Contains(logs.String(), `"level":"ERROR","msg":"mail given up: still not delivered after 30m0s"`) {
		t.Errorf("no error logged for the message given up:\n%s", logs.String())
	}
	ms := store.all()
	if len(ms) != 1 || !ms[0].NextAttemptAt.IsZero() || ms[0].LastError != "connection refused" || ms[0].Attempts != len(attempts) {
		t.Errorf("stored message = %+v, want given up after %d attempts", ms[0], len(attempts))
	}
}

func TestOutboxBackoff(t *testing.T) {
	o := NewOutbox(newMemStore(), LogSender{}, mustLoad(t, ""), OutboxConfig{}, nil, nil)
	for attempt, base := range map[int]time.Duration{
		1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 4: 4 * time.Minute,
		7: 32 * time.Minute, 8: time.Hour, 9: time.Hour, 100: time.Hour, 1 << 30: time.Hour,
	} {
		for range 50 {
			if got := o.backoff(attempt); got < base || got > base+base/10 {
				t.Errorf("backoff(%d) = %v, want %v plus up to 10%%", attempt, got, base)
			}
		}
	}
}

func TestOutboxSurvivesRestart(t *testing.T) {
	for _, sc := range storeCases {
		t.Run(sc.name, func(t *testing.T) {
			store, restart := sc.open(t)
			clock := newFakeClock()
			addr := freeAddr(t) // nothing listens: the mail server is down
			tpl := mustLoad(t, "")
			o := NewOutbox(store, smtpTo(t, addr), tpl, OutboxConfig{}, clock.Now, nil)
			if err := o.Enqueue(t.Context(), "carol@example.org", KindInvite, resetData()); err != nil {
				t.Fatal(err)
			}
			if got := flush(t, o); got != 0 {
				t.Fatalf("Flush sent %d with the server down", got)
			}
			wantPending(t, store, 1)

			// Restart: a new store handle on the same database, a new Outbox,
			// and the mail server back.
			store = restart()
			wantPending(t, store, 1)
			o = NewOutbox(store, smtpTo(t, addr), tpl, OutboxConfig{}, clock.Now, nil)
			srv := startServer(t, serverOptions{tls: TLSNone, addr: addr})
			if got := flush(t, o); got != 0 {
				t.Errorf("Flush sent %d before the backoff passed", got)
			}
			clock.Advance(34 * time.Second)
			if got := flush(t, o); got != 1 {
				t.Errorf("Flush after the backoff sent %d, want 1", got)
			}
			clock.Advance(time.Hour)
			flush(t, o)
			msgs := srv.messages()
			if len(msgs) != 1 {
				t.Fatalf("server accepted %d messages, want exactly 1", len(msgs))
			}
			if !strings.Contains(string(msgs[0].Data), "TOPSECRETTOKEN") {
				t.Error("the delivered invitation lacks its link")
			}
			wantPending(t, store, 0)
		})
	}
}

func TestOutboxEnqueueValidates(t *testing.T) {
	store := newMemStore()
	o := NewOutbox(store, LogSender{}, mustLoad(t, ""), OutboxConfig{}, newFakeClock().Now, nil)
	bad := []struct{ to, kind string }{
		{"carol@example.org\r\nBcc: victim@example.net", KindReset},
		{"carol@example.org\nBcc: victim@example.net", KindReset},
		{"not an address", KindReset},
		{"", KindReset},
		{"a@example.org, b@example.org", KindReset},
		{"carol@example.org", "welcome"},
	}
	for _, b := range bad {
		if err := o.Enqueue(t.Context(), b.to, b.kind, resetData()); err == nil {
			t.Errorf("Enqueue(%q, %q) succeeded", b.to, b.kind)
		}
	}
	d := resetData()
	d.Product = "x\r\nBcc: victim@example.net"
	if err := o.Enqueue(t.Context(), "carol@example.org", KindReset, d); err == nil {
		t.Error("Enqueue accepted a subject with a line break")
	}
	if n := len(store.all()); n != 0 {
		t.Errorf("%d messages stored, want none", n)
	}

	clock := newFakeClock()
	o = NewOutbox(store, LogSender{}, mustLoad(t, ""), OutboxConfig{}, clock.Now, nil)
	if err := o.Enqueue(t.Context(), "Carol <carol@example.org>", KindTwoFactorCode, Data{Code: "424242", ExpiresIn: 10 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	ms := store.all()
	if len(ms) != 1 {
		t.Fatalf("%d messages stored, want 1", len(ms))
	}
	m := ms[0]
	if m.ID == "" || m.To != "Carol <carol@example.org>" || m.Kind != KindTwoFactorCode || !m.CreatedAt.Equal(clock.Now()) ||
		!m.NextAttemptAt.Equal(clock.Now()) || m.Attempts != 0 || !strings.Contains(m.Text, "424242") || m.HTML == "" || m.Subject == "" {
		t.Errorf("stored message = %+v", m)
	}
}

func TestOutboxLogsNoSecrets(t *testing.T) {
	store := newMemStore()
	srv := startServer(t, serverOptions{tls: TLSNone, rcpt: func(n int, to string) error {
		switch {
		case to == "nobody@example.org":
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		case n <= 2:
			return tempFail
		}
		return nil
	}})
	var logs bytes.Buffer
	clock := newFakeClock()
	o := NewOutbox(store, smtpTo(t, srv.Addr), mustLoad(t, ""), OutboxConfig{}, clock.Now, newJSONLogger(&logs))
	d := resetData()
	d.Code = "TOPSECRETCODE"
	if err := o.Enqueue(t.Context(), "carol@example.org", KindReset, d); err != nil {
		t.Fatal(err)
	}
	if err := o.Enqueue(t.Context(), "nobody@example.org", KindTwoFactorCode, d); err != nil {
		t.Fatal(err)
	}
	flush(t, o)
	clock.Advance(time.Hour)
	flush(t, o)
	if len(srv.messages()) != 1 {
		t.Fatalf("server accepted %d messages, want 1", len(srv.messages()))
	}

	out := logs.String()
	for _, want := range []string{"carol@example.org", "nobody@example.org", `"kind":"reset"`, `"attempts":1`, "451", "550", "mail sent", "will try again"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"TOPSECRETTOKEN", "TOPSECRETCODE", "auth.example.com", "Reset your", "sign-in code"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
}

func TestOutboxRun(t *testing.T) {
	store := newMemStore()
	got := make(chan *gatehouse.Mail, 10)
	sender := senderFunc(func(_ context.Context, m *gatehouse.Mail) error {
		got <- m
		return nil
	})
	// A poll of an hour: only the nudge of Enqueue can make Run send.
	o := NewOutbox(store, sender, mustLoad(t, ""), OutboxConfig{Poll: time.Hour}, newFakeClock().Now, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		o.Run(ctx)
	}()
	for i := range 3 {
		if err := o.Enqueue(t.Context(), "carol@example.org", KindPasswordChanged, resetData()); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			if m.Kind != KindPasswordChanged {
				t.Errorf("sent kind %q", m.Kind)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d not sent after Enqueue", i)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	wantPending(t, store, 0)
}

func TestOutboxShutdownDuringSend(t *testing.T) {
	store := newMemStore()
	started := make(chan struct{})
	sender := senderFunc(func(ctx context.Context, _ *gatehouse.Mail) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	clock := newFakeClock()
	o := NewOutbox(store, sender, mustLoad(t, ""), OutboxConfig{}, clock.Now, nil)
	if err := o.Enqueue(t.Context(), "carol@example.org", KindReset, resetData()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := o.Flush(ctx)
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Flush = %v, want context.Canceled", err)
	}
	// Not marked failed: the lease runs out and the message goes again.
	m := store.all()[0]
	if m.LastError != "" || !m.NextAttemptAt.Equal(clock.Now().Add(2*time.Minute)) {
		t.Errorf("message after an interrupted send = %+v, want it leased, no error", m)
	}
}

func TestOutboxLeaseBudget(t *testing.T) {
	// Each send takes 45s of the 2m lease with a 1m send timeout: the
	// third message of the batch would risk outliving its lease, so it
	// waits for the lease to end instead.
	store := newMemStore()
	clock := newFakeClock()
	var sent atomic.Int32
	sender := senderFunc(func(context.Context, *gatehouse.Mail) error {
		clock.Advance(45 * time.Second)
		sent.Add(1)
		return nil
	})
	o := NewOutbox(store, sender, mustLoad(t, ""), OutboxConfig{Lease: 2 * time.Minute, SendTimeout: time.Minute}, clock.Now, nil)
	for range 3 {
		if err := o.Enqueue(t.Context(), "carol@example.org", KindReset, resetData()); err != nil {
			t.Fatal(err)
		}
	}
	if got := flush(t, o); got != 2 {
		t.Errorf("first Flush sent %d, want 2", got)
	}
	if got := flush(t, o); got != 0 {
		t.Errorf("Flush within the lease sent %d, want 0", got)
	}
	clock.Advance(time.Minute)
	if got := flush(t, o); got != 1 {
		t.Errorf("Flush after the lease sent %d, want 1", got)
	}
	if sent.Load() != 3 {
		t.Errorf("%d sends, want 3", sent.Load())
	}
}

func TestOutboxMarkSentFails(t *testing.T) {
	store := newMemStore()
	store.markSent = func(string) error { return errors.New("database is locked") }
	var logs bytes.Buffer
	o := NewOutbox(store, LogSender{Log: slog.New(slog.DiscardHandler)}, mustLoad(t, ""), OutboxConfig{}, newFakeClock().Now, newJSONLogger(&logs))
	if err := o.Enqueue(t.Context(), "carol@example.org", KindReset, resetData()); err != nil {
		t.Fatal(err)
	}
	n, err := o.Flush(t.Context())
	if n != 1 || err == nil || !strings.Contains(err.Error(), "database is locked") {
		t.Errorf("Flush = %d, %v; want 1 and the store's error", n, err)
	}
	if !strings.Contains(logs.String(), "sent but not recorded") {
		t.Errorf("log lacks the warning of a second delivery:\n%s", logs.String())
	}
}

func TestOutboxBatches(t *testing.T) {
	// More messages than a batch: one Flush sends them all.
	store := newMemStore()
	var mu sync.Mutex
	seen := map[string]int{}
	sender := senderFunc(func(_ context.Context, m *gatehouse.Mail) error {
		mu.Lock()
		defer mu.Unlock()
		seen[m.ID]++
		return nil
	})
	o := NewOutbox(store, sender, mustLoad(t, ""), OutboxConfig{Batch: 3}, newFakeClock().Now, nil)
	for range 10 {
		if err := o.Enqueue(t.Context(), "carol@example.org", KindReset, resetData()); err != nil {
			t.Fatal(err)
		}
	}
	if got := flush(t, o); got != 10 {
		t.Errorf("Flush sent %d, want 10", got)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("message %s sent %d times", id, n)
		}
	}
	for _, m := range store.all() {
		if m.Subject != "" || m.Text != "" || m.HTML != "" || m.SentAt.IsZero() {
			t.Errorf("sent message kept its content or has no SentAt: %+v", m)
		}
	}
}
