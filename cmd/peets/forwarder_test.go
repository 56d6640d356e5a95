package main

import (
	"io"
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
