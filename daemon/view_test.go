package daemon

import (
	"testing"
	"time"

	"github.com/peets/peets/media/source"
	"github.com/peets/peets/proto"
	"github.com/peets/peets/sync/synctest"
)

// TestViewLimit: a tile gets the lowest layer that fills it, by the layers'
// scales (the pages' simulcast settings, else halving from the top).
func TestViewLimit(t *testing.T) {
	lmh := []proto.RosterStream{{ID: "cam.l", RID: "l"}, {ID: "cam.m", RID: "m"}, {ID: "cam.h", RID: "h"}}
	for _, c := range []struct{ height, want int }{{0, -1}, {90, 0}, {200, 0}, {300, 1}, {450, 1}, {700, 2}, {2160, 2}} {
		if got := viewLimit(lmh, DefaultLayers, c.height); got != c.want {
			t.Errorf("a %d px tile: layer %d, want %d", c.height, got, c.want)
		}
	}
	two := []proto.RosterStream{{ID: "cam.a", RID: "a"}, {ID: "cam.b", RID: "b"}} // unknown: 360, 720
	if got := viewLimit(two, DefaultLayers, 300); got != 0 {
		t.Errorf("unknown rids, 300 px: layer %d, want 0", got)
	}
	if got := viewLimit(two, DefaultLayers, 500); got != 1 {
		t.Errorf("unknown rids, 500 px: layer %d, want 1", got)
	}
}

// TestViewOffScreen: a participant whose video no page shows is not
// pulled (its audio is); shown again, it is pulled again at once; when
// the last page is gone, everyone counts as shown.
func TestViewOffScreen(t *testing.T) {
	pub, sub := botAndWatcher(t, "view")
	videoKey := remoteKey(pub.Participant(), source.StreamVideo)
	paused := func() (bool, bool) {
		sub.mu.Lock()
		r := sub.remotes[videoKey]
		sub.mu.Unlock()
		return r != nil && r.paused(), r != nil
	}
	running := func() bool { p, ok := paused(); return ok && !p }
	if synctest.Eventually(10*time.Second, running) < 0 {
		t.Fatal("not fetching the video")
	}
	page := new(int)
	sub.setView(page, &proto.View{Tiles: []proto.ViewTile{{ID: "someone", Height: 200}}})
	if synctest.Eventually(3*time.Second, func() bool { p, _ := paused(); return p }) < 0 {
		t.Fatal("the video of a participant off screen is still pulled")
	}
	audio := func() uint64 {
		return sub.Stats().Fetchers[pub.Participant().String()+"/media/"+source.StreamAudio].Delivered
	}
	a0 := audio()
	if synctest.Eventually(3*time.Second, func() bool { return audio() > a0+10 }) < 0 {
		t.Fatal("the audio stopped with the video")
	}
	sub.setView(page, &proto.View{Tiles: []proto.ViewTile{{ID: "cam", Height: 200}}})
	if synctest.Eventually(time.Second, running) < 0 {
		t.Fatal("the video shown again is not pulled within 1 s")
	}
	sub.setView(page, &proto.View{})
	if synctest.Eventually(3*time.Second, func() bool { p, _ := paused(); return p }) < 0 {
		t.Fatal("an empty view still pulls the video")
	}
	sub.setView(page, nil)
	if synctest.Eventually(time.Second, running) < 0 {
		t.Fatal("with no page left, the video is not pulled")
	}
}
