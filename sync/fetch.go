package roomsync

import (
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	"github.com/named-data/ndnd/std/types/optional"
	"github.com/named-data/ndnd/std/utils"

	"github.com/peets/peets/proto"
)

// Fetch policy.
const (
	maxLatestTries = 2 // the newest unordered publication: one retry
	maxChainTries  = 3 // a link of the ordered chain
	prefetchWindow = 8 // seqs below a missing link fetched along with it
	maxBootsKept   = 3 // verified boot + unverified newer candidates
	noRouteDelay   = 200 * time.Millisecond
	// maxCandidatePeers bounds the names announced but not verified yet.
	// A name that was never verified is forgotten when its fetches fail.
	maxCandidatePeers = 64
	// maxFailedClaims bounds the claims remembered as failed (first in,
	// first out), so a forged entry repeated in every vector is fetched
	// once, not once per vector.
	maxFailedClaims = 4096
)

type purpose uint8

const (
	forLatest   purpose = iota + 1 // newest announced seq
	forSoft                        // newest unordered seq named by a verified publication
	forChain                       // a missing link of the ordered chain
	forPrefetch                    // speculative, below a missing link
)

// peer is one publisher of the group, as the run goroutine tracks it: the
// boots being fetched. Its verified position (boot, seq) is the state
// vector's (vectorState.position): only a verified publication moves it.
type peer struct {
	name  enc.Name
	boots map[uint64]*bootState // the verified boot and newer unverified candidates
}

// bootState is one boot of a peer.
type bootState struct {
	boot      uint64
	claim     uint64 // newest seq announced and not known to fail, 0 = none
	lastUnord uint64 // newest delivered unordered seq
	latest    uint64 // latest fetch in flight, 0 = none
	inflight  map[uint64]purpose
	tries     map[uint64]int
	chain     *chain
}

type resultEv struct {
	key       string
	boot, seq uint64
	content   []byte // verified content, when reason == ""
	reason    string // why it failed
	newest    uint64 // a Nack's hint: the publisher's newest seq of this boot
}

type retryEv struct {
	key       string
	boot, seq uint64
}

// failedClaims remembers (peer, boot, seq) claims whose fetch failed.
type failedClaims struct {
	set   map[claim]struct{}
	order []claim
	max   int
}

type claim struct {
	key       string
	boot, seq uint64
}

func (f *failedClaims) init(n int) {
	f.set = make(map[claim]struct{}, n)
	f.max = n
}

func (f *failedClaims) add(c claim) {
	if _, ok := f.set[c]; ok {
		return
	}
	if len(f.order) >= f.max {
		delete(f.set, f.order[0])
		f.order = f.order[1:]
	}
	f.set[c] = struct{}{}
	f.order = append(f.order, c)
}

func (f *failedClaims) has(c claim) bool {
	_, ok := f.set[c]
	return ok
}

// verifiedSeq is the newest verified seq of bs, 0 if bs is not the
// peer's verified boot.
func (g *Group) verifiedSeq(key string, bs *bootState) uint64 {
	if boot, seq, ok := g.vec.position(key); ok && boot == bs.boot {
		return seq
	}
	return 0
}

// onHint handles a vector entry newer than the verified position: one
// claim, fetched if it is news. What the claim says changes nothing until
// the fetched publication verifies.
func (g *Group) onHint(h hint) {
	curBoot, curSeq, verified := g.vec.position(h.key)
	if verified && h.boot < curBoot {
		return // an older incarnation: never fetched again
	}
	if g.failed.has(claim{h.key, h.boot, h.seq}) {
		return
	}
	p := g.peers[h.key]
	if p == nil {
		if g.cfg.AcceptPeer != nil && !g.cfg.AcceptPeer(h.name) {
			g.stats.reject(ReasonBadPeer)
			return
		}
		if g.stats.candidates.Load() >= maxCandidatePeers {
			g.stats.reject(ReasonTooManyPeers)
			return
		}
		p = &peer{name: h.name.Clone(), boots: make(map[uint64]*bootState)}
		g.peers[h.key] = p
		g.stats.candidates.Add(1)
	}
	bs := p.boots[h.boot]
	if bs == nil {
		if len(p.boots) >= maxBootsKept && !p.evictCandidate(curBoot, verified) {
			g.stats.reject(ReasonTooManyBoots)
			g.dropIfEmpty(h.key, p)
			return
		}
		bs = &bootState{
			boot:     h.boot,
			inflight: make(map[uint64]purpose),
			tries:    make(map[uint64]int),
		}
		p.boots[h.boot] = bs
	}
	if verified && h.boot == curBoot && h.seq <= curSeq {
		return
	}
	bs.claim = max(bs.claim, h.seq)
	g.pumpLatest(h.key, p, bs)
}

// evictCandidate makes room for a new boot: it drops an unverified boot
// with nothing in flight (the oldest), never the verified one, nor one
// whose fetch may still verify.
func (p *peer) evictCandidate(curBoot uint64, verified bool) bool {
	var victim *bootState
	for _, bs := range p.boots {
		if (verified && bs.boot == curBoot) || len(bs.inflight) > 0 {
			continue
		}
		if victim == nil || bs.boot < victim.boot {
			victim = bs
		}
	}
	if victim == nil {
		return false
	}
	delete(p.boots, victim.boot)
	return true
}

