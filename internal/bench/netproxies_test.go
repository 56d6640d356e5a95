package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/peets/peets/internal/linkshape"
	"github.com/peets/peets/internal/netns"
	"github.com/peets/peets/internal/y4m"
)

// TestCounterSum: a counter that drops (a fetcher made anew) adds all of
// its new value; one that grows adds its increase.
func TestCounterSum(t *testing.T) {
	var c counterSum
	for _, v := range []float64{10, 15, 15, 3, 8} { // restarts after 15
		c.add("k", v)
	}
	c.add("late", 4) // first seen mid-way: counted from its start
	s := c.snapshot()
	if s["k"] != 10+5+0+3+5 || s["late"] != 4 {
		t.Fatalf("sums %v", s)
	}
	c.add("k", 9)
	if s["k"] != 23 {
		t.Fatal("a snapshot changed afterwards")
	}
}

// TestProxyWatchFigures: a receiver's fetcher figures are its own proxy's
// fetchers of the sender's streams, over the window.
func TestProxyWatchFigures(t *testing.T) {
	w := &proxyWatch{proxies: []*netProxy{{host: &netHost{name: "A", user: "alice"}}, {host: &netHost{name: "B", user: "bob"}}}}
	cam, mic := "B|/peets/user/alice/room/media/cam|", "B|/peets/user/alice/room/media/mic|"
	other := "A|/peets/user/bob/room/media/cam|"
	before := proxySnapshot{fetch: map[string]float64{cam + "packets_received": 100, mic + "packets_received": 50, cam + "retransmitted": 2},
		roster: map[string]float64{"B|expired": 0, "B|joins": 1}, cpu: map[string]time.Duration{"B": time.Second}}
	after := proxySnapshot{fetch: map[string]float64{cam + "packets_received": 1100, mic + "packets_received": 550, cam + "retransmitted": 12,
		other + "packets_received": 999, cam + "bogus": 7}, roster: map[string]float64{"B|expired": 1, "B|joins": 2},
		cpu: map[string]time.Duration{"B": 4 * time.Second}}
	w.gauges = map[string]float64{cam + "srtt_ms": 40, mic + "srtt_ms": 55, cam + "window_interests": 30, mic + "window_interests": 20, other + "srtt_ms": 900}
	ff := w.fetchFigures(before, after, "B", "alice")
	if ff.Received != 1500 || ff.Retransmitted != 10 || ff.SRTTMs != 55 || ff.Window != 50 {
		t.Fatalf("figures %+v", ff)
	}
	if ff := w.fetchFigures(before, after, "B", "al"); ff.Received != 0 {
		t.Fatalf("a user id's prefix matched: %+v", ff)
	}
	rs := w.results(before, after, 10*time.Second)
	if len(rs) != 2 || rs[1].RosterExpired != 1 || rs[1].RosterJoins != 1 || rs[1].CPUPercent != 30 {
		t.Fatalf("results %+v", rs)
	}
}

// TestNetConfigRefused: settings that cannot make a run are refused
// before anything is made.
func TestNetConfigRefused(t *testing.T) {
	down, _ := linkshape.ParseSchedule("1mbit")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // were one accepted, it would stop at the first wait
	for _, c := range []NetConfig{
		{Receivers: 3},
		{Receivers: 1, Downlinks: []linkshape.Schedule{down}},
		{Receivers: 2, Downlinks: []linkshape.Schedule{down, down, down}},
		{Duration: time.Second},
		{Warmup: -time.Second},
		{Clip: y4m.Clip{Width: 3, Height: 2, FPS: 20, Frames: 1}},
		{Impair: Impairment{Loss: 0.9}},
		{Impair: Impairment{Loss: 0.1}, Direct: true},
	} {
		if _, err := Net(ctx, c); err == nil {
			t.Errorf("%+v accepted", c)
		} else if errors.Is(err, netns.ErrNotRoot) {
			t.Errorf("%+v: got as far as the namespaces: %v", c, err)
		}
	}
}
