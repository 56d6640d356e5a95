package daemon

import (
	"testing"
	"time"

	"github.com/peets/peets/media/adapt"
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

// TestTileMoves: a view that makes one tile small and another large hands
// the bitrate the small one's stream was pulling to the large one's, once
// and while fresh; split among several tiles that grew; nothing when the
// stream let go was losing packets, or when nothing shrank. What
// moves is the announced bitrate of the layer let go when it measures less,
// of the lower layer during a switch.
func TestTileMoves(t *testing.T) {
	now := time.Now()
	d := &Daemon{remotes: map[string]*remoteStream{}}
	lrs := map[string]*layeredRemote{}
	for _, u := range []string{"ann", "bob", "cat"} {
		// measured below the announced 1.5 Mbit/s: the announced counts
		measured := []float64{150e3, 500e3, 1.1e6}
		layers := []proto.RosterStream{{ID: "cam.l", Bitrate: 150e3}, {ID: "cam.m", Bitrate: 500e3}, {ID: "cam.h", Bitrate: 1.5e6}}
		lr := &layeredRemote{ch: adapt.NewChooser(adapt.Config{}, measured, 2, now), layers: layers, cur: 2, target: 2, viewLimit: 0}
		r := &remoteStream{info: RemoteInfo{User: u, Key: u + "/cam"}}
		r.run.Store(&remoteRun{lr: lr})
		d.remotes[r.info.Key] = r
		lrs[u] = lr
	}
	page := new(int)
	speaker := func(main string) *proto.View {
		v := &proto.View{}
		for _, u := range []string{"ann", "bob", "cat"} {
			h := 112
			if u == main {
				h = 720
			}
			v.Tiles = append(v.Tiles, proto.ViewTile{ID: u, Height: h})
		}
		return v
	}
	d.setView(page, speaker("ann"))
	if got := d.takeMove("ann"); got != 0 {
		t.Fatalf("first view: a move of %v, want none (nothing shrank)", got)
	}
	d.setView(page, speaker("bob"))
	if got := d.takeMove("bob"); got != 1.5e6 {
		t.Fatalf("ann -> bob: bob's move %v, want 1.5e6 (ann's top layer)", got)
	}
	if got := d.takeMove("bob"); got != 0 {
		t.Fatalf("a move taken twice: %v", got)
	}
	if got := d.takeMove("ann"); got != 0 {
		t.Fatalf("ann shrank, yet has a move of %v", got)
	}

	// Losing packets: nothing to hand on.
	lrs["bob"].ch.Observe(adapt.Observation{Now: now.Add(250 * time.Millisecond), Loss: 0.3})
	d.setView(page, speaker("cat"))
	if got := d.takeMove("cat"); got != 0 {
		t.Fatalf("bob losing packets: cat's move %v, want none", got)
	}

	// A switch under way (a step down): the lower layer.
	lrs["cat"].target = 1
	d.setView(page, speaker("ann"))
	if got := d.takeMove("ann"); got != 500e3 {
		t.Fatalf("cat switching down: ann's move %v, want 500e3 (the middle layer)", got)
	}
	lrs["cat"].target = 2

	// The large tile split into a grid: shared.
	d.setView(page, speaker("cat"))
	d.takeMove("cat")
	d.setView(page, &proto.View{Tiles: []proto.ViewTile{{ID: "ann", Height: 360}, {ID: "bob", Height: 360}, {ID: "cat", Height: 360}}})
	a, b := d.takeMove("ann"), d.takeMove("bob")
	if a != 0.75e6 || b != 0.75e6 {
		t.Fatalf("grid: moves %v and %v, want 0.75e6 each", a, b)
	}

	// Another page shows the tile that shrank here large still: nothing
	// was let go.
	other := new(int)
	d.setView(page, speaker("ann"))
	d.takeMove("ann")
	d.setView(other, speaker("ann"))
	d.setView(page, speaker("bob"))
	if got := d.takeMove("bob"); got != 0 {
		t.Fatalf("ann still large on another page: bob's move %v, want none", got)
	}
	d.setView(other, nil)

	// Stale.
	d.setView(page, speaker("ann"))
	d.views.mu.Lock()
	m := d.views.moves["ann"]
	m.at = m.at.Add(-2 * movedFor)
	d.views.moves["ann"] = m
	d.views.mu.Unlock()
	if got := d.takeMove("ann"); got != 0 {
		t.Fatalf("a stale move: %v", got)
	}
}
