package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
)

type loginKey struct {
	method  gatehouse.LoginMethod
	outcome gatehouse.LoginOutcome
}

// commonLogins are the outcomes shown at 0 before the first login of
// each method, so that a dashboard has its series from the start; the
// others appear when they first happen.
var commonLogins = map[gatehouse.LoginMethod][]gatehouse.LoginOutcome{
	gatehouse.LoginPassword:  {gatehouse.LoginSucceeded, gatehouse.LoginInvalidCredentials, gatehouse.LoginLocked, gatehouse.LoginTwoFactorRequired, gatehouse.LoginError},
	gatehouse.LoginTwoFactor: {gatehouse.LoginSucceeded, gatehouse.LoginTwoFactorFailed, gatehouse.LoginLocked},
	gatehouse.LoginExternal:  {gatehouse.LoginSucceeded, gatehouse.LoginRefused},
	gatehouse.LoginBasic:     {gatehouse.LoginSucceeded, gatehouse.LoginInvalidCredentials, gatehouse.LoginLocked},
	gatehouse.LoginToken:     {gatehouse.LoginSucceeded, gatehouse.LoginInvalidCredentials},
}

// newLogins makes the login and lockout counters, and every login series.
func (m *Metrics) newLogins() {
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_logins_total",
		Help: "Logins and credential checks, by method (password, two_factor, external, basic, token) and outcome (success, two_factor_required, enrolment_required, invalid_credentials, disabled, locked, two_factor_failed, refused, error).",
	}, []string{"method", "outcome"})
	m.lockouts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_lockouts_total",
		Help: "Accounts (a username, or one known browser of a user) locked by the login throttle after too many failures.",
	})
	m.loginSeries = map[loginKey]prometheus.Counter{}
	for _, method := range gatehouse.LoginMethods {
		for _, outcome := range gatehouse.LoginOutcomes {
			// Resolved now, but shown only once counted: a series of
			// its own appears with its first login.
			m.loginSeries[loginKey{method, outcome}] = nil
		}
	}
	for method, outcomes := range commonLogins {
		for _, outcome := range outcomes {
			m.loginSeries[loginKey{method, outcome}] = m.logins.WithLabelValues(string(method), string(outcome))
		}
	}
}

// Login counts a login (or a request's credentials checked) of method
// that ended with outcome; it fits account.Config.OnLogin. A method or
// outcome that is not one of gatehouse.LoginMethods and
// gatehouse.LoginOutcomes is not counted.
func (m *Metrics) Login(method gatehouse.LoginMethod, outcome gatehouse.LoginOutcome) {
	if m == nil {
		return
	}
	k := loginKey{method, outcome}
	c, known := m.loginSeries[k]
	if !known {
		return
	}
	if c == nil {
		// A rare outcome, first seen: WithLabelValues is safe for
		// concurrent use and returns the same series every time.
		c = m.logins.WithLabelValues(string(method), string(outcome))
	}
	c.Inc()
}
