package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// contractExample is the configuration example of the HTTP contract
// (spec/http-api.md, "Configuration keys"), verbatim: a file written for the
// contract must always be accepted.
const contractExample = `public_url: https://admin.example.com   # links in mail are built from this, never from Host
base_path: /auth
addr: 127.0.0.1:8080
data_dir: ./gatehouse-data
database: sqlite://gatehouse.db          # or postgres://…
sessions: database                       # or redis://…
trusted_proxies: [10.0.0.0/8]            # whose X-Forwarded-* is believed
trusted_origins: [https://app.example.com]
session:
  idle_timeout: 20m
  absolute_timeout: 12h
  remember_timeout: 720h
  same_site: lax                         # or strict
  cookie_name: gh_session
  cookie_domain: ""                      # e.g. example.com: one login for every subdomain
  guest: false                           # duplistatus-style sessions without a user
  reauthenticate_after: 10m
login:
  max_failures: 5
  failure_window: 15m
  lockout: 15m
basic_auth:
  enabled: false
  allow_insecure: false
password:
  min_length: 12
  max_length: 1024
  allow_password_reset: true
  min_strength: 3                        # zxcvbn-style score 0–4
mail:
  driver: log                            # or smtp
  from: gatehouse@example.com
  smtp: {host: …, port: 587, username: …, password: …, tls: starttls}   # none | starttls | implicit
sms:
  driver: log                            # or webhook
  webhook: {url: …, format: twilio}      # or json
upstream: http://127.0.0.1:3000          # gateway reverse-proxy mode
redirect_domains: [example.com]          # where rd= may point
cors: {allowed_origins: [https://app.example.com], allow_credentials: true, max_age: 10m}
csrf: {every_request: false}
log: {format: text, level: info}        # or json
tls: {cert_file: …, key_file: …}         # or acme: {domains: […], email: …, directory_url: …}
webauthn: {passwordless: false}
routes:
  - path: /api/health
    access: public
  - path: /api/servers/{id}
    methods: [PATCH, DELETE]
    access: permission
    permission: servers.write            # or permissions: [a, b] = any of
  - path: /api/**
    access: authenticated
groups:                                  # seeded at start, editable later
  administrators: ["*"]
oidc:
  - id: corp
    name: Corp SSO
    issuer: https://sso.example.com
    client_id: …
    client_secret: …
    client_secret_file: …                # instead of client_secret
    scopes: [openid, email, profile]
    deny_local_login: false
    allow_manual_linking: true
    auto_link_verified_email: false
    auto_create: {groups: []}
    groups_claim: groups
`

// contractExampleOIDC is contractExample without the two oidc lines that
// list alternatives (see contractExampleWithoutTLS).
var contractExampleOIDC = regexp.MustCompile(`(?m)^(    client_secret_file|    groups_claim): .*\n`).ReplaceAllString(contractExample, "")

// contractExampleWithoutTLS is contractExample without its tls line, and
// without the two oidc lines that list alternatives rather than settings:
// client_secret_file ("instead of client_secret": setting both is
// refused, and the file "…" does not exist) and groups_claim (which needs
// a group_map; see TestConfigOIDC).
var contractExampleWithoutTLS = regexp.MustCompile(`(?m)^(tls|    client_secret_file|    groups_claim): .*\n`).ReplaceAllString(contractExample, "")