// dropIfEmpty forgets a peer that was never verified and has no boot left
// to fetch.
func (g *Group) dropIfEmpty(key string, p *peer) {
	if _, _, ok := g.vec.position(key); ok || len(p.boots) > 0 {
		return
	}
	delete(g.peers, key)
	g.stats.candidates.Add(-1)
}

// pumpLatest fetches the newest claim if it is news.
func (g *Group) pumpLatest(key string, p *peer, bs *bootState) {
	if bs.latest != 0 || bs.claim <= g.verifiedSeq(key, bs) {
		return
	}
	bs.latest = bs.claim
	g.fetch(key, p, bs, bs.claim, forLatest)
}

// fetch expresses an Interest for seq of bs (run goroutine).
func (g *Group) fetch(key string, p *peer, bs *bootState, seq uint64, why purpose) {
	if cur, ok := bs.inflight[seq]; ok {
		if why < cur {
			bs.inflight[seq] = why // upgrade a prefetch to a required fetch
		}
		return
	}
	bs.inflight[seq] = why
	bs.tries[seq]++
	g.stats.fetches.Add(1)
	if why == forPrefetch {
		g.stats.prefetches.Add(1)
	}
	g.stats.outstanding.Add(1)

	name := proto.SyncPubName(p.name, bs.boot, seq)
	boot := bs.boot
	done := func(content []byte, reason string) {
		g.inbox.post(resultEv{key: key, boot: boot, seq: seq, content: content, reason: reason})
	}
	intr, err := g.e.Spec().MakeInterest(name, &ndn.InterestConfig{
		MustBeFresh: true,
		Lifetime:    optional.Some(g.cfg.FetchLifetime),
		Nonce:       utils.ConvertNonce(g.e.Timer().Nonce()),
	}, nil, nil)
	if err != nil {
		done(nil, ReasonNoRoute)
		return
	}
	owner := p.name
	err = g.e.Express(intr, func(a ndn.ExpressCallbackArgs) {
		defer g.recoverPacket("publication", name)
		switch a.Result {
		case ndn.InterestResultData:
		case ndn.InterestResultTimeout:
			done(nil, ReasonTimeout)
			return
		default:
			done(nil, ReasonNoRoute)
			return
		}
		d := a.Data
		if !d.Name().Equal(name) {
			done(nil, ReasonBadName)
			return
		}
		if ct, ok := d.ContentType().Get(); ok && ct == ndn.ContentTypeNack {
			// Unsigned: a hint, as the vector is.
			g.inbox.post(resultEv{key: key, boot: boot, seq: seq, reason: ReasonMissing,
				newest: proto.DecodeSyncNack(d.Content().Join())})
			return
		}
		if d.Content().Length() > proto.MaxPubSize {
			done(nil, ReasonTooLarge)
			return
		}
		content := d.Content().Join()
		g.cfg.Verifier.Verify(owner, d, a.SigCovered, func(err error) {
			if err != nil {
				g.badLog.Warn(g.log, "publication failed verification", "name", name, "err", err)
				done(nil, verifyReason(err))
				return
			}
			done(content, "")
		})
	})
	if err != nil {
		done(nil, ReasonNoRoute)
	}
}

// inflight finds the fetch of seq of a peer's boot, if it is still in
// flight (the peer or boot may have been dropped since it was sent).
func (g *Group) inflight(key string, boot, seq uint64) (*peer, *bootState, purpose, bool) {
	p := g.peers[key]
	if p == nil {
		return nil, nil, 0, false
	}
	bs := p.boots[boot]
	if bs == nil {
		return nil, nil, 0, false
	}
	why, ok := bs.inflight[seq]
	return p, bs, why, ok
}

// onRetry re-expresses a fetch after a delay.
func (g *Group) onRetry(r retryEv) {
	p, bs, why, ok := g.inflight(r.key, r.boot, r.seq)
	if !ok {
		return
	}
	delete(bs.inflight, r.seq)
	g.fetch(r.key, p, bs, r.seq, why)
}

