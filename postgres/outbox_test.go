package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/postgres"
	"github.com/gatehouse/gatehouse/storetest"
)

func TestOutbox(t *testing.T) {
	storetest.RunOutbox(t, func(t *testing.T) gatehouse.OutboxStore { return open(t) })
}

// testMail returns a message to to, due at due.
func testMail(to string, due time.Time) *gatehouse.Mail {
	return &gatehouse.Mail{
		ID: gatehouse.NewID(), To: to, Subject: "Hello", Text: "Hello", Kind: "reset",
		CreatedAt: due, NextAttemptAt: due,
	}
}

// Several processes send from one outbox: stores with pools of their own
// claim together, and no message is handed out twice.
func TestClaimMailAcrossProcesses(t *testing.T) {
	db := freshDatabase(t)
	const processes, messages = 4, 60
	stores := make([]*postgres.Store, processes)
	for i := range stores {
		stores[i] = openAt(t, db)
	}
	due := time.Date(2025, time.March, 14, 15, 0, 0, 0, time.UTC)
	for i := range messages {
		if err := stores[0].EnqueueMail(t.Context(), testMail(fmt.Sprintf("user%02d@example.com", i), due)); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu    sync.Mutex
		count = map[string]int{}
		wg    sync.WaitGroup
	)
	for _, s := range stores {
		for range 3 { // several senders per process
			wg.Go(func() {
				for range messages { // bounded: a store handing out again fails, not hangs
					got, err := s.ClaimMail(context.WithoutCancel(t.Context()), due.Add(time.Minute), time.Hour, 2)
					if err != nil {
						t.Errorf("ClaimMail: %v", err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, m := range got {
						count[m.ID]++
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if len(count) != messages {
		t.Errorf("claimed %d distinct messages, want %d", len(count), messages)
	}
	for id, n := range count {
		if n != 1 {
			t.Errorf("message %s handed out %d times", id, n)
		}
	}
}

// A mail server's reply is recorded whatever bytes it holds; a message
// whose own fields are not text is refused with the field named, not
// failed as an internal error.
func TestOutboxText(t *testing.T) {
	s := open(t)
	now := time.Date(2025, time.March, 14, 15, 0, 0, 0, time.UTC)
	m := testMail("alice@example.com", now)
	if err := s.EnqueueMail(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	reason := "550 \x00bad \xff" + strings.Repeat("é", 2000)
	if err := s.MarkMailFailed(t.Context(), m.ID, reason, now); err != nil {
		t.Fatalf("MarkMailFailed with NUL and invalid UTF-8: %v", err)
	}
	got, err := s.ClaimMail(t.Context(), now, time.Minute, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("ClaimMail = %v, %v; want the message", got, err)
	}
	if e := got[0].LastError; !strings.HasPrefix(e, "550 bad \uFFFDé") || !utf8.ValidString(e) || utf8.RuneCountInString(e) != 1000 {
		t.Errorf("LastError = %.40q… (%d runes), want the reason cleaned and cut to 1000 runes", e, utf8.RuneCountInString(e))
	}

	for field, bad := range map[string]func(m *gatehouse.Mail){
		"to":   func(m *gatehouse.Mail) { m.To = "alice\x00@example.com" },
		"text": func(m *gatehouse.Mail) { m.Text = "caf\xe9" },
	} {
		m := testMail("bob@example.com", now)
		bad(m)
		err := s.EnqueueMail(t.Context(), m)
		var ge *gatehouse.Error
		if !errors.As(err, &ge) || ge.Code != gatehouse.CodeValidation || ge.Fields[field] == "" {
			t.Errorf("EnqueueMail with a bad %s = %v, want CodeValidation naming %s", field, err, field)
		}
	}
	if n, err := s.PendingMail(t.Context()); err != nil || n != 1 {
		t.Errorf("PendingMail = %d, %v; want 1", n, err)
	}
}
