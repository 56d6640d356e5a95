//go:build e2e

package call

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/peets/peets/e2e/browser"
)

// checkQualityVerdicts runs the page's pure verdict function
// (static/quality.js) on a table of inputs.
func checkQualityVerdicts(t *testing.T, p *browser.Page) {
	t.Helper()
	cases := []struct {
		in   string
		want string
	}{
		{`{video: true, fps: 30, frozenMs: 0, lossPct: 0, layer: 'h', topLayer: 'h', layerIndex: 2, layers: 3}`, "good"},
		{`{video: true, fps: 25, frozenMs: 400, lossPct: 1, layer: 'm', topLayer: 'h', layerIndex: 1, layers: 3, target: 'h'}`, "good"},
		{`{video: true, fps: 25, frozenMs: 0, lossPct: 0, layer: 'l', topLayer: 'h', layerIndex: 0, layers: 3}`, "fair"},
		{`{video: true, fps: 25, frozenMs: 0, lossPct: 4}`, "fair"},
		{`{video: true, fps: 8, frozenMs: 0, lossPct: 0}`, "fair"},
		{`{video: true, fps: 3, frozenMs: 0, lossPct: 0}`, "poor"},
		{`{video: true, fps: 25, frozenMs: 0, lossPct: 15}`, "poor"},
		{`{video: true, fps: 0, frozenMs: 1800, lossPct: 0, stalledMs: 1800}`, "frozen"},
		{`{video: false, frozenMs: 5000, lossPct: 0}`, "good"},
		{`{video: false, stalledMs: 3000}`, "poor"},
	}
	for _, c := range cases {
		var got struct{ Level, Text string }
		p.Eval(fmt.Sprintf("window.peets.quality(%s)", c.in), &got)
		if got.Level != c.want || got.Text == "" {
			t.Errorf("quality(%s) = %+v, want level %s", c.in, got, c.want)
		}
	}
}

// tileVerdict is what a page shows of one remote participant's quality.
type tileVerdict struct {
	Level  string `json:"level"`  // the indicator's data-level
	Title  string `json:"title"`  // its hover text
	Paused bool   `json:"paused"` // the "video paused" overlay is shown
	Status string `json:"status"` // the page's status badge
}

func readTile(t *testing.T, p *browser.Page, participant string) tileVerdict {
	t.Helper()
	var v tileVerdict
	p.Eval(fmt.Sprintf(`(() => {
		const el = document.querySelector('.tile[data-participant=%q]');
		const q = el && el.querySelector('.quality');
		return {level: q && !q.hidden ? q.dataset.level : '', title: q ? q.title : '',
			paused: !!el && !el.querySelector('.paused').hidden,
			status: document.getElementById('status-text').textContent};
	})()`, participant), &v)
	return v
}

// waitTile waits until the page's tile of participant shows level.
func waitTile(t *testing.T, p *browser.Page, participant, level string, timeout time.Duration) tileVerdict {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := readTile(t, p, participant)
		if v.Level == level {
			return v
		}
		if time.Now().After(deadline) {
			var pq any
			p.Eval(`Object.fromEntries(window.peets.state.proxyQ)`, &pq)
			js, _ := json.Marshal(pq)
			t.Fatalf("page %s: tile of %s is %+v after %v, want %s (proxy's view %s)", p.URL, participant, v, timeout, level, js)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// checkHealthyQuality: in a healthy call the tile of participant reads
// good, without the paused overlay, under a plain "Connected".
func checkHealthyQuality(t *testing.T, p *browser.Page, participant string) {
	t.Helper()
	v := waitTile(t, p, participant, "good", 10*time.Second)
	if v.Paused || v.Status != "Connected" {
		t.Errorf("healthy call: tile %+v", v)
	}
	t.Logf("tile of %s: %+v", participant, v)
}

// checkFreeze stops the camera of from's page (its sender sends nothing)
// and checks that to's page shows the tile frozen, with a status badge
// that says so, then that it plays again once the camera is back.
func checkFreeze(t *testing.T, from, to *browser.Page, participant, name string) {
	t.Helper()
	from.Eval(`(async () => {
		const s = window.peets.pc.getSenders().find((s) => s.track && s.track.kind === 'video');
		window.peetsTestSender = s;
		window.peetsTestTrack = s.track;
		await s.replaceTrack(null);
		return true; })()`, nil)
	v := waitTile(t, to, participant, "frozen", 10*time.Second)
	if !v.Paused || !strings.Contains(v.Status, "video from "+name+" frozen") {
		t.Errorf("frozen video: tile %+v", v)
	}
	t.Logf("frozen tile of %s: %+v", participant, v)
	from.Eval(`(async () => {
		await window.peetsTestSender.replaceTrack(window.peetsTestTrack);
		return true; })()`, nil)
	deadline := time.Now().Add(15 * time.Second)
	for {
		v = readTile(t, to, participant)
		if v.Level != "frozen" && v.Level != "" && !v.Paused && !strings.Contains(v.Status, "frozen") {
			t.Logf("tile of %s after the camera came back: %+v", participant, v)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tile of %s still %+v after the camera came back", participant, v)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitUplink waits until the publishing page's proxy says that others
// pull its top layer, and that it does not show "reduced quality".
func waitUplink(t *testing.T, p *browser.Page, timeout time.Duration) {
	t.Helper()
	p.WaitFor(`(() => { const u = window.peets.state.uplink;
		return !!u && u.receivers > 0 && u.pulled === u.top && u.sending === u.top && !u.reduced; })()`, timeout)
	var u any
	p.Eval(`window.peets.state.uplink`, &u)
	t.Logf("%s: uplink %v", p.URL, u)
}
