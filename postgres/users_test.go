package postgres_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse"
)

// The unique indexes cannot keep one user's username from equalling
// another's email; the users' advisory lock must, across connections. Each
// round races a user whose username is the email of the other.
func TestConcurrentUsernameIsOthersEmail(t *testing.T) {
	s := open(t)
	now := time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)
	for round := range 25 {
		shared := fmt.Sprintf("shared-%d@example.com", round)
		a := &gatehouse.User{ID: gatehouse.NewID(), Username: shared, Email: fmt.Sprintf("a-%d@example.com", round),
			State: gatehouse.StateActive, CreatedAt: now, UpdatedAt: now}
		b := &gatehouse.User{ID: gatehouse.NewID(), Username: fmt.Sprintf("b-%d", round), Email: strings.ToUpper(shared),
			State: gatehouse.StateActive, CreatedAt: now, UpdatedAt: now}
		var errA, errB error
		var wg sync.WaitGroup
		wg.Go(func() { errA = s.CreateUser(t.Context(), a) })
		wg.Go(func() { errB = s.CreateUser(t.Context(), b) })
		wg.Wait()
		if (errA == nil) == (errB == nil) {
			t.Fatalf("round %d: CreateUser = %v and %v, want exactly one to fail with a conflict", round, errA, errB)
		}
		var ge *gatehouse.Error
		if err := errors.Join(errA, errB); !errors.As(err, &ge) || ge.Code != gatehouse.CodeConflict {
			t.Fatalf("round %d: %v, want CodeConflict", round, err)
		}
	}
}
