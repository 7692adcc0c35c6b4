package main

import (
	"os"
	"strings"
	"testing"
)

// TestProductionExample: the README's walk-through shows
// examples/production/gatehouse.yaml as it is (its comment lines aside),
// and `gatehouse config check` takes it without a warning, so the steps an
// operator copies work.
func TestProductionExample(t *testing.T) {
	const file = "../../examples/production/gatehouse.yaml"
	example, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var shown strings.Builder
	shown.WriteString("   ```yaml\n")
	for line := range strings.Lines(string(example)) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		shown.WriteString("   " + line)
	}
	shown.WriteString("   ```\n")
	if !strings.Contains(string(readme), shown.String()) {
		t.Errorf("README.md's walk-through does not show %s as it is; want:\n%s", file, shown.String())
	}
	code, stdout, stderr := runCmd(t, nil, "", "config", "check", "--config", file)
	if code != exitOK || strings.TrimSpace(stdout) != "configuration OK" || stderr != "" {
		t.Errorf("config check %s: exit %d, stdout %q, stderr %q; want OK without a warning", file, code, stdout, stderr)
	}
}
