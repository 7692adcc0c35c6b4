package httpapi

import (
	"bufio"
	"cmp"
	"net"
	"net/http"
	"net/netip"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/metrics"
)

// statusWriter remembers the status code of the answer, and the route
// label when the reverse proxy takes the request, for the metrics.
// Unwrap lets http.ResponseController reach the connection's Flush and
// deadlines (the reverse proxy streams through it); Hijack is its own, to
// count a protocol switch as 101.
type statusWriter struct {
	http.ResponseWriter
	code  int
	route string
}

// WriteHeader records the final status (or a protocol switch), not an
// informational 1xx that precedes it.
func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap is for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack takes the connection over (a WebSocket through the reverse proxy).
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.code == 0 {
		w.code = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}

// status is the code the client got: 200 when the handler wrote nothing.
func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// upstreamRoute is the route label of what the reverse proxy takes.
const upstreamRoute = "upstream"

// markUpstream labels w's request as the reverse proxy's, when w counts.
func markUpstream(w http.ResponseWriter) {
	if sw, ok := w.(*statusWriter); ok {
		sw.route = upstreamRoute
	}
}

// counted serves through h and counts each answer under the route pattern
// the mux chose, "upstream" for what the reverse proxy took, and "other"
// for what was answered before routing (a cross-origin refusal, a redirect
// to the clean path).
func (s *Server) counted(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveCounted(w, r, h) })
}

// serveCounted serves r through h, counts the answer (see counted), logs
// it (see logRequest) and traces it (see startSpan).
func (s *Server) serveCounted(w http.ResponseWriter, r *http.Request, h http.Handler) {
	start := s.now()
	sw := &statusWriter{ResponseWriter: w}
	ctx, span := s.proxies.startSpan(r)
	if span.IsRecording() {
		r = r.WithContext(ctx) // the handlers' spans nest under it
	}
	h.ServeHTTP(sw, r)
	route := sw.route
	if route == "" {
		route = "other"
		if _, known := s.patterns[r.Pattern]; known {
			route = routeOf(r.Pattern)
		}
	}
	took := s.now().Sub(start)
	s.metrics.Request(route, r.Method, sw.status(), took)
	in := s.in(r)
	s.logRequest(r.Method, route, sw.status(), took, in)
	endSpan(span, r.Method, route, sw.status(), in)
}

// decisionOf names the metrics result of a forward-auth or proxy answer.
func decisionOf(status int) string {
	switch status {
	case http.StatusOK:
		return metrics.Allowed
	case http.StatusFound:
		return metrics.Login
	case http.StatusUnauthorized:
		return metrics.Unauthenticated
	case http.StatusForbidden:
		return metrics.Forbidden
	case http.StatusBadRequest:
		return metrics.BadRequest
	case http.StatusTooManyRequests:
		return metrics.RateLimited
	}
	return metrics.Failed
}

// serveVerify is GET BASE/verify with its metric: the decision alone.
// A proxy asks before every request it forwards, so the answer is counted
// once, in gatehouse_forward_auth_decisions_total, and not also in the
// request counter and latency histogram (each an atomic write to memory
// all CPUs share; the proxies time their sub-requests themselves). It
// carries its request id and has its line in the log as any other
// request (see logRequest).
func (g *gateway) serveVerify(w http.ResponseWriter, r *http.Request) {
	r, ex := g.enterVerify(w, r)
	status := http.StatusOK
	if err := g.handleVerify(w, r, false, &ex.in); err != nil {
		// Counted by what was refused; answered as nginx can take it.
		status = statusOf(gatehouse.ErrorCode(err))
		answer, err := g.verifyStatus(err)
		w.Header().Set(HeaderProblem, string(gatehouse.ErrorCode(err)))
		g.api.writeErrorStatus(w, r, err, answer)
		ex.status = answer
	} else if w.Header()["Location"] != nil {
		status = http.StatusFound
		ex.status = status
	}
	result := decisionOf(status)
	if status == http.StatusUnauthorized && w.Header()["Location"] != nil {
		result = metrics.Login // nginx's 401 that names the login page
	}
	g.metrics.Decision(result)
	g.leaveVerify(r, g.verifyPath, &ex)
}

// servePreflight serves GET BASE/verify/preflight (see gateway.verify):
// 204 or a refusal, as nginx and Caddy pass it to the browser. Not counted
// as a forward-auth decision: it lets nothing through.
func (g *gateway) servePreflight(w http.ResponseWriter, r *http.Request) {
	r, ex := g.enterVerify(w, r)
	if err := g.handleVerify(w, r, true, &ex.in); err != nil {
		answer, err := g.verifyStatus(err)
		g.api.writeErrorStatus(w, r, err, answer)
		ex.status = answer
	} else {
		ex.status = http.StatusNoContent
	}
	g.leaveVerify(r, g.preflightPath, &ex)
}

// verifyExchange is what GET BASE/verify keeps of a request for its line
// in the log: in.id, and the original request's client and user as verify
// found them (see gateway.verify).
type verifyExchange struct {
	in     inbound
	start  time.Time  // zero when requests are not logged
	status int        // 0 for 200
	span   trace.Span // the request's (see startSpan)
}

// enterVerify gives a GET BASE/verify request its id (echoed in
// X-Request-Id), its span and, when requests are logged, its start time.
// It returns r with the span's context when tracing is on.
func (g *gateway) enterVerify(w http.ResponseWriter, r *http.Request) (*http.Request, verifyExchange) {
	v := g.proxies.requestIDValue(r)
	ex := verifyExchange{in: inbound{id: v[0]}, start: g.api.requestStart()}
	w.Header()[HeaderRequestID] = v
	ctx, span := g.proxies.startSpan(r)
	ex.span = span
	if span.IsRecording() {
		r = r.WithContext(ctx)
	}
	return r, ex
}

// leaveVerify ends the span of a GET BASE/verify request answered and
// logs it (see logRequest), under route, the path it is served at.
func (g *gateway) leaveVerify(r *http.Request, route string, ex *verifyExchange) {
	if ex.span.IsRecording() {
		endSpan(ex.span, r.Method, route, cmp.Or(ex.status, http.StatusOK), &ex.in)
	}
	if ex.start.IsZero() {
		return
	}
	if !ex.in.client.IsValid() {
		ex.in.client = remoteAddr(r) // refused before the original client was known
	}
	status := ex.status
	if status == 0 {
		status = http.StatusOK
	}
	g.api.logAnswered(r.Method, route, status, ex.start, ex.in)
}

// loopback is where BASE/metrics is served without MetricsNetworks.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

var errMetricsRefused = &gatehouse.Error{Code: gatehouse.CodePermissionDenied,
	Message: "The metrics are served only to the monitoring networks (metrics.networks)."}

// handleMetrics is BASE/metrics, for clients in the metrics networks
// (loopback unless configured): the counts it shows (failed logins,
// lockouts, refusals) are nobody else's business.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) error {
	networks := s.cfg.MetricsNetworks
	if networks == nil {
		networks = loopback
	}
	client := s.in(r).client
	for _, n := range networks {
		if n.Contains(client) {
			s.metricsHandler.ServeHTTP(w, r)
			return nil
		}
	}
	return errMetricsRefused
}
