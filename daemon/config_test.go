package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peets/peets/proto"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{User: "alice", Room: "demo"}
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	if c.Prefix != "/peets/user/alice" || c.Group != "/peets/room/demo" || c.Role != proto.RoleParticipant || c.Name != "alice" {
		t.Fatalf("defaults: %+v", c)
	}
	if c.LayerIdle != 0 {
		t.Fatalf("layer_idle default %v", c.LayerIdle)
	}
	if got := c.ParticipantPrefix().String(); got != "/peets/user/alice/demo" {
		t.Fatalf("participant prefix %s", got)
	}
}

func TestConfigRejects(t *testing.T) {
	for _, c := range []Config{
		{User: "", Room: "r"},
		{User: "a/b", Room: "r"},
		{User: "a", Room: "r", Role: "king"},
		{User: "a", Room: "r", Jitter: 1.5},
		{User: "a", Room: "r", Description: map[string]any{"x": make(chan int)}},
	} {
		if err := c.Normalize(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: got %v", c, err)
		}
	}
}

func TestLoadConfigStrict(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "c.yml")
	os.WriteFile(f, []byte("user: bob\nroom: r1\nlayer_idle: 3s\ndescription:\n  org: UCLA\n"), 0o600)
	c, err := LoadConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "bob" || c.Description["org"] != "UCLA" || c.LayerIdle != 3*time.Second {
		t.Fatalf("%+v", c)
	}
	os.WriteFile(f, []byte("user: bob\nromo: typo\n"), 0o600)
	if _, err := LoadConfig(f); !errors.Is(err, ErrConfig) {
		t.Fatalf("typo accepted: %v", err)
	}
}