// TestConfigCheck runs `gatehouse config check` over configuration files and
// environments. In wantErr and wantErrRe, FILE stands for the file's path.
func TestConfigCheck(t *testing.T) {
	tests := []struct {
		name      string
		yaml      string // the configuration file's content
		noFile    bool   // run without a configuration file
		viaEnv    bool   // name the file in GATEHOUSE_CONFIG instead of --config
		env       map[string]string
		wantCode  int
		wantOut   []string // substrings of stdout
		wantErr   []string // substrings of stderr
		wantErrRe string   // stderr must match
		wantErrIs string   // stderr must be exactly this (after "gatehouse: ")
		notErr    []string // stderr must not contain these
		notOut    []string // stdout must not contain these
	}{
		{
			name:     "no file",
			noFile:   true,
			wantCode: exitOK,
			wantOut:  []string{"configuration OK"},
		},
		{
			name:     "empty file",
			yaml:     "",
			wantCode: exitOK,
			wantOut:  []string{"configuration OK"},
		},
		{
			name:     "comments only",
			yaml:     "# nothing set yet\n\n",
			wantCode: exitOK,
			wantOut:  []string{"configuration OK"},
		},
		{
			name: "contract example is accepted with warnings",
			// Without the tls line, whose files "…" do not exist, the
			// contract's example is accepted as it is.
			yaml:     contractExampleWithoutTLS,
			wantCode: exitOK,
			wantOut:  []string{"configuration OK"},
			notOut:   []string{"upstream", "redirect_domains", "oidc"}, // all in effect
		},
		{
			// Its tls line is accepted as settings; the files "…" must
			// exist (see TestConfigTLS).
			name:     "contract example's tls files are read",
			yaml:     contractExampleOIDC,
			wantCode: exitUsage,
			wantErr:  []string{"FILE:42: tls.cert_file: …: no such file or directory"},
		},
		{
			name:     "passwordless passkeys are refused until passkeys exist",
			yaml:     "webauthn:\n  passwordless: true\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:2: webauthn.passwordless: passkeys are not supported by this version yet"},
		},
		{
			name:     "routes are in effect",
			yaml:     "routes:\n  - path: /api/**\n    access: authenticated\n",
			wantCode: exitOK,
			wantOut:  []string{"configuration OK"},
		},
		{
			name:      "invalid route names the rule and its line",
			yaml:      "routes:\n  - path: /api/health\n    access: public\n  - path: /api/**\n    access: sometimes\n",
			wantCode:  exitUsage,
			wantErr:   []string{"routes[1]", "/api/**", `"sometimes"`},
			wantErrRe: `FILE:4: routes\[1\]`,
		},
		{
			name:      "a glob outside the last segment names the rule and its line",
			yaml:      "routes:\n  - path: /umbraco/**/*.aspx\n    access: authenticated\n  - paths: [/ok, \"/files/*/x.pdf\"]\n    access: public\n",
			wantCode:  exitUsage,
			wantErr:   []string{"routes[1]", `"/files/*/x.pdf"`, "only in the last segment"},
			wantErrRe: `FILE:4: routes\[1\]`,
		},
		{
			name:      "misspelt route key names its line",
			yaml:      "routes:\n  - path: /api/**\n    acess: public\n",
			wantCode:  exitUsage,
			wantErr:   []string{"acess"},
			wantErrRe: `FILE(:3:|: line 3:)`,
		},
		{
			name:      "invalid group permission",
			yaml:      "groups:\n  editors: [\"pages update\"]\n",
			wantCode:  exitUsage,
			wantErr:   []string{"editors", "pages update"},
			wantErrRe: `FILE:1: groups`,
		},
		{
			name:     "file named by GATEHOUSE_CONFIG",
			yaml:     "upstream: http://127.0.0.1:3000\n",
			viaEnv:   true,
			wantCode: exitOK,
			wantOut:  []string{"warning: upstream is set without routes", "configuration OK"},
		},
		{
			name:     "gateway settings",
			yaml:     "upstream: https://app.internal:8443/prefix\nupstream_timeout: 5s\nredirect_domains: [Example.com, app.example.org]\nroutes:\n  - path: /**\n    access: authenticated\n",
			wantCode: exitOK,
			wantOut:  []string{"configuration OK"},
			notOut:   []string{"upstream", "redirect_domains"},
		},
		{
			name:     "upstream not http",
			yaml:     "addr: 127.0.0.1:8080\nupstream: ftp://127.0.0.1:3000\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:2: upstream", "http://"},
		},
		{
			name:     "upstream without host",
			yaml:     "upstream: 127.0.0.1:3000\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:1: upstream"},
		},
		{
			name:     "upstream with credentials",
			yaml:     "upstream: http://user:secret@127.0.0.1:3000\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:1: upstream"},
			notErr:   []string{"secret"},
		},
		{
			name:     "redirect domain with a scheme",
			yaml:     "redirect_domains: [example.com, \"https://evil.example\"]\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:1: redirect_domains", "entry 2", "https://evil.example"},
		},
		{
			name:     "gateway normalisation settings",
			yaml:     "gateway:\n  extra_methods: [PROPFIND, MKCOL]\n  allow_path_parameters: true\n  strip_headers: [X-My-User, X-Corp-*]\n",
			wantCode: exitOK,
			wantOut:  []string{"configuration OK"},
			notOut:   []string{"gateway"},
		},
		{
			name:     "rule naming an extra method",
			yaml:     "gateway:\n  extra_methods: [PROPFIND]\nroutes:\n  - path: /dav/**\n    methods: [PROPFIND]\n    access: authenticated\n",
			wantCode: exitOK,
			wantOut:  []string{"configuration OK"},
		},
		{
			name:     "rule naming a method that is not an extra",
			yaml:     "routes:\n  - path: /dav/**\n    methods: [PROPFIND]\n    access: authenticated\n",
			wantCode: exitUsage,
			wantErr:  []string{"routes[0]", "PROPFIND", "gateway.extra_methods"},
		},
		{
			name:     "gateway extra method in lower case",
			yaml:     "addr: 127.0.0.1:8080\ngateway:\n  extra_methods: [PROPFIND, propfind]\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:3: gateway.extra_methods", "entry 2", `"propfind"`},
		},
		{
			name:     "gateway extra method that is standard",
			yaml:     "gateway:\n  extra_methods: [PATCH]\n",
			wantCode: exitUsage,
			wantErr:  []string{"gateway.extra_methods", "entry 1", "standard method"},
		},
		{
			name:     "gateway strip header that frames the request",
			yaml:     "gateway:\n  strip_headers: [X-Ok, Content-Length]\n",
			wantCode: exitUsage,
			wantErr:  []string{"gateway.strip_headers", "entry 2", "Content-Length"},
		},
		{
			name:     "gateway strip header not a name",
			yaml:     "gateway:\n  strip_headers: [\"X My User\"]\n",
			wantCode: exitUsage,
			wantErr:  []string{"gateway.strip_headers", "entry 1", "X My User"},
		},
		{
			name:     "upstream_timeout zero",
			yaml:     "upstream_timeout: 0s\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:1: upstream_timeout"},
		},
		{
			name:     "upstream from the environment",
			noFile:   true,
			env:      map[string]string{"GATEHOUSE_UPSTREAM": "gopher://x", "GATEHOUSE_REDIRECT_DOMAINS": "example.com"},
			wantCode: exitUsage,
			wantErr:  []string{"GATEHOUSE_UPSTREAM: upstream"},
		},
		{
			name:      "unknown top-level key",
			yaml:      "addr: 127.0.0.1:9000\nbogus_key: 1\n",
			wantCode:  exitUsage,
			wantErr:   []string{"bogus_key"},
			wantErrRe: `FILE(:2:|: line 2:)`,
		},
		{
			name:      "unknown nested key",
			yaml:      "session:\n  idle_timeout: 5m\n  idle_timeot: 5m\n",
			wantCode:  exitUsage,
			wantErr:   []string{"idle_timeot"},
			wantErrRe: `FILE(:3:|: line 3:)`,
			notErr:    []string{"struct {"}, // no Go types in front of the operator
		},
		{
			name:      "unknown key via GATEHOUSE_CONFIG",
			yaml:      "\n\nnope: true\n",
			viaEnv:    true,
			wantCode:  exitUsage,
			wantErr:   []string{"nope"},
			wantErrRe: `FILE(:3:|: line 3:)`,
		},
		{
			name:      "bad duration",
			yaml:      "session:\n  idle_timeout: abc\n",
			wantCode:  exitUsage,
			wantErr:   []string{"abc"},
			wantErrRe: `FILE(:2:|: line 2:)`,
		},
		{
			name:      "number is not a duration",
			yaml:      "login:\n  lockout: 15\n",
			wantCode:  exitUsage,
			wantErrRe: `FILE(:2:|: line 2:)`,
		},
		{
			name:      "malformed yaml",
			yaml:      "addr: 127.0.0.1:8080\ntrusted_proxies: [\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:2: a value is missing, or a [ or { is not closed`,
		},
		{
			// A long file's late syntax error still names its line
			// (past maxSyntaxScan lines, yaml's own).
			name:      "malformed yaml in a long file",
			yaml:      "groups:\n" + strings.Repeat("  g: [a]\n", 3000) + "trusted_proxies: [\n",
			wantCode:  exitUsage,
			wantErrRe: `FILE:300[0-9]: `,
		},
		{
			name:     "breach check URL with a query",
			yaml:     "addr: 127.0.0.1:8080\npassword:\n  breach_check_url: https://hibp.example.com/range?k=1\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:3: password.breach_check_url"},
		},
		{
			name:     "min strength above 4",
			yaml:     "addr: 127.0.0.1:8080\npassword:\n  min_length: 12\n  min_strength: 5\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:4: password.min_strength", "0 (off) to 4"},
		},
		{
			name:     "negative min strength",
			yaml:     "addr: 127.0.0.1:8080\npassword:\n  min_strength: -1\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:3: password.min_strength"},
		},
		{
			name:     "bad metrics network",
			yaml:     "addr: 127.0.0.1:8080\nmetrics:\n  networks: [10.0.0.0/8, the office]\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:3: metrics.networks", "entry 2", `"the office"`},
		},
		{
			name:     "bad same_site",
			yaml:     "addr: 127.0.0.1:8080\nsession:\n  idle_timeout: 20m\n  same_site: bogus\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:4: session.same_site", "bogus"},
		},
		{
			name:     "idle_timeout longer than absolute_timeout",
			yaml:     "session:\n  idle_timeout: 13h\n  absolute_timeout: 12h\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:2: session.idle_timeout", "absolute_timeout"},
		},
		{
			name:     "reauthenticate_after not positive",
			yaml:     "addr: 127.0.0.1:8080\nsession:\n  idle_timeout: 20m\n  reauthenticate_after: 0s\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:4: session.reauthenticate_after", "positive duration"},
		},
		{
			name:     "idle_timeout longer than the default absolute_timeout",
			yaml:     "session:\n  idle_timeout: 24h\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:2: session.idle_timeout"},
		},
		{
			name:     "password.min_length 0",
			yaml:     "password:\n  min_length: 0\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:2: password.min_length"},
		},
		{
			name:     "zero duration",
			yaml:     "login:\n  failure_window: 0s\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:2: login.failure_window"},
		},
		{
			name:     "database neither sqlite nor postgres",
			yaml:     "database: mysql://db/gatehouse\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:1: database", "or postgres://USER@HOST"},
		},
		{
			name:     "postgres without a host",
			yaml:     "database: postgres:///gatehouse\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:1: database", "needs a host"},
		},
		{
			// The password is never repeated, whatever is wrong.
			// A "/" in the password makes url.Parse read it as the port.
			name:     "postgres password with a slash stays hidden",
			yaml:     "database: \"postgres://gate:S3cr3tpart/rest@db.example:5432/gatehouse\"\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:1: database", "not a valid URL"},
			notErr:   []string{"S3cr3t"},
		},
		{
			name:     "bad postgres URL hides its password",
			yaml:     "database: \"postgres://u:s3cretpw@db:port/x\"\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:1: database", "not a valid URL"},
			notErr:   []string{"s3cretpw"},
		},
		{
			name:     "sessions neither database nor redis",
			yaml:     "sessions: memcached://cache\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:1: sessions", "redis://"},
		},
		{
			name:     "bad redis URL hides its password",
			yaml:     "sessions: \"redis://:s3cretpw@cache:port/0\"\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:1: sessions", "the URL is not valid"},
			notErr:   []string{"s3cretpw"},
		},
		{
			name:     "bad addr in file",
			yaml:     "addr: nonsense\n",
			wantCode: exitUsage,
			wantErr:  []string{"FILE:1: addr"},
		},
		{
			name:     "env beats file for addr",
			yaml:     "addr: nonsense\n",
			env:      map[string]string{"GATEHOUSE_ADDR": "127.0.0.1:9000"},
			wantCode: exitOK,
			wantOut:  []string{"configuration OK"},
		},
		{
			name:     "bad addr in env is named",
			yaml:     "addr: 127.0.0.1:9000\n",
			env:      map[string]string{"GATEHOUSE_ADDR": "nonsense"},
			wantCode: exitUsage,
			wantErr:  []string{"GATEHOUSE_ADDR: addr"},
		},
		{
			name:     "env bad duration",
			noFile:   true,
			env:      map[string]string{"GATEHOUSE_SESSION_IDLE_TIMEOUT": "abc"},
			wantCode: exitUsage,
			wantErr:  []string{"GATEHOUSE_SESSION_IDLE_TIMEOUT", `"abc"`},
		},
		{
			name:     "env bad duration beats a good file",
			yaml:     "session:\n  idle_timeout: 5m\n",
			env:      map[string]string{"GATEHOUSE_SESSION_IDLE_TIMEOUT": "abc"},
			wantCode: exitUsage,
			wantErr:  []string{"GATEHOUSE_SESSION_IDLE_TIMEOUT"},
		},
		{
			name:     "env duration too long is named",
			yaml:     "session:\n  absolute_timeout: 1h\n",
			env:      map[string]string{"GATEHOUSE_SESSION_IDLE_TIMEOUT": "2h"},
			wantCode: exitUsage,
			wantErr:  []string{"GATEHOUSE_SESSION_IDLE_TIMEOUT: session.idle_timeout"},
		},
		{
			name:     "env fixes a bad file value",
			yaml:     "session:\n  same_site: bogus\n",
			env:      map[string]string{"GATEHOUSE_SESSION_SAME_SITE": "strict"},
			wantCode: exitOK,
			wantOut:  []string{"configuration OK"},
		},
		{
			name:     "env bad same_site",
			yaml:     "session:\n  same_site: lax\n",
			env:      map[string]string{"GATEHOUSE_SESSION_SAME_SITE": "bogus"},
			wantCode: exitUsage,
			wantErr:  []string{"GATEHOUSE_SESSION_SAME_SITE: session.same_site"},
		},
		{
			name:     "env bad number",
			noFile:   true,
			env:      map[string]string{"GATEHOUSE_LOGIN_MAX_FAILURES": "five"},
			wantCode: exitUsage,
			wantErr:  []string{"GATEHOUSE_LOGIN_MAX_FAILURES", `"five"`},
		},
		{
			name:     "env password.min_length 0",
			noFile:   true,
			env:      map[string]string{"GATEHOUSE_PASSWORD_MIN_LENGTH": "0"},
			wantCode: exitUsage,
			wantErr:  []string{"GATEHOUSE_PASSWORD_MIN_LENGTH: password.min_length"},
		},
		// Values of the wrong type: file, line, field and value named,
		// never a Go type.
		{
			name:      "word for a boolean",
			yaml:      "addr: 127.0.0.1:8080\ngateway:\n  allow_path_parameters: maybe\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:3: gateway.allow_path_parameters: must be true or false, not "maybe"`,
		},
		{
			name:      "word for csrf.every_request",
			yaml:      "addr: 127.0.0.1:8080\ncsrf:\n  every_request: maybe\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:3: csrf.every_request: must be true or false, not "maybe"`,
		},
		{
			name:     "env word for csrf.every_request",
			noFile:   true,
			env:      map[string]string{"GATEHOUSE_CSRF_EVERY_REQUEST": "maybe"},
			wantCode: exitUsage,
			wantErr:  []string{"GATEHOUSE_CSRF_EVERY_REQUEST", `"maybe" is not true or false`},
		},
		{
			name:     "csrf.every_request",
			yaml:     "csrf:\n  every_request: true\n",
			wantCode: exitOK,
			wantOut:  []string{"configuration OK"},
		},
		{
			name:      "scalar for a section",
			yaml:      "addr: 127.0.0.1:8080\ngateway: yes\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:2: gateway: must be a mapping of settings, not "yes"`,
		},
		{
			name:      "list for a section",
			yaml:      "session: [20m]\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:1: session: must be a mapping of settings, not a list`,
		},
		{
			name:      "word for a duration",
			yaml:      "addr: 127.0.0.1:8080\nsession:\n  reauthenticate_after: forever\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:3: session.reauthenticate_after: must be a duration such as 10m or 1h30m, not "forever"`,
		},
		{
			name:      "number for a duration",
			yaml:      "session:\n  reauthenticate_after: 10\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:2: session.reauthenticate_after: must be a duration such as 10m or 1h30m, not "10"`,
		},
		{
			name:      "word for a number",
			yaml:      "password:\n  min_strength: strong\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:2: password.min_strength: must be a whole number, not "strong"`,
		},
		{
			name:      "quoted number",
			yaml:      "password:\n  min_strength: \"3\"\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:2: password.min_strength: must be a whole number, not "3"`,
		},
		{
			name:      "fraction for a whole number",
			yaml:      "password:\n  min_strength: 2.5\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:2: password.min_strength: must be a whole number, not "2.5"`,
		},
		{
			name:      "fraction for a length",
			yaml:      "password:\n  min_length: 8.9\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:2: password.min_length: must be a whole number, not "8.9"`,
		},
		{
			name:      "fraction for a count",
			yaml:      "login:\n  max_failures: 5.7\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:2: login.max_failures: must be a whole number, not "5.7"`,
		},
		{
			name:      "whole float for a whole number",
			yaml:      "login:\n  max_failures: 5.0\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:2: login.max_failures: must be a whole number, not "5.0"`,
		},
		{
			name:      "list for a single value",
			yaml:      "addr: [127.0.0.1:8080]\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:1: addr: must be a single value, not a list`,
		},
		{
			name:      "list for a number",
			yaml:      "login:\n  max_failures: [5]\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:2: login.max_failures: must be a whole number, not a list`,
		},
		{
			name:      "scalar for a list",
			yaml:      "trusted_proxies: 10.0.0.1\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:1: trusted_proxies: must be a list, not "10.0.0.1"`,
		},
		{
			name:      "mapping for a list",
			yaml:      "gateway:\n  extra_methods: {PROPFIND: true}\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:2: gateway.extra_methods: must be a list, not a mapping`,
		},
		{
			name:      "scalar for a mapping",
			yaml:      "groups: admins\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:1: groups: must be a mapping, not "admins"`,
		},
		{
			name:      "list in a route's list",
			yaml:      "routes:\n  - path: /api/**\n    methods: [GET, [POST]]\n    access: authenticated\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:3: routes[0].methods[1]: must be a single value, not a list`,
		},
		{
			name:      "every error is reported",
			yaml:      "addr: 127.0.0.1:8080\npassword:\n  min_strength: 2.5\n  min_lenght: 12\nsession:\n  idle_timeout: soon\n",
			wantCode:  exitUsage,
			wantErrIs: "FILE:3: password.min_strength: must be a whole number, not \"2.5\"\ngatehouse: FILE:4: unknown key password.min_lenght; did you mean password.min_length?\ngatehouse: FILE:6: session.idle_timeout: must be a duration such as 10m or 1h30m, not \"soon\"",
		},
		{
			name:      "key set twice",
			yaml:      "password:\n  min_strength: 4\n  min_strength: 0\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:3: password.min_strength: is set twice (also on line 2)`,
		},
		{
			name:      "bad anchored value reported once",
			yaml:      "session:\n  idle_timeout: &t soon\n  absolute_timeout: *t\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:2: session.idle_timeout: must be a duration such as 10m or 1h30m, not "soon"`,
		},
		{
			name:     "aliases, merge keys, empty values and yes are accepted",
			yaml:     "session:\n  idle_timeout: &t 5m\n  absolute_timeout:\ngateway:\n  allow_path_parameters: yes\nroutes:\n  - &r {path: /a/**, access: public}\n  - <<: *r\n    path: /b/**\n    methods: [GET]\nlogin:\n  lockout: *t\n",
			wantCode: exitOK,
			wantOut:  []string{"configuration OK"},
		},
		{
			name:      "unknown key in a merged mapping",
			yaml:      "routes:\n  - &r {path: /a/**, access: public}\n  - <<: [*r, {acess: public}]\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:3: unknown key routes[1].acess; did you mean routes[1].access?`,
		},
		{
			// As yaml.v3 decodes them: a key of the mapping wins over the
			// same key its merge key brings in, and an earlier mapping of
			// a merged list over a later one; a value that loses is not a
			// setting, whatever its type.
			name:     "merged values that lose are not checked",
			yaml:     "session:\n  <<: {idle_timeout: 5}\n  idle_timeout: 5m\nlogin:\n  lockout: 15m\n  <<: [{max_failures: 5}, {max_failures: many}]\ngroups:\n  <<: {admins: x}\n  admins: [alice]\n",
			wantCode: exitOK,
			wantOut:  []string{"configuration OK"},
		},
		{
			name:      "merged value that wins is checked",
			yaml:      "session:\n  <<: [{idle_timeout: 5}, {idle_timeout: 5m}]\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:2: session.idle_timeout: must be a duration such as 10m or 1h30m, not "5"`,
		},
		{
			name:      "document that is not a mapping",
			yaml:      "addr 127.0.0.1:8080\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:1: must be a mapping of settings, not "addr 127.0.0.1:8080"`,
		},
		// Unknown keys and variables suggest the nearest known one.
		{
			name:      "unknown key suggests the nearest at its level",
			yaml:      "addr: 127.0.0.1:8080\nsession:\n  idle_timeot: 5m\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:3: unknown key session.idle_timeot; did you mean session.idle_timeout?`,
		},
		{
			name:      "unknown top-level key suggests",
			yaml:      "adr: 127.0.0.1:8080\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:1: unknown key adr; did you mean addr?`,
		},
		{
			name:      "unknown route key suggests",
			yaml:      "routes:\n  - path: /api/**\n    acess: public\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:3: unknown key routes[0].acess; did you mean routes[0].access?`,
		},
		{
			name:      "unknown key far from any",
			yaml:      "session:\n  colour: red\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:2: unknown key session.colour`,
		},
		{
			name:      "unknown environment variable",
			noFile:    true,
			env:       map[string]string{"GATEHOUSE_SESION_IDLE_TIMEOUT": "5m", "GATEHOUSE_ADDR": "127.0.0.1:9000"},
			wantCode:  exitUsage,
			wantErrIs: `GATEHOUSE_SESION_IDLE_TIMEOUT: unknown variable; did you mean GATEHOUSE_SESSION_IDLE_TIMEOUT?`,
		},
		{
			name:      "unknown environment variables far from any, with a file",
			yaml:      "addr: 127.0.0.1:8080\n",
			env:       map[string]string{"GATEHOUSE_WIDGETS": "1", "GATEHOUSE_COLOUR": "red"},
			wantCode:  exitUsage,
			wantErrIs: "GATEHOUSE_COLOUR: unknown variable\ngatehouse: GATEHOUSE_WIDGETS: unknown variable",
		},
		{
			name:      "unknown environment variable after the file's errors",
			yaml:      "sesion:\n  idle_timeout: 5m\n",
			env:       map[string]string{"GATEHOUSE_ADR": "127.0.0.1:9000"},
			wantCode:  exitUsage,
			wantErrIs: "FILE:1: unknown key sesion; did you mean session?\ngatehouse: GATEHOUSE_ADR: unknown variable; did you mean GATEHOUSE_ADDR?",
		},
		{
			name:     "variables that are not settings are not unknown",
			yaml:     "addr: 127.0.0.1:8080\n",
			viaEnv:   true,
			env:      map[string]string{"GATEHOUSE_LOG_LEVEL": "debug", "GATEHOUSE_TEST_POSTGRES": "postgres://x", "GATEHOUSE_TEST_REDIS": "redis://x", "GATEHOUSE_DATA_DIR": "/tmp/x", "OTHER_THING": "1"},
			wantCode: exitOK,
			wantOut:  []string{"configuration OK"},
		},
		// Errors in file order, even when a merge key brings in a mapping
		// written above.
		{
			name:      "errors in file order",
			yaml:      "routes:\n  - &r {path: /a/**, access: public, acess: x}\n  - path: /b/**\n    bogus: 1\n    <<: *r\n",
			wantCode:  exitUsage,
			wantErrIs: "FILE:2: unknown key routes[0].acess; did you mean routes[0].access?\ngatehouse: FILE:2: unknown key routes[1].acess; did you mean routes[1].access?\ngatehouse: FILE:4: unknown key routes[1].bogus",
		},
		// YAML syntax errors: the line of the problem, in words.
		{
			name:      "tab in the indentation",
			yaml:      "addr: 127.0.0.1:8080\nsession:\n  idle_timeout: 5m\n\tsame_site: lax\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:4: a tab in the indentation; YAML indents with spaces only`,
		},
		{
			name:      "tab indenting a section",
			yaml:      "addr: 127.0.0.1:8080\nsession:\n\tidle_timeout: 5m\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:3: a tab in the indentation; YAML indents with spaces only`,
		},
		{
			name:      "unclosed quote on the first line",
			yaml:      "public_url: \"https://admin.example.com\naddr: 127.0.0.1:8080\ndata_dir: ./data\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:1: a quoted value is not closed`,
		},
		{
			name:      "unclosed quote",
			yaml:      "addr: 127.0.0.1:8080\n\nsession:\n  same_site: 'lax\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:4: a quoted value is not closed`,
		},
		{
			name:      "key out of line",
			yaml:      "addr: 127.0.0.1:8080\nsession:\n  idle_timeout: 5m\n same_site: lax\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:4: not a key of the mapping above: check the indentation`,
		},
		{
			name:      "list item in a mapping",
			yaml:      "addr: 127.0.0.1:8080\n- 10.0.0.1\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:2: not a key of the mapping above: check the indentation`,
		},
		{
			name:      "colon in a plain value",
			yaml:      "addr: 127.0.0.1:8080\npublic_url: see: below\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:2: unexpected ":": quote a value that contains ": ", or check the indentation`,
		},
		{
			name:      "unclosed list",
			yaml:      "addr: 127.0.0.1:8080\ntrusted_proxies: [10.0.0.1\ndata_dir: ./data\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:2: a [ list is not closed with ]`,
		},
		{
			name:      "unknown anchor",
			yaml:      "addr: 127.0.0.1:8080\nsession:\n  idle_timeout: *t\n",
			wantCode:  exitUsage,
			wantErrIs: `FILE:3: unknown anchor 't' referenced`,
		},
		{
			name:     "env password.min_strength 9",
			noFile:   true,
			env:      map[string]string{"GATEHOUSE_PASSWORD_MIN_STRENGTH": "9"},
			wantCode: exitUsage,
			wantErr:  []string{"GATEHOUSE_PASSWORD_MIN_STRENGTH: password.min_strength"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			env := map[string]string{}
			for k, v := range tt.env {
				env[k] = v
			}
			args := []string{"config", "check"}
			file := ""
			if !tt.noFile {
				file = writeFile(t, dir, "gatehouse.yaml", tt.yaml)
				if tt.viaEnv {
					env["GATEHOUSE_CONFIG"] = file
				} else {
					args = append(args, "--config", file)
				}
			}
			code, stdout, stderr := runCmd(t, env, "", args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout does not contain %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.wantErr {
				if w = strings.ReplaceAll(w, "FILE", file); !strings.Contains(stderr, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, stderr)
				}
			}
			if tt.wantErrRe != "" {
				re := regexp.MustCompile(strings.ReplaceAll(tt.wantErrRe, "FILE", regexp.QuoteMeta(file)))
				if !re.MatchString(stderr) {
					t.Errorf("stderr does not match %s:\n%s", re, stderr)
				}
			}
			if tt.wantErrIs != "" {
				if want := "gatehouse: " + strings.ReplaceAll(tt.wantErrIs, "FILE", file) + "\n"; stderr != want {
					t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
				}
			}
			for _, w := range tt.notErr {
				if strings.Contains(stderr, w) {
					t.Errorf("stderr contains %q:\n%s", w, stderr)
				}
			}
			for _, w := range tt.notOut {
				if strings.Contains(stdout, w) {
					t.Errorf("stdout contains %q:\n%s", w, stdout)
				}
			}
			if code == exitOK && stderr != "" {
				t.Errorf("stderr of a good configuration: %s", stderr)
			}
			if code != exitOK && strings.Contains(stdout, "configuration OK") {
				t.Errorf("a refused configuration printed %q", "configuration OK")
			}
		})
	}
}

