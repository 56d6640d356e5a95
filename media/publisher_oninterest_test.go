package media

import (
	"sync/atomic"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"

	"github.com/peets/peets/proto"
)

// OnInterest sees every well-formed Interest for the stream's media or
// metadata, whether it is served, held or answered as gone, and no
// malformed one.
func TestPublisherOnInterest(t *testing.T) {
	var n atomic.Int32
	pub, _ := testPublisher(t, PublisherConfig{RingSize: 16, OnInterest: func() { n.Add(1) }})
	publishN(t, pub, 1, 41, 10, 0)
	S, boot := pub.Prefix(), pub.Boot()
	args := func(name enc.Name) ndn.InterestHandlerArgs {
		return ndn.InterestHandlerArgs{Interest: fakeInterest{name: name}, Reply: func(enc.Wire) error { return nil },
			Deadline: time.Now().Add(time.Second)}
	}
	for _, name := range []enc.Name{
		proto.MetaInterestName(S),     // a probe's first Interest
		proto.MediaName(S, boot, 30),  // served from the ring
		proto.MediaName(S, boot, 41),  // held: the next packet
		proto.MediaName(S, boot, 5),   // evicted: gone
		proto.MediaName(S, boot-1, 7), // an older boot: gone
		proto.MediaName(S, boot+1, 7), // a newer boot: ignored, still an Interest for the stream
	} {
		pub.onInterest(args(name))
	}
	if got := n.Load(); got != 6 {
		t.Errorf("OnInterest called %d times, want 6", got)
	}
	pub.onInterest(args(S.Append(enc.NewGenericComponent("foo"))))
	if got := n.Load(); got != 6 {
		t.Errorf("a malformed Interest called OnInterest (%d calls)", got)
	}
}
