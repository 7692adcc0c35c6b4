package sqlite_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/sqlite"
)

func TestActionTokenByHashUsesIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	open(t, path)
	plan := queryPlan(t, path, `SELECT * FROM action_tokens WHERE hash = ?`, []byte{0})
	if !strings.Contains(plan, "USING INDEX") {
		t.Errorf("query plan %q does not use the unique index on hash", plan)
	}
	plan = queryPlan(t, path, `DELETE FROM action_tokens WHERE user_id = ? AND purpose = ?`, "u", "reset")
	if !strings.Contains(plan, "action_tokens_user_id") {
		t.Errorf("query plan %q does not use action_tokens_user_id", plan)
	}
}

// TestClaimMailUsesIndex checks that ClaimMail's query reads the partial
// index outbox_due in order, without a sort, and so without reading the
// sent messages.
func TestClaimMailUsesIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	open(t, path)
	plan := queryPlan(t, path, `SELECT * FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`, 1, 10)
	if !strings.Contains(plan, "outbox_due") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("query plan %q does not read outbox_due in order", plan)
	}
	plan = queryPlan(t, path, `SELECT count(*) FROM outbox WHERE sent_at IS NULL AND next_attempt_at IS NOT NULL`)
	if !strings.Contains(plan, "outbox_due") {
		t.Errorf("query plan %q of PendingMail does not use outbox_due", plan)
	}
}

// TestLifecycleAcrossStores has two Stores on one file, standing for two
// gatehouse processes, use one action token and claim from one outbox at
// once: only SQLite's file locks serialise them.
func TestLifecycleAcrossStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	stores := [2]*sqlite.Store{open(t, path), open(t, path)}
	ctx := context.WithoutCancel(t.Context())
	u := testUser("alice")
	if err := stores[0].CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("secret"))
	tok := &gatehouse.ActionToken{ID: gatehouse.NewID(), UserID: u.ID, Purpose: gatehouse.PurposeReset, Hash: h[:],
		Stamp: "stamp", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := stores[0].CreateActionToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	const mails = 30
	for i := range mails {
		m := &gatehouse.Mail{ID: gatehouse.NewID(), To: fmt.Sprintf("user%d@example.com", i), Subject: "Hello",
			Kind: "invite", CreatedAt: now, NextAttemptAt: now.Add(time.Duration(i) * time.Second)}
		if err := stores[i%2].EnqueueMail(ctx, m); err != nil {
			t.Fatal(err)
		}
	}

	const n = 20
	var (
		wg      sync.WaitGroup
		useErrs [n]error
		mu      sync.Mutex
		claimed = map[string]int{}
	)
	for i := range n {
		wg.Go(func() {
			useErrs[i] = stores[i%2].UseActionToken(ctx, tok.ID, now)
			ms, err := stores[i%2].ClaimMail(ctx, now.Add(time.Hour), time.Hour, 2)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, m := range ms {
				claimed[m.ID]++
			}
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range useErrs {
		switch gatehouse.ErrorCode(err) {
		case "":
			ok++
		case gatehouse.CodeConflict:
		default:
			t.Errorf("concurrent UseActionToken: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent uses across two stores succeeded, want 1", ok)
	}
	if len(claimed) != mails {
		t.Errorf("claimed %d distinct messages, want all %d", len(claimed), mails)
	}
	for id, k := range claimed {
		if k != 1 {
			t.Errorf("message %s was claimed %d times", id, k)
		}
	}
}
