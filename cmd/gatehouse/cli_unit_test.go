package main

import (
	"runtime/debug"
	"testing"
)

func TestVersionText(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name     string
		override string
		bi       *debug.BuildInfo
		ok       bool
		want     string
	}{
		{
			name: "release",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"}, Settings: vcs("0123456789abcdef", "false")},
			ok:   true,
			want: "gatehouse v1.2.3\nrevision: 0123456789abcdef (2026-12-01T10:00:00Z)\ngo: go1.26.0\n",
		},
		{
			name: "modified tree",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.4-0.20261201100000-0123456789ab+dirty"}, Settings: vcs("0123456789abcdef", "true")},
			ok:   true,
			want: "gatehouse v1.2.4-0.20261201100000-0123456789ab+dirty\nrevision: 0123456789abcdef (2026-12-01T10:00:00Z) with uncommitted changes\ngo: go1.26.0\n",
		},
		{
			name: "go run, no VCS",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}},
			ok:   true,
			want: "gatehouse (devel)\nrevision: unknown (built without VCS information)\ngo: go1.26.0\n",
		},
		{
			name: "test binary, no main version",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.0"},
			ok:   true,
			want: "gatehouse (devel)\nrevision: unknown (built without VCS information)\ngo: go1.26.0\n",
		},
		{
			name:     "set with -ldflags",
			override: "v9.9.9",
			bi:       &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: vcs("fedcba", "false")},
			ok:       true,
			want:     "gatehouse v9.9.9\nrevision: fedcba (2026-12-01T10:00:00Z)\ngo: go1.26.0\n",
		},
		{name: "no build information", want: "gatehouse (devel)\nrevision: unknown (no build information)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionText(tt.override, tt.bi, tt.ok); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestNearest(t *testing.T) {
	known := []string{"serve", "user", "policy", "import", "migrate", "config", "version", "help"}
	tests := []struct {
		word, want string
		ok         bool
	}{
		{"usr", "user", true},
		{"user", "user", true},
		{"sevre", "serve", true},   // a swap counts one
		{"imprto", "import", true}, // a swap counts one
		{"confgi", "config", true},
		{"migrat", "migrate", true},
		{"polcy", "policy", true},
		{"frobnicate", "", false},
		{"xyz", "", false},
		{"", "", false},
		{"usre", "user", true},
	}
	for _, tt := range tests {
		got, ok := nearest(tt.word, known)
		if got != tt.want || ok != tt.ok {
			t.Errorf("nearest(%q) = %q, %v; want %q, %v", tt.word, got, ok, tt.want, tt.ok)
		}
	}
	if d := editDistance("kitten", "sitting"); d != 3 {
		t.Errorf("editDistance(kitten, sitting) = %d, want 3", d)
	}
}
