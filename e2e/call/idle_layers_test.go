//go:build e2e

package call

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peets/peets/e2e/browser"
)

// cameraEncodings is, in a page, each simulcast encoding of its camera
// sender: whether it is active and what it encoded so far (outbound-rtp).
const cameraEncodings = `(async () => {
	const s = window.peets.pc?.getSenders().find((s) => s.track?.kind === 'video');
	if (!s) return {};
	const out = {};
	for (const e of s.getParameters().encodings || []) out[e.rid] = { active: e.active !== false, frames: 0, keyframes: 0 };
	(await s.getStats()).forEach((r) => {
		if (r.type === 'outbound-rtp' && out[r.rid]) {
			out[r.rid].frames = r.framesEncoded || 0;
			out[r.rid].keyframes = r.keyFramesEncoded || 0;
		}
	});
	return out;
})()`

type encodingState struct {
	Active    bool `json:"active"`
	Frames    int  `json:"frames"`
	Keyframes int  `json:"keyframes"`
}

func encodings(t *testing.T, p *browser.Page) map[string]encodingState {
	t.Helper()
	var m map[string]encodingState
	p.Eval(cameraEncodings, &m)
	return m
}

// waitEncoding waits until the page's camera encoding rid is active or
// not, and returns the encodings then.
func waitEncoding(t *testing.T, p *browser.Page, rid string, active bool, timeout time.Duration) map[string]encodingState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m := encodings(t, p)
		if e, ok := m[rid]; ok && e.Active == active {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: encoding %s not active=%v after %v: %+v", p.URL, rid, active, timeout, m)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestSimulcastIdleLayers: alice alone in the room: nobody asks for her
// camera, and her proxy has her page pause every layer but the lowest
// (layer_idle 3 s here, 10 s by default). Bob joins: his first Interests
// (he starts on the middle layer) resume it at once, the page encodes it
// again from a keyframe and bob decodes; when he climbs to the top layer,
// the top layer is encoding, and the middle one stays on below it (the
// step down his proxy would take) (issue #15 item 5).
func TestSimulcastIdleLayers(t *testing.T) {
	r := newRoom(t, "idle")
	cfg := filepath.Join(r.dir, "idle.yaml")
	if err := os.WriteFile(cfg, []byte("layer_idle: 3s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := browser.StartBrowser(t)
	_, ua := r.proxy("alice", "Alice", "--config", cfg)
	alice := browser.OpenPage(t, b, ua)
	waitEncoding(t, alice, "h", false, 20*time.Second)
	paused := waitEncoding(t, alice, "m", false, 10*time.Second)
	t.Logf("alice's encodings alone in the room: %+v", paused)
	if !paused["l"].Active {
		t.Errorf("the lowest layer was paused: %+v", paused)
	}
	m1 := encodings(t, alice)
	time.Sleep(time.Second)
	if m2 := encodings(t, alice); !m2["m"].Active && m2["m"].Frames > m1["m"].Frames+2 {
		t.Errorf("paused layer m still encodes: %+v then %+v", m1["m"], m2["m"])
	}
	checkCameraLayers(t, ua, "cam.m", 1, 0)

	_, ub := r.proxy("bob", "Bob", "--config", cfg)
	bob := browser.OpenPage(t, b, ub)
	resumed := waitEncoding(t, alice, "m", true, 15*time.Second)
	t.Logf("alice's encodings with bob joined: %+v", resumed)
	browser.WaitDecoded(t, bob, 1, 20*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := encodings(t, alice)
		if m["m"].Keyframes > paused["m"].Keyframes && m["m"].Frames > paused["m"].Frames+10 {
			t.Logf("layer m encodes again: %+v", m["m"])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("layer m does not encode after its resume: %+v (paused %+v)", m["m"], paused["m"])
		}
		time.Sleep(200 * time.Millisecond)
	}
	checkCameraLayers(t, ua, "cam.m", 1, 1)
	waitLayer(t, ub, "/peets/user/alice/idle/media/cam", "cam.h")
	// Bob on the top layer, past layer_idle: the middle one stays on.
	time.Sleep(4 * time.Second)
	top := encodings(t, alice)
	t.Logf("alice's encodings with bob on the top layer: %+v", top)
	if !top["h"].Active || !top["m"].Active || !top["l"].Active {
		t.Errorf("with bob on the top layer: %+v, want l, m and h encoding", top)
	}
	browser.WaitDecoded(t, bob, 1, 5*time.Second)
}

func checkCameraLayers(t *testing.T, pageURL, stream string, pauses, resumes float64) {
	t.Helper()
	st := apiStats(t, pageURL)
	backend, _ := st["backend"].(map[string]any)
	daemon, _ := backend["daemon"].(map[string]any)
	cl, _ := daemon["camera_layers"].(map[string]any)
	l, _ := cl[stream].(map[string]any)
	t.Logf("%s: camera layers %v", pageURL, cl)
	if l == nil || l["pauses"].(float64) < pauses || l["resumes"].(float64) < resumes {
		t.Errorf("%s: %s paused %v, resumed %v times, want at least %v and %v", pageURL, stream, l["pauses"], l["resumes"], pauses, resumes)
	}
}