// TestConfigMergedAliases checks that merge keys cannot multiply the work
// of checking the file's types: each level of this document merges the
// previous one ten times, 10^8 keys once expanded, which yaml.v3 itself
// refuses as excessive aliasing once the check is done.
func TestConfigMergedAliases(t *testing.T) {
	var b strings.Builder
	b.WriteString("routes:\n  - &l0 {path: /a, access: public}\n")
	for i := 1; i <= 8; i++ {
		refs := strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10)
		fmt.Fprintf(&b, "  - &l%d {<<: [%s]}\n", i, strings.TrimSuffix(refs, ", "))
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(b.String()), &root); err != nil {
		t.Fatal(err)
	}
	fc := newFileChecker("gatehouse.yaml")
	fc.check(root.Content[0], reflect.TypeFor[config](), "", root.Content[0].Line)
	if len(fc.errs) != 0 {
		t.Errorf("errors: %v", fc.errs)
	}
	if fc.visits > 100 {
		t.Errorf("%d keys walked for a document of 10", fc.visits)
	}
}

// TestMissingConfigFile checks that a configuration file that does not exist
// is a configuration error naming it, whichever way it was named.
func TestMissingConfigFile(t *testing.T) {
	tests := []struct {
		name    string
		viaEnv  bool
		command []string
	}{
		{"config check --config", false, []string{"config", "check"}},
		{"config check GATEHOUSE_CONFIG", true, []string{"config", "check"}},
		{"serve --config", false, []string{"serve", "--addr", "127.0.0.1:0"}},
		{"user list --config", false, []string{"user", "list"}},
		{"migrate GATEHOUSE_CONFIG", true, []string{"migrate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			missing := filepath.Join(dir, "no-such.yaml")
			env := map[string]string{"GATEHOUSE_DATA_DIR": filepath.Join(dir, "data")}
			args := tt.command
			if tt.viaEnv {
				env["GATEHOUSE_CONFIG"] = missing
			} else {
				args = append(args[:len(args):len(args)], "--config", missing)
			}
			code, stdout, stderr := runCmd(t, env, "", args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitUsage, stdout, stderr)
			}
			for _, w := range []string{missing, "no such file"} {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not contain %q: %s", w, stderr)
				}
			}
			if strings.Contains(stderr, "config: config:") {
				t.Errorf("stderr stutters: %s", stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
				t.Errorf("the data directory was created despite the configuration error")
			}
		})
	}
}

