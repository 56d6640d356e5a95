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

	corks          atomic.Int32  // the fake face's cork depth
	expressCorked  atomic.Uint64 // Express calls while corked
	expressOpen    atomic.Uint64 // Express calls while not corked
	uncorksToFlush atomic.Uint64 // uncorks down to depth 0

	// onExpress, if set, gets every expressed Interest and its callback
	// (a simulated network).
	onExpress func(*ndn.EncodedInterest, ndn.ExpressCallbackFunc)
}

// Face returns a face that can only cork (see corker).
func (e *fakeEngine) Face() ndn.Face { return fakeFace{e: e} }

// fakeFace is the fake engine's face: Cork is its only method.
type fakeFace struct {
	ndn.Face
	e *fakeEngine
}

func (f fakeFace) Cork() func() {
	f.e.corks.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			if f.e.corks.Add(-1) == 0 {
				f.e.uncorksToFlush.Add(1)
			}
		})
	}
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

func (e *fakeEngine) Express(i *ndn.EncodedInterest, cb ndn.ExpressCallbackFunc) error {
	e.express.Add(1)
	if e.corks.Load() > 0 {
		e.expressCorked.Add(1)
	} else {
		e.expressOpen.Add(1)
	}
	if e.onExpress != nil {
		e.onExpress(i, cb)
	}
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
