package daemon

import "time"

// Layers nobody pulls cost no uplink (they never leave the host), but the
// page still encodes them: the top layer of a 720p camera is most of the
// sender's CPU. The proxy tells the page to pause the layers no subscriber
// has asked for lately, and to resume one as soon as an Interest for it
// arrives (issue #15 item 5).

// DefaultLayerIdle is how long a layer nobody asked for keeps being
// encoded (Config.LayerIdle). It is longer than the time a subscriber
// waits between two probes of the layer above its own (adapt.Config.HoldUp,
// 4 s; more after a failed step up): a layer a subscriber keeps probing
// stays encoded, so its probe trains find fresh packets and a step up
// finds the layer's keyframe at once.
const DefaultLayerIdle = 10 * time.Second

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
// idle. An Interest for a paused layer makes it active at once, for at
// least idle. idle <= 0 keeps every layer.
//
// Who is in the room does not matter: a member that joins starts by asking
// for a layer, and that Interest resumes it; and a room without members
// sends no Interests, so every layer but the lowest pauses after idle.
func activeLayers(now time.Time, idle time.Duration, layers []layerPull) []bool {
	out := make([]bool, len(layers))
	for i, l := range layers {
		out[i] = i == 0 || idle <= 0 || now.Sub(l.Last) < idle
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
