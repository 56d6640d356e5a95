package media

import (
	"sync"
	"sync/atomic"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
)

// fakeEngine is an ndn.Engine without a network, for unit tests, fuzzing
// and benchmarks: handlers are recorded, Express only counts. Other
// methods panic (nil embedded interface).
type fakeEngine struct {
	ndn.Engine
	mu       sync.Mutex
	handlers map[string]ndn.InterestHandler
	express  atomic.Uint64
}

func newFakeEngine() *fakeEngine { return &fakeEngine{handlers: map[string]ndn.InterestHandler{}} }

func (e *fakeEngine) Spec() ndn.Spec { return spec.Spec{} }

func (e *fakeEngine) AttachHandler(prefix enc.Name, h ndn.InterestHandler) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.handlers[prefix.String()] = h
	return nil
}

func (e *fakeEngine) DetachHandler(prefix enc.Name) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.handlers, prefix.String())
	return nil
}

func (e *fakeEngine) Express(*ndn.EncodedInterest, ndn.ExpressCallbackFunc) error {
	e.express.Add(1)
	return nil
}

// fakeInterest is an ndn.Interest with only a name.
type fakeInterest struct {
	ndn.Interest
	name enc.Name
}

func (i fakeInterest) Name() enc.Name { return i.name }

// acceptAll is a Verifier that accepts everything (or rejects, if bad).
type acceptAll struct{ bad bool }

func (a acceptAll) Verify(_ enc.Name, _ ndn.Data, _ enc.Wire, cb func(error)) {
	if a.bad {
		cb(ErrVerification)
		return
	}
	cb(nil)
}
