package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
)

// ReadyCheck is one dependency BASE/readyz reports on, such as the
// database or the session store.
type ReadyCheck struct {
	// Name names the dependency in the answer ("database", "sessions").
	Name string
	// Check returns nil when the dependency answers (a store's Ping). It
	// is given readyTimeout; an error or the deadline is "unreachable".
	Check func(context.Context) error
}

// readyTimeout bounds each ready check, so that one hanging dependency
// cannot hold readyz (and the load balancer asking it) beyond it.
const readyTimeout = 2 * time.Second

// Ready check results, as readyz reports them.
const (
	readyOK          = "ok"
	readyUnreachable = "unreachable"
)

// handleHealthz is BASE/healthz: the process is up and serving.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// handleReadyz is BASE/readyz: every dependency answers within
// readyTimeout, each checked at the same time as the others. 200 with
// each check's result, or 503 store_unavailable naming the unreachable
// ones (why is logged, never shown: it may name hosts and users).
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	results := make(map[string]string, len(s.ready))
	failed := false
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range s.ready {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			err := c.Check(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.log.LogAttrs(r.Context(), slog.LevelError, "not ready", slog.String("check", c.Name), slog.Any("err", err))
				results[c.Name], failed = readyUnreachable, true
				return
			}
			results[c.Name] = readyOK
		})
	}
	wg.Wait()
	if failed {
		err := &gatehouse.Error{Code: gatehouse.CodeStoreUnavailable, Message: "A store gatehouse needs cannot be reached.", RetryAfter: 5 * time.Second}
		s.writeProblem(w, r, err, http.StatusServiceUnavailable, results)
		return nil
	}
	writeJSON(w, http.StatusOK, readyAnswer{Status: readyOK, Checks: results})
	return nil
}

// readyAnswer is the body of a ready BASE/readyz.
type readyAnswer struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}
