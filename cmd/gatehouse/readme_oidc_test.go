package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// readmeOIDCSection is the README heading whose yaml blocks
// TestREADMEOIDCRecipes keeps valid.
const readmeOIDCSection = "## External logins (OpenID Connect)"

// yamlBlock is a ```yaml block of the README: its text and the README line
// of its first line.
type yamlBlock struct {
	line int
	text string
}

// readmeYAMLBlocks returns the ```yaml blocks of the README section that
// starts with heading, up to the next "## " heading.
func readmeYAMLBlocks(t *testing.T, readme, heading string) []yamlBlock {
	t.Helper()
	f, err := os.Open(readme)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks             []yamlBlock
		inSection, inBlock bool
		cur                yamlBlock
		body               strings.Builder
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case inBlock && strings.HasPrefix(line, "```"):
			cur.text, inBlock = body.String(), false
			blocks = append(blocks, cur)
		case inBlock:
			body.WriteString(line + "\n")
		case line == heading:
			inSection = true
		case inSection && strings.HasPrefix(line, "## "):
			return blocks
		case inSection && strings.TrimSpace(line) == "```yaml":
			cur, inBlock = yamlBlock{line: n + 1}, true
			body.Reset()
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !inSection {
		t.Fatalf("%s has no section %q", readme, heading)
	}
	if inBlock {
		t.Fatalf("%s:%d: the yaml block is not closed", readme, cur.line-1)
	}
	return blocks
}

// secretFileRe is a client_secret_file under /run/secrets, which the test
// points at a file that exists.
var secretFileRe = regexp.MustCompile(`(client_secret_file:\s*)/run/secrets/([A-Za-z0-9._-]+)`)

// TestREADMEOIDCRecipes runs `gatehouse config check` over every yaml
// block of the README's section on external logins (the general example
// and each provider recipe), so the shapes the docs show cannot drift
// from what the configuration accepts. A block without public_url gets
// https://admin.example.com first, as the section says every one needs;
// client_secret_file under /run/secrets reads a temporary file instead. A
// block that fails is named by its README line, and the problem's line is
// given in README.md.
func TestREADMEOIDCRecipes(t *testing.T) {
	const readme = "../../README.md"
	blocks := readmeYAMLBlocks(t, readme, readmeOIDCSection)
	// The general example and the five provider recipes: fewer means the
	// section was reshaped and this test no longer sees what it should.
	if len(blocks) < 6 {
		t.Fatalf("%s: section %q has %d yaml blocks, want at least 6", readme, readmeOIDCSection, len(blocks))
	}
	secrets := t.TempDir()
	for _, b := range blocks {
		t.Run(fmt.Sprintf("README.md:%d", b.line), func(t *testing.T) {
			if !strings.Contains(b.text, "oidc:") {
				t.Fatalf("README.md:%d: a yaml block of %q without oidc:", b.line, readmeOIDCSection)
			}
			text := secretFileRe.ReplaceAllStringFunc(b.text, func(m string) string {
				sub := secretFileRe.FindStringSubmatch(m)
				path := filepath.Join(secrets, sub[2])
				if err := os.WriteFile(path, []byte("a client secret\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				return sub[1] + path
			})
			added := 0 // lines put before the block's own
			if !regexp.MustCompile(`(?m)^public_url:`).MatchString(text) {
				text = "public_url: https://admin.example.com\n" + text
				added = 1
			}
			file := writeFile(t, t.TempDir(), "gatehouse.yaml", text)
			code, stdout, stderr := runCmd(t, nil, "", "config", "check", "--config", file)
			// FILE:N in a message is README line b.line+N-1-added.
			where := regexp.MustCompile(regexp.QuoteMeta(file) + `:(\d+)`)
			inREADME := func(s string) string {
				return where.ReplaceAllStringFunc(s, func(m string) string {
					n, _ := strconv.Atoi(where.FindStringSubmatch(m)[1])
					if n <= added {
						return "README.md:" + strconv.Itoa(b.line) + " (public_url added by the test)"
					}
					return "README.md:" + strconv.Itoa(b.line+n-1-added)
				})
			}
			if code != exitOK || !strings.Contains(stdout, "configuration OK") {
				t.Fatalf("README.md:%d: the yaml block fails `gatehouse config check` (exit %d):\n%s%s\nblock as checked:\n%s",
					b.line, code, inREADME(stderr), inREADME(stdout), text)
			}
			// Mail and SMS go to the log without their sections: warned
			// about, but not the recipe's doing.
			if strings.Contains(stdout+stderr, "warning: oidc") {
				t.Errorf("README.md:%d: the yaml block passes with a warning about it:\n%s%s", b.line, inREADME(stdout), inREADME(stderr))
			}
		})
	}
}
