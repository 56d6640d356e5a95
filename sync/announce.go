package roomsync

import (
	"encoding/binary"
	"math/rand/v2"
	"runtime/debug"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	"github.com/named-data/ndnd/std/types/optional"
	"github.com/named-data/ndnd/std/utils"

	"github.com/peets/peets/proto"
)

// Sync Interests: how the group hears state vectors and sends its own.

const (
	// syncLifetime is the lifetime of a sync Interest (SVS v3: 1 s).
	syncLifetime = time.Second
	// upDelay is the wait after a reconnect before announcing again.
	upDelay = 100 * time.Millisecond
	// maxPendingVectors bounds the vectors waiting for the run goroutine:
	// a flood of sync Interests is dropped (and counted), never queued.
	maxPendingVectors = 64
)

// Events the engine's callbacks post to run.
type (
	vectorEv    struct{ sv proto.StateVector }
	publishedEv struct{ seq uint64 }
	upEv        struct{}
)

// onSyncInterest takes a sync Interest G/v=3/<digest> (engine goroutine):
// its Data is checked and decoded by proto.DecodeSyncData, which no input
// can make panic or allocate beyond the packet's size; the vector goes to
// run. Nothing here trusts the vector: run takes it as hints.
func (g *Group) onSyncInterest(a ndn.InterestHandlerArgs) {
	defer g.recoverPacket("sync Interest", a.Interest.Name())
	g.stats.syncRecv.Add(1)
	name := a.Interest.Name()
	params := a.Interest.AppParam()
	if len(name) != len(g.syncPrefix)+1 || params == nil {
		g.rejectVector(name, "not G/v=3/<digest> with parameters")
		return
	}
	if params.Length() > ndn.MaxNDNPacketSize {
		g.rejectVector(name, "parameters too large")
		return
	}
	sd, err := proto.DecodeSyncData(params.Join(), g.cfg.Group)
	if err != nil {
		g.rejectVector(name, err.Error())
		return
	}
	if !g.inbox.postBounded(vectorEv{sv: sd.Vector}, maxPendingVectors) {
		g.stats.reject(ReasonOverload)
	}
}

func (g *Group) rejectVector(name enc.Name, why string) {
	g.stats.reject(ReasonBadVector)
	g.badLog.Warn(g.log, "sync Interest dropped", "name", name, "err", why,
		"total", g.stats.rejectedFor(ReasonBadVector))
}

// recoverPacket is the last line of defence of a handler or callback that
// takes a packet from the network: a panic ends that packet, not the
// process. It is counted and logged (rate-limited) with its stack.
func (g *Group) recoverPacket(what string, name enc.Name) {
	if r := recover(); r != nil {
		g.stats.panics.Add(1)
		g.panLog.Warn(g.log, "recovered a panic while handling a packet", "what", what, "name", name,
			"panic", r, "stack", string(debug.Stack()), "total", g.stats.panics.Load())
	}
}

// onVector handles a received state vector (run goroutine): its entries
// newer than the verified positions are fetched; the timers follow SVS.
func (g *Group) onVector(sv proto.StateVector) {
	now := time.Now()
	hints, verdict := g.vec.receive(sv, now)
	if verdict.futureBoot {
		g.stats.reject(ReasonFutureBoot)
		g.badLog.Warn(g.log, "state vector with a boot more than a day ahead dropped")
		return
	}
	if verdict.ownClaim {
		g.stats.reject(ReasonOwnEntry)
		g.badLog.Warn(g.log, "a state vector claims this member's own entry ahead of it: ignored "+
			"(forged, or another proxy runs as this participant: same user and prefix on another machine)",
			"self", g.cfg.Self, "boot", g.boot, "total", g.stats.rejectedFor(ReasonOwnEntry))
	}
	for _, h := range hints {
		g.stats.updates.Add(1)
		g.onHint(h)
	}
}

// sendSync sends one sync Interest with the current vector (run goroutine).
func (g *Group) sendSync(now time.Time) {
	var nonce [8]byte
	binary.BigEndian.PutUint64(nonce[:], rand.Uint64())
	data := proto.EncodeSyncData(g.cfg.Group, g.vec.vector(now), nonce)
	name := g.syncPrefix.Clone()
	intr, err := g.e.Spec().MakeInterest(name[:len(name):len(name)], &ndn.InterestConfig{
		Lifetime: optional.Some(syncLifetime),
		Nonce:    utils.ConvertNonce(g.e.Timer().Nonce()),
	}, enc.Wire{data}, nil)
	if err != nil {
		g.log.Warn("sync Interest not made", "err", err)
		return
	}
	// No answer is expected (SVS): no callback.
	if err := g.e.Express(intr, nil); err != nil {
		g.log.Debug("sync Interest not sent", "err", err)
		return
	}
	g.stats.syncSent.Add(1)
}
