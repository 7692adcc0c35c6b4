package httpapi

import (
	"context"
	"log/slog"
	"time"
)

// logRequest writes the one line of an answered request, at info level,
// when Config.LogRequests asks for it: its method, its route (the mux
// pattern, as the metrics label it: never the raw path, nor its query,
// which may carry a token), its status and duration, its request id, the
// client's address (after trusted proxies) and the id of the user it was
// authenticated as ("" for none). Nothing the client sent besides the
// method is written: no header, cookie, query or body.
func (s *Server) logRequest(method, route string, status int, took time.Duration, in *inbound) {
	if !s.cfg.LogRequests || !s.log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	client := ""
	if in.client.IsValid() {
		client = in.client.String()
	}
	// The request id is given here, not taken from a context by
	// RequestIDHandler: GET BASE/verify logs after its context is gone.
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "request",
		slog.String("method", method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Duration("duration", took),
		slog.String("request_id", in.id),
		slog.String("client", client),
		slog.String("user_id", in.user))
}

// requestStart implements gatewayAPI.
func (s *Server) requestStart() time.Time {
	if !s.cfg.LogRequests {
		return time.Time{}
	}
	return s.now()
}

// logAnswered implements gatewayAPI.
func (s *Server) logAnswered(method, route string, status int, start time.Time, in inbound) {
	s.logRequest(method, route, status, s.now().Sub(start), &in)
}
