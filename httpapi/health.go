package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse"
)

// handleHealthz is BASE/healthz: the process is up and serving.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// handleReadyz is BASE/readyz: the stores answer within two seconds.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			s.log.Warn("not ready", "err", err)
			return &gatehouse.Error{Code: gatehouse.CodeBusy, Message: "A store is not reachable.", Err: err, RetryAfter: 5 * time.Second}
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
