package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

const explainConfig = `routes:
  - path: /api/health
    access: public
  - path: /api/servers/{id}
    methods: [PATCH, DELETE]
    access: permission
    permission: servers.write
  - path: /api/**
    access: authenticated
groups:
  operators: [servers.write]
`

func TestPolicyExplain(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "gatehouse.yaml", explainConfig)
	data := filepath.Join(dir, "data")
	env := map[string]string{"GATEHOUSE_CONFIG": cfg}
	mustRun(t, env, "ecila velvet sandal crayon\n", "user", "create", "--data", data, "--username", "alice", "--email", "alice@example.com", "--password-stdin")
	mustRun(t, env, "sturdy phrase for ops\n", "user", "create", "--data", data, "--username", "otto", "--email", "otto@example.com", "--group", "operators", "--password-stdin")

	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--user", "alice", "--method", "PATCH", "--path", "/api/servers/7"},
			[]string{"PATCH /api/servers/7 as alice: forbidden (403)", "routes[1] path /api/servers/{id} methods PATCH,DELETE access permission servers.write", "lacks"}},
		{[]string{"--user", "otto", "--method", "patch", "--path", "/api/servers/7"},
			[]string{"as otto: allow (200)", "holds"}},
		{[]string{"--method", "GET", "--path", "/api/servers/7"},
			[]string{"as anonymous: unauthenticated (401)", "routes[2]"}},
		{[]string{"--path", "/api/health"},
			[]string{"GET /api/health as anonymous: allow (200)", "public"}},
		{[]string{"--path", "/other"},
			[]string{"forbidden (403)", "No rule matches"}},
		{[]string{"--path", "/api/%2e%2e/admin"},
			[]string{"forbidden (403)", "malformed"}},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			out := mustRun(t, env, "", append([]string{"policy", "explain", "--data", data}, c.args...)...)
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}

	out := mustRun(t, env, "", "policy", "explain", "--data", data, "--user", "otto", "--method", "DELETE", "--path", "/api/servers/9", "--json")
	var ex struct {
		Decision string
		Status   int
		Rule     struct{ Index int }
	}
	if err := json.Unmarshal([]byte(out), &ex); err != nil || ex.Decision != "allow" || ex.Status != 200 || ex.Rule.Index != 1 {
		t.Errorf("--json: %v %s", err, out)
	}

	// Errors: an unknown user, a missing path, no route table.
	if code, _, stderr := runCmd(t, env, "", "policy", "explain", "--data", data, "--user", "ghost", "--path", "/api/x"); code != exitFailure || !strings.Contains(stderr, "ot found") {
		t.Errorf("unknown user: exit %d %s", code, stderr)
	}
	if code, _, _ := runCmd(t, env, "", "policy", "explain", "--data", data); code != exitUsage {
		t.Errorf("missing path: exit %d", code)
	}
	if code, _, stderr := runCmd(t, nil, "", "policy", "explain", "--data", data, "--path", "/x"); code != exitUsage || !strings.Contains(stderr, "routes") {
		t.Errorf("no table: exit %d %s", code, stderr)
	}
	if code, _, _ := runCmd(t, env, "", "policy", "nope"); code != exitUsage {
		t.Errorf("unknown subcommand: exit %d", code)
	}
}
