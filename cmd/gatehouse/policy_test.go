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

// TestPolicyExplainBuiltin: gatehouse's own endpoints are explained from
// their built-in requirements, with or without a route table.
func TestPolicyExplainBuiltin(t *testing.T) {
	const groups = `groups:
  useradmins: [section:users]
  viewers: [section:content]
`
	const table = `routes:
  - path: /auth/management/**
    access: permission
    permission: section:users
    networks: [192.0.2.0/24]
  - path: /auth/management/**
    access: deny
  - path: /api/**
    access: authenticated
`
	users := "/auth/management/api/v1/users"
	common := []struct {
		args []string
		want []string
	}{
		{[]string{"--user", "uadmin", "--path", users},
			[]string{"GET " + users + " as uadmin: allow (200)", "built-in: GET " + users + " requires section:users: allow (200)", "which uadmin holds"}},
		{[]string{"--user", "viewer", "--path", users},
			[]string{"as viewer: forbidden (403)", "built-in: GET " + users + " requires section:users: forbidden (403)", "which viewer lacks"}},
		{[]string{"--method", "POST", "--path", "/auth/session"},
			[]string{"POST /auth/session as anonymous: allow (200)", "built-in: POST /auth/session is public."}},
		{[]string{"--path", "/auth/sessions"},
			[]string{"as anonymous: unauthenticated (401)", "built-in: GET /auth/sessions requires a signed-in user"}},
		{[]string{"--user", "viewer", "--path", "/auth/sessions"},
			[]string{"as viewer: allow (200)", "requires a signed-in user"}},
	}
	for _, mode := range []struct {
		name, config string
		addr         []string // for the common cases
		extra        []struct {
			args []string
			want []string
		}
	}{
		{"no table", groups, nil, nil},
		{"table", groups + table, []string{"--addr", "192.0.2.7"}, []struct {
			args []string
			want []string
		}{
			{[]string{"--user", "uadmin", "--path", users, "--addr", "203.0.113.9"},
				[]string{"as uadmin: forbidden (403)", "requires section:users: allow (200)", "rule:   routes[1]", "routes[1] denies"}},
			{[]string{"--user", "uadmin", "--path", users, "--addr", "192.0.2.7"},
				[]string{"as uadmin: allow (200)", "rule:   routes[0]"}},
			{[]string{"--path", "/auth/sessions"},
				[]string{"unauthenticated (401)", "does not apply"}},
		}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			env := map[string]string{"GATEHOUSE_CONFIG": writeFile(t, dir, "gatehouse.yaml", mode.config)}
			data := filepath.Join(dir, "data")
			mustRun(t, env, "ecila velvet sandal crayon\n", "user", "create", "--data", data, "--username", "uadmin", "--email", "uadmin@example.com", "--group", "useradmins", "--password-stdin")
			mustRun(t, env, "sturdy phrase for views\n", "user", "create", "--data", data, "--username", "viewer", "--email", "viewer@example.com", "--group", "viewers", "--password-stdin")
			for i, c := range append(append(mode.extra[:0:0], common...), mode.extra...) {
				if i < len(common) {
					c.args = append(c.args[:len(c.args):len(c.args)], mode.addr...)
				}
				t.Run(strings.Join(c.args, " "), func(t *testing.T) {
					out := mustRun(t, env, "", append([]string{"policy", "explain", "--data", data}, c.args...)...)
					for _, w := range c.want {
						if !strings.Contains(out, w) {
							t.Errorf("output lacks %q:\n%s", w, out)
						}
					}
				})
			}
			out := mustRun(t, env, "", append([]string{"policy", "explain", "--data", data, "--user", "viewer", "--path", users, "--json"}, mode.addr...)...)
			var ex struct {
				Decision string
				BuiltIn  struct{ Access, Permission, Decision string }
			}
			if err := json.Unmarshal([]byte(out), &ex); err != nil || ex.Decision != "forbidden" || ex.BuiltIn.Access != "permission" || ex.BuiltIn.Permission != "section:users" {
				t.Errorf("--json: %v %s", err, out)
			}
		})
	}
}

// TestPolicyExplainHost: --host picks the rules limited to hosts, as the
// request's Host header would.
func TestPolicyExplainHost(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "gatehouse.yaml", `routes:
  - path: /admin/**
    hosts: [admin.example.com]
    access: authenticated
  - path: /**
    hosts: ["*.example.com"]
    access: public
`)
	data := filepath.Join(dir, "data")
	env := map[string]string{"GATEHOUSE_CONFIG": cfg}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--host", "Admin.Example.com:8443", "--path", "/admin/x"},
			[]string{"GET Admin.Example.com:8443/admin/x as anonymous: unauthenticated (401)", "routes[0] path /admin/** access authenticated hosts admin.example.com"}},
		{[]string{"--host", "www.example.com", "--path", "/admin/x"},
			[]string{"allow (200)", "routes[1] path /** access public hosts *.example.com"}},
		{[]string{"--host", "example.com", "--path", "/admin/x"},
			[]string{"forbidden (403)", "No rule matches"}},
		{[]string{"--path", "/admin/x"},
			[]string{"GET /admin/x as anonymous: forbidden (403)", "No rule matches"}},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			out := mustRun(t, env, "", append([]string{"policy", "explain", "--data", data}, c.args...)...)
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	if code, _, stderr := runCmd(t, env, "", "policy", "explain", "--data", data, "--host", "https://admin.example.com/", "--path", "/admin"); code == exitOK || !strings.Contains(stderr, "host") {
		t.Errorf("a URL for --host: exit %d %s", code, stderr)
	}
}
