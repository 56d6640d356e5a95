package daemon

import "time"

// Layers nobody pulls cost no uplink (they never leave the host), but the
// page still encodes them: the top layer of a 720p camera is most of the
// sender's CPU. The proxy tells the page to pause the layers no subscriber
// has asked for lately, and to resume one as soon as an Interest for it
// arrives (issue #15 item 5).

// SuggestedLayerIdle is the pause to set (Config.LayerIdle; off by
// default): it is longer than the time a subscriber waits between two
// probes of the layer above its own (adapt.Config.HoldUp, 4 s; more after
// a failed step up), so a layer a subscriber keeps probing stays encoded,
// its probe trains find fresh packets and a step up finds the layer's
// keyframe at once. Off by default until measured again
// (docs/benchmarks.md).
const SuggestedLayerIdle = 10 * time.Second

// layerPull is one layer of the camera at the publisher.
type layerPull struct {
	RID string
	// Last is when an Interest last asked for the layer's media or its
	// metadata (a pull, a probe, a subscriber starting on it); before any,
	// when its publisher was made, so that a new camera starts with every
	// layer.
	Last time.Time
}

// activeLayers says which layers (lowest first) the page should encode:
// the lowest always (the floor every subscriber can fall back to, and the
// first rung of a probe); any other while an Interest asked for it within
// idle; and the one just below a layer so asked for, the step down its
// subscribers take when their path stops carrying it: a step down must
// find its layer encoding, since the layer it leaves is not getting
// through (the wait for a paused layer to resume and send a keyframe was
// a freeze of seconds). An Interest for a paused layer makes it active at
// once, for at least idle. idle <= 0 keeps every layer.
//
// Who is in the room does not matter: a member that joins starts by asking
// for a layer, and that Interest resumes it; and a room without members
// sends no Interests, so every layer but the lowest pauses after idle.
func activeLayers(now time.Time, idle time.Duration, layers []layerPull) []bool {
	out := make([]bool, len(layers))
	pulled := func(i int) bool { return i < len(layers) && now.Sub(layers[i].Last) < idle }
	for i := range layers {
		out[i] = i == 0 || idle <= 0 || pulled(i) || pulled(i+1)
	}
	return out
}

// activeRIDs lists the rids of the active layers, lowest first.
func activeRIDs(layers []layerPull, active []bool) []string {
	out := make([]string, 0, len(layers))
	for i, l := range layers {
		if active[i] {
			out = append(out, l.RID)
		}
	}
	return out
}
