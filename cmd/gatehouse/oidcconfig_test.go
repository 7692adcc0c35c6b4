package main

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/server"
)

// oidcBase is a valid start of a file with providers: what every case
// below adds its oidc list to.
const oidcBase = "public_url: https://admin.example.com\n"

// TestConfigOIDC runs `gatehouse config check` over oidc lists. In yaml and
// the wanted messages, DIR stands for a directory holding the files
// secret (a client secret with a line ending), empty (blanks only) and
// unreadable (mode 0), and FILE for the configuration file.
func TestConfigOIDC(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		wantCode int
		wantErr  string // substring of stderr
		wantOut  string // substring of stdout
	}{
		{"one provider", "oidc:\n  - {id: corp, issuer: https://sso.example.com, client_id: gh, client_secret: s}\n", exitOK, "", "configuration OK"},
		{"secret from a file", "oidc:\n  - {id: corp, issuer: https://sso.example.com, client_id: gh, client_secret_file: DIR/secret}\n", exitOK, "", "configuration OK"},
		{"public client", "oidc:\n  - {id: corp, issuer: https://sso.example.com, client_id: gh}\n", exitOK, "", "configuration OK"},
		{"http issuer on loopback", "oidc:\n  - {id: dev, issuer: 'http://127.0.0.1:9000/oidc', client_id: gh}\n  - {id: dev2, issuer: 'http://localhost:9000', client_id: gh}\n", exitOK, "", "configuration OK"},
		{"groups mapped, one name or a list", "oidc:\n  - id: corp\n    issuer: https://sso.example.com\n    client_id: gh\n    groups_claim: groups\n    group_map: {admins: administrators, ops: [operators, viewers]}\n", exitOK, "", "configuration OK"},
		{"every key", "oidc:\n  - id: corp\n    name: Corp SSO\n    icon: https://sso.example.com/icon.svg\n    issuer: https://sso.example.com/\n    client_id: gh\n    client_secret: s\n    scopes: [openid, email, profile, groups]\n    deny_local_login: true\n    allow_manual_linking: false\n    auto_link_verified_email: true\n    auto_create: {groups: [staff]}\n    groups_claim: groups\n    group_map: {admins: administrators}\n    trusted_for_two_factor: {amr: [mfa, otp], acr: ['urn:example:mfa']}\n    post_logout_redirect_url: https://admin.example.com/bye\n", exitOK, "", "configuration OK"},

		{"public_url is required", "oidc:\n  - {id: corp, issuer: https://sso.example.com, client_id: gh}\n", exitUsage, "FILE:3: public_url: is required with oidc", ""},
		{"strict cookies", "session: {same_site: strict}\noidc:\n  - {id: corp, issuer: https://sso.example.com, client_id: gh}\n", exitUsage, "session.same_site: strict does not work with oidc", ""},
		{"bad id", "oidc:\n  - {id: Corp, issuer: https://sso.example.com, client_id: gh}\n", exitUsage, `FILE:3: oidc[0].id: "Corp" must be 1 to 32 lower-case letters`, ""},
		{"id missing", "oidc:\n  - {issuer: https://sso.example.com, client_id: gh}\n", exitUsage, `FILE:3: oidc[0].id: "" must be`, ""},
		{"id too long", "oidc:\n  - {id: " + strings.Repeat("a", 33) + ", issuer: https://sso.example.com, client_id: gh}\n", exitUsage, "oidc[0].id:", ""},
		{"id twice", "oidc:\n  - {id: corp, issuer: https://sso.example.com, client_id: gh}\n  - id: corp\n    issuer: https://other.example.com\n    client_id: gh\n", exitUsage, `FILE:4: oidc[1].id: "corp" is the id of oidc[0] too`, ""},
		{"issuer missing", "oidc:\n  - id: corp\n    client_id: gh\n", exitUsage, "FILE:3: oidc[0].issuer: is required", ""},
		{"http issuer elsewhere", "oidc:\n  - id: corp\n    issuer: http://sso.example.com\n    client_id: gh\n", exitUsage, `FILE:4: oidc[0].issuer: "http://sso.example.com" must use https`, ""},
		{"issuer with a query", "oidc:\n  - {id: corp, issuer: 'https://sso.example.com/?x=1', client_id: gh}\n", exitUsage, "oidc[0].issuer: ", ""},
		{"client_id missing", "oidc:\n  - id: corp\n    issuer: https://sso.example.com\n", exitUsage, "FILE:3: oidc[0].client_id: is required", ""},
		{"both secrets", "oidc:\n  - {id: corp, issuer: https://sso.example.com, client_id: gh, client_secret: s, client_secret_file: DIR/secret}\n", exitUsage, "oidc[0].client_secret_file: set client_secret or client_secret_file, not both", ""},
		{"secret file missing", "oidc:\n  - {id: corp, issuer: https://sso.example.com, client_id: gh, client_secret_file: DIR/none}\n", exitUsage, "oidc[0].client_secret_file: cannot read DIR/none: no such file or directory", ""},
		{"secret file empty", "oidc:\n  - {id: corp, issuer: https://sso.example.com, client_id: gh, client_secret_file: DIR/empty}\n", exitUsage, "oidc[0].client_secret_file: DIR/empty is empty", ""},
		{"groups_claim without group_map", "oidc:\n  - id: corp\n    issuer: https://sso.example.com\n    client_id: gh\n    groups_claim: groups\n", exitUsage, "FILE:6: oidc[0].groups_claim: needs group_map", ""},
		{"group_map without groups_claim", "oidc:\n  - id: corp\n    issuer: https://sso.example.com\n    client_id: gh\n    group_map: {a: b}\n", exitUsage, "FILE:6: oidc[0].group_map: needs groups_claim", ""},
		{"bad mapped group", "oidc:\n  - {id: corp, issuer: https://sso.example.com, client_id: gh, groups_claim: g, group_map: {admins: Admins}}\n", exitUsage, `oidc[0].group_map: admins: group name "Admins"`, ""},
		{"group_map value of a mapping", "oidc:\n  - {id: corp, issuer: https://sso.example.com, client_id: gh, groups_claim: g, group_map: {admins: {x: y}}}\n", exitUsage, "a provider group maps to a group name or a list of group names", ""},
		{"bad auto_create group", "oidc:\n  - {id: corp, issuer: https://sso.example.com, client_id: gh, auto_create: {groups: ['no spaces']}}\n", exitUsage, `oidc[0].auto_create.groups: group name "no spaces"`, ""},
		{"bad post-logout URL", "oidc:\n  - {id: corp, issuer: https://sso.example.com, client_id: gh, post_logout_redirect_url: /bye}\n", exitUsage, "oidc[0].post_logout_redirect_url: must be an absolute http(s) URL", ""},
		{"bad scope", "oidc:\n  - {id: corp, issuer: https://sso.example.com, client_id: gh, scopes: ['a b']}\n", exitUsage, `oidc[0].scopes: "a b" is not a scope name`, ""},
		{"unknown key", "oidc:\n  - {id: corp, issuer: https://sso.example.com, client_id: gh, client_secrett: s}\n", exitUsage, "unknown key oidc[0].client_secrett; did you mean oidc[0].client_secret?", ""},
		{"not a list", "oidc: {id: corp}\n", exitUsage, "FILE:2: oidc: must be a list, not a mapping", ""},
		{"deny_local_login nobody can use", "oidc:\n  - {id: corp, issuer: https://sso.example.com, client_id: gh, deny_local_login: true}\n", exitOK, "", "warning: oidc: deny_local_login is set, but no provider may link"},
	}
	dir := t.TempDir()
	writeFile(t, dir, "secret", "s3cret\n")
	writeFile(t, dir, "empty", " \n")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := strings.ReplaceAll(tt.yaml, "DIR", dir)
			if tt.name != "public_url is required" {
				yaml = oidcBase + yaml
			} else {
				yaml = "\n" + yaml // the same lines
			}
			file := writeFile(t, t.TempDir(), "gatehouse.yaml", yaml)
			code, stdout, stderr := runCmd(t, nil, "", "config", "check", "--config", file)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			want := strings.NewReplacer("FILE", file, "DIR", dir).Replace(tt.wantErr)
			if tt.wantErr != "" && !strings.Contains(stderr, want) {
				t.Errorf("stderr does not contain %q:\n%s", want, stderr)
			}
			if tt.wantOut != "" && !strings.Contains(stdout, tt.wantOut) {
				t.Errorf("stdout does not contain %q:\n%s", tt.wantOut, stdout)
			}
			if strings.Contains(stdout+stderr, "s3cret") {
				t.Errorf("the client secret was shown:\n%s%s", stdout, stderr)
			}
		})
	}
}

