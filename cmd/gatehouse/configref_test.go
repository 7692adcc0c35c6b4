package main

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// updateReference rewrites docs/configuration.md instead of comparing it.
var updateReference = flag.Bool("update", false, "rewrite docs/configuration.md from the config struct")

const referenceFile = "../../docs/configuration.md"

// TestConfigReference fails when docs/configuration.md is not what the
// config struct, its doc comments and defaultConfig make of it, so the
// reference cannot drift from the code.
func TestConfigReference(t *testing.T) {
	keys, err := configKeys()
	if err != nil {
		t.Fatal(err)
	}
	want := configReference(keys)
	if *updateReference {
		if err := os.WriteFile(referenceFile, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(referenceFile)
	if err != nil {
		t.Fatalf("%v; generate it with: go test ./cmd/gatehouse/ -run TestConfigReference -update", err)
	}
	if string(got) != want {
		gotLines, wantLines := strings.Split(string(got), "\n"), strings.Split(want, "\n")
		for i := range min(len(gotLines), len(wantLines)) {
			if gotLines[i] != wantLines[i] {
				t.Fatalf("docs/configuration.md is out of date (line %d is\n%s\nbut the code makes\n%s\n); regenerate it with: go test ./cmd/gatehouse/ -run TestConfigReference -update", i+1, gotLines[i], wantLines[i])
			}
		}
		t.Fatalf("docs/configuration.md is out of date (%d lines, the code makes %d); regenerate it with: go test ./cmd/gatehouse/ -run TestConfigReference -update", len(gotLines), len(wantLines))
	}
}

// TestConfigReferenceDescribesEveryKey fails for a key (or section) whose
// field has no doc comment, so that a new setting cannot land undocumented.
func TestConfigReferenceDescribesEveryKey(t *testing.T) {
	keys, err := configKeys()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.doc == "" {
			t.Errorf("%s has no description: give its field in the config struct a doc comment, then run go test ./cmd/gatehouse/ -run TestConfigReference -update", k.path)
		}
	}
}

// TestConfigReferenceKeys checks the walk against what the user sees: the
// keys of the contract, the types, the defaults and the variables that
// really set them through loadConfig.
func TestConfigReferenceKeys(t *testing.T) {
	keys, err := configKeys()
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]configKey{}
	for _, k := range keys {
		if _, dup := byPath[k.path]; dup {
			t.Errorf("%s is listed twice", k.path)
		}
		byPath[k.path] = k
	}
	for _, want := range []configKey{
		{path: "addr", kind: "string", def: "127.0.0.1:8080", env: "GATEHOUSE_ADDR"},
		{path: "session.idle_timeout", kind: "duration", def: "20m", env: "GATEHOUSE_SESSION_IDLE_TIMEOUT"},
		{path: "session.absolute_timeout", kind: "duration", def: "12h", env: "GATEHOUSE_SESSION_ABSOLUTE_TIMEOUT"},
		{path: "login.max_failures", kind: "int", def: "5", env: "GATEHOUSE_LOGIN_MAX_FAILURES"},
		{path: "trusted_proxies", kind: "list of strings", env: "GATEHOUSE_TRUSTED_PROXIES"},
		{path: "basic_auth.enabled", kind: "bool", def: "false", env: "GATEHOUSE_BASIC_AUTH_ENABLED"},
		{path: "mail.smtp.tls", kind: "string", def: "starttls", env: "GATEHOUSE_MAIL_SMTP_TLS"},
		{path: "groups", kind: "map of string to list of strings"},
		{path: "routes", kind: "list of entries"},
		{path: "routes[].path", kind: "string"},
		{path: "oidc[].client_id", kind: "string"},
		{path: "oidc[].allow_manual_linking", kind: "bool"},
		{path: "oidc[].auto_create.groups", kind: "list of strings"},
		{path: "oidc[].group_map", kind: "map of string to string or list of strings"},
		{path: "tls", kind: "section"},
		{path: "tls.cert_file", kind: "string", env: "GATEHOUSE_TLS_CERT_FILE"},
		{path: "tls.acme.domains", kind: "list of strings", env: "GATEHOUSE_TLS_ACME_DOMAINS"},
		{path: "tls.acme.directory_url", kind: "string", def: "https://acme-v02.api.letsencrypt.org/directory", env: "GATEHOUSE_TLS_ACME_DIRECTORY_URL"},
		{path: "tls.redirect_addr", kind: "string", env: "GATEHOUSE_TLS_REDIRECT_ADDR"},
	} {
		got, ok := byPath[want.path]
		if !ok {
			t.Errorf("%s is missing", want.path)
			continue
		}
		if got.kind != want.kind || got.def != want.def || got.env != want.env {
			t.Errorf("%s: type %q, default %q, variable %q; want %q, %q, %q", want.path, got.kind, got.def, got.env, want.kind, want.def, want.env)
		}
	}
	// Every variable the reference names sets its key; the others cannot
	// be set from the environment.
	for _, k := range keys {
		if k.section || strings.Contains(k.path, "[]") {
			continue
		}
		// Values that differ from every default.
		value := map[string]string{"duration": "7m", "int": "7", "string": "x7", "list of strings": "a7,b7"}[k.kind]
		if k.kind == "bool" {
			value = map[string]string{"false": "true", "true": "false"}[k.def]
		}
		if value == "" {
			if k.env != "" {
				t.Errorf("%s (%s) names %s, but no value of its type can be given", k.path, k.kind, k.env)
			}
			continue
		}
		if k.env == "" {
			t.Errorf("%s (%s) is file only, but its type can be set from the environment", k.path, k.kind)
			continue
		}
		c, src, err := loadConfig("", func(name string) string {
			if name == k.env {
				return value
			}
			return ""
		})
		if err != nil {
			t.Errorf("%s=%s: %v", k.env, value, err)
			continue
		}
		if src.env[k.path] != k.env {
			t.Errorf("%s=%s did not set %s", k.env, value, k.path)
		}
		if reflect.DeepEqual(c, defaultConfig()) {
			t.Errorf("%s=%s changed nothing", k.env, value)
		}
	}
}

