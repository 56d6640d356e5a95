package media

import (
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/types/optional"

	"github.com/peets/peets/proto"
)

// onInterest handles every Interest under the stream prefix. It runs on the
// engine goroutine: it answers from the ring, holds, or hands the answer to
// the producer's worker when it has to be signed.
func (p *Publisher) onInterest(args ndn.InterestHandlerArgs) {
	defer recovered(&p.producer.panics, &p.producer.warn, p.log, "media interest", nil)
	name := args.Interest.Name()
	sn, err := proto.ParseMediaName(p.prefix, name)
	if err != nil {
		p.counters.malformed.Add(1)
		return
	}
	if p.interestHook != nil && (sn.Kind == proto.KindMeta || sn.Kind == proto.KindMedia) {
		p.interestHook()
	}
	switch sn.Kind {
	case proto.KindMeta:
		if len(name) != len(p.prefix)+1 {
			// A Data name of ours, asked for exactly: it changes with every
			// packet, so it is not something to ask for.
			p.counters.malformed.Add(1)
			return
		}
		reply := args.Reply
		if !p.producer.post(func() { p.answerMeta(reply) }) {
			p.counters.controlDrops.Add(1)
		}
	case proto.KindMedia:
		p.onMediaInterest(sn, name, args)
	}
}

func (p *Publisher) onMediaInterest(sn proto.StreamName, name enc.Name, args ndn.InterestHandlerArgs) {
	if sn.Boot != p.boot {
		p.counters.staleBoot.Add(1)
		if sn.Boot < p.boot {
			p.postGone(name, args.Reply)
		}
		return
	}
	if p.testDrop != nil && p.testDrop(sn.Seq) {
		p.counters.dropped.Add(1)
		return
	}

	p.mu.Lock()
	if e, ok := p.ring.get(sn.Seq); ok {
		p.mu.Unlock()
		p.counters.servedRing.Add(1)
		p.sendMedia(args.Reply, e.buf)
		return
	}
	switch {
	case sn.Seq <= p.latest: // evicted (or seq 0, never valid)
		p.mu.Unlock()
		p.counters.tooOld.Add(1)
		p.postGone(name, args.Reply)
		return
	case sn.Seq > p.latest+p.horizon:
		p.mu.Unlock()
		p.counters.beyondHorizon.Add(1)
		return
	}
	if p.heldCount >= p.maxHeld {
		p.sweepLocked(time.Now())
	}
	if p.heldCount >= p.maxHeld {
		p.mu.Unlock()
		p.counters.heldDropped.Add(1)
		return
	}
	p.held[sn.Seq] = append(p.held[sn.Seq], heldInterest{reply: args.Reply, deadline: args.Deadline})
	p.heldCount++
	p.mu.Unlock()
	p.counters.held.Add(1)
}

func (p *Publisher) postGone(name enc.Name, reply ndn.WireReplyFunc) {
	name = name.Clone()
	if !p.producer.post(func() { p.answerGone(name, reply) }) {
		p.counters.controlDrops.Add(1)
	}
}

// answerMeta runs on the worker: it answers a metadata Interest with
// S/32=meta/t=<boot>/v=<latest>, reusing the signed Data while latest has
// not moved.
func (p *Publisher) answerMeta(reply ndn.WireReplyFunc) {
	p.mu.Lock()
	m := p.metaLocked()
	wire := p.metaWire
	if p.metaLatest != m.Latest {
		wire = nil
	}
	p.mu.Unlock()
	if wire == nil {
		var err error
		wire, err = p.makeControl(proto.MetaDataName(p.prefix, m.Boot, m.Latest), ndn.ContentTypeBlob, p.metaFreshness, m.Encode())
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.latest == m.Latest {
			p.metaWire, p.metaLatest = wire, m.Latest
		}
		p.mu.Unlock()
	}
	p.counters.metaServed.Add(1)
	p.send(reply, wire)
}

// answerGone runs on the worker: it answers an Interest for a seq that will
// never be served (evicted, or of an older boot) with a Nack-typed Data of
// that name carrying the current metadata, so the fetcher moves on at once
// instead of waiting for a timeout.
func (p *Publisher) answerGone(name enc.Name, reply ndn.WireReplyFunc) {
	m := p.Meta()
	wire, err := p.makeControl(name, ndn.ContentTypeNack, 0, m.Encode())
	if err != nil {
		return
	}
	p.counters.goneSent.Add(1)
	p.send(reply, wire)
}

// answerPLI runs on the worker: it acknowledges a keyframe request with a
// Data (freshness 0, content: metadata) and calls OnKeyframeRequest unless
// one was called, or a keyframe was published, within KeyframeInterval.
func (p *Publisher) answerPLI(req proto.PLIRequest, name enc.Name, reply ndn.WireReplyFunc) {
	now := time.Now()
	p.mu.Lock()
	m := p.metaLocked()
	keyTime := p.keyTime
	p.mu.Unlock()

	trigger := p.onKeyframe != nil
	switch {
	case now.Sub(p.lastKeyReq) < p.keyInterval:
		trigger = false
	case req.Boot == m.Boot && m.KeySeq > req.KnownKey && now.Sub(keyTime) < p.keyInterval:
		// A keyframe newer than the requester's is on its way.
		trigger = false
	}
	if wire, err := p.makeControl(name, ndn.ContentTypeBlob, 0, m.Encode()); err == nil {
		p.send(reply, wire)
	}
	if !trigger {
		p.counters.pliSuppressed.Add(1)
		p.log.Debug("keyframe request suppressed", "stream", p.stream, "known", req.KnownKey, "key", m.KeySeq, "key_age", now.Sub(keyTime))
		return
	}
	p.log.Debug("keyframe request", "stream", p.stream, "known", req.KnownKey, "key", m.KeySeq)
	p.lastKeyReq = now
	p.counters.keyframeRequests.Add(1)
	p.onKeyframe()
}

func (p *Publisher) makeControl(name enc.Name, ct ndn.ContentType, fresh time.Duration, content []byte) ([]byte, error) {
	d, err := spec.Spec{}.MakeData(name, &ndn.DataConfig{
		ContentType: optional.Some(ct),
		Freshness:   optional.Some(fresh),
	}, enc.Wire{content}, p.signer)
	if err != nil {
		p.counters.signErrors.Add(1)
		p.log.Warn("sign control data", "name", name.String(), "err", err)
		return nil, err
	}
	return d.Wire.Join(), nil
}
