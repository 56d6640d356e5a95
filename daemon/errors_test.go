package daemon

import (
	"context"
	"strings"
	"testing"
)

// TestForwarderErrorSaysItOnce: an error opening the forwarder reads
// "forwarder: ...", once (the forwarder package's errors carry the prefix).
func TestForwarderErrorSaysItOnce(t *testing.T) {
	cfg := Config{User: "alice", Room: "r", Forwarder: "bogus://nowhere", StateDir: t.TempDir()}
	_, err := New(context.Background(), Options{Config: cfg, Ephemeral: true})
	if err == nil || !strings.HasPrefix(err.Error(), "forwarder: ") || strings.Contains(err.Error(), "forwarder: forwarder") {
		t.Fatalf("err = %v", err)
	}
}
