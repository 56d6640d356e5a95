package roomsync

import (
	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
)

// svsClient is the ndn.Client SvSync runs on: an (unstarted) object client
// whose engine counts sync Interests. Sync Data are signed with a digest only
// (no trust config): the vector is never trusted anyway.
type svsClient struct {
	ndn.Client
	eng ndn.Engine
}

func (c *svsClient) Engine() ndn.Engine { return c.eng }

// countingEngine counts the Interests SvSync expresses and receives. It also
// hands SvSync a Spec that caps the capacity of Interest names: SvSync
// (v1.5.3) builds every sync Interest from one shared prefix slice, and
// MakeInterest appends the parameters digest in place, so concurrent sends
// raced on the shared array.
type countingEngine struct {
	ndn.Engine
	sent, recv interface{ Add(uint64) uint64 }
}

func (e *countingEngine) Express(i *ndn.EncodedInterest, cb ndn.ExpressCallbackFunc) error {
	e.sent.Add(1)
	return e.Engine.Express(i, cb)
}

func (e *countingEngine) Spec() ndn.Spec { return cappedSpec{e.Engine.Spec()} }

type cappedSpec struct{ ndn.Spec }

func (s cappedSpec) MakeInterest(name enc.Name, cfg *ndn.InterestConfig, appParam enc.Wire, signer ndn.Signer) (*ndn.EncodedInterest, error) {
	return s.Spec.MakeInterest(name[:len(name):len(name)], cfg, appParam, signer)
}

func (e *countingEngine) AttachHandler(prefix enc.Name, h ndn.InterestHandler) error {
	return e.Engine.AttachHandler(prefix, func(a ndn.InterestHandlerArgs) {
		e.recv.Add(1)
		h(a)
	})
}