// TestConfigOIDCUnreadableSecret names a secret file that cannot be read.
func TestConfigOIDCUnreadableSecret(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every file")
	}
	dir := t.TempDir()
	secret := writeFile(t, dir, "secret", "s3cret")
	if err := os.Chmod(secret, 0); err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, dir, "gatehouse.yaml", oidcBase+"oidc:\n  - {id: corp, issuer: https://sso.example.com, client_id: gh, client_secret_file: "+secret+"}\n")
	code, _, stderr := runCmd(t, nil, "", "config", "check", "--config", file)
	if want := "oidc[0].client_secret_file: cannot read " + secret + ": permission denied"; code != exitUsage || !strings.Contains(stderr, want) {
		t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, want)
	}
}

// TestConfigOIDCSettings checks what the providers become: defaults
// filled in, the secret read from its file, group_map's single names
// made lists.
func TestConfigOIDCSettings(t *testing.T) {
	dir := t.TempDir()
	secret := writeFile(t, dir, "secret", "  s3cret\n")
	file := writeFile(t, dir, "gatehouse.yaml", oidcBase+"base_path: /sso\noidc:\n"+
		"  - {id: corp, issuer: https://sso.example.com/, client_id: gh, client_secret_file: "+secret+", groups_claim: groups, group_map: {admins: administrators, ops: [operators, viewers]}}\n"+
		"  - {id: git, name: GitLab, issuer: https://gitlab.example.com, client_id: gh2, client_secret: x, allow_manual_linking: false, auto_create: {}, trusted_for_two_factor: {amr: [mfa]}}\n")
	c, src, err := loadConfig(file, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.validate(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []server.ExternalProvider{
		{ID: "corp", Name: "corp", Issuer: "https://sso.example.com", ClientID: "gh", ClientSecret: "s3cret",
			GroupsClaim: "groups", GroupMap: map[string][]string{"admins": {"administrators"}, "ops": {"operators", "viewers"}},
			AllowManualLinking: true},
		{ID: "git", Name: "GitLab", Issuer: "https://gitlab.example.com", ClientID: "gh2", ClientSecret: "x",
			AutoCreate: true, TrustedAMR: []string{"mfa"}},
	}
	if got := s.serverConfig("127.0.0.1:0", nil).ExternalProviders; !reflect.DeepEqual(got, want) {
		t.Errorf("providers:\n%+v\nwant:\n%+v", got, want)
	}
}
