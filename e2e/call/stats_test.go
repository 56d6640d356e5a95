//go:build e2e

package call

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peets/peets/e2e/browser"
)

// TestStatsPanel: the figures of one remote participant agree wherever
// they are shown (issue #18): the page's stats panel, opened from the
// tile's quality bars, shows its proxy's figures beside the browser's own
// (getStats); they match the proxy's /api/stats, peets stats --json and
// the proxy's /metrics.
func TestStatsPanel(t *testing.T) {
	r := newRoom(t, "statspanel")
	r.start("bob", "bot", "--user", "bob", "--room", r.name, "--forwarder", r.fw,
		"--state-dir", filepath.Join(r.dir, "bob"), "--log-level", "warn")
	b := browser.StartBrowser(t)
	_, u := r.proxy("alice", "Alice")
	alice := browser.OpenPage(t, b, u)
	browser.WaitDecoded(t, alice, 1, 20*time.Second)

	alice.Eval(`(() => { document.querySelector('.tile[data-participant="bob"] .quality').click(); return true; })()`, nil)
	cell := func(key string) string {
		return `document.querySelector('.tile[data-participant="bob"] .stats [data-key="` + key + `"]')`
	}
	// The rates need a few seconds of samples on both sides.
	alice.WaitFor(`!document.querySelector('.tile[data-participant="bob"] .stats').hidden && `+
		cell("video-kbps-proxy")+`?.textContent > 0 && `+cell("video-fps-browser")+`?.textContent > 0`, 10*time.Second)
	time.Sleep(3 * time.Second)
	read := func() map[string]float64 {
		var m map[string]string
		alice.Eval(`Object.fromEntries([...document.querySelectorAll('.tile[data-participant="bob"] .stats [data-key]')].map(e => [e.dataset.key, e.textContent]))`, &m)
		out := map[string]float64{}
		for k, v := range m {
			if f, err := strconv.ParseFloat(strings.Fields(v + " x")[0], 64); err == nil {
				out[k] = f
			}
		}
		return out
	}
	panel := read()
	browser.Screenshot(t, alice, filepath.Join(os.TempDir(), "peets-stats-panel.png"))
	api := bobVideo(t, apiStats(t, u))
	cli := cliVideo(t, u)
	t.Logf("panel %v; /api/stats %v; peets stats %v", panel, api, cli)

	near := func(what string, a, b, rel float64) {
		t.Helper()
		if math.Abs(a-b) > rel*math.Max(math.Abs(a), math.Abs(b)) {
			t.Errorf("%s: %v and %v differ by more than %.0f%%", what, a, b, rel*100)
		}
	}
	// The same proxy figures, read a moment apart (each is a 3 s rate).
	near("proxy kbit/s: panel vs /api/stats", panel["video-kbps-proxy"], api["bitrate_bps"]/1000, 0.25)
	near("proxy kbit/s: panel vs peets stats", panel["video-kbps-proxy"], cli["bitrate_bps"]/1000, 0.25)
	near("proxy fps: panel vs /api/stats", panel["video-fps-proxy"], api["frames_per_s"], 0.25)
	// What the browser receives and decodes is what the proxy delivers.
	near("video kbit/s: proxy vs browser", panel["video-kbps-proxy"], panel["video-kbps-browser"], 0.35)
	near("fps: proxy delivered vs browser decoded", panel["video-fps-proxy"], panel["video-fps-browser"], 0.35)
	if panel["audio-kbps-browser"] <= 0 || panel["audio-kbps-proxy"] <= 0 {
		t.Errorf("no audio figures: %v", panel)
	}

	// /metrics on the page's port, with the token: the fetcher's counters.
	pu, _ := url.Parse(u)
	req, _ := http.NewRequest(http.MethodGet, "http://"+pu.Host+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+pu.Query().Get("token"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `peets_fetcher_packets_delivered_total{stream="/peets/user/bob/statspanel/media/video"} `
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		t.Errorf("/metrics (%s) lacks %s", resp.Status, want)
	}
}

// bobVideo is the quality figures of bob's video in a proxy's /api/stats.
func bobVideo(t *testing.T, st map[string]any) map[string]float64 {
	t.Helper()
	backend, _ := st["backend"].(map[string]any)
	daemon, _ := backend["daemon"].(map[string]any)
	qs, _ := daemon["quality"].([]any)
	for _, q := range qs {
		m, _ := q.(map[string]any)
		if m["participant"] == "bob" && m["kind"] == "video" {
			out := map[string]float64{}
			for k, v := range m {
				if f, ok := v.(float64); ok {
					out[k] = f
				}
			}
			return out
		}
	}
	t.Fatalf("no quality of bob's video: %v", daemon["quality"])
	return nil
}

// cliVideo runs peets stats --json once against the proxy of pageURL.
func cliVideo(t *testing.T, pageURL string) map[string]float64 {
	t.Helper()
	out, err := exec.Command(newRoomBin(t), "stats", "--url", pageURL, "--count", "1", "--json").Output()
	if err != nil {
		t.Fatalf("peets stats: %v", err)
	}
	var line struct {
		Streams []map[string]any `json:"streams"`
	}
	if err := json.Unmarshal(out, &line); err != nil {
		t.Fatalf("peets stats output %q: %v", out, err)
	}
	return bobVideo(t, map[string]any{"backend": map[string]any{"daemon": map[string]any{"quality": toAny(line.Streams)}}})
}

func toAny(ms []map[string]any) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}
