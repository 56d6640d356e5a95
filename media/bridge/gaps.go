package bridge

import "sort"

// gapCloser renumbers a page's stream after its padding-only packets
// (bandwidth probes, sent on the media SSRC since no RTX is negotiated)
// are dropped: every later packet's sequence number is lowered by the
// number of padding packets before it, so that receivers see no gap and
// send no NACK for packets that were never media. Reordered packets and
// the page's retransmissions map to the same numbers as the originals.
type gapCloser struct {
	started bool
	max     uint64   // highest extended sequence number seen
	dropped []uint64 // extended numbers of dropped packets, ascending
	pruned  uint64   // dropped packets forgotten (older than the window)
}

// closerWindow is how far back (in packets) reordering is handled.
const closerWindow = 4096

// ext unwraps seq to the extended number closest to the highest seen.
func (g *gapCloser) ext(seq uint16) uint64 {
	if !g.started {
		g.started = true
		g.max = 1<<32 + uint64(seq) // room below for late packets
		return g.max
	}
	e := g.max&^0xffff | uint64(seq)
	switch {
	case e+0x8000 < g.max:
		e += 0x10000
	case e > g.max+0x8000:
		e -= 0x10000
	}
	if e > g.max {
		g.max = e
	}
	return e
}

// drop records a dropped packet.
func (g *gapCloser) drop(seq uint16) {
	e := g.ext(seq)
	i := sort.Search(len(g.dropped), func(i int) bool { return g.dropped[i] >= e })
	if i < len(g.dropped) && g.dropped[i] == e {
		return
	}
	g.dropped = append(g.dropped, 0)
	copy(g.dropped[i+1:], g.dropped[i:])
	g.dropped[i] = e
	g.prune()
}

// out returns the number to send a kept packet under.
func (g *gapCloser) out(seq uint16) uint16 {
	e := g.ext(seq)
	g.prune()
	n := g.pruned + uint64(sort.Search(len(g.dropped), func(i int) bool { return g.dropped[i] >= e }))
	return uint16(e - n)
}

func (g *gapCloser) prune() {
	k := 0
	for k < len(g.dropped) && g.dropped[k]+closerWindow < g.max {
		k++
	}
	if k > 0 {
		g.pruned += uint64(k)
		g.dropped = append(g.dropped[:0], g.dropped[k:]...)
	}
}
