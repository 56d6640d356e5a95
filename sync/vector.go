package roomsync

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/peets/peets/proto"
)

// vectorState is this member's side of State Vector Sync v3: the state
// vector it announces, and when to send it (steady and suppression states).
// It is pure: the group's run goroutine owns it and drives it with explicit
// times, so its decisions are tested against simulated inputs.
//
// Unlike SVS as specified, a received vector never changes the state
// directly. Anyone in the group can send any vector, so a received entry is
// only a hint of what to fetch (receive returns the hints); the state moves
// when a publication fetched under it verifies (learn). Hence:
//   - nobody but this member moves its own entry (a claim about it is
//     ignored, and counted);
//   - the vector it sends holds only positions it verified, so what
//     strangers announce is never carried on, and its size is bounded by
//     the members who proved their keys (and by budget bytes);
//   - positions not updated for idle are dropped (members who left).
type vectorState struct {
	self     enc.Name // nil for an observer
	selfKey  string
	boot     uint64
	own      uint64 // own newest seq
	verified map[string]*position

	periodic, suppression time.Duration
	budget                int           // bytes of entries in a sent vector
	idle                  time.Duration // verified positions kept without news
	rng                   *rand.Rand

	suppress bool
	merged   map[string]proto.SVBoot // suppression state: newest heard per peer (one boot)
	deadline time.Time
}

// position is a verified (boot, seq) of a peer.
type position struct {
	name      enc.Name
	boot, seq uint64
	updated   time.Time // when it last moved
}

// hint is a vector entry newer than what is verified: worth a fetch.
type hint struct {
	name      enc.Name
	key       string
	boot, seq uint64
}

// vectorVerdict is what receive found in a vector besides hints.
type vectorVerdict struct {
	futureBoot bool // dropped whole: a boot more than a day ahead (SVS v3)
	ownClaim   bool // an entry claimed this member's name ahead of it
}

// maxFutureBoot is how far ahead of the clock a boot may be (SVS v3: a
// vector with a BootstrapTime more than 86400 s in the future is ignored).
const maxFutureBoot = 86400

func newVectorState(self enc.Name, boot uint64, periodic, suppression time.Duration, budget int, idle time.Duration, rng *rand.Rand, now time.Time) *vectorState {
	v := &vectorState{
		self: self, boot: boot,
		verified:    make(map[string]*position),
		periodic:    periodic,
		suppression: suppression,
		budget:      budget,
		idle:        idle,
		rng:         rng,
		deadline:    now, // the first sync Interest goes out at once
	}
	if self != nil {
		v.selfKey = self.TlvStr()
	}
	return v
}

// receive takes a vector heard from the group and returns the hints in it.
func (v *vectorState) receive(sv proto.StateVector, now time.Time) (hints []hint, verdict vectorVerdict) {
	limit := uint64(now.Unix()) + maxFutureBoot
	for _, e := range sv {
		for _, b := range e.Boots {
			if b.Boot > limit {
				verdict.futureBoot = true
				return nil, verdict
			}
		}
	}
	outdated, canDrop := false, true
	seen := 0 // own entry and verified positions present in sv
	for _, e := range sv {
		key := e.Name.TlvStr()
		newest := e.Boots[len(e.Boots)-1] // boots are ascending
		if v.suppress {
			if m, ok := v.merged[key]; !ok || newest.Boot > m.Boot || (newest.Boot == m.Boot && newest.Seq > m.Seq) {
				v.merged[key] = newest
			}
		}
		if v.self != nil && key == v.selfKey {
			seen++
			for _, b := range e.Boots {
				switch {
				case b.Boot == v.boot && b.Seq < v.own:
					outdated, canDrop = true, false
				case b.Boot > v.boot || (b.Boot == v.boot && b.Seq > v.own):
					verdict.ownClaim = true
				}
			}
			continue
		}
		p := v.verified[key]
		if p != nil {
			seen++
		}
		for _, b := range e.Boots {
			switch {
			case p == nil || b.Boot > p.boot || (b.Boot == p.boot && b.Seq > p.seq):
				hints = append(hints, hint{name: e.Name, key: key, boot: b.Boot, seq: b.Seq})
			case b.Boot == p.boot && b.Seq < p.seq:
				outdated = true
				if now.Sub(p.updated) >= v.suppression {
					canDrop = false
				}
			}
		}
		if p != nil && newest.Boot < p.boot {
			outdated, canDrop = true, false // it does not know the current boot
		}
	}
	// Entries the sender does not have at all.
	if seen < v.carried(now) {
		outdated, canDrop = true, false
	}
	switch {
	case !outdated:
		if !v.suppress {
			v.deadline = now.Add(v.periodicTimeout())
		}
	case canDrop || v.suppress:
	default:
		v.suppress = true
		v.merged = make(map[string]proto.SVBoot, len(sv))
		for _, e := range sv {
			v.merged[e.Name.TlvStr()] = e.Boots[len(e.Boots)-1]
		}
		v.deadline = now.Add(v.suppressionTimeout())
	}
	return hints, verdict
}

