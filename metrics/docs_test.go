package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/metrics"
)

// documented returns the metrics docs/metrics.md lists, by their headings
// ("### `gatehouse_…`"), and their types ("Counter.", "Gauge", …, the
// first word of the paragraph after).
func documented(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile("(?m)^### `(gatehouse_[a-z0-9_]+)`\n\n(\\w+)")
	names := map[string]string{}
	for _, m := range heading.FindAllStringSubmatch(string(b), -1) {
		names[m[1]] = strings.ToLower(m[2])
	}
	if len(names) == 0 {
		t.Fatal("docs/metrics.md lists no metric")
	}
	return names
}

// exercised is a set of metrics with every metric used once, so that
// every family, vectors included, has a series to gather.
func exercised() *metrics.Metrics {
	m := metrics.New()
	m.Request("/auth/session", "GET", 200, time.Millisecond)
	m.Decision(metrics.Allowed)
	m.Audit(gatehouse.AuditLockout)
	m.Login(gatehouse.LoginPassword, gatehouse.LoginSucceeded)
	m.StoreCall("database", "Ping", time.Millisecond, errors.New("down"))
	m.MailDelivery(true, false)
	m.MailDelivery(false, true)
	m.HashWait(time.Millisecond, true)
	m.WatchSessions(nil, func(context.Context, time.Time) (int, error) { return 3, nil })
	m.WatchOutbox(nil, func(context.Context) (int, error) { return 1, nil })
	m.WatchCertificates(func() map[string]time.Time {
		return map[string]time.Time{"admin.example.com": time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)}
	})
	return m
}

// TestDocumented: every gatehouse_* metric registered is in
// docs/metrics.md with its type, and every one listed there exists.
func TestDocumented(t *testing.T) {
	docs := documented(t)
	fams, err := exercised().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{}
	for _, f := range fams {
		name := f.GetName()
		if !strings.HasPrefix(name, "gatehouse_") {
			continue
		}
		registered[name] = true
		typ, ok := docs[name]
		if !ok {
			t.Errorf("%s is not documented in docs/metrics.md", name)
			continue
		}
		if want := strings.ToLower(f.GetType().String()); typ != want {
			t.Errorf("docs/metrics.md calls %s a %s; it is a %s", name, typ, want)
		}
	}
	for name := range docs {
		if !registered[name] {
			t.Errorf("docs/metrics.md lists %s, which gatehouse no longer has", name)
		}
	}
}

// TestDashboard: the Grafana dashboard in examples/ is importable JSON
// (a Prometheus data-source input, panels with queries), and its queries
// use only metrics docs/metrics.md lists, so it cannot drift from them.
func TestDashboard(t *testing.T) {
	docs := documented(t)
	b, err := os.ReadFile("../examples/grafana/gatehouse-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Panels []json.RawMessage `json:"panels"` // a collapsed row's
	}
	var d struct {
		Title         string `json:"title"`
		UID           string `json:"uid"`
		SchemaVersion int    `json:"schemaVersion"`
		Inputs        []struct {
			Name     string `json:"name"`
			Type     string `json:"type"`
			PluginID string `json:"pluginId"`
		} `json:"__inputs"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if d.Title == "" || d.UID == "" || d.SchemaVersion < 36 {
		t.Errorf("dashboard title %q, uid %q, schemaVersion %d; want both and a schemaVersion of Grafana 10 or later", d.Title, d.UID, d.SchemaVersion)
	}
	if !slices.ContainsFunc(d.Inputs, func(in struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		PluginID string `json:"pluginId"`
	}) bool {
		return in.Name == "DS_PROMETHEUS" && in.Type == "datasource" && in.PluginID == "prometheus"
	}) {
		t.Errorf("dashboard has no DS_PROMETHEUS data-source input: %+v", d.Inputs)
	}

	metric := regexp.MustCompile(`\b[a-z_:][a-z0-9_:]*\b`)
	used := map[string]bool{}
	var exprs []string
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, raw := range p.Panels {
				var inner panel
				if err := json.Unmarshal(raw, &inner); err != nil {
					t.Fatal(err)
				}
				walk([]panel{inner})
			}
			if p.Type == "row" || p.Type == "text" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			if p.Datasource == nil || p.Datasource.UID != "${DS_PROMETHEUS}" {
				t.Errorf("panel %q does not query ${DS_PROMETHEUS}", p.Title)
			}
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
				names := 0
				for _, w := range metric.FindAllString(tg.Expr, -1) {
					if !strings.HasPrefix(w, "gatehouse_") {
						continue
					}
					names++
					base := w
					for _, suffix := range []string{"_bucket", "_count", "_sum"} {
						if b, ok := strings.CutSuffix(w, suffix); ok && docs[b] == "histogram" {
							base = b
						}
					}
					if _, ok := docs[base]; !ok {
						t.Errorf("panel %q queries %s, which docs/metrics.md does not list: %s", p.Title, w, tg.Expr)
					}
					used[base] = true
				}
				if names == 0 {
					t.Errorf("panel %q has a query of no gatehouse metric: %q", p.Title, tg.Expr)
				}
			}
		}
	}
	walk(d.Panels)
	checkPromQL(t, exprs)
	// The dashboard shows every metric but the audit events (the audit
	// log shows those better).
	for name := range docs {
		if !used[name] && name != "gatehouse_audit_events_total" {
			t.Errorf("the dashboard shows no %s", name)
		}
	}
}

// checkPromQL has Prometheus's promtool parse exprs (Grafana's
// $__rate_interval as 5m), as the rules of a rule file; skipped where
// promtool is not installed (Debian: apt-get install prometheus).
func checkPromQL(t *testing.T, exprs []string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed: the queries' syntax is not checked")
		return
	}
	var rules strings.Builder
	rules.WriteString("groups:\n- name: dashboard\n  rules:\n")
	for i, e := range exprs {
		e = strings.ReplaceAll(e, "$__rate_interval", "5m")
		q, _ := json.Marshal(e) // a JSON string is a YAML string
		fmt.Fprintf(&rules, "  - record: dashboard:query%d\n    expr: %s\n", i, q)
	}
	file := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s\n%s", err, out, rules.String())
	}
}

// TestAlertRules: the example alerts (examples/prometheus) name only
// documented metrics, and, where promtool is installed (Debian: apt-get
// install prometheus; CI installs it), the configuration and rules load
// and the rules' unit tests pass: each alert fires on the series that
// should raise it and stays quiet on healthy ones.
func TestAlertRules(t *testing.T) {
	docs := documented(t)
	b, err := os.ReadFile("../examples/prometheus/gatehouse-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	metric := regexp.MustCompile(`gatehouse_[a-z0-9_]+`)
	alerts := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			alerts++
			for _, name := range metric.FindAllString(r.Expr, -1) {
				if _, ok := docs[strings.TrimSuffix(name, "_bucket")]; !ok {
					t.Errorf("alert %s uses %s, which docs/metrics.md does not list", r.Alert, name)
				}
			}
		}
	}
	if alerts == 0 {
		t.Fatal("gatehouse-alerts.yml has no alert")
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian: apt-get install prometheus): the rules are not loaded or tested")
	}
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"},
		{"test", "rules", "gatehouse-alerts.test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "../examples/prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestExpositionLints: what BASE/metrics serves passes promtool's checks
// of the exposition format and naming conventions (units in the name,
// counters ending in _total, …).
func TestExpositionLints(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian: apt-get install prometheus)")
	}
	rec := httptest.NewRecorder()
	exercised().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = rec.Body
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
