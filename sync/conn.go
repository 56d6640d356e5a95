package roomsync

import (
	"context"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
)

// Conn is what a group needs of a forwarder connection. The daemon's
// forwarder.Conn implements it; so does synctest.Conn.
//
// Register and SetStrategy are remembered by the connection and re-applied
// after a reconnect, and retried in the background when the forwarder
// refused them or did not answer; so Join goes on when they fail (it warns).
// A group calls them (and Unregister) from the caller's goroutine, never
// from the engine's.
type Conn interface {
	Engine() ndn.Engine
	Register(ctx context.Context, prefix enc.Name) error
	Unregister(ctx context.Context, prefix enc.Name) error
	SetStrategy(ctx context.Context, prefix, strategy enc.Name) error
}

// Verifier checks that data is signed by the key of owner (the publishing
// participant's prefix). cb may run before Verify returns or later on another
// goroutine (the engine's), exactly once. *sec.Verifier implements it.
type Verifier interface {
	Verify(owner enc.Name, data ndn.Data, covered enc.Wire, cb func(error))
}

// MulticastStrategy is the forwarding strategy a sync group prefix needs.
var MulticastStrategy = enc.Name{
	enc.NewGenericComponent("localhost"),
	enc.NewGenericComponent("nfd"),
	enc.NewGenericComponent("strategy"),
	enc.NewGenericComponent("multicast"),
}
