//go:build e2e

package call

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peets/peets/internal/e2etest"
	"github.com/peets/peets/internal/proc"
)

// TestDemoFoundByRoster: `peets demo` runs on the forwarder every command of
// the user finds (no --state-dir, no --forwarder anywhere: the default state
// directory, here under a private XDG_RUNTIME_DIR), so a newcomer's
// `peets roster --room demo` sees the demo's bot. Before, the demo's
// forwarder sat in <state-dir>/demo, where nothing looked.
func TestDemoFoundByRoster(t *testing.T) {
	bin := e2etest.Peets(t)
	env := []string{"XDG_RUNTIME_DIR=" + t.TempDir(), "HOME=" + t.TempDir(),
		"NDN_CLIENT_TRANSPORT=unix://" + filepath.Join(t.TempDir(), "none.sock")}
	o := proc.Options{Env: env}
	if testing.Verbose() {
		o.Echo = os.Stderr
	}
	var g proc.Group
	t.Cleanup(func() { g.StopAll(3 * time.Second) })
	demo, err := proc.Start("demo", bin, []string{"demo", "--log-level", "info"}, o)
	if err != nil {
		t.Fatal(err)
	}
	g.Add(demo)
	if _, err := demo.WaitLine(urlRe, 30*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, demo.Output())
	}
	var got struct {
		Members []struct {
			User string `json:"user"`
		} `json:"members"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := proc.Start("roster", bin, []string{"roster", "--room", "demo", "--json", "--wait", "3s"}, o)
		if err != nil {
			t.Fatal(err)
		}
		g.Add(r)
		if _, err := r.Wait(15 * time.Second); err != nil {
			t.Fatalf("roster: %v\n%s", err, r.Output())
		}
		lines := r.Lines()
		got.Members = nil
		if len(lines) > 0 {
			_ = json.Unmarshal([]byte(lines[len(lines)-1]), &got)
		}
		for _, m := range got.Members {
			if m.User == "bot1" {
				t.Logf("the newcomer's roster sees the demo: %+v", got.Members)
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the roster never saw the demo's bot: %s\ndemo:\n%s", r.Output(), demo.Output())
		}
	}
}
