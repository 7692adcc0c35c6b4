package server_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEShowsTheExample: the README's embedding snippet is the wiring
// of ExampleOpen, line for line, so it compiles and runs as shown.
func TestREADMEShowsTheExample(t *testing.T) {
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src := string(example)
	start := strings.Index(src, "\tgh, err := server.Open(")
	end := strings.Index(src, "\tmux.Handle(\"/api/\", gh.Protect(api))\n")
	if start < 0 || end < start {
		t.Fatal("ExampleOpen no longer has the wiring the README shows")
	}
	var snippet strings.Builder
	for line := range strings.SplitSeq(src[start:end+len("\tmux.Handle(\"/api/\", gh.Protect(api))\n")], "\n") {
		snippet.WriteString(strings.TrimPrefix(line, "\t") + "\n")
	}
	want := "```go\n" + strings.TrimSuffix(snippet.String(), "\n")
	if !strings.Contains(string(readme), want) {
		t.Errorf("README.md does not show ExampleOpen's wiring; want it to contain:\n%s", want)
	}
}
