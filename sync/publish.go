package roomsync

import (
	"fmt"
	gosync "sync"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"

	"github.com/peets/peets/proto"
)

// keepUnordered is how many own unordered publications stay served: only
// the newest matters, the one before covers a fetch racing a new heartbeat.
const keepUnordered = 2

// outbox holds the own publications still served.
type outbox struct {
	mu      gosync.Mutex
	seq     uint64              // newest own seq: only Publish moves it
	prevOrd uint64              // seq of the newest ordered publication
	soft    uint64              // seq of the newest unordered publication
	wires   map[uint64]enc.Wire // seq -> Data wire
	unord   []uint64            // kept unordered seqs, oldest first
	ord     []uint64            // kept ordered seqs, oldest first
	keep    int
}

func (o *outbox) init(keep int) {
	o.wires = make(map[uint64]enc.Wire)
	o.keep = keep
}

// get returns the publication seq if it is still served, and the newest
// own seq.
func (o *outbox) get(seq uint64) (enc.Wire, uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.wires[seq], o.seq
}

// add stores a publication (o.mu held).
func (o *outbox) add(seq uint64, ordered bool, wire enc.Wire) {
	o.wires[seq] = wire
	list, limit := &o.unord, keepUnordered
	if ordered {
		list, limit = &o.ord, o.keep
		o.prevOrd = seq
	} else {
		o.soft = seq
	}
	*list = append(*list, seq)
	for len(*list) > limit {
		delete(o.wires, (*list)[0])
		*list = (*list)[1:]
	}
}

// Publish signs and publishes one publication of kind with the JSON object
// body, and announces it to the group at once. Ordered publications are
// delivered to every member, in order; unordered ones are soft state, of
// which members fetch only the newest. It returns the publication's seq.
func (g *Group) Publish(kind string, ordered bool, body []byte) (uint64, error) {
	if g.cfg.Self == nil {
		return 0, ErrObserver
	}
	select {
	case <-g.done:
		return 0, ErrClosed
	default:
	}
	fresh := g.cfg.Freshness
	if ordered {
		fresh = g.cfg.OrderedFreshness
	}
	g.out.mu.Lock()
	defer g.out.mu.Unlock()
	// The seq is ours alone: what the group announces about our name
	// never moves it (vectorState ignores such claims).
	seq := g.out.seq + 1
	p := proto.Publication{
		V:    proto.PubVersion,
		Kind: kind,
		Boot: g.boot,
		Seq:  seq,
		Time: time.Now().UnixMilli(),
		Ord:  ordered,
		Prev: g.out.prevOrd,
		Soft: g.out.soft,
		Body: body,
	}
	content, err := p.Encode()
	if err != nil {
		return 0, err
	}
	name := proto.SyncPubName(g.cfg.Self, g.boot, seq)
	data, err := spec.Spec{}.MakeData(name, &ndn.DataConfig{
		ContentType: optional.Some(ndn.ContentTypeBlob),
		Freshness:   optional.Some(fresh),
	}, enc.Wire{content}, g.cfg.Signer)
	if err != nil {
		return 0, fmt.Errorf("roomsync: make data: %w", err)
	}
	g.out.seq = seq
	g.out.add(seq, ordered, data.Wire)
	g.stats.published.Add(1)
	g.inbox.post(publishedEv{seq: seq})
	return seq, nil
}

// nackSigner signs "not here" answers: receivers take them as a hint only.
var nackSigner = signer.NewSha256Signer()

// onInterest serves own publications (on the engine goroutine: no blocking).
func (g *Group) onInterest(a ndn.InterestHandlerArgs) {
	name := a.Interest.Name()
	defer g.recoverPacket("publication Interest", name)
	boot, seq, err := proto.ParseSyncPubName(g.cfg.Self, name)
	if err != nil {
		return
	}
	var newest uint64
	if boot == g.boot {
		w, n := g.out.get(seq)
		if w != nil {
			g.stats.served.Add(1)
			_ = a.Reply(w)
			return
		}
		if seq < n {
			newest = n // superseded: name the newest
		}
	}
	// Not held (another boot, too old, or never published): say so, with a
	// Data that caches for no time.
	data, err := spec.Spec{}.MakeData(name, &ndn.DataConfig{
		ContentType: optional.Some(ndn.ContentTypeNack),
		Freshness:   optional.Some(time.Duration(0)),
	}, enc.Wire{proto.EncodeSyncNack(newest)}, nackSigner)
	if err == nil {
		g.stats.servedNack.Add(1)
		_ = a.Reply(data.Wire)
	}
}
