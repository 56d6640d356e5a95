//go:build e2e

package call

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/peets/peets/internal/bench"
	"github.com/peets/peets/internal/e2etest"
)

// TestLargeRoom: 9 bots with simulcast cameras talking in turn and one
// Chromium page, 10 participants (`bench room`, short). The page is in the
// speaker view: it decodes the videos it shows (the main tile and the
// thumbnails at their frame rate), downloads far less than every top layer
// (thumbnails pull the lowest layer, participants off screen no video), and
// follows the speakers: its main tile changes as the bots take turns.
func TestLargeRoom(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	res, err := bench.Room(ctx, bench.RoomConfig{Bots: 9, Pages: 1, Duration: 20 * time.Second, Slot: 4 * time.Second, Bin: e2etest.Peets(t)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	t.Logf("%s", b)
	p := res.PerPage[0]
	if p.ShownTiles < 2 || p.ShownTiles >= 9 {
		t.Errorf("%d remote tiles on screen of 9: want the speaker view's strip, with some off screen", p.ShownTiles)
	}
	if p.DecodedStreams < p.ShownTiles {
		t.Errorf("decodes %d videos, shows %d", p.DecodedStreams, p.ShownTiles)
	}
	if p.MainFPS < 5 || p.ThumbFPS < 5 {
		t.Errorf("main tile %.1f fps, thumbnails %.1f fps", p.MainFPS, p.ThumbFPS)
	}
	if p.DownloadKbps <= 0 || p.DownloadKbps > res.AllTopKbps/2 {
		t.Errorf("downloads %.0f kbit/s; every top layer would be %.0f", p.DownloadKbps, res.AllTopKbps)
	}
	if p.Switches < 2 {
		t.Errorf("the main tile changed %d times in 20 s of bots talking 4 s each in turn", p.Switches)
	}
}
