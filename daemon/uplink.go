package daemon

import (
	"time"

	"github.com/peets/peets/proto"
)

// The publisher's view of its own simulcast camera: which layers others
// pull. Forwarders merge identical Interests, so the publisher serves each
// pulled layer about once per packet however many subscribers pull it;
// a layer nobody pulls is served nothing but a probe now and then (a
// subscriber checking whether its path would carry it: 8 packets every
// few seconds).

// minLayerPackets is the fewest packets over the window for a layer to
// count as sent (by the page) or pulled (by others).
const minLayerPackets = 10

// layerUse is one layer of the camera at the publisher over the window.
type layerUse struct {
	RID       string
	Published uint64 // packets the page sent
	Served    uint64 // media Data the publisher sent to the network
	Recent    uint64 // of Served, in the last interval
}

// uplinkDecision says which layers of the camera others pull. layers are
// lowest first; receivers is how many members of the room fetch media.
// A layer is sent when the page sent at least minLayerPackets of it, and
// pulled when at least half of what was sent, and at least minLayerPackets,
// was served (a probe is not a pull). Others receive the video at reduced
// quality when some pull it and none pulls the highest layer sent.
func uplinkDecision(receivers int, layers []layerUse) proto.Uplink {
	u := proto.Uplink{Receivers: receivers}
	sending, pulled := -1, -1
	for i, l := range layers {
		if l.Published >= minLayerPackets {
			sending = i
		}
		if l.Served >= minLayerPackets && 2*l.Served >= l.Published {
			pulled = i
		}
	}
	if len(layers) > 0 {
		u.Top = layers[len(layers)-1].RID
	}
	if sending >= 0 {
		u.Sending = layers[sending].RID
	}
	if pulled >= 0 {
		u.Pulled = layers[pulled].RID
	}
	u.Reduced = receivers > 0 && pulled >= 0 && pulled < sending
	return u
}

// receiveBudget is the bits/s of remote video this proxy pulls at most,
// in all, while its own uplink limits what others see of it (0: no
// limit). The Interests for remote video leave through that uplink, about
// an eighth of a kilobyte for each packet of about a kilobyte they bring:
// pulling a 1.5 Mbit/s layer costs ~150 kbit/s of it, which no probe
// sees (a probe measures the way the Data comes). Measured with a 500
// kbit/s uplink: while the proxy pulled the other's top layer, the
// uplink ran full, the token bucket dropped ~100 packets a minute, most
// of them these Interests, and the other's view of this camera froze
// every few seconds. So, when others pull a layer below the one sent,
// the remote video may take at most the bitrate of this camera's next
// layer up: the Interests then cost about a tenth of what this uplink
// would need to carry that layer.
func receiveBudget(u proto.Uplink, own []proto.SimulcastLayer) float64 {
	if !u.Reduced {
		return 0
	}
	for i, l := range own {
		if l.RID == u.Pulled && i+1 < len(own) {
			return float64(own[i+1].MaxBitrate)
		}
	}
	return 0
}

// layerLimit is the highest of a remote camera's layers (bitrates, lowest
// first) whose bitrate fits share; the lowest if none does; -1 (no limit)
// when share is 0.
func layerLimit(bitrates []float64, share float64) int {
	if share <= 0 {
		return -1
	}
	limit := 0
	for i, b := range bitrates {
		if b <= share {
			limit = i
		}
	}
	return limit
}

// ownLimit tells from the uplink decisions, tick after tick, whether this
// proxy's own uplink is what limits the layer others pull: they pull a
// lower layer than the page sends (Reduced) for ownLimitAfter, and they
// tried a higher one at least twice within ownLimitProbes (each time, its
// publisher served a layer above the one pulled in an interval after one
// in which it served none) and did not keep it. Reduced alone is not enough: every subscriber
// starts on the middle layer for a second or two, and one that limits its
// own pulls (its own uplink limited: no probe above its limit) pulls a
// lower layer while this uplink is fine. One try is not enough either:
// such a subscriber may take a layer up on a probe a moment before its
// own limit takes it down again, once (measured over a shaped link: the
// other side then took its unlimited uplink for limited and climbed back
// one layer per probe). A subscriber this uplink limits probes again
// every few seconds.
type ownLimit struct {
	reducedSince time.Time
	tries        []time.Time // when a layer above the pulled one began to be served, newest last
	serving      bool        // a layer above was served in the last interval
}

const (
	ownLimitAfter = 5 * time.Second
	// ownLimitProbes: a subscriber whose steps up failed probes every
	// hold, doubled by each failure up to 32 s (adapt.Config.MaxHoldUp).
	ownLimitProbes = 40 * time.Second
	ownLimitTries  = 2
)

// update takes the decision of a tick, the layers' use over the window
// and how many receivers do not limit their own pulls, and reports
// whether the uplink limits others now. Receivers that all limit their own
// pulls explain a reduced layer, and their tries say nothing of this
// uplink (such a subscriber steps up on a probe and its budget takes it
// down again).
func (o *ownLimit) update(now time.Time, u proto.Uplink, layers []layerUse, unlimited int) bool {
	if !u.Reduced || unlimited == 0 {
		o.reducedSince, o.tries, o.serving = time.Time{}, o.tries[:0], false
		return false
	}
	if o.reducedSince.IsZero() {
		o.reducedSince = now
	}
	above := servedAbove(layers, u.Pulled)
	if above && !o.serving {
		o.tries = append(o.tries, now)
	}
	o.serving = above
	keep := o.tries[:0]
	for _, t := range o.tries {
		if now.Sub(t) <= ownLimitProbes {
			keep = append(keep, t)
		}
	}
	o.tries = keep
	return now.Sub(o.reducedSince) >= ownLimitAfter && len(o.tries) >= ownLimitTries
}

// servedAbove reports whether a layer above pulled was served anything in
// the last interval (a probe train, or a step up: a pulled layer would
// be pulled).
func servedAbove(layers []layerUse, pulled string) bool {
	above := false
	for _, l := range layers {
		if above && l.Recent > 0 {
			return true
		}
		if l.RID == pulled {
			above = true
		}
	}
	return false
}
