// Package metrics holds gatehouse's Prometheus metrics — the HTTP requests
// gatehouse answers, the forward-auth decisions it makes, the logins and
// lockouts, the audit events it records, the sessions alive, the stores'
// latency, the mail outbox and the password hashing queue, with the Go
// runtime's and the process's own — and serves them in the Prometheus
// text format (BASE/metrics). docs/metrics.md documents every one; a test
// keeps the two in step.
//
// Every label takes its values from a small fixed set (a route pattern,
// an HTTP method or "other", a status code, an audit kind, a login method
// and outcome, a store method), never from a user, a path, an address or
// an error's text, so the series stay few and say nothing about any one
// person.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse/gatehouse"
)

// Metrics is one set of gatehouse's metrics with its own registry. The
// zero value is not usable; a nil *Metrics records nothing.
type Metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	verify   *prometheus.CounterVec
	audit    *prometheus.CounterVec
	logins   *prometheus.CounterVec
	lockouts prometheus.Counter

	storeDuration *prometheus.HistogramVec
	storeErrors   *prometheus.CounterVec

	mailSent     prometheus.Counter
	mailFailures *prometheus.CounterVec
	mailGaveUp   prometheus.Counter // mailFailures{permanent="true"}
	mailRetried  prometheus.Counter // mailFailures{permanent="false"}

	hashWait prometheus.Histogram
	hashBusy prometheus.Counter

	// decisions are verify's series, resolved once: forward auth answers
	// before every request a proxy forwards.
	decisions map[string]prometheus.Counter

	// routes caches the series of a (route, method, status), so that the
	// request path does not hash its labels every time.
	routes sync.Map // routeKey → *routeSeries

	// loginSeries are the logins' series, one per method and outcome,
	// resolved once: Basic and token credentials are checked on every
	// request that carries them.
	loginSeries map[loginKey]prometheus.Counter

	// stores caches the series of a (store, operation), as routes does.
	stores sync.Map // storeKey → *storeSeries
}

type routeKey struct {
	route, method string
	status        int
}

type routeSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// New returns a set of metrics registered in a registry of its own, with
// the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total",
			Help: "HTTP requests gatehouse answered itself, by route (the path pattern that served it), method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request gatehouse answered itself, by route (the path pattern that served it).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		verify: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_forward_auth_decisions_total",
			Help: "Forward-auth (BASE/verify, counted here only) and reverse-proxy decisions, by result: allowed, login (sent to the login page), unauthenticated, forbidden, bad_request, rate_limited, error.",
		}, []string{"result"}),
		audit: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_audit_events_total",
			Help: "Audit events recorded (logins, failures, lockouts, refusals, changes), by kind.",
		}, []string{"kind"}),
	}
	m.newLogins()
	m.newStores()
	m.newMail()
	m.newHashing()
	m.registry.MustRegister(m.requests, m.duration, m.verify, m.audit, m.logins, m.lockouts,
		m.storeDuration, m.storeErrors, m.mailSent, m.mailFailures, m.hashWait, m.hashBusy,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.decisions = map[string]prometheus.Counter{}
	for _, r := range []string{Allowed, Login, Unauthenticated, Forbidden, BadRequest, RateLimited, Failed} {
		m.decisions[r] = m.verify.WithLabelValues(r)
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		// A failing collector must not hide the others.
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// Registry is where the metrics are registered; a program embedding
// gatehouse may add its own.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// knownMethods are the methods that get a label value of their own; any
// other is counted as "other", so that a client cannot grow the series.
var knownMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true,
}

// Request counts a request gatehouse answered: route is the path pattern
// that served it, without the method a mux pattern starts with (bounded by
// the routes gatehouse has), method its method and status the answer's
// code; d is how long the answer took (not recorded for a protocol
// switch, whose connection lives on).
func (m *Metrics) Request(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if !knownMethods[method] {
		method = "other"
	}
	k := routeKey{route, method, status}
	s, ok := m.routes.Load(k)
	if !ok {
		s, _ = m.routes.LoadOrStore(k, &routeSeries{
			requests: m.requests.WithLabelValues(route, method, strconv.Itoa(status)),
			duration: m.duration.WithLabelValues(route),
		})
	}
	rs := s.(*routeSeries)
	rs.requests.Inc()
	if status != http.StatusSwitchingProtocols { // the connection lives on
		rs.duration.Observe(d.Seconds())
	}
}

// Decision results of forward auth and the reverse proxy.
const (
	Allowed         = "allowed"
	Login           = "login" // sent to the login page
	Unauthenticated = "unauthenticated"
	Forbidden       = "forbidden"
	BadRequest      = "bad_request"
	RateLimited     = "rate_limited"
	Failed          = "error" // gatehouse could not decide (a store down, hashing busy)
)

// Decision counts a forward-auth or reverse-proxy decision; result is one
// of the results above (anything else is not counted).
func (m *Metrics) Decision(result string) {
	if m == nil {
		return
	}
	if c, ok := m.decisions[result]; ok {
		c.Inc()
	}
}

// Audit counts an audit event of kind, and a lockout
// (gatehouse.AuditLockout) in gatehouse_lockouts_total too; it fits
// account.Config.OnAudit.
func (m *Metrics) Audit(kind gatehouse.AuditKind) {
	if m == nil {
		return
	}
	m.audit.WithLabelValues(string(kind)).Inc()
	if kind == gatehouse.AuditLockout {
		m.lockouts.Inc()
	}
}

// WatchSessions adds gatehouse_sessions_active, the sessions not ended at
// now(), counted by count (a gatehouse.SessionCounter's CountSessions)
// when the metrics are scraped: at most every 15 seconds of now's clock,
// however often they are, and waiting at most 2 seconds, so that scrapes
// cannot load the database. A count that fails leaves the gauge out until
// the next one. now nil means time.Now. Call it once, before serving the
// metrics.
func (m *Metrics) WatchSessions(now func() time.Time, count func(ctx context.Context, now time.Time) (int, error)) {
	if m == nil {
		return
	}
	if now == nil {
		now = time.Now
	}
	m.registry.MustRegister(newCachedGauge("gatehouse_sessions_active",
		"Sessions not ended, guest sessions included (counted in the session store at most every 15 s).", now,
		func(ctx context.Context) (int, error) { return count(ctx, now()) }))
}
