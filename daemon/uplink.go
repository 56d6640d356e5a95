package daemon

import "github.com/peets/peets/proto"

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