// carried counts the entries this member announces: its own and the
// verified positions that are not idle.
func (v *vectorState) carried(now time.Time) int {
	n := 0
	if v.self != nil && v.own > 0 {
		n++
	}
	for _, p := range v.verified {
		if now.Sub(p.updated) < v.idle {
			n++
		}
	}
	return n
}

// published moves this member's own entry; the next sync Interest goes out
// at once.
func (v *vectorState) published(seq uint64, now time.Time) {
	v.own = max(v.own, seq)
	v.deadline = now
}

// announceAt makes the next sync Interest go out at t (or before), whatever
// the state: after a reconnect, the others may have missed news.
func (v *vectorState) announceAt(t time.Time) {
	v.suppress, v.merged = false, nil
	if t.Before(v.deadline) {
		v.deadline = t
	}
}

// learn records a verified position of a peer. A newer boot replaces the
// old one; an older one changes nothing.
func (v *vectorState) learn(name enc.Name, key string, boot, seq uint64, now time.Time) {
	p := v.verified[key]
	switch {
	case p == nil:
		v.verified[key] = &position{name: name, boot: boot, seq: seq, updated: now}
	case boot > p.boot || (boot == p.boot && seq > p.seq):
		p.boot, p.seq, p.updated = boot, seq, now
	}
}

// position returns the verified position of a peer.
func (v *vectorState) position(key string) (boot, seq uint64, ok bool) {
	p := v.verified[key]
	if p == nil {
		return 0, 0, false
	}
	return p.boot, p.seq, true
}

// forget drops a peer's verified position.
func (v *vectorState) forget(key string) { delete(v.verified, key) }

// idlePeers returns the peers whose position has not moved for idle.
func (v *vectorState) idlePeers(now time.Time) []string {
	var out []string
	for k, p := range v.verified {
		if now.Sub(p.updated) >= v.idle {
			out = append(out, k)
		}
	}
	return out
}

// due reports whether the timer expired at now. If so, it reports whether
// a sync Interest must go out, and rearms the timer.
func (v *vectorState) due(now time.Time) (fire, send bool) {
	if now.Before(v.deadline) {
		return false, false
	}
	send = true
	if v.suppress {
		// Suppression ends: send only if what was heard meanwhile misses
		// something this member knows.
		send = v.newerThanMerged(now)
		v.suppress, v.merged = false, nil
	}
	v.deadline = now.Add(v.periodicTimeout())
	return true, send
}

// newerThanMerged reports whether this member's vector has an entry the
// merged vector lacks or has older.
func (v *vectorState) newerThanMerged(now time.Time) bool {
	if v.self != nil && v.own > 0 {
		// Only our own boot and seq cover us: a claim ahead of us is forged.
		m, ok := v.merged[v.selfKey]
		if !ok || m.Boot != v.boot || m.Seq != v.own {
			return true
		}
	}
	for k, p := range v.verified {
		if now.Sub(p.updated) >= v.idle {
			continue
		}
		m, ok := v.merged[k]
		if !ok || m.Boot < p.boot || (m.Boot == p.boot && m.Seq < p.seq) {
			return true
		}
	}
	return false
}

// vector returns the state vector to send: the own entry first, then the
// most recently updated verified positions, as many as budget bytes hold.
func (v *vectorState) vector(now time.Time) proto.StateVector {
	var sv proto.StateVector
	used := 0
	if v.self != nil && v.own > 0 {
		e := proto.SVEntry{Name: v.self, Boots: []proto.SVBoot{{Boot: v.boot, Seq: v.own}}}
		sv = append(sv, e)
		used += proto.EncodedSVEntrySize(e)
	}
	peers := make([]*position, 0, len(v.verified))
	for _, p := range v.verified {
		if now.Sub(p.updated) < v.idle {
			peers = append(peers, p)
		}
	}
	slices.SortFunc(peers, func(a, b *position) int { return b.updated.Compare(a.updated) })
	for _, p := range peers {
		e := proto.SVEntry{Name: p.name, Boots: []proto.SVBoot{{Boot: p.boot, Seq: p.seq}}}
		n := proto.EncodedSVEntrySize(e)
		if used+n > v.budget {
			continue
		}
		sv = append(sv, e)
		used += n
	}
	return sv
}

// periodicTimeout is the steady-state timer: periodic +- 10 %.
func (v *vectorState) periodicTimeout() time.Duration {
	j := int64(v.periodic / 10)
	if j <= 0 {
		return v.periodic
	}
	return v.periodic - time.Duration(j) + time.Duration(v.rng.Int64N(2*j))
}

// suppressionTimeout draws from SVS's exponential-decay distribution on
// [0, suppression): most members answer late, so the first answer usually
// suppresses the others'.
func (v *vectorState) suppressionTimeout() time.Duration {
	c := float64(v.suppression)
	if c <= 0 {
		return 0
	}
	x := v.rng.Float64() * c
	return time.Duration(max(c*(1-math.Exp((x-c)/(c/10))), 0))
}
