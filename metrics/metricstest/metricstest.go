// Package metricstest reads gatehouse's metrics in tests: it scrapes a
// handler and finds a series' value in the Prometheus text format.
package metricstest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape asks h for GET path from a loopback address, as a scraper on the
// same host, and parses the answer, which must be 200 in the Prometheus
// text format.
func Scrape(t testing.TB, h http.Handler, path string) map[string]*dto.MetricFamily {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", path, nil)
	r.RemoteAddr = "127.0.0.1:9100"
	h.ServeHTTP(w, r)
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %q, want 200 text/plain", path, w.Code, w.Header().Get("Content-Type"))
	}
	return Parse(t, w.Body)
}

// Parse reads the Prometheus text format.
func Parse(t testing.TB, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return fams
}

// Value is the value of the counter or gauge (or a histogram's count) of family
// name whose labels include want; -1 when there is none.
func Value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

// Series names one series and the value it must have (-1: absent).
type Series struct {
	Name   string
	Labels map[string]string
	Want   float64
}

// Check reports every series in want whose value in fams differs.
func Check(t testing.TB, fams map[string]*dto.MetricFamily, want []Series) {
	t.Helper()
	for _, s := range want {
		if got := Value(fams, s.Name, s.Labels); got != s.Want {
			t.Errorf("%s%v = %v, want %v", s.Name, s.Labels, got, s.Want)
		}
	}
}
