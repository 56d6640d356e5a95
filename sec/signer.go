package sec

import (
	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
)

// NoKeyLocator wraps s so that the Data it signs carry no KeyLocator. Peets
// itself names the key in every Data it signs (so stock NDN verifiers can
// check them), but a receiver still accepts a Data under P without one,
// checking it with P's key (docs/protocol.md 3): tests sign such Data with
// it.
func NoKeyLocator(s ndn.Signer) ndn.Signer { return noKL{s} }

type noKL struct{ ndn.Signer }

func (noKL) KeyLocator() enc.Name { return nil }

// EstimateSize is the signer's, less nothing: the estimate only needs to be
// an upper bound.
func (s noKL) EstimateSize() uint { return s.Signer.EstimateSize() }
