package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// lease is how long the outbox tests' claims hold a message.
const lease = 5 * time.Minute

// newMail returns a new message to to, due at due, with every other field
// set as a sender enqueues it.
func newMail(to string, due time.Time) *gatehouse.Mail {
	return &gatehouse.Mail{
		ID:            gatehouse.NewID(),
		To:            to,
		Subject:       "Reset your password",
		Text:          "Open https://gatehouse.example/reset#secret-" + to,
		HTML:          `<a href="https://gatehouse.example/reset#secret-` + to + `">Reset</a>`,
		Kind:          "reset",
		CreatedAt:     base,
		NextAttemptAt: due,
	}
}

// enqueue stores the messages ms or fails t.
func enqueue(t *testing.T, s gatehouse.OutboxStore, ms ...*gatehouse.Mail) {
	t.Helper()
	for _, m := range ms {
		if err := s.EnqueueMail(t.Context(), m); err != nil {
			t.Fatalf("EnqueueMail(%q): %v", m.To, err)
		}
	}
}

// claim claims up to n messages due at now for lease, or fails t.
func claim(t *testing.T, s gatehouse.OutboxStore, now time.Time, n int) []*gatehouse.Mail {
	t.Helper()
	got, err := s.ClaimMail(t.Context(), now, lease, n)
	if err != nil {
		t.Fatalf("ClaimMail(%v, %d): %v", now, n, err)
	}
	for _, m := range got {
		wantUTC(t, "CreatedAt", m.CreatedAt)
		wantUTC(t, "NextAttemptAt", m.NextAttemptAt)
		wantUTC(t, "SentAt", m.SentAt)
	}
	return got
}

// claimed returns m as a claim at now returns it: with one more attempt,
// leased until now+lease.
func claimed(m *gatehouse.Mail, now time.Time) *gatehouse.Mail {
	c := *m
	c.Attempts++
	c.NextAttemptAt = now.Add(lease)
	return &c
}

// wantClaim fails t unless a claim of up to n messages at now returns
// exactly want, whole and in that order.
func wantClaim(t *testing.T, s gatehouse.OutboxStore, now time.Time, n int, want ...*gatehouse.Mail) []*gatehouse.Mail {
	t.Helper()
	got := claim(t, s, now, n)
	if d := diff(want, got); d != "" {
		t.Errorf("ClaimMail(%v, %d) mismatch (-want +got):\n%s", now, n, d)
	}
	return got
}

// wantPending fails t unless PendingMail is n.
func wantPending(t *testing.T, s gatehouse.OutboxStore, n int) {
	t.Helper()
	got, err := s.PendingMail(t.Context())
	if err != nil {
		t.Fatalf("PendingMail: %v", err)
	}
	if got != n {
		t.Errorf("PendingMail = %d, want %d", got, n)
	}
}

// farFuture is a time at which every message leased or due is due.
var farFuture = base.Add(100 * 365 * 24 * time.Hour)

