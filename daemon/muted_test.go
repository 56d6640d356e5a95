package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/peets/peets/media/source"
	"github.com/peets/peets/proto"
	"github.com/peets/peets/sync/synctest"
)

// botAndWatcher runs, in a room of their own, a proxy publishing the bot's
// media as user "cam" and one fetching it as "eye".
func botAndWatcher(t *testing.T, room string) (pub, sub *Daemon) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	src, err := source.OpenDefault(source.Options{Loop: true})
	if err != nil {
		t.Fatal(err)
	}
	trust := t.TempDir()
	cfg := func(user string) Config {
		return Config{User: user, Room: room, TrustDir: trust, Heartbeat: 100 * time.Millisecond}
	}
	pub = runDaemon(t, ctx, cancel, Options{Config: cfg("cam"), Source: src, Ephemeral: true, Logger: synctest.Logger})
	sub = runDaemon(t, ctx, cancel, Options{Config: cfg("eye"), Ephemeral: true, Logger: synctest.Logger})
	return pub, sub
}

// TestMutedNotFetched: a member turns its camera off: the receiver stops
// pulling its video at once (the publisher sees no more Interests for it),
// keeps the remote stream announced to its pages, keeps fetching the
// audio, and resumes the video within 1 s of the camera coming back on.
func TestMutedNotFetched(t *testing.T) {
	pub, sub := botAndWatcher(t, "mute")
	videoKey := remoteKey(pub.Participant(), source.StreamVideo)
	delivered := func(stream string) uint64 {
		return sub.Stats().Fetchers[pub.Participant().String()+"/media/"+stream].Delivered
	}
	pulled := func() uint64 { // Interests that reached the publisher for its video
		s := pub.Stats().Publishers[source.StreamVideo]
		return s.ServedRing + s.Held
	}
	if synctest.Eventually(10*time.Second, func() bool { return delivered(source.StreamVideo) > 20 && delivered(source.StreamAudio) > 20 }) < 0 {
		t.Fatalf("not fetching: %+v", sub.Stats().Fetchers)
	}

	setMuted := func(on bool) {
		if err := pub.Roster().Update(func(e *proto.RosterEntry) { e.VideoMuted = on }); err != nil {
			t.Fatal(err)
		}
	}
	setMuted(true)
	if synctest.Eventually(3*time.Second, func() bool {
		sub.mu.Lock()
		r := sub.remotes[videoKey]
		sub.mu.Unlock()
		return r != nil && r.paused()
	}) < 0 {
		t.Fatal("the receiver still fetches the muted camera")
	}
	time.Sleep(1500 * time.Millisecond) // Interests in flight expire (1 s lifetime at most)
	p0, a0 := pulled(), delivered(source.StreamAudio)
	time.Sleep(time.Second)
	if p1 := pulled(); p1 != p0 {
		t.Errorf("the muted camera was pulled %d times in 1 s", p1-p0)
	}
	if delivered(source.StreamAudio) <= a0 {
		t.Error("the audio stopped with the camera")
	}

	v0 := delivered(source.StreamVideo) // the resumed run counts from 0
	start := time.Now()
	setMuted(false)
	if synctest.Eventually(3*time.Second, func() bool {
		sub.mu.Lock()
		r := sub.remotes[videoKey]
		sub.mu.Unlock()
		f := r.fetcher()
		return f != nil && f.Stats().Delivered > 0
	}) < 0 {
		t.Fatalf("the camera did not come back (delivered %d before)", v0)
	}
	took := time.Since(start)
	t.Logf("video back %v after the unmute", took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("video back %v after the unmute, want within 1 s", took)
	}
}