// TestDataDirPrecedence checks flag beats environment beats file for the data
// directory, by where `gatehouse migrate` puts the database.
func TestDataDirPrecedence(t *testing.T) {
	tests := []struct {
		name           string
		file, env, arg bool
		want           string // "file", "env" or "flag"
	}{
		{name: "file", file: true, want: "file"},
		{name: "env beats file", file: true, env: true, want: "env"},
		{name: "flag beats env and file", file: true, env: true, arg: true, want: "flag"},
		{name: "flag beats env", env: true, arg: true, want: "flag"},
		{name: "flag beats file", file: true, arg: true, want: "flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			dirs := map[string]string{
				"file": filepath.Join(dir, "from-file"),
				"env":  filepath.Join(dir, "from-env"),
				"flag": filepath.Join(dir, "from-flag"),
			}
			env := map[string]string{}
			args := []string{"migrate"}
			if tt.file {
				args = append(args, "--config", writeFile(t, dir, "gatehouse.yaml", "data_dir: "+dirs["file"]+"\n"))
			}
			if tt.env {
				env["GATEHOUSE_DATA_DIR"] = dirs["env"]
			}
			if tt.arg {
				args = append(args, "--data", dirs["flag"])
			}
			stdout := mustRun(t, env, "", args...)
			wantDB := filepath.Join(dirs[tt.want], "gatehouse.db")
			if !strings.Contains(stdout, wantDB) {
				t.Errorf("stdout does not name %s: %s", wantDB, stdout)
			}
			for src, d := range dirs {
				_, err := os.Stat(filepath.Join(d, "gatehouse.db"))
				if exists := err == nil; exists != (src == tt.want) {
					t.Errorf("database in the %s directory: %v, want %v", src, exists, src == tt.want)
				}
			}
		})
	}
}

