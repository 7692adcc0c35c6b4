package mail

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
)

// memStore is an in-memory gatehouse.OutboxStore with the semantics of the
// SQLite store: a claim counts an attempt and leases the message until
// now+lease; a zero NextAttemptAt is never due and not pending; a sent
// message forgets its subject and bodies.
type memStore struct {
	mu   sync.Mutex
	msgs map[string]*gatehouse.Mail

	// markSent, when set, replaces MarkMailSent (to make it fail).
	markSent func(id string) error
}

var _ gatehouse.OutboxStore = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{msgs: map[string]*gatehouse.Mail{}} }

func (s *memStore) EnqueueMail(_ context.Context, m *gatehouse.Mail) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.msgs[m.ID]; ok {
		return &gatehouse.Error{Code: gatehouse.CodeConflict, Message: "The message already exists."}
	}
	c := *m
	s.msgs[m.ID] = &c
	return nil
}

func (s *memStore) ClaimMail(_ context.Context, now time.Time, lease time.Duration, n int) ([]*gatehouse.Mail, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*gatehouse.Mail
	for _, m := range s.msgs {
		if m.SentAt.IsZero() && !m.NextAttemptAt.IsZero() && !m.NextAttemptAt.After(now) {
			due = append(due, m)
		}
	}
	slices.SortFunc(due, func(a, b *gatehouse.Mail) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), cmp.Compare(a.ID, b.ID))
	})
	var out []*gatehouse.Mail
	for _, m := range due[:min(n, len(due))] {
		m.Attempts++
		m.NextAttemptAt = now.Add(lease)
		c := *m
		out = append(out, &c)
	}
	return out, nil
}

func (s *memStore) MarkMailSent(_ context.Context, id string, at time.Time) error {
	if s.markSent != nil {
		if err := s.markSent(id); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.msgs[id]
	if !ok {
		return gatehouse.ErrNotFound
	}
	if m.SentAt.IsZero() {
		m.SentAt = at
	}
	m.Subject, m.Text, m.HTML = "", "", ""
	return nil
}

func (s *memStore) MarkMailFailed(_ context.Context, id, reason string, next time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.msgs[id]
	if !ok {
		return gatehouse.ErrNotFound
	}
	if m.SentAt.IsZero() {
		m.LastError, m.NextAttemptAt = reason, next
	}
	return nil
}

func (s *memStore) PendingMail(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.msgs {
		if m.SentAt.IsZero() && !m.NextAttemptAt.IsZero() {
			n++
		}
	}
	return n, nil
}

// all returns copies of every message.
func (s *memStore) all() []*gatehouse.Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*gatehouse.Mail
	for _, m := range s.msgs {
		c := *m
		out = append(out, &c)
	}
	return out
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	// Whole microseconds, as the SQLite store keeps times.
	return &fakeClock{now: time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// senderFunc is a Sender made of a function.
type senderFunc func(ctx context.Context, m *gatehouse.Mail) error

func (f senderFunc) Send(ctx context.Context, m *gatehouse.Mail) error { return f(ctx, m) }

func (s *memStore) DeleteOldMail(context.Context, time.Time) (int, error) { return 0, nil }
