package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestForwarderRejectsForwarderFlag: `peets forwarder` is the forwarder; a
// --forwarder URI would be silently ignored, so it is refused before
// anything starts.
func TestForwarderRejectsForwarderFlag(t *testing.T) {
	cmd := newForwarderCmd()
	cmd.SetArgs([]string{"--forwarder", "unix:///nonexistent/nfd.sock", "--state-dir", t.TempDir()})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "--link") {
		t.Fatalf("err = %v, want a refusal pointing at --link", err)
	}
}

// TestForwarderErrorsSayItOnce: the forwarder package's errors carry their
// "forwarder: " prefix; the commands do not add another.
func TestForwarderErrorsSayItOnce(t *testing.T) {
	f := ndnFlags{forwarder: "bogus://nowhere", stateDir: t.TempDir()}
	_, err := f.open(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.HasPrefix(err.Error(), "forwarder: ") || strings.Contains(err.Error(), "forwarder: forwarder") {
		t.Fatalf("err = %v", err)
	}
	cmd := newRosterCmd()
	cmd.SetArgs([]string{"--room", "x", "--forwarder", "bogus://nowhere", "--state-dir", t.TempDir()})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.Execute(); err == nil || strings.Contains(err.Error(), "forwarder: forwarder") {
		t.Fatalf("roster: err = %v", err)
	}
}
