package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

// run executes the peets command line args and returns its output and
// error.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// TestCLIErrors: mistakes on the command line are refused before anything
// starts, with a message that says what to do.
func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	// A forwarder that does not exist: were a check missed, the command
	// would fail there instead, with another message.
	base := []string{"--state-dir", dir, "--forwarder", "unix:///nonexistent/nfd.sock"}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"up", "--room", "lab"}, "--user is required"},
		{[]string{"up", "--user", "alice"}, "--room is required"},
		{[]string{"up", "--user", ".alice", "--room", "lab"}, `".alice": want 1 to 64 characters of [A-Za-z0-9._-], the first a letter or digit`},
		{[]string{"up", "--user", "alice", "--room", "lab", "--log-level", "loud"}, `--log-level "loud": want debug, info, warn or error`},
		{[]string{"roster", "--room", "lab", "--log-level", "loud"}, `--log-level "loud"`},
		{[]string{"bot", "--room", "lab", "--log-level", "verbose"}, `--log-level "verbose"`},
		{[]string{"up", "--user", "alice", "--room", "lab", "--listen", "0.0.0.0:8080"}, "not a loopback address"},
	}
	for _, c := range cases {
		_, err := run(t, append(c.args, base...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("peets %s: %v, want %q", strings.Join(c.args, " "), err, c.want)
		}
	}
	// The forwarder's own errors say "forwarder:" once.
	_, err := run(t, "roster", "--room", "lab", "--state-dir", dir, "--forwarder", "bogus://x")
	if err == nil || strings.Count(err.Error(), "forwarder:") != 1 {
		t.Errorf("roster with no forwarder: %v", err)
	}
}

// TestVersion: peets --version, peets version and a subcommand's --version
// print the same line.
func TestVersion(t *testing.T) {
	var lines []string
	for _, args := range [][]string{{"--version"}, {"version"}, {"up", "--version"}, {"bench", "fanout", "--version"}} {
		out, err := run(t, args...)
		if err != nil || !strings.HasPrefix(out, "peets ") || strings.Count(out, "\n") != 1 {
			t.Fatalf("peets %s: %q %v", strings.Join(args, " "), out, err)
		}
		lines = append(lines, out)
	}
	for _, l := range lines[1:] {
		if l != lines[0] {
			t.Errorf("versions differ: %q %q", lines[0], l)
		}
	}
}

func TestVersionText(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/peets/peets", Version: "v0.3.0"},
		Deps: []*debug.Module{
			{Path: "github.com/named-data/ndnd", Version: "v1.5.3"},
			{Path: "github.com/pion/webrtc/v4", Version: "v4.2.20", Replace: &debug.Module{Path: "../webrtc", Version: "v4.2.20-local"}},
			{Path: "github.com/spf13/cobra", Version: "v1.9.1"},
		},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "3e66d36ab2c4f0e1d2c3b4a5968778695a4b3c2d"},
			{Key: "vcs.time", Value: "2026-12-06T23:30:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	want := "v0.3.0 (commit 3e66d36ab2c4, 2026-12-06T23:30:00Z, modified; go1.26.8; ndnd v1.5.3, pion/webrtc v4.2.20-local)"
	if got := versionText(bi); got != want {
		t.Errorf("versionText:\n got %s\nwant %s", got, want)
	}
	if got := versionText(&debug.BuildInfo{}); got != "(devel)" {
		t.Errorf("empty build info: %q", got)
	}
	if got := versionText(nil); !strings.HasPrefix(got, "unknown") {
		t.Errorf("no build info: %q", got)
	}
}
