//go:build e2e

package call

import (
	"testing"
	"time"

	"github.com/peets/peets/e2e/browser"
)

// TestRoles: a broadcaster publishes and receives nothing; a viewer
// publishes nothing and receives everything; a participant does both. Junk
// signaling from a page neither breaks its proxy nor the call.
func TestRoles(t *testing.T) {
	r := newRoom(t, "roles")
	b := browser.StartBrowser(t)
	_, bURL := r.proxy("bcast", "Broadcaster", "--role", "broadcaster")
	_, vURL := r.proxy("viewer", "Viewer", "--role", "viewer")
	_, pURL := r.proxy("part", "Participant")
	bPage := browser.OpenPage(t, b, bURL)
	vPage := browser.OpenPage(t, b, vURL)
	pPage := browser.OpenPage(t, b, pURL)

	// The viewer plays the broadcaster and the participant.
	d := browser.WaitDecoded(t, vPage, 2, 20*time.Second)
	if _, ok := d["bcast"]; !ok {
		t.Fatalf("viewer does not play the broadcaster: %+v", d)
	}
	// The participant plays the broadcaster only (the viewer sends nothing).
	browser.WaitDecoded(t, pPage, 1, 20*time.Second)
	time.Sleep(2 * time.Second)
	d, err := pPage.Decoded()
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := d["viewer"]; ok && (v.VideoPackets > 0 || v.AudioPackets > 0) {
		t.Errorf("the viewer published media: %+v", v)
	}
	// The broadcaster receives nothing.
	d, err = bPage.Decoded()
	if err != nil {
		t.Fatal(err)
	}
	for id, x := range d {
		if x.VideoPackets > 0 || x.AudioPackets > 0 || x.FramesDecoded > 0 {
			t.Errorf("the broadcaster receives %s: %+v", id, x)
		}
	}
	var camera bool
	vPage.Eval(`!!(window.peets.state.local && window.peets.state.local.getTracks().some(t => t.readyState === 'live'))`, &camera)
	if camera {
		t.Errorf("the viewer's page holds a live camera or microphone")
	}

	// Junk from the viewer's page: bad JSON, unknown type, bad data, an
	// oversized message. Each gets an error back; the call goes on.
	vPage.Eval(`(() => {
		const ws = window.peets.state.ws;
		ws.send('{not json');
		ws.send(JSON.stringify({type: 'no-such-type'}));
		ws.send(JSON.stringify({type: 'text', data: {text: 42}}));
		ws.send(JSON.stringify({type: 'offer', data: {sdp: 'v=0 garbage'}}));
		ws.send('x'.repeat(300 * 1024));
		return true; })()`, nil)
	vPage.WaitFor(`window.peets.state.errors.length >= 3`, 5*time.Second)
	t.Logf("viewer's page got errors: %v", vPage.Errors())
	vPage.Eval(`(() => { window.peets.send('text', {text: 'still here'}); return true; })()`, nil)
	pPage.WaitFor(`window.peets.state.chat.some(m => m.text === 'still here')`, 5*time.Second)
	before, _ := vPage.Decoded()
	time.Sleep(time.Second)
	after, err := vPage.Decoded()
	if err != nil {
		t.Fatal(err)
	}
	if after["bcast"].FramesDecoded <= before["bcast"].FramesDecoded {
		t.Errorf("the viewer's video stopped after the junk: %+v -> %+v", before["bcast"], after["bcast"])
	}
}
