package daemon

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peets/peets/media/source"
	"github.com/peets/peets/sync/synctest"
)

// TestBotLayersAndSpeaker: a bot publishing simulcast layers and talking on
// a schedule. A watcher fetches its camera as layers, and hears it speak:
// the level on the bot's audio packets makes it the dominant speaker.
func TestBotLayersAndSpeaker(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	ivf, _ := source.Embedded()
	var layers []source.Layer
	for _, rid := range []string{"l", "m", "h"} {
		p := filepath.Join(dir, rid+".ivf")
		if err := os.WriteFile(p, ivf, 0o600); err != nil {
			t.Fatal(err)
		}
		layers = append(layers, source.Layer{RID: rid, Path: p})
	}
	src, err := source.OpenDefault(source.Options{Loop: true, Layers: layers, Talk: &source.Talk{Period: time.Minute, On: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(user string) Config {
		return Config{User: user, Room: "talk", TrustDir: dir, Heartbeat: 100 * time.Millisecond}
	}
	pub := runDaemon(t, ctx, cancel, Options{Config: cfg("cam"), Source: src, Ephemeral: true, Logger: synctest.Logger})
	sub := runDaemon(t, ctx, cancel, Options{Config: cfg("eye"), Ephemeral: true, Logger: synctest.Logger})
	key := remoteKey(pub.Participant(), source.LayerGroup)
	if synctest.Eventually(10*time.Second, func() bool {
		sub.mu.Lock()
		r := sub.remotes[key]
		sub.mu.Unlock()
		return r != nil && r.layered() != nil && r.fetcher() != nil && r.fetcher().Stats().Delivered > 10
	}) < 0 {
		t.Fatalf("the bot's layers are not fetched: %+v", sub.Stats().Layers)
	}
	if synctest.Eventually(5*time.Second, func() bool {
		sub.spk.mu.Lock()
		defer sub.spk.mu.Unlock()
		return sub.spk.tr.Dominant() == "cam"
	}) < 0 {
		t.Fatal("the talking bot is not the dominant speaker")
	}
}
