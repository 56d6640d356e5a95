//go:build e2e

package call

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peets/peets/e2e/browser"
)

// apiStats reads a proxy's /api/stats (the page URL carries the token).
func apiStats(t *testing.T, pageURL string) map[string]any {
	t.Helper()
	u, err := url.Parse(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+u.Host+"/api/stats", nil)
	req.Header.Set("Authorization", "Bearer "+u.Query().Get("token"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("stats: %v", err)
	}
	return m
}

// TestSimulcastPublish: a Chromium page sends its camera as three layers;
// its proxy publishes each as its own stream.
func TestSimulcastPublish(t *testing.T) {
	r := newRoom(t, "simulcast")
	b := browser.StartBrowser(t)
	_, u := r.proxy("alice", "Alice")
	browser.OpenPage(t, b, u)
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := apiStats(t, u)
		backend, _ := st["backend"].(map[string]any)
		daemon, _ := backend["daemon"].(map[string]any)
		pubs, _ := daemon["publishers"].(map[string]any)
		n := 0
		for _, id := range []string{"cam.l", "cam.m", "cam.h"} {
			if p, ok := pubs[id].(map[string]any); ok && p["packets_published"].(float64) > 0 {
				n++
			}
		}
		if n == 3 {
			b, _ := json.MarshalIndent(pubs, "", " ")
			t.Logf("publishers: %s", b)
			return
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(st, "", " ")
			t.Fatalf("not three layers published: %s", b)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// layerStats returns a proxy's layered remote streams.
func layerStats(t *testing.T, pageURL string) map[string]any {
	st := apiStats(t, pageURL)
	backend, _ := st["backend"].(map[string]any)
	daemon, _ := backend["daemon"].(map[string]any)
	ls, _ := daemon["layers"].(map[string]any)
	return ls
}

// waitLayer waits up to 20 s until the proxy of pageURL pulls layer of the
// layered remote camera stream.
// waitLayerSent waits until the proxy of pageURL knows n layers of the
// remote camera stream (its publisher's page sends them).
func waitLayerSent(t *testing.T, pageURL, stream string, n int, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		cam, _ := layerStats(t, pageURL)[stream].(map[string]any)
		if got, _ := cam["layers"].(float64); int(got) >= n {
			t.Logf("%s: %d layers of %s after %v", pageURL, n, stream, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > timeout {
			js, _ := json.Marshal(cam)
			t.Fatalf("%s: the publisher of %s did not send %d layers in %v: %s", pageURL, stream, n, timeout, js)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func waitLayer(t *testing.T, pageURL, stream, layer string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ls := layerStats(t, pageURL)
		cam, _ := ls[stream].(map[string]any)
		if cam != nil && cam["layer"] == layer {
			js, _ := json.Marshal(cam)
			t.Logf("%s pulls %s: %s", pageURL, layer, js)
			return
		}
		if time.Now().After(deadline) {
			js, _ := json.MarshalIndent(ls, "", " ")
			t.Fatalf("%s did not reach %s of %s: %s", pageURL, layer, stream, js)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestSimulcastCall: two pages sending simulcast cameras each decode the
// other's video through one track; on a loopback path every subscriber
// climbs to the top layer (a probe says it fits) and the page keeps
// decoding across the switch. The page shows the tile's quality as good,
// the publisher learns that others pull its top layer, and a camera that
// stops sending shows as a frozen tile, in the status badge too.
func TestSimulcastCall(t *testing.T) {
	r := newRoom(t, "simulcast2")
	b := browser.StartBrowser(t)
	_, ua := r.proxy("alice", "Alice")
	_, ub := r.proxy("bob", "Bob")
	alice := browser.OpenPage(t, b, ua)
	bob := browser.OpenPage(t, b, ub)
	for _, p := range []*browser.Page{alice, bob} {
		d := browser.WaitDecoded(t, p, 1, 20*time.Second)
		t.Logf("%s decodes %+v", p.URL, d)
	}
	waitLayer(t, ub, "/peets/user/alice/simulcast2/media/cam", "cam.h")
	// still decoding after the switches
	before := browser.WaitDecoded(t, bob, 1, 5*time.Second)
	time.Sleep(2 * time.Second)
	after := browser.WaitDecoded(t, bob, 1, 5*time.Second)
	t.Logf("bob's page before %+v after %+v", before, after)
	// what the pages show of it (issue #15 item 7)
	checkQualityVerdicts(t, bob)
	checkHealthyQuality(t, bob, "alice")
	waitUplink(t, alice, 10*time.Second)
	checkFreeze(t, alice, bob, "alice", "Alice")
}

// TestSimulcastMixed: a page that sends one encoding (its proxy's
// simulcast: off, as a browser that refuses simulcast would) and a page
// that sends layers, in one call: each decodes the other, the single
// camera is fetched as a plain stream (no layer choice for it), the
// layered one as layers, and both keep decoding (issue #15, bad input).
func TestSimulcastMixed(t *testing.T) {
	r := newRoom(t, "mixed")
	off := filepath.Join(r.dir, "off.yaml")
	if err := os.WriteFile(off, []byte("simulcast: off\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := browser.StartBrowser(t)
	_, ua := r.proxy("alice", "Alice", "--config", off)
	_, ub := r.proxy("bob", "Bob")
	alice := browser.OpenPage(t, b, ua)
	bob := browser.OpenPage(t, b, ub)
	for _, p := range []*browser.Page{alice, bob} {
		d := browser.WaitDecoded(t, p, 1, 20*time.Second)
		t.Logf("%s decodes %+v", p.URL, d)
	}
	if _, layered := layerStats(t, ub)["/peets/user/alice/mixed/media/cam"]; layered {
		t.Errorf("bob fetches alice's single camera as layers: %v", layerStats(t, ub))
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		cam, _ := layerStats(t, ua)["/peets/user/bob/mixed/media/cam"].(map[string]any)
		if cam != nil && cam["layer"] != nil {
			t.Logf("alice pulls bob's layer %v", cam["layer"])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice does not fetch bob's camera as layers: %v", layerStats(t, ua))
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, p := range []*browser.Page{alice, bob} {
		before := browser.WaitDecoded(t, p, 1, 5*time.Second)
		time.Sleep(2 * time.Second)
		after := browser.WaitDecoded(t, p, 1, 5*time.Second)
		for id, d := range after {
			if d.FramesDecoded <= before[id].FramesDecoded {
				t.Errorf("%s stopped decoding %s: %d -> %d frames", p.URL, id, before[id].FramesDecoded, d.FramesDecoded)
			}
		}
	}
}
