package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// newEvent returns an event of kind at the time at, with every field set.
func newEvent(kind gatehouse.AuditKind, actorID, targetID string, at time.Time) *gatehouse.AuditEvent {
	return &gatehouse.AuditEvent{
		ID:         gatehouse.NewID(),
		Time:       at,
		Kind:       kind,
		ActorID:    actorID,
		ActorName:  "name of " + actorID,
		TargetID:   targetID,
		ClientAddr: "2001:db8::1",
		UserAgent:  "curl/8.14.1",
		Detail:     map[string]string{"method": "POST", "path": "/api/users"},
	}
}

// appendAudit stores e or fails t.
func appendAudit(t *testing.T, s gatehouse.AuditStore, e *gatehouse.AuditEvent) *gatehouse.AuditEvent {
	t.Helper()
	if err := s.AppendAudit(t.Context(), e); err != nil {
		t.Fatalf("AppendAudit(%s): %v", e.Kind, err)
	}
	return e
}

// wantAudit fails t unless Audit(f) returns want, in that order, and counts
// total events in all.
func wantAudit(t *testing.T, s gatehouse.AuditStore, f gatehouse.AuditFilter, total int, want ...*gatehouse.AuditEvent) {
	t.Helper()
	got, n, err := s.Audit(t.Context(), f)
	if err != nil {
		t.Errorf("Audit(%+v): %v", f, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("Audit(%+v) mismatch (-want +got):\n%s", f, d)
	}
	if n != total {
		t.Errorf("Audit(%+v) total = %d, want %d", f, n, total)
	}
}

// auditLog appends the events the filter tests select from, one a minute
// from micro, in an order that is not their time order, and returns them by
// time: log[i] is at micro + i minutes. The users alice, bob and carol are
// ids only; the log does not need them to exist.
func auditLog(t *testing.T, s gatehouse.AuditStore) (log []*gatehouse.AuditEvent, alice, bob, carol string) {
	t.Helper()
	alice, bob, carol = gatehouse.NewID(), gatehouse.NewID(), gatehouse.NewID()
	for i, e := range []struct {
		kind          gatehouse.AuditKind
		actor, target string
	}{
		{gatehouse.AuditLoginFailed, "", ""},
		{gatehouse.AuditLoginSucceeded, alice, ""},
		{gatehouse.AuditUserCreated, alice, bob},
		{gatehouse.AuditLoginSucceeded, bob, ""},
		{gatehouse.AuditUserUpdated, alice, bob},
		{gatehouse.AuditPermissionDenied, bob, "users"},
		{gatehouse.AuditUserDisabled, alice, carol},
		{gatehouse.AuditLogout, alice, "session-1"},
	} {
		log = append(log, newEvent(e.kind, e.actor, e.target, micro.Add(time.Duration(i)*time.Minute)))
	}
	log[0].ActorName = "alice" // a failed login names a user without acting as one
	log[0].Detail = nil
	for _, i := range []int{3, 0, 7, 5, 1, 6, 2, 4} {
		appendAudit(t, s, log[i])
	}
	return log, alice, bob, carol
}

// AuditStores are the stores RunAudit checks: the audit log, and the
// stores of the users (with their tokens and sessions) whose deletion the
// log must outlive; they may be other stores.
type AuditStores struct {
	gatehouse.AuditStore
	gatehouse.UserStore
	gatehouse.TokenStore
	gatehouse.SessionStore
}

// RunAudit checks a gatehouse.AuditStore. newStores must return new, empty,
// migrated stores on every call. Besides the interface's doc comments, it
// holds stores to these rules:
//
//   - An event without detail comes back with nil Detail, whether it was
//     stored nil or empty, so that "empty" has one form.
//   - Audit takes a limit of zero for no limit.
//   - The audit log keeps its events after the users they name are deleted
//     and takes events naming users that do not exist. Audit's Since and
//     Until compare with the microsecond time of the event as stored, so a
//     bound with nanoseconds selects exactly the events whose returned Time
//     is within it.
func RunAudit(t *testing.T, newStores func(t *testing.T) AuditStores) {
	t.Run("AppendAndAudit", func(t *testing.T) {
		s := newStores(t)
		wantAudit(t, s, gatehouse.AuditFilter{}, 0)

		e := appendAudit(t, s, newEvent(gatehouse.AuditUserUpdated, gatehouse.NewID(), gatehouse.NewID(), base))
		wantAudit(t, s, gatehouse.AuditFilter{}, 1, e)
		got, _, err := s.Audit(t.Context(), gatehouse.AuditFilter{})
		check(t, err)
		wantUTC(t, "Time", got[0].Time)

		// An anonymous client's event, with nothing but a time and a kind.
		anon := appendAudit(t, s, &gatehouse.AuditEvent{ID: gatehouse.NewID(), Time: base.Add(time.Second), Kind: gatehouse.AuditLoginFailed})
		wantAudit(t, s, gatehouse.AuditFilter{}, 2, anon, e)
	})

	t.Run("TimesInOtherZones", func(t *testing.T) {
		s := newStores(t)
		e := newEvent(gatehouse.AuditLogout, gatehouse.NewID(), "", base.In(time.FixedZone("UTC+9", 9*3600)))
		appendAudit(t, s, e)
		got, _, err := s.Audit(t.Context(), gatehouse.AuditFilter{})
		check(t, err)
		if len(got) != 1 {
			t.Fatalf("Audit = %d events, want 1", len(got))
		}
		if !equalTime(got[0].Time, base) {
			t.Errorf("Time = %v, want %v", got[0].Time, base)
		}
		wantUTC(t, "Time", got[0].Time)
	})

	t.Run("Detail", func(t *testing.T) {
		s := newStores(t)
		full := newEvent(gatehouse.AuditUserUpdated, gatehouse.NewID(), gatehouse.NewID(), base)
		full.Detail = map[string]string{
			"fields": "email,name",
			"name":   "Élodie \"Ørsted\" <e@example.org>",
			"":       "an empty key",
			"empty":  "",
		}
		appendAudit(t, s, full)
		// No detail, nil or empty, comes back nil.
		none := newEvent(gatehouse.AuditLogout, gatehouse.NewID(), "", base.Add(time.Second))
		none.Detail = nil
		appendAudit(t, s, none)
		empty := newEvent(gatehouse.AuditLogout, gatehouse.NewID(), "", base.Add(2*time.Second))
		empty.Detail = map[string]string{}
		appendAudit(t, s, empty)

		got, _, err := s.Audit(t.Context(), gatehouse.AuditFilter{})
		check(t, err)
		if len(got) != 3 {
			t.Fatalf("Audit = %d events, want 3", len(got))
		}
		if d := diff(full, got[2]); d != "" {
			t.Errorf("event with detail mismatch (-want +got):\n%s", d)
		}
		for _, e := range got[:2] {
			if e.Detail != nil {
				t.Errorf("Detail of an event without detail = %#v, want nil", e.Detail)
			}
		}
	})

	t.Run("NewestFirst", func(t *testing.T) {
		s := newStores(t)
		log, _, _, _ := auditLog(t, s)
		wantAudit(t, s, gatehouse.AuditFilter{}, 8, log[7], log[6], log[5], log[4], log[3], log[2], log[1], log[0])

		// Appending an older event puts it in its place, not on top.
		old := appendAudit(t, s, newEvent(gatehouse.AuditSetupCompleted, "", "", micro.Add(-time.Hour)))
		mid := appendAudit(t, s, newEvent(gatehouse.AuditGroupCreated, "", "editors", micro.Add(90*time.Second)))
		wantAudit(t, s, gatehouse.AuditFilter{}, 10, log[7], log[6], log[5], log[4], log[3], log[2], mid, log[1], log[0], old)
	})

	t.Run("Filters", func(t *testing.T) {
		s := newStores(t)
		log, alice, bob, carol := auditLog(t, s)
		at := func(minute int) time.Time { return micro.Add(time.Duration(minute) * time.Minute) }
		for _, tc := range []struct {
			name   string
			filter gatehouse.AuditFilter
			want   []int
		}{
			{"everything", gatehouse.AuditFilter{}, []int{7, 6, 5, 4, 3, 2, 1, 0}},

			// The user is the actor or the target.
			{"alice", gatehouse.AuditFilter{UserID: alice}, []int{7, 6, 4, 2, 1}},
			{"bob", gatehouse.AuditFilter{UserID: bob}, []int{5, 4, 3, 2}},
			{"carol, only a target", gatehouse.AuditFilter{UserID: carol}, []int{6}},
			{"unknown user", gatehouse.AuditFilter{UserID: gatehouse.NewID()}, nil},
			{"a name is not an id", gatehouse.AuditFilter{UserID: "alice"}, nil},

			{"kind", gatehouse.AuditFilter{Kind: gatehouse.AuditLoginSucceeded}, []int{3, 1}},
			{"kind once", gatehouse.AuditFilter{Kind: gatehouse.AuditUserUpdated}, []int{4}},
			{"kind never", gatehouse.AuditFilter{Kind: gatehouse.AuditTokenCreated}, nil},
			{"unknown kind", gatehouse.AuditFilter{Kind: "nope"}, nil},

			// Since <= Time < Until.
			{"since", gatehouse.AuditFilter{Since: at(2)}, []int{7, 6, 5, 4, 3, 2}},
			{"until", gatehouse.AuditFilter{Until: at(2)}, []int{1, 0}},
			{"since and until", gatehouse.AuditFilter{Since: at(2), Until: at(5)}, []int{4, 3, 2}},
			{"since equals until", gatehouse.AuditFilter{Since: at(3), Until: at(3)}, nil},
			{"until before since", gatehouse.AuditFilter{Since: at(5), Until: at(2)}, nil},
			{"one microsecond", gatehouse.AuditFilter{Since: at(3), Until: at(3).Add(time.Microsecond)}, []int{3}},
			{"since after the last", gatehouse.AuditFilter{Since: at(7).Add(time.Microsecond)}, nil},
			{"until after the last", gatehouse.AuditFilter{Until: at(7).Add(time.Microsecond)}, []int{7, 6, 5, 4, 3, 2, 1, 0}},
			{"until the first", gatehouse.AuditFilter{Until: at(0)}, nil},
			// A nanosecond counts, against the microsecond times stored.
			{"since 1ns after", gatehouse.AuditFilter{Since: at(3).Add(time.Nanosecond)}, []int{7, 6, 5, 4}},
			{"since 1ns before", gatehouse.AuditFilter{Since: at(3).Add(-time.Nanosecond)}, []int{7, 6, 5, 4, 3}},
			{"until 1ns after", gatehouse.AuditFilter{Until: at(3).Add(time.Nanosecond)}, []int{3, 2, 1, 0}},
			{"until 1ns before", gatehouse.AuditFilter{Until: at(3).Add(-time.Nanosecond)}, []int{2, 1, 0}},
			{"within one microsecond", gatehouse.AuditFilter{Since: at(3).Add(time.Nanosecond), Until: at(3).Add(999 * time.Nanosecond)}, nil},

			// Filters combine.
			{"user and kind", gatehouse.AuditFilter{UserID: alice, Kind: gatehouse.AuditUserUpdated}, []int{4}},
			{"user and other kind", gatehouse.AuditFilter{UserID: carol, Kind: gatehouse.AuditUserUpdated}, nil},
			{"user and time", gatehouse.AuditFilter{UserID: alice, Since: at(2), Until: at(7)}, []int{6, 4, 2}},
			{"kind and time", gatehouse.AuditFilter{Kind: gatehouse.AuditLoginSucceeded, Since: at(2)}, []int{3}},
			{"user, kind and time", gatehouse.AuditFilter{UserID: bob, Kind: gatehouse.AuditLoginSucceeded, Since: at(1), Until: at(4)}, []int{3}},
			{"user, kind and time, none", gatehouse.AuditFilter{UserID: alice, Kind: gatehouse.AuditLoginSucceeded, Since: at(2)}, nil},
			{"anonymous kind", gatehouse.AuditFilter{Kind: gatehouse.AuditLoginFailed, Until: at(8)}, []int{0}},
		} {
			var want []*gatehouse.AuditEvent
			for _, i := range tc.want {
				want = append(want, log[i])
			}
			t.Run(tc.name, func(t *testing.T) {
				wantAudit(t, s, tc.filter, len(want), want...)
			})
		}
	})

	t.Run("Paging", func(t *testing.T) {
		s := newStores(t)
		log, alice, _, _ := auditLog(t, s)
		for _, tc := range []struct {
			filter gatehouse.AuditFilter
			want   []int
			total  int
		}{
			{gatehouse.AuditFilter{Limit: 3}, []int{7, 6, 5}, 8},
			{gatehouse.AuditFilter{Offset: 3, Limit: 3}, []int{4, 3, 2}, 8},
			{gatehouse.AuditFilter{Offset: 6, Limit: 3}, []int{1, 0}, 8},
			{gatehouse.AuditFilter{Offset: 2}, []int{5, 4, 3, 2, 1, 0}, 8},
			{gatehouse.AuditFilter{Offset: 0, Limit: 8}, []int{7, 6, 5, 4, 3, 2, 1, 0}, 8},
			{gatehouse.AuditFilter{Limit: 100}, []int{7, 6, 5, 4, 3, 2, 1, 0}, 8},
			{gatehouse.AuditFilter{Offset: 8, Limit: 3}, nil, 8},
			{gatehouse.AuditFilter{Offset: 100}, nil, 8},
			// The total counts every match, not the page.
			{gatehouse.AuditFilter{UserID: alice, Limit: 2}, []int{7, 6}, 5},
			{gatehouse.AuditFilter{UserID: alice, Offset: 2, Limit: 2}, []int{4, 2}, 5},
			{gatehouse.AuditFilter{UserID: alice, Offset: 4, Limit: 2}, []int{1}, 5},
			{gatehouse.AuditFilter{UserID: alice, Offset: 5, Limit: 2}, nil, 5},
			{gatehouse.AuditFilter{Kind: gatehouse.AuditLoginSucceeded, Offset: 1}, []int{1}, 2},
			{gatehouse.AuditFilter{Since: micro.Add(2 * time.Minute), Until: micro.Add(6 * time.Minute), Offset: 1, Limit: 2}, []int{4, 3}, 4},
			{gatehouse.AuditFilter{UserID: alice, Since: micro.Add(time.Minute), Until: micro.Add(7 * time.Minute), Offset: 1, Limit: 1}, []int{4}, 4},
			{gatehouse.AuditFilter{UserID: gatehouse.NewID(), Limit: 1}, nil, 0},
		} {
			var want []*gatehouse.AuditEvent
			for _, i := range tc.want {
				want = append(want, log[i])
			}
			wantAudit(t, s, tc.filter, tc.total, want...)
		}

		// Paging through everything one event at a time sees each once.
		var seen []*gatehouse.AuditEvent
		for offset := 0; ; offset++ {
			page, total, err := s.Audit(t.Context(), gatehouse.AuditFilter{Offset: offset, Limit: 1})
			check(t, err)
			if total != len(log) {
				t.Fatalf("Audit(offset %d) total = %d, want %d", offset, total, len(log))
			}
			if len(page) == 0 {
				break
			}
			seen = append(seen, page...)
		}
		want := []*gatehouse.AuditEvent{log[7], log[6], log[5], log[4], log[3], log[2], log[1], log[0]}
		if d := diff(want, seen); d != "" {
			t.Errorf("paging one by one mismatch (-want +got):\n%s", d)
		}
	})

	t.Run("DeletedUserEventsRemain", func(t *testing.T) {
		// The log outlives the users it names, as actor and as target.
		s := newStores(t)
		alice := createUser(t, s, newUser("alice"))
		bob := createUser(t, s, newUser("bob"))
		createToken(t, s, newToken(alice.ID, "secret"))
		createSession(t, s, newSession(alice.ID, "session"))
		login := appendAudit(t, s, newEvent(gatehouse.AuditLoginSucceeded, alice.ID, "", base))
		token := appendAudit(t, s, newEvent(gatehouse.AuditTokenCreated, alice.ID, gatehouse.NewID(), base.Add(time.Second)))
		deleted := appendAudit(t, s, newEvent(gatehouse.AuditUserDeleted, bob.ID, alice.ID, base.Add(2*time.Second)))

		check(t, s.DeleteUser(t.Context(), alice.ID))
		wantAudit(t, s, gatehouse.AuditFilter{UserID: alice.ID}, 3, deleted, token, login)
		wantAudit(t, s, gatehouse.AuditFilter{UserID: bob.ID}, 1, deleted)
		check(t, s.DeleteUser(t.Context(), bob.ID))
		wantAudit(t, s, gatehouse.AuditFilter{}, 3, deleted, token, login)

		// Events may name users that never existed, or no longer exist.
		late := appendAudit(t, s, newEvent(gatehouse.AuditLoginFailed, alice.ID, "", base.Add(3*time.Second)))
		wantAudit(t, s, gatehouse.AuditFilter{UserID: alice.ID}, 4, late, deleted, token, login)
	})

	t.Run("ManyEvents", func(t *testing.T) {
		s := newStores(t)
		const n = 250
		users := []string{gatehouse.NewID(), gatehouse.NewID(), gatehouse.NewID()}
		kinds := []gatehouse.AuditKind{gatehouse.AuditLoginSucceeded, gatehouse.AuditLoginFailed, gatehouse.AuditLogout, gatehouse.AuditUserUpdated}
		var all []*gatehouse.AuditEvent
		for i := range n {
			e := newEvent(kinds[i%len(kinds)], users[i%len(users)], fmt.Sprint("target-", i), micro.Add(time.Duration(i*7919%n)*time.Second))
			all = append(all, appendAudit(t, s, e))
		}
		f := gatehouse.AuditFilter{UserID: users[1], Kind: gatehouse.AuditLogout, Since: micro.Add(20 * time.Second), Until: micro.Add(200 * time.Second)}
		var want []*gatehouse.AuditEvent
		for sec := 199; sec >= 20; sec-- {
			for _, e := range all {
				if e.Time.Equal(micro.Add(time.Duration(sec)*time.Second)) && e.ActorID == f.UserID && e.Kind == f.Kind {
					want = append(want, e)
				}
			}
		}
		if len(want) < 5 {
			t.Fatalf("test bug: only %d events match", len(want))
		}
		wantAudit(t, s, f, len(want), want...)
		f.Offset, f.Limit = 2, 3
		wantAudit(t, s, f, len(want), want[2:5]...)
	})
}
