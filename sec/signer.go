package sec

import (
	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
)

// NoKeyLocator wraps s so that the Data it signs carry no KeyLocator. Media
// packets use it: their name already says whose key signed them (the
// participant's, pinned from <participant>/KEY), and the KeyLocator would
// add ~50 bytes to every packet.
func NoKeyLocator(s ndn.Signer) ndn.Signer { return noKL{s} }

type noKL struct{ ndn.Signer }

func (noKL) KeyLocator() enc.Name { return nil }

// EstimateSize is the signer's, less nothing: the estimate only needs to be
// an upper bound.
func (s noKL) EstimateSize() uint { return s.Signer.EstimateSize() }
