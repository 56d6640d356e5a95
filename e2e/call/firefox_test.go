//go:build e2e

package call

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peets/peets/e2e/browser"
)

// TestFirefoxCall: a call between a Firefox page and a Chromium page,
// each with its own `peets up` proxy. Each page decodes the other's video
// (frames decoded, a video element with a width) and receives its audio;
// chat goes both ways.
func TestFirefoxCall(t *testing.T) {
	r := newRoom(t, "firefox")
	ff := browser.StartFirefox(t)
	ch := browser.StartBrowser(t)
	_, fURL := r.proxy("fiona", "Fiona")
	_, cURL := r.proxy("carl", "Carl")
	fiona := browser.OpenFirefoxPage(t, ff, fURL)
	carl := browser.OpenPage(t, ch, cURL)

	d := browser.WaitDecoded(t, carl, 1, 30*time.Second)
	t.Logf("chromium decodes firefox: %+v", d)
	d = browser.WaitDecoded(t, fiona, 1, 30*time.Second)
	t.Logf("firefox decodes chromium: %+v; first remote frame %v after page load", d, fiona.FirstFrame())

	fiona.Eval(`(() => { window.peets.send('text', {text: 'hello from firefox'}); return true; })()`, nil)
	carl.WaitFor(`window.peets.state.chat.some(m => m.name === 'Fiona' && m.text === 'hello from firefox')`, 5*time.Second)
	carl.Eval(`(() => { window.peets.send('text', {text: 'hello from chromium'}); return true; })()`, nil)
	fiona.WaitFor(`window.peets.state.chat.some(m => m.name === 'Carl' && m.text === 'hello from chromium')`, 5*time.Second)

	// Still playing a second later, both ways.
	before := map[*browser.Page]map[string]browser.Decoded{}
	for _, p := range []*browser.Page{fiona, carl} {
		d, err := p.Decoded()
		if err != nil {
			t.Fatal(err)
		}
		before[p] = d
	}
	time.Sleep(2 * time.Second)
	for _, p := range []*browser.Page{fiona, carl} {
		after := browser.WaitDecoded(t, p, 1, 10*time.Second)
		for id, a := range after {
			if a.FramesDecoded <= before[p][id].FramesDecoded {
				t.Errorf("%s stopped decoding %s: %d -> %d frames", p.URL, id, before[p][id].FramesDecoded, a.FramesDecoded)
			}
		}
		if errs := p.Errors(); len(errs) > 0 {
			t.Errorf("%s got errors: %v", p.URL, errs)
		}
	}
	shot := filepath.Join(os.TempDir(), "peets-firefox-call.png")
	browser.Screenshot(t, fiona, shot)
	t.Logf("firefox's screenshot: %s", shot)
}