// RunOutbox checks a gatehouse.OutboxStore. newStore must return a new,
// empty, migrated store on every call. Besides the interface's doc
// comments, it holds stores to these rules:
//
//   - EnqueueMail stores the message as given, Attempts and LastError
//     included; a duplicate id is CodeConflict. A zero NextAttemptAt means
//     never due: such a message is never claimed and not pending.
//   - A message is due at now when its NextAttemptAt, as stored (truncated
//     to the microsecond), is not after now; a lease ends likewise at
//     now+lease as stored, when the message is due again. ClaimMail returns
//     the messages with Attempts and NextAttemptAt as they are after the
//     claim, and claims nothing for n of zero or less.
//   - MarkMailFailed with a zero next gives up on the message: it is never
//     claimed again and not pending. On a message sent already it changes
//     nothing and is no error (the sender's lease ended and another sender
//     sent it). PendingMail counts the messages neither sent nor given up
//     on, whether due, leased or due later. MarkMailSent and MarkMailFailed
//     return ErrNotFound for a message that does not exist.
func RunOutbox(t *testing.T, newStore func(t *testing.T) gatehouse.OutboxStore) {
	t.Run("EnqueueAndClaim", func(t *testing.T) {
		s := newStore(t)
		wantPending(t, s, 0)
		wantClaim(t, s, farFuture, 10)

		m := newMail("alice@example.com", base)
		enqueue(t, s, m)
		wantPending(t, s, 1)
		now := base.Add(time.Second)
		got := wantClaim(t, s, now, 10, claimed(m, now))
		if len(got) == 1 && (got[0].Attempts != 1 || !got[0].SentAt.IsZero() || got[0].LastError != "") {
			t.Errorf("claimed message = %+v, want 1 attempt, unsent, no error", got[0])
		}
		// Leased, it is still pending.
		wantPending(t, s, 1)
	})

	t.Run("EnqueueAsGiven", func(t *testing.T) {
		// A message enqueued with attempts and an error behind it keeps
		// them, and its times come back in UTC.
		s := newStore(t)
		m := newMail("alice@example.com", base)
		zone := time.FixedZone("UTC-7", -7*3600)
		m.CreatedAt, m.NextAttemptAt = base.Add(-time.Hour).In(zone), base.In(zone)
		m.Attempts, m.LastError = 3, "421 try again later"
		m.Subject, m.Text, m.HTML, m.Kind = "", "", "", ""
		enqueue(t, s, m)
		wantClaim(t, s, base, 1, claimed(m, base))
	})

	t.Run("EnqueueConflict", func(t *testing.T) {
		s := newStore(t)
		m := newMail("alice@example.com", base)
		enqueue(t, s, m)
		dup := newMail("bob@example.com", base.Add(-time.Hour))
		dup.ID = m.ID
		wantCode(t, s.EnqueueMail(t.Context(), dup), gatehouse.CodeConflict)
		wantPending(t, s, 1)
		wantClaim(t, s, base, 10, claimed(m, base))
	})

	t.Run("EnqueueNeverDue", func(t *testing.T) {
		// A zero NextAttemptAt is never due, like a message given up on.
		s := newStore(t)
		never := newMail("never@example.com", time.Time{})
		due := newMail("due@example.com", base)
		enqueue(t, s, never, due)
		wantPending(t, s, 1)
		wantClaim(t, s, farFuture, 10, claimed(due, farFuture))
		wantClaim(t, s, farFuture.Add(2*lease), 10, claimed(claimed(due, farFuture), farFuture.Add(2*lease)))
	})

	t.Run("DueAtNextAttemptAt", func(t *testing.T) {
		// Boundaries are exact at microseconds, so the times here are too.
		s := newStore(t)
		due := micro.Add(time.Hour)
		m := newMail("alice@example.com", due)
		enqueue(t, s, m)
		wantPending(t, s, 1) // pending, though not due yet
		wantClaim(t, s, due.Add(-time.Microsecond), 10)
		wantClaim(t, s, micro, 10)
		wantClaim(t, s, due, 10, claimed(m, due))
	})

	t.Run("ClaimOrderAndLimit", func(t *testing.T) {
		s := newStore(t)
		now := base.Add(time.Hour)
		// Enqueued out of order, so that insertion order is not due order,
		// and with CreatedAt against due order too.
		var ms []*gatehouse.Mail
		for i, offset := range []time.Duration{-10 * time.Minute, -50 * time.Minute, -time.Microsecond, -30 * time.Minute, -20 * time.Minute} {
			m := newMail(fmt.Sprintf("user%d@example.com", i), now.Add(offset))
			m.CreatedAt = base.Add(-offset)
			ms = append(ms, m)
		}
		later := newMail("later@example.com", now.Add(time.Minute))
		enqueue(t, s, append(ms, later)...)
		wantPending(t, s, 6)

		wantClaim(t, s, now, 0)
		wantClaim(t, s, now, -1)
		wantClaim(t, s, now, 2, claimed(ms[1], now), claimed(ms[3], now))
		wantClaim(t, s, now, 1, claimed(ms[4], now))
		wantClaim(t, s, now, 10, claimed(ms[0], now), claimed(ms[2], now))
		wantClaim(t, s, now, 10)
		wantPending(t, s, 6)

		// The message due later comes when it is due; the leased ones when
		// their lease ends, after it, since they are due later still.
		wantClaim(t, s, now.Add(time.Minute), 10, claimed(later, now.Add(time.Minute)))
	})

	t.Run("Lease", func(t *testing.T) {
		s := newStore(t)
		m := newMail("alice@example.com", micro)
		other := newMail("bob@example.com", micro.Add(time.Minute))
		enqueue(t, s, m, other)

		first := wantClaim(t, s, micro, 10, claimed(m, micro))
		// Until the lease ends no claim hands it out again, though other
		// messages come due.
		ends := micro.Add(lease)
		wantClaim(t, s, micro, 10)
		wantClaim(t, s, ends.Add(-time.Microsecond), 10, claimed(other, ends.Add(-time.Microsecond)))
		// When it ends, the message is due again: its sender is taken to
		// have died. The attempt counts.
		if len(first) == 1 {
			second := wantClaim(t, s, ends, 10, claimed(first[0], ends))
			if len(second) == 1 && second[0].Attempts != 2 {
				t.Errorf("Attempts after two claims = %d, want 2", second[0].Attempts)
			}
		}
		wantPending(t, s, 2)
	})

	t.Run("ConcurrentClaim", func(t *testing.T) {
		s := newStore(t)
		const messages, claimers = 50, 10
		for i := range messages {
			enqueue(t, s, newMail(fmt.Sprintf("user%02d@example.com", i), base.Add(time.Duration(i)*time.Millisecond)))
		}
		now := base.Add(time.Hour)
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			count = map[string]int{}
		)
		for range claimers {
			wg.Go(func() {
				// Bounded, so that a store that hands messages out again
				// fails the test rather than hanging it.
				for range messages {
					got, err := s.ClaimMail(context.WithoutCancel(t.Context()), now, lease, 3)
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
						if m.Attempts != 1 {
							t.Errorf("concurrently claimed message has %d attempts, want 1", m.Attempts)
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(count) != messages {
			t.Errorf("claimed %d distinct messages, want %d", len(count), messages)
		}
		for id, n := range count {
			if n != 1 {
				t.Errorf("message %s was handed out %d times", id, n)
			}
		}
		wantPending(t, s, messages)
	})

	t.Run("DeleteOldMail", func(t *testing.T) {
		s := newStore(t)
		sent, failed, pending := newMail("a@example.com", base), newMail("b@example.com", base), newMail("c@example.com", base)
		enqueue(t, s, sent, failed, pending)
		claim(t, s, base, 10)
		check(t, s.MarkMailSent(t.Context(), sent.ID, base.Add(time.Second)))
		check(t, s.MarkMailFailed(t.Context(), failed.ID, "550 no such user", time.Time{}))
		n, err := s.DeleteOldMail(t.Context(), base.Add(time.Hour))
		check(t, err)
		if n != 2 {
			t.Errorf("DeleteOldMail = %d, want 2 (the sent and the given-up message)", n)
		}
		wantPending(t, s, 1)
		n, err = s.DeleteOldMail(t.Context(), base.Add(time.Hour))
		check(t, err)
		if n != 0 {
			t.Errorf("DeleteOldMail again = %d, want 0: a pending message is never deleted", n)
		}
	})

	t.Run("MarkMailSent", func(t *testing.T) {
		s := newStore(t)
		m := newMail("alice@example.com", base)
		other := newMail("bob@example.com", base)
		enqueue(t, s, m, other)
		claim(t, s, base, 10)
		check(t, s.MarkMailSent(t.Context(), m.ID, base.Add(time.Second)))
		wantPending(t, s, 1)
		// Never handed out again, not even after its lease.
		wantClaim(t, s, farFuture, 10, claimed(claimed(other, base), farFuture))

		// A message may be sent without having been claimed (a sender that
		// sends at once after enqueuing).
		direct := newMail("carol@example.com", base)
		enqueue(t, s, direct)
		wantPending(t, s, 2)
		check(t, s.MarkMailSent(t.Context(), direct.ID, base))
		wantPending(t, s, 1)
		wantClaim(t, s, farFuture.Add(2*lease), 10, claimed(claimed(claimed(other, base), farFuture), farFuture.Add(2*lease)))

		// Marking it sent again is no error.
		check(t, s.MarkMailSent(t.Context(), m.ID, base.Add(time.Hour)))
		wantNotFound(t, s.MarkMailSent(t.Context(), gatehouse.NewID(), base))
		wantNotFound(t, s.MarkMailSent(t.Context(), "", base))
		wantPending(t, s, 1)
	})

	t.Run("MarkMailFailed", func(t *testing.T) {
		s := newStore(t)
		now := micro
		m := newMail("alice@example.com", now)
		enqueue(t, s, m)
		c := wantClaim(t, s, now, 10, claimed(m, now))
		next := now.Add(time.Hour)
		check(t, s.MarkMailFailed(t.Context(), m.ID, "421 4.7.0 try again later", next))
		wantPending(t, s, 1)
		// The failure replaces the lease: due at next, not when the lease
		// ends.
		wantClaim(t, s, now.Add(lease), 10)
		wantClaim(t, s, next.Add(-time.Microsecond), 10)
		if len(c) == 1 {
			want := *c[0]
			want.LastError = "421 4.7.0 try again later"
			c = wantClaim(t, s, next, 10, claimed(&want, next))
		}

		// next may be earlier than the lease's end.
		check(t, s.MarkMailFailed(t.Context(), m.ID, "connection refused", next.Add(time.Second)))
		if len(c) == 1 {
			want := *c[0]
			want.LastError = "connection refused"
			wantClaim(t, s, next.Add(time.Second), 10, claimed(&want, next.Add(time.Second)))
		}

		// A long reason does not fail.
		check(t, s.MarkMailFailed(t.Context(), m.ID, strings.Repeat("550 no such user; ", 500), next.Add(2*time.Second)))
		got := claim(t, s, next.Add(2*time.Second), 10)
		if len(got) != 1 || !strings.HasPrefix(got[0].LastError, "550 no such user; ") {
			t.Errorf("after a long reason, ClaimMail = %+v; want the message with the start of the reason", got)
		}

		wantNotFound(t, s.MarkMailFailed(t.Context(), gatehouse.NewID(), "x", next))
		wantNotFound(t, s.MarkMailFailed(t.Context(), "", "x", next))
	})

	t.Run("MarkMailFailedGivesUp", func(t *testing.T) {
		s := newStore(t)
		m := newMail("alice@example.com", base)
		other := newMail("bob@example.com", base.Add(time.Second))
		enqueue(t, s, m, other)
		wantClaim(t, s, base, 10, claimed(m, base))
		check(t, s.MarkMailFailed(t.Context(), m.ID, "550 5.1.1 no such user", time.Time{}))
		wantPending(t, s, 1)
		// Never claimed again, however late.
		wantClaim(t, s, farFuture, 10, claimed(other, farFuture))
		wantClaim(t, s, farFuture.Add(2*lease), 10, claimed(claimed(other, farFuture), farFuture.Add(2*lease)))
		// Giving up on an unclaimed message works as well.
		check(t, s.MarkMailFailed(t.Context(), other.ID, "too many attempts", time.Time{}))
		wantPending(t, s, 0)
		wantClaim(t, s, farFuture.Add(10*lease), 10)
	})

	t.Run("MarkMailFailedAfterSent", func(t *testing.T) {
		// A sender whose lease ended reports a failure after another sent
		// the message: nothing changes.
		s := newStore(t)
		m := newMail("alice@example.com", micro)
		enqueue(t, s, m)
		claim(t, s, micro, 1)
		claim(t, s, micro.Add(lease), 1)
		check(t, s.MarkMailSent(t.Context(), m.ID, micro.Add(lease)))
		check(t, s.MarkMailFailed(t.Context(), m.ID, "timeout", micro.Add(lease+time.Second)))
		wantPending(t, s, 0)
		wantClaim(t, s, farFuture, 10)
	})

	t.Run("Attempts", func(t *testing.T) {
		s := newStore(t)
		m := newMail("alice@example.com", micro)
		enqueue(t, s, m)
		now := micro
		for want := 1; want <= 4; want++ {
			got := claim(t, s, now, 10)
			if len(got) != 1 {
				t.Fatalf("claim %d returned %d messages, want 1", want, len(got))
			}
			if got[0].Attempts != want {
				t.Errorf("Attempts after claim %d = %d, want %d", want, got[0].Attempts, want)
			}
			// Alternately fail and let the lease run out: both count.
			if want%2 == 1 {
				now = now.Add(time.Minute)
				check(t, s.MarkMailFailed(t.Context(), m.ID, "timeout", now))
			} else {
				now = now.Add(lease)
			}
		}
		// A failure without a claim (a sender that tried at once after
		// enqueuing) does not count an attempt: only claims do.
		check(t, s.MarkMailFailed(t.Context(), m.ID, "timeout", now.Add(time.Minute)))
		check(t, s.MarkMailFailed(t.Context(), m.ID, "timeout", now.Add(time.Minute)))
		got := claim(t, s, now.Add(time.Minute), 10)
		if len(got) != 1 || got[0].Attempts != 5 {
			t.Errorf("ClaimMail after two more failures = %+v, want the message with 5 attempts", got)
		}
	})
}