// onResult handles the outcome of a fetch.
func (g *Group) onResult(r resultEv) {
	p, bs, why, ok := g.inflight(r.key, r.boot, r.seq)
	if !ok {
		return
	}
	if r.reason != "" {
		g.onFailure(r, p, bs, why)
		return
	}
	pub, err := proto.DecodePublication(r.content)
	if err == nil && (pub.Boot != r.boot || pub.Seq != r.seq) {
		g.stats.reject(ReasonMismatch)
		g.giveUp(r.key, p, bs, r.seq, why)
		return
	}
	if err != nil {
		r.reason = decodeReason(err)
		g.onFailure(r, p, bs, why)
		return
	}
	delete(bs.inflight, r.seq)
	delete(bs.tries, r.seq)
	if why == forLatest {
		bs.latest = 0
	}
	g.stats.verified.Add(1)

	curBoot, _, verified := g.vec.position(r.key)
	switch {
	case verified && bs.boot < curBoot:
		delete(p.boots, bs.boot)
		g.stats.reject(ReasonOldBoot)
		return
	case !verified && g.stats.peers.Load() >= int64(g.cfg.MaxPeers):
		g.stats.reject(ReasonTooManyPeers)
		delete(g.peers, r.key)
		g.stats.candidates.Add(-1)
		return
	case !verified || bs.boot > curBoot:
		// The peer's first verified publication, or a newer boot of it:
		// its older boots are over.
		for b := range p.boots {
			if b < bs.boot {
				delete(p.boots, b)
			}
		}
		if !verified {
			g.stats.candidates.Add(-1)
			g.stats.peers.Add(1)
		}
	}
	g.vec.learn(p.name, r.key, bs.boot, r.seq, time.Now())

	in := Pub{
		Publisher: p.name,
		Boot:      r.boot,
		Seq:       r.seq,
		Kind:      pub.Kind,
		Ordered:   pub.Ord,
		Sent:      time.UnixMilli(pub.Time),
		Received:  time.Now(),
		Body:      pub.Body,
	}
	if !pub.Ord && r.seq > bs.lastUnord {
		bs.lastUnord = r.seq
		g.deliver(in)
	}
	if bs.chain == nil {
		bs.chain = newChain(g.cfg.History)
	}
	if !bs.chain.add(r.seq, pub.Prev, pub.Ord, in) {
		g.stats.reject(ReasonLost)
	}
	// The newest publication may be a chat: its "soft" names the newest
	// heartbeat, which a late joiner needs.
	if pub.Soft > bs.lastUnord {
		g.fetch(r.key, p, bs, pub.Soft, forSoft)
	}
	g.advance(r.key, p, bs)
	g.pumpLatest(r.key, p, bs)
}

// onFailure handles a fetch that failed with r.reason.
func (g *Group) onFailure(r resultEv, p *peer, bs *bootState, why purpose) {
	if (why == forLatest || why == forSoft) && r.newest > r.seq {
		// A heartbeat superseded before we asked (the publisher keeps only
		// its newest two): no fault; the newest is worth a fetch.
		g.stats.superseded.Add(1)
		g.giveUp(r.key, p, bs, r.seq, why)
		g.onHint(hint{name: p.name, key: r.key, boot: r.boot, seq: r.newest})
		return
	}
	if why == forPrefetch {
		// Gaps in a seq space are normal (forged bumps); nothing to count.
		delete(bs.inflight, r.seq)
		delete(bs.tries, r.seq)
		return
	}
	g.stats.reject(r.reason)
	limit := maxChainTries
	if why == forLatest || why == forSoft {
		limit = maxLatestTries
	}
	retryable := r.reason == ReasonTimeout || r.reason == ReasonNoRoute
	if retryable && bs.tries[r.seq] < limit && (why != forLatest || r.seq == bs.claim) {
		delay := time.Duration(0)
		if r.reason == ReasonNoRoute {
			delay = noRouteDelay
		}
		ev := retryEv{key: r.key, boot: r.boot, seq: r.seq}
		if delay == 0 {
			g.onRetry(ev)
		} else {
			time.AfterFunc(delay, func() { g.inbox.post(ev) })
		}
		return
	}
	g.giveUp(r.key, p, bs, r.seq, why)
}

// giveUp forgets a failed fetch of seq.
func (g *Group) giveUp(key string, p *peer, bs *bootState, seq uint64, why purpose) {
	delete(bs.inflight, seq)
	delete(bs.tries, seq)
	switch why {
	case forLatest:
		bs.latest = 0
		g.failed.add(claim{key, bs.boot, seq})
		if bs.claim == seq {
			bs.claim = 0
		}
		if g.verifiedSeq(key, bs) == 0 && len(bs.inflight) == 0 {
			// an unverified boot whose claim failed: forget it
			delete(p.boots, bs.boot)
			g.dropIfEmpty(key, p)
			return
		}
	case forChain:
		if bs.chain != nil && bs.chain.skip(seq) {
			g.stats.reject(ReasonLost)
		}
	}
	// seq may also have been a link the chain waits for (a fetch has one
	// purpose at a time): let it ask again.
	g.advance(key, p, bs)
	g.pumpLatest(key, p, bs)
}

// advance delivers the ordered publications that are ready and fetches the
// missing links, with a few seqs below each.
func (g *Group) advance(key string, p *peer, bs *bootState) {
	if bs.chain == nil {
		return
	}
	out, need := bs.chain.resolve()
	for _, pub := range out {
		g.deliver(pub)
	}
	for _, q := range need {
		g.fetch(key, p, bs, q, forChain)
		floor := bs.chain.done
		for s := q - 1; s > floor && s+prefetchWindow > q; s-- {
			if _, busy := bs.inflight[s]; !busy && !bs.chain.known(s) {
				g.fetch(key, p, bs, s, forPrefetch)
			}
		}
	}
}

func (g *Group) deliver(pub Pub) {
	g.stats.delivered.Add(1)
	g.cfg.OnPub(pub)
}