// TestAddrPrecedence checks flag beats environment beats file for the listen
// address, by where `gatehouse serve` listens. Each source names a different
// loopback address.
func TestAddrPrecedence(t *testing.T) {
	tests := []struct {
		name           string
		file, env, arg string
		wantHost       string
	}{
		{name: "file", file: "127.0.0.1:0", wantHost: "127.0.0.1"},
		{name: "env beats file", file: "127.0.0.1:0", env: "127.0.0.2:0", wantHost: "127.0.0.2"},
		{name: "flag beats env and file", file: "127.0.0.1:0", env: "127.0.0.2:0", arg: "127.0.0.3:0", wantHost: "127.0.0.3"},
		{name: "flag beats a bad env value", env: "nonsense", arg: "127.0.0.1:0", wantHost: "127.0.0.1"},
	}
	for _, host := range []string{"127.0.0.2", "127.0.0.3"} {
		ln, err := net.Listen("tcp", host+":0")
		if err != nil {
			t.Skipf("cannot listen on %s, which this test tells sources apart by: %v", host, err)
		}
		ln.Close()
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			env := map[string]string{}
			args := []string{"--data", dir}
			if tt.file != "" {
				args = append(args, "--config", writeFile(t, dir, "gatehouse.yaml", "addr: "+tt.file+"\n"))
			}
			if tt.env != "" {
				env["GATEHOUSE_ADDR"] = tt.env
			}
			if tt.arg != "" {
				args = append(args, "--addr", tt.arg)
			}
			s := startServe(t, env, args...)
			if host, _, _ := strings.Cut(s.addr, ":"); host != tt.wantHost {
				t.Errorf("listening on %s, want host %s", s.addr, tt.wantHost)
			}
			if code := s.stop(); code != exitOK {
				t.Errorf("serve exited %d, want 0\n%s", code, s.log)
			}
		})
	}
}