// TestConfigReferenceWalk checks the walk on a struct of its own: a field
// without a doc comment is found undocumented (so that the check above
// can fail), a Go-style comment starts with the key, and keys inside a
// list of entries are file only.
func TestConfigReferenceWalk(t *testing.T) {
	const src = `package p
type example struct {
	// Timeout ends it.
	Timeout time.Duration ` + "`yaml:\"timeout\"`" + `
	Bare string ` + "`yaml:\"bare\"`" + `
	// Items are entries.
	Items []struct {
		// Name, or nothing.
		Name string ` + "`yaml:\"name\"`" + `
	} ` + "`yaml:\"items\"`" + `
	Hidden string ` + "`yaml:\"-\"`" + `
}`
	f, err := parser.ParseFile(token.NewFileSet(), "example.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	st := f.Decls[0].(*ast.GenDecl).Specs[0].(*ast.TypeSpec).Type.(*ast.StructType)
	type example struct {
		Timeout time.Duration `yaml:"timeout"`
		Bare    string        `yaml:"bare"`
		Items   []struct {
			Name string `yaml:"name"`
		} `yaml:"items"`
		Hidden string `yaml:"-"`
	}
	var got []configKey
	walkConfig(reflect.ValueOf(example{Timeout: 90 * time.Second, Bare: "b"}), st, "", typeDocs{}, func(k configKey) { got = append(got, k) })
	want := []configKey{
		{path: "timeout", kind: "duration", def: "1m30s", doc: "`timeout` ends it."},
		{path: "bare", kind: "string", def: "b"},
		{path: "items", kind: "list of entries", doc: "`items` are entries.", section: true},
		{path: "items[].name", kind: "string", doc: "`name`, or nothing."},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("walk:\n%+v\nwant\n%+v", got, want)
	}
}
