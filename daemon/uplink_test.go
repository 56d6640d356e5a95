package daemon

import (
	"testing"

	"github.com/peets/peets/proto"
)

func TestUplinkDecision(t *testing.T) {
	lmh := func(pl, sl, pm, sm, ph, sh uint64) []layerUse {
		return []layerUse{{"l", pl, sl}, {"m", pm, sm}, {"h", ph, sh}}
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