// TestServeConfigErrors checks that serve refuses a bad listen address with
// a usage error naming where it came from.
func TestServeConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		yaml    string // a configuration file, if not empty
		wantErr string
	}{
		{name: "bad --addr", args: []string{"--addr", "nonsense"}, wantErr: "--addr: addr"},
		{name: "bad GATEHOUSE_ADDR", env: map[string]string{"GATEHOUSE_ADDR": "nonsense"}, wantErr: "GATEHOUSE_ADDR: addr"},
		{name: "unknown flag", args: []string{"--port", "80"}, wantErr: "port"},
		{name: "bad env duration", env: map[string]string{"GATEHOUSE_SESSION_IDLE_TIMEOUT": "abc"}, args: []string{"--addr", "127.0.0.1:0"}, wantErr: "GATEHOUSE_SESSION_IDLE_TIMEOUT"},
		{name: "fraction in the file", yaml: "password:\n  min_strength: 2.5\n", args: []string{"--addr", "127.0.0.1:0"}, wantErr: `gatehouse.yaml:2: password.min_strength: must be a whole number, not "2.5"`},
		{name: "word in the file", yaml: "gateway:\n  allow_path_parameters: maybe\n", args: []string{"--addr", "127.0.0.1:0"}, wantErr: `gatehouse.yaml:2: gateway.allow_path_parameters: must be true or false, not "maybe"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"serve", "--data", dir}, tt.args...)
			if tt.yaml != "" {
				args = append(args, "--config", writeFile(t, dir, "gatehouse.yaml", tt.yaml))
			}
			code, _, stderr := runCmd(t, tt.env, "", args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr does not contain %q: %s", tt.wantErr, stderr)
			}
			if strings.Contains(stderr, "gatehouse listening") {
				t.Errorf("serve started despite the error: %s", stderr)
			}
		})
	}
}

// TestReauthenticateAfter: session.reauthenticate_after reaches the session
// manager's settings, from the file and from the environment, and has the
// contract's default of ten minutes.
func TestReauthenticateAfter(t *testing.T) {
	for _, tt := range []struct {
		name, yaml string
		env        map[string]string
		want       time.Duration
	}{
		{"default", "addr: 127.0.0.1:8080\n", nil, 10 * time.Minute},
		{"file", "session:\n  reauthenticate_after: 3m\n", nil, 3 * time.Minute},
		{"env", "session:\n  reauthenticate_after: 3m\n", map[string]string{"GATEHOUSE_SESSION_REAUTHENTICATE_AFTER": "90s"}, 90 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "gatehouse.yaml")
			if err := os.WriteFile(file, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, src, err := loadConfig(file, func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			s, err := c.validate(src)
			if err != nil {
				t.Fatalf("validate: %v", err)
			}
			if s.session.ReauthenticateAfter != tt.want {
				t.Errorf("ReauthenticateAfter = %v, want %v", s.session.ReauthenticateAfter, tt.want)
			}
		})
	}
}

// FuzzConfigFile feeds any bytes to the configuration file's decoding: it
// gives an error or a configuration, never a panic, and a file the type
// check lets through never meets yaml.v3's own type errors (which name Go
// types and no field).
func FuzzConfigFile(f *testing.F) {
	for _, seed := range []string{
		contractExample,
		"",
		"gateway:\n  allow_path_parameters: maybe\n",
		"gateway: yes\n",
		"session:\n  reauthenticate_after: forever\n",
		"password:\n  min_strength: 2.5\n",
		"routes:\n  - &r {path: /a/**, access: public}\n  - <<: *r\n    path: /b/**\n",
		"a: &a [x, x]\nb: &b [*a, *a]\ngroups: {g: *b}\n",
		"trusted_proxies: &x [*x]\n",
		"groups:\n  ? [a]\n  : [b]\n",
		"oidc: {x: [1, 2.5, yes]}\nmail:\n  smtp: {port: 0x1F}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var root yaml.Node
		if err := yaml.Unmarshal(data, &root); err != nil {
			return // a syntax error, named by yaml.v3
		}
		c := defaultConfig()
		err := decodeFile("f.yaml", &root, data, c)
		var ces configErrors
		if err != nil && !errors.As(err, &ces) {
			for _, leak := range []string{"cannot unmarshal", "not found in type", "unknown key"} {
				if strings.Contains(err.Error(), leak) {
					t.Fatalf("the type check let through %q:\n%s", data, err)
				}
			}
		}
		if err == nil {
			c.Mail.Templates = "" // not a directory to read while fuzzing
			_, _ = c.validate(&configSource{file: "f.yaml", root: &root, env: map[string]string{}})
		}
	})
}

// TestCSRFEveryRequestConfig: csrf.every_request is off by default and
// set by the file or GATEHOUSE_CSRF_EVERY_REQUEST (which beats the file).
func TestCSRFEveryRequestConfig(t *testing.T) {
	for _, tt := range []struct {
		name, yaml string
		env        map[string]string
		want       bool
	}{
		{"default", "addr: 127.0.0.1:8080\n", nil, false},
		{"file", "csrf:\n  every_request: true\n", nil, true},
		{"env", "addr: 127.0.0.1:8080\n", map[string]string{"GATEHOUSE_CSRF_EVERY_REQUEST": "true"}, true},
		{"env beats file", "csrf:\n  every_request: true\n", map[string]string{"GATEHOUSE_CSRF_EVERY_REQUEST": "false"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "gatehouse.yaml")
			if err := os.WriteFile(file, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, src, err := loadConfig(file, func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if _, err := c.validate(src); err != nil {
				t.Fatalf("validate: %v", err)
			}
			if c.CSRF.EveryRequest != tt.want {
				t.Errorf("csrf.every_request = %v, want %v", c.CSRF.EveryRequest, tt.want)
			}
		})
	}
}

// TestServeWarnsUnknownEnv: serve starts despite an unknown GATEHOUSE_
// variable, and says so once in its log, with a suggestion; variables that
// are not settings but are read elsewhere are not reported.
func TestServeWarnsUnknownEnv(t *testing.T) {
	env := map[string]string{"GATEHOUSE_SESION_IDLE_TIMEOUT": "5m", "GATEHOUSE_LOG_LEVEL": "info"}
	srv := startServe(t, env, "--addr", "127.0.0.1:0", "--data", t.TempDir())
	if code := srv.stop(); code != exitOK {
		t.Fatalf("exit %d, want 0\n%s", code, srv.log)
	}
	log := srv.log.String()
	want := `level=WARN msg="GATEHOUSE_SESION_IDLE_TIMEOUT: unknown variable; did you mean GATEHOUSE_SESSION_IDLE_TIMEOUT?"`
	if n := strings.Count(log, want); n != 1 {
		t.Errorf("log has %d lines %s, want 1:\n%s", n, want, log)
	}
	if strings.Contains(log, "GATEHOUSE_LOG_LEVEL") {
		t.Errorf("log names GATEHOUSE_LOG_LEVEL:\n%s", log)
	}
}

// TestGuestConfig: session.guest is off by default, set by the file or
// GATEHOUSE_SESSION_GUEST, and route access session is accepted.
func TestGuestConfig(t *testing.T) {
	for _, tt := range []struct {
		name, yaml string
		env        map[string]string
		want       bool
	}{
		{"default", "addr: 127.0.0.1:8080\n", nil, false},
		{"file", "session:\n  guest: true\n  cookie_name: session\nroutes:\n  - path: /api/status/**\n    access: session\n  - path: /api/**\n    access: authenticated\n", nil, true},
		{"env", "addr: 127.0.0.1:8080\n", map[string]string{"GATEHOUSE_SESSION_GUEST": "true"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "gatehouse.yaml")
			if err := os.WriteFile(file, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, src, err := loadConfig(file, func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			s, err := c.validate(src)
			if err != nil {
				t.Fatalf("validate: %v", err)
			}
			if s.cfg.Session.Guest != tt.want {
				t.Errorf("session.guest = %v, want %v", s.cfg.Session.Guest, tt.want)
			}
		})
	}
}

// TestCORSConfig: the cors section of the contract is accepted and carried
// to the server's settings; every bad setting is a config error naming the
// file, the line and the key.
func TestCORSConfig(t *testing.T) {
	for _, tt := range []struct {
		name, yaml string
		env        map[string]string
		wantErr    string // "FILE:LINE: key: …" prefix, FILE standing for the path; "" for none
		wantIn     string // more of the error
	}{
		{name: "contract example", yaml: "cors: {allowed_origins: [https://app.example.com], allow_credentials: true, max_age: 10m}\n"},
		{name: "with headers and a cors route", yaml: "cors:\n  allowed_origins: [\"http://127.0.0.1:5173\", https://app.example.com]\n  allowed_headers: [Authorization, X-Language]\n  exposed_headers: [Retry-After]\nroutes:\n  - path: /api/**\n    access: authenticated\n    cors: true\n"},
		{name: "wildcard without credentials", yaml: "cors:\n  allowed_origins: [\"*\"]\n"},
		{name: "env", yaml: "addr: 127.0.0.1:8080\n", env: map[string]string{"GATEHOUSE_CORS_ALLOWED_ORIGINS": "https://a.example, https://b.example", "GATEHOUSE_CORS_ALLOW_CREDENTIALS": "true"}},
		{name: "wildcard with credentials", yaml: "addr: 127.0.0.1:8080\ncors:\n  allowed_origins: [\"*\"]\n  allow_credentials: true\n",
			wantErr: "FILE:4: cors.allow_credentials", wantIn: `"*"`},
		{name: "origin with a path", yaml: "cors:\n  allowed_origins:\n    - https://ok.example\n    - https://app.example.com/admin\n",
			wantErr: "FILE:2: cors.allowed_origins", wantIn: "entry 2"},
		{name: "origin without scheme", yaml: "cors:\n  allowed_origins: [app.example.com]\n",
			wantErr: "FILE:2: cors.allowed_origins", wantIn: "not an origin"},
		{name: "origin from the environment", yaml: "addr: 127.0.0.1:8080\n", env: map[string]string{"GATEHOUSE_CORS_ALLOWED_ORIGINS": "https://a.example/x"},
			wantErr: "GATEHOUSE_CORS_ALLOWED_ORIGINS: cors.allowed_origins", wantIn: "no path"},
		{name: "bad header", yaml: "cors:\n  allowed_origins: [https://a.example]\n  allowed_headers: [\"X Language\"]\n",
			wantErr: "FILE:3: cors.allowed_headers", wantIn: "header name"},
		{name: "exposed wildcard with credentials", yaml: "cors:\n  allowed_origins: [https://a.example]\n  allow_credentials: true\n  exposed_headers: [\"*\"]\n",
			wantErr: "FILE:4: cors.exposed_headers", wantIn: "list the headers"},
		{name: "negative max age", yaml: "cors:\n  allowed_origins: [https://a.example]\n  max_age: -1m\n",
			wantErr: "FILE:3: cors.max_age"},
		{name: "settings without origins", yaml: "cors:\n  allow_credentials: true\n",
			wantErr: "FILE:1: cors", wantIn: "allowed_origins is empty"},
		{name: "cors route without origins", yaml: "routes:\n  - path: /health\n    access: public\n  - path: /api/**\n    access: authenticated\n    cors: true\n",
			wantErr: "FILE:4: routes[1]", wantIn: "cors.allowed_origins"},
		{name: "cors route not a bool", yaml: "cors:\n  allowed_origins: [https://a.example]\nroutes:\n  - path: /api/**\n    access: authenticated\n    cors: yes please\n",
			wantErr: "FILE:6: routes[0].cors", wantIn: "true or false"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "gatehouse.yaml")
			if err := os.WriteFile(file, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, src, err := loadConfig(file, func(k string) string { return tt.env[k] })
			var s *settings
			if err == nil {
				s, err = c.validate(src)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("error %v, want none", err)
				}
				if len(c.CORS.AllowedOrigins) > 0 && !s.cors.Enabled() {
					t.Errorf("cors not carried to the settings: %+v", s.cors)
				}
				return
			}
			want := strings.ReplaceAll(tt.wantErr, "FILE", file)
			if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tt.wantIn) {
				t.Fatalf("error %v, want %q … %q", err, want, tt.wantIn)
			}
		})
	}
}
