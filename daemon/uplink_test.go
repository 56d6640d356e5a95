package daemon

import (
	"testing"
	"time"

	"github.com/peets/peets/proto"
)

func TestUplinkDecision(t *testing.T) {
	lmh := func(pl, sl, pm, sm, ph, sh uint64) []layerUse {
		return []layerUse{{RID: "l", Published: pl, Served: sl}, {RID: "m", Published: pm, Served: sm}, {RID: "h", Published: ph, Served: sh}}
	}
	cases := []struct {
		name      string
		receivers int
		layers    []layerUse
		want      proto.Uplink
	}{
		{"top pulled", 1, lmh(60, 0, 90, 0, 180, 180),
			proto.Uplink{Receivers: 1, Sending: "h", Pulled: "h", Top: "h"}},
		{"one on top, one on low", 2, lmh(60, 60, 90, 0, 180, 175),
			proto.Uplink{Receivers: 2, Sending: "h", Pulled: "h", Top: "h"}},
		{"everyone on middle", 2, lmh(60, 0, 90, 90, 180, 0),
			proto.Uplink{Receivers: 2, Sending: "h", Pulled: "m", Top: "h", Reduced: true}},
		{"a probe of the top is no pull", 1, lmh(60, 0, 90, 90, 180, 8),
			proto.Uplink{Receivers: 1, Sending: "h", Pulled: "m", Top: "h", Reduced: true}},
		{"a few top packets of a long probe are no pull", 1, lmh(60, 0, 90, 90, 180, 40),
			proto.Uplink{Receivers: 1, Sending: "h", Pulled: "m", Top: "h", Reduced: true}},
		{"the page sends no top layer", 1, lmh(60, 0, 90, 90, 0, 0),
			proto.Uplink{Receivers: 1, Sending: "m", Pulled: "m", Top: "h"}},
		{"nobody in the room", 0, lmh(60, 0, 90, 90, 180, 0),
			proto.Uplink{Sending: "h", Pulled: "m", Top: "h"}},
		{"members but nothing pulled yet", 1, lmh(60, 0, 90, 0, 180, 0),
			proto.Uplink{Receivers: 1, Sending: "h", Top: "h"}},
		{"camera off", 1, lmh(0, 0, 0, 0, 0, 0),
			proto.Uplink{Receivers: 1, Top: "h"}},
		{"no layers", 1, nil, proto.Uplink{Receivers: 1}},
	}
	for _, c := range cases {
		if got := uplinkDecision(c.receivers, c.layers); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

// With its uplink limiting what others see (they pull l of l, m, h), a
// proxy pulls remote video up to its own next layer's bitrate (m: 500
// kbit/s), shared among the remote cameras; otherwise without a limit.
func TestReceiveBudget(t *testing.T) {
	own := DefaultLayers
	for _, c := range []struct {
		u    proto.Uplink
		want float64
	}{
		{proto.Uplink{Receivers: 1, Sending: "h", Pulled: "l", Reduced: true}, 500_000},
		{proto.Uplink{Receivers: 1, Sending: "h", Pulled: "m", Reduced: true}, 1_500_000},
		{proto.Uplink{Receivers: 1, Sending: "h", Pulled: "h"}, 0},
		{proto.Uplink{Receivers: 1, Sending: "m", Pulled: "l", Reduced: true}, 500_000},
		{proto.Uplink{Receivers: 1, Sending: "h", Pulled: "x", Reduced: true}, 0},
	} {
		if got := receiveBudget(c.u, own); got != c.want {
			t.Errorf("%+v: budget %v, want %v", c.u, got, c.want)
		}
	}
	rates := []float64{150e3, 500e3, 1.5e6}
	for _, c := range []struct {
		share float64
		want  int
	}{{0, -1}, {500e3, 1}, {250e3, 0}, {100e3, 0}, {2e6, 2}, {1.5e6, 2}} {
		if got := layerLimit(rates, c.share); got != c.want {
			t.Errorf("layerLimit(%v) = %d, want %d", c.share, got, c.want)
		}
	}
}

// The own uplink limits others when they pull a reduced layer for a while
// and try a higher one again and again: not at the start (everyone starts
// on the middle layer), not when nobody tries for more (a subscriber
// limiting itself), not on a single step up that its own limit undoes,
// not when every receiver says it limits its own pulls.
func TestOwnLimit(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	reduced := proto.Uplink{Receivers: 1, Sending: "h", Pulled: "l", Reduced: true}
	// served over the window; recent: of it in the last interval
	use := func(m, recent uint64) []layerUse {
		return []layerUse{{RID: "l", Published: 60, Served: 60, Recent: 20}, {RID: "m", Published: 60, Served: m, Recent: recent}, {RID: "h", Published: 60}}
	}
	probe, quiet := use(8, 8), use(0, 0)
	var o ownLimit
	unlimited := 1
	tick := func(u proto.Uplink, use []layerUse) bool {
		now = now.Add(time.Second)
		return o.update(now, u, use, unlimited)
	}
	// a probe every 4 s (its packets stay in the window for 3 ticks)
	every4 := func(i int) []layerUse {
		switch i % 4 {
		case 0:
			return probe
		case 3:
			return quiet
		}
		return use(8, 0)
	}
	for i := range 5 { // the first tick starts the reduction; probes at 0 and 4
		if tick(reduced, every4(i)) {
			t.Fatalf("limited after %d s of reduction", i)
		}
	}
	if !tick(reduced, every4(5)) {
		t.Fatal("not limited after 5 s of reduction with two probes")
	}
	for i := range 20 {
		if !tick(reduced, every4(6+i)) {
			t.Fatalf("limit lost while probes go on (%d s)", 6+i)
		}
	}
	// the last probe at 24 s, the one before at 20: limited until 60
	// (a subscriber whose steps up failed probes every 32 s at most)
	for i := 26; i <= 60; i++ {
		if !tick(reduced, quiet) {
			t.Fatalf("limit lost at %d s, within %v of two probes", i, ownLimitProbes)
		}
	}
	if tick(reduced, quiet) {
		t.Fatalf("still limited %v after the second last probe", ownLimitProbes+time.Second)
	}
	if tick(proto.Uplink{Receivers: 1, Sending: "h", Pulled: "h"}, quiet) {
		t.Fatal("limited while the top layer is pulled")
	}
	// a subscriber that limits itself: reduced, never probing
	o = ownLimit{}
	for range 30 {
		if tick(reduced, quiet) {
			t.Fatal("limited without a probe")
		}
	}
	// one that steps up on a probe once, a moment before its own
	// uplink's limit takes it down again: one try, for seconds
	o = ownLimit{}
	for i := range 30 {
		u := quiet
		switch {
		case i == 4:
			u = use(40, 40)
		case i < 7 && i > 4:
			u = use(40, 0)
		}
		if tick(reduced, u) {
			t.Fatalf("limited %d s into a reduction by one step up", i)
		}
	}
	// receivers that all say their own uplink limits them: their tries
	// are theirs (measured: the other side of a two-party call over a
	// shaped link took its unlimited uplink for limited, and climbed back
	// one layer per probe)
	o, unlimited = ownLimit{}, 0
	for i := range 30 {
		if tick(reduced, every4(i)) {
			t.Fatalf("limited %d s into a reduction explained by the receivers' own limits", i)
		}
	}
}
