//go:build e2e

package call

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peets/peets/e2e/browser"
)

// TestDemo: `peets demo` (the README's main command) gives one browser tab a
// real call: the bot's video plays and its audio arrives.
func TestDemo(t *testing.T) {
	r := &room{t: t, bin: "", dir: t.TempDir(), name: "demo"}
	r.bin = newRoomBin(t)
	t.Cleanup(func() { r.g.StopAll(3 * time.Second) })
	demo := r.start("demo", "demo", "--state-dir", filepath.Join(r.dir, "state"), "--log-level", "info")
	m, err := demo.WaitLine(urlRe, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b := browser.StartBrowser(t)
	p := browser.OpenPage(t, b, m[1])
	d := browser.WaitDecoded(t, p, 1, 20*time.Second)
	t.Logf("demo page decodes %+v; first remote frame %v after page load", d, p.FirstFrame())
	time.Sleep(1500 * time.Millisecond)
	browser.Screenshot(t, p, filepath.Join(os.TempDir(), "peets-demo.png"))
}
