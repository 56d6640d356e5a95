package forwarder

import (
	"encoding/binary"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peets/peets/internal/ratelog"

	"github.com/named-data/ndnd/fw/table"
	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/types/optional"
)

// The CS sweeper keeps YaNFD's PIT-CS name tree bounded.
//
// ndnd v1.5.3 keeps the PIT and the CS in one name tree
// (fw/table/pit-cs-tree.go). Caching a Data makes a node for its name (and
// any missing ancestor); the CS's LRU eviction only clears the node's CS
// entry, and a node is pruned only when one of its PIT entries is removed
// (expired, or satisfied then expired) while it has no child, no PIT entry
// and no CS entry. A Data is usually cached when its Interest's PIT entry is
// satisfied, that entry goes at the PIT's next tick, and the CS entry is
// evicted later: the node then stays for the life of the process, ~1 KB per
// name, and every name of a call is new. Unsolicited Data are cached too
// (before the PIT is consulted), so a stranger could grow the tree at will.
//
// The sweeper gives each such node the PIT entry that prunes it. It sees
// every Data that can enter the CS: whatever a face of the embedded
// forwarder receives comes through an inprocLink's send (the process's own
// faces, local apps, UDP peers, TCP links), and the only Data the forwarder
// makes itself, the answers of its management (/localhost and /localhop
// names), leave through a link's drain. It keeps their names in csShadow, an
// LRU mirror of the CS. When the shadow holds more names than the CS can
// (its capacity per forwarding thread, table.CfgCsCapacity, which a local
// app may change, times the threads, plus sweepMargin), its oldest name has
// left the CS, and the sweeper sends the forwarder, on a link of its own
// (an in-process link with local fields on), an Interest for exactly that
// name: no CanBePrefix, no MustBeFresh, a 1 ms lifetime, and an NDNLPv2
// NextHopFaceId naming a face that does not exist (sweepNoFace). YaNFD
// (fw/fw/thread.go, processIncomingInterest) inserts the Interest's PIT
// entry and in-record on the name's node and sets its expiry, finds no CS
// entry, and then drops the Interest at the NextHopFaceId check: it reaches
// no face and no strategy (no traffic, no Nack, no answer to cache). At the
// PIT's next tick (<= 200 ms) the entry expires with no out-record, so
// nothing enters the dead nonce list, and its removal prunes the node and
// its empty ancestors. Meanwhile a real Interest for the name comes from
// another face, so YaNFD does not take it for a retransmission of the
// sweep: it is looked up in the CS and forwarded as usual, and if its Data
// comes the sweeper gets a copy (it has an in-record), which counts as a
// hit below.
//
// When the CS still holds the Data (a consumer's CS hit refreshed it in the
// LRU, or the shadow saw it arrive before Data the forwarder processed
// first), the CS answers the sweep. That hit refreshes the entry in YaNFD's
// LRU as a consumer's would, so the sweeper puts the name back at the young
// end of the shadow, to sweep it when it is due again.
//
// YaNFD's forwarding queue drops what does not fit (under overload), sweeps
// included. Sweeps go out in rounds of at most sweepRound names, each ended
// by a marker Interest whose NextHopFaceId is a second link of the sweeper's
// (the sink): when the marker comes back, the round went through the queue,
// and YaNFD logs every packet its queue drops, which the log bridge counts.
// A round whose marker did not come back, or during which the queue dropped
// any Interest, is sent again (at most sweepTries times; a sweep of a name
// already pruned makes and prunes its node again).
//
// After each round the sweeper also sends a pulse (fwtables.go): on the
// forwarding thread, the CS LRU's keys of the names it swept are erased if
// their Data are gone, and the dead nonce list is expired, two tables of
// YaNFD that nothing else keeps bounded.
//
// Cost: one Interest per cached Data, on the forwarder's thread (no face
// sees it), and a marker and a pulse per round; see docs/benchmarks.md.

// Sweeper settings.
const (
	// sweepMargin is how many names beyond the CS's capacity the shadow
	// keeps before sweeping the oldest: slack for Data the forwarder
	// processes in another order than the shadow saw them.
	sweepMargin = 256
	// sweepRound is the most sweeps in one round. A round is sent once the
	// previous one's marker came back, so the sweeper never holds more than
	// sweepRound+2 places of the forwarder's queue (1024), whatever the
	// backlog: real traffic keeps the rest.
	sweepRound = 64
	// sweepPause separates batches of rounds, so that sweeps go out in a
	// few wake-ups a second, not one per packet (at a call's pace, one
	// round a second); names wait at most this long past their due time.
	sweepPause = time.Second
	// sweepMarkerWait bounds the wait for a round's marker.
	sweepMarkerWait = time.Second
	// sweepTries is how many times a round is sent before its names are
	// given up (counted lost).
	sweepTries = 4
	// sweepLifetime is the lifetime of a sweep Interest (its PIT entry
	// lives until the PIT's next tick anyway).
	sweepLifetime = time.Millisecond
	// markerLifetime is the lifetime of a round's marker.
	markerLifetime = 100 * time.Millisecond
	// sweepLpOverhead bounds the LpPacket around a sweep Interest
	// (LpPacket, NextHopFaceId of 8 bytes, Fragment headers).
	sweepLpOverhead = 24
)

// sweepNoFace is the NextHopFaceId of sweep Interests. YaNFD numbers its
// faces from 1 up (fw/face/table.go), so no face ever has this id.
const sweepNoFace = math.MaxUint64

// markerPrefix is the Name TLV-VALUE prefix of round markers:
// /localhost/peets-sweep, followed by one 8-byte generic component (the
// round's number). /localhost never leaves the forwarder.
var markerPrefix = append(appendTLVs(8, []byte("localhost")), appendTLVs(8, []byte("peets-sweep"))...)

// sweepStats is what the sweeper counted (Conn.Stats).
type sweepStats struct {
	Tracked     int    `json:"tracked"`     // names in the shadow: at most the CS's capacity + sweepMargin
	Due         int    `json:"due"`         // names out of the CS whose sweep is not done (waiting, or in a round)
	Swept       uint64 `json:"swept"`       // sweeps the forwarder took (rounds whose marker came back, no drop)
	Hits        uint64 `json:"hits"`        // Data the sweeper got back: names still cached, tracked again
	Resent      uint64 `json:"resent"`      // rounds sent again (marker lost, or the queue dropped Interests)
	Lost        uint64 `json:"lost"`        // names given up after sweepTries rounds
	Unsweepable uint64 `json:"unsweepable"` // names too long for a sweep Interest (never from outside: the validator's name limits)
	LRUErased   uint64 `json:"lru_erased"`  // stale keys erased from the CS LRU's map (fwtables.go)
	DNLExpired  uint64 `json:"dnl_expired"` // dead nonce list entries expired beyond the forwarder's own pace
	TablesErr   string `json:"tables_err,omitempty"`
}

// sweeper is the CS sweeper of the embedded forwarder (see above).
type sweeper struct {
	log    *slog.Logger
	link   *inprocLink // sweeps go in; the CS's answers come back
	sink   *inprocLink // round markers come back
	pulse  *inprocLink // a non-local link: pulses go in (fwtables.go)
	tbl    *fwTables   // nil if YaNFD's tables were not found
	tblErr string
	limit  func() int      // names the CS holds at most
	drops  *atomic.Uint64  // Interests the forwarder's queue dropped (log bridge)
	lost   ratelog.Limiter // logs of given-up rounds

	mu       sync.Mutex
	on       bool
	shadow   csShadow
	due      []string // names out of the CS, oldest first
	inRounds int      // names taken for the current round

	kick    chan struct{} // due became non-empty
	markers chan uint64   // round markers back from the sink

	swept, hits, resent, lostNames, unsweepable atomic.Uint64

	cleanMu            sync.Mutex
	cleanQ             []uint64 // hashes of names swept since the last pulse
	lruErased, dnlExpd atomic.Uint64
}

// newSweeper starts a sweeper with its links (two local, one non-local);
// drops counts the Interests the forwarder's queue dropped.
func newSweeper(link, sink, pulse *inprocLink, drops *atomic.Uint64, fwThreads int, log *slog.Logger) *sweeper {
	s := &sweeper{
		log: log, link: link, sink: sink, pulse: pulse, drops: drops, on: true,
		limit:   func() int { return table.CfgCsCapacity()*fwThreads + sweepMargin },
		lost:    ratelog.Limiter{Every: ratelog.DefaultEvery},
		kick:    make(chan struct{}, 1),
		markers: make(chan uint64, 4),
	}
	var err error
	if s.tbl, err = findFwTables(); err != nil {
		s.tblErr = err.Error()
		log.Warn("embedded forwarder: CS LRU and dead nonce list left unbounded", "err", err)
	}
	link.owner.Store(&ownerSlot{o: sweepHits{s}})
	sink.owner.Store(&ownerSlot{o: sweepMarkers{s}})
	go s.run()
	return s
}

// setOn turns observation on or off; off, the shadow and the names due are
// dropped (tests, and forwarders started without sweeping).
func (s *sweeper) setOn(on bool) {
	s.mu.Lock()
	s.on = on
	if !on {
		s.shadow = csShadow{}
		s.due = nil
	}
	s.mu.Unlock()
}

// observeWire notes the packet w if it is a Data: it may enter the CS.
func (s *sweeper) observeWire(w enc.Wire) {
	if name := dataName(w); name != nil {
		s.observe(name)
	}
}

// observeOut notes a Data the forwarder sends on a link if the forwarder
// made it itself (management answers, under /localhost and /localhop):
// every other Data was noted on its way in.
func (s *sweeper) observeOut(w enc.Wire) {
	if name := dataName(w); name != nil && localName(name) {
		s.observe(name)
	}
}

// observe notes that the Data named name (a Name TLV-VALUE) was just
// cached, and moves the names the CS no longer holds to the due list.
func (s *sweeper) observe(name []byte) {
	s.mu.Lock()
	if !s.on {
		s.mu.Unlock()
		return
	}
	s.shadow.touch(name)
	wake := false
	if over := s.shadow.len() - s.limit(); over > 0 {
		wake = len(s.due) == 0
		s.due = s.shadow.popOldest(over, s.due)
	}
	s.mu.Unlock()
	if wake {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// stats returns the sweeper's counters.
func (s *sweeper) stats() sweepStats {
	s.mu.Lock()
	tracked, due := s.shadow.len(), len(s.due)+s.inRounds
	s.mu.Unlock()
	return sweepStats{Tracked: tracked, Due: due, Swept: s.swept.Load(), Hits: s.hits.Load(),
		Resent: s.resent.Load(), Lost: s.lostNames.Load(), Unsweepable: s.unsweepable.Load(),
		LRUErased: s.lruErased.Load(), DNLExpired: s.dnlExpd.Load(), TablesErr: s.tblErr}
}

// take removes up to n names from the head of the due list for a round,
// ending the previous round.
func (s *sweeper) take(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n = min(n, len(s.due))
	s.inRounds = n
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	copy(out, s.due)
	s.due = append(s.due[:0], s.due[n:]...)
	return out
}

// run sends the due names in rounds: whenever names are due, rounds until
// none is, then a pause before the next batch. It runs for the life of the
// process, like the forwarder.
func (s *sweeper) run() {
	var round uint64
	buf := make([]byte, 0, 256)
	for range s.kick {
		for {
			names := s.take(sweepRound)
			if len(names) == 0 {
				break
			}
			s.sendRound(names, &round, &buf)
		}
		time.Sleep(sweepPause)
	}
}

// sendRound sweeps names and waits for the round's marker, sending the
// round again while it may have lost sweeps (at most sweepTries times).
func (s *sweeper) sendRound(names []string, round *uint64, buf *[]byte) {
	for try := 1; ; try++ {
		drops := s.drops.Load()
		sent := 0
		for _, n := range names {
			if s.sendSweep(n, buf) {
				sent++
			}
		}
		*round++
		s.sendMarker(*round, buf)
		if s.waitMarker(*round) && s.drops.Load() == drops {
			s.swept.Add(uint64(sent))
			s.sendPulse(names, buf)
			return
		}
		if try == sweepTries {
			s.lostNames.Add(uint64(sent))
			if ok, more := s.lost.Allow(); ok {
				s.log.Warn("embedded forwarder: CS sweep round given up (forwarder queue overloaded); some name tree nodes may stay",
					"names", sent, "tries", try, "suppressed_before", more, "total_lost", s.lostNames.Load())
			}
			return
		}
		s.resent.Add(1)
		time.Sleep(time.Duration(try) * 20 * time.Millisecond) // let the forwarder's queue drain a little
	}
}

// sendSweep sends the sweep Interest of name; false if it cannot be sent.
func (s *sweeper) sendSweep(name string, buf *[]byte) bool {
	*buf = appendInterest((*buf)[:0], name, rand.Uint32(), sweepLifetime)
	if len(*buf)+sweepLpOverhead > ndn.MaxNDNPacketSize {
		s.unsweepable.Add(1)
		return false
	}
	// (Send encodes the LpPacket into a fresh buffer: buf is reused)
	s.link.tr.Send(&spec.LpPacket{NextHopFaceId: optional.Some(uint64(sweepNoFace)), Fragment: enc.Wire{*buf}})
	return true
}

// sendMarker sends the marker of a round to the sink.
func (s *sweeper) sendMarker(round uint64, buf *[]byte) {
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], round)
	name := append(append([]byte(nil), markerPrefix...), appendTLVs(8, seq[:])...)
	*buf = appendInterest((*buf)[:0], string(name), rand.Uint32(), markerLifetime)
	s.link.tr.Send(&spec.LpPacket{NextHopFaceId: optional.Some(s.sink.faceID()), Fragment: enc.Wire{*buf}})
}

// pulseName is the Name TLV-VALUE of pulses: /localhost/peets-sweep-clean.
var pulseName = string(append(appendTLVs(8, []byte("localhost")), appendTLVs(8, []byte(pulseComponent))...))

// pulseComponent marks a pulse's warning in the forwarder's log.
const pulseComponent = "peets-sweep-clean"

// sendPulse queues the hashes of names for the next clean and sends a
// pulse on the non-local link: the forwarding thread's warning about it
// runs onPulse on that thread.
func (s *sweeper) sendPulse(names []string, buf *[]byte) {
	if s.tbl == nil {
		return
	}
	s.cleanMu.Lock()
	for _, n := range names {
		r := enc.NewBufferView([]byte(n))
		if nm, err := r.ReadName(); err == nil {
			s.cleanQ = append(s.cleanQ, nm.Hash())
		}
	}
	s.cleanMu.Unlock()
	*buf = appendInterest((*buf)[:0], pulseName, rand.Uint32(), markerLifetime)
	s.pulse.tr.Send(&spec.LpPacket{Fragment: enc.Wire{*buf}})
}

// onPulse runs on the forwarding thread, from the forwarder's log (see
// fwtables.go): it cleans the tables for the names swept so far.
func (s *sweeper) onPulse() {
	s.cleanMu.Lock()
	q := s.cleanQ
	s.cleanQ = nil
	s.cleanMu.Unlock()
	keys, nonces := s.tbl.clean(q)
	s.lruErased.Add(uint64(keys))
	s.dnlExpd.Add(uint64(nonces))
}

// waitMarker waits for the marker of round, at most sweepMarkerWait. Older
// markers (of rounds sent again) are skipped.
func (s *sweeper) waitMarker(round uint64) bool {
	t := time.NewTimer(sweepMarkerWait)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return false
		case m := <-s.markers:
			if m == round {
				return true
			}
		}
	}
}

// sweepHits owns the sweeper's link: what comes back on it is Data the CS
// still held (or the Data of a real Interest pending on the same name):
// the name is tracked again, at the young end.
type sweepHits struct{ s *sweeper }

func (h sweepHits) deliver(lp *spec.LpPacket) {
	if name := dataName(lp.Fragment); name != nil {
		h.s.hits.Add(1)
		h.s.observe(name)
	}
}

func (h sweepHits) undecodable(error) {}

// sweepMarkers owns the sink: it passes round markers on.
type sweepMarkers struct{ s *sweeper }

func (m sweepMarkers) deliver(lp *spec.LpPacket) {
	name := interestName(lp.Fragment)
	if len(name) != len(markerPrefix)+10 || string(name[:len(markerPrefix)]) != string(markerPrefix) {
		return
	}
	select {
	case m.s.markers <- binary.BigEndian.Uint64(name[len(markerPrefix)+2:]):
	default:
	}
}

func (m sweepMarkers) undecodable(error) {}

// appendInterest appends an Interest for exactly the name whose Name
// TLV-VALUE is name, with nonce and lifetime (at most 255 ms).
func appendInterest(b []byte, name string, nonce uint32, lifetime time.Duration) []byte {
	nameLen := len(name)
	val := tlvSize(nameLen) + 6 + 3 // Name, Nonce, InterestLifetime
	b = appendVarNum(b, tInterest)
	b = appendVarNum(b, uint64(val))
	b = appendVarNum(b, tName)
	b = appendVarNum(b, uint64(nameLen))
	b = append(b, name...)
	b = append(b, tNonce, 4)
	b = binary.BigEndian.AppendUint32(b, nonce)
	return append(b, tLifetime, 1, byte(lifetime.Milliseconds()))
}

// tlvSize is the size of a TLV of a one-byte type whose value has n bytes.
func tlvSize(n int) int {
	return 1 + len(appendVarNum(nil, uint64(n))) + n
}

// appendVarNum appends v as an NDN VAR-NUMBER.
func appendVarNum(b []byte, v uint64) []byte {
	switch {
	case v < 0xfd:
		return append(b, byte(v))
	case v <= 0xffff:
		return append(b, 0xfd, byte(v>>8), byte(v))
	case v <= 0xffffffff:
		return append(b, 0xfe, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xff), v)
}

// dataName returns the Name TLV-VALUE of w if w is a Data packet, else nil.
// It reads only the headers (the packet was validated, or made by ndnd).
func dataName(w enc.Wire) []byte { return packetName(w, tData) }

// interestName is dataName for an Interest.
func interestName(w enc.Wire) []byte { return packetName(w, tInterest) }

// packetName returns the Name TLV-VALUE of the packet w if its type is
// typ. The name is normally in w's first buffer; if not, w is joined.
func packetName(w enc.Wire, typ uint64) []byte {
	if len(w) == 0 {
		return nil
	}
	name, whole := nameIn(w[0], typ)
	if name == nil && !whole && len(w) > 1 {
		name, _ = nameIn(w.Join(), typ)
	}
	return name
}

// nameIn finds the Name of a packet of type typ at the start of b. whole
// is false when b ends before the Name does.
func nameIn(b []byte, typ uint64) (name []byte, whole bool) {
	t, n, _ := readVarNum(b)
	if n == 0 || t != typ {
		return nil, n != 0
	}
	_, m, _ := readVarNum(b[n:])
	if m == 0 {
		return nil, false
	}
	b = b[n+m:]
	t, n, _ = readVarNum(b)
	if n == 0 {
		return nil, false
	}
	if t != tName {
		return nil, true
	}
	l, m, _ := readVarNum(b[n:])
	if m == 0 || l > uint64(len(b)-n-m) {
		return nil, false
	}
	return b[n+m : n+m+int(l)], true
}

// localName reports whether the Name TLV-VALUE name starts with localhost
// or localhop.
func localName(name []byte) bool {
	if len(name) < 10 || name[0] != 8 {
		return false
	}
	c := name[2:]
	return (name[1] == 9 && string(c[:9]) == "localhost") || (name[1] == 8 && string(c[:8]) == "localhop")
}

// csShadow is an LRU list of names (Name TLV-VALUEs): touch moves a name
// to the young end, adding it if new; popOldest takes names from the old
// end. Nodes are kept in a slice and reused, so a steady stream of names
// allocates only their strings.
type csShadow struct {
	idx   map[string]int32
	nodes []shadowNode // nodes[0] is the list's sentinel
	free  []int32
}

type shadowNode struct {
	name       string
	prev, next int32
}

// len is the number of names.
func (c *csShadow) len() int { return len(c.idx) }

// touch makes name the youngest, adding it if new.
func (c *csShadow) touch(name []byte) {
	if c.idx == nil {
		c.idx = map[string]int32{}
		c.nodes = []shadowNode{{}} // the sentinel, linked to itself
	}
	if i, ok := c.idx[string(name)]; ok {
		c.unlink(i)
		c.pushYoung(i)
		return
	}
	var i int32
	if n := len(c.free); n > 0 {
		i = c.free[n-1]
		c.free = c.free[:n-1]
	} else {
		c.nodes = append(c.nodes, shadowNode{})
		i = int32(len(c.nodes) - 1)
	}
	key := string(name)
	c.nodes[i].name = key
	c.idx[key] = i
	c.pushYoung(i)
}

// popOldest removes the n oldest names (fewer if there are not so many)
// and appends them to out, oldest first.
func (c *csShadow) popOldest(n int, out []string) []string {
	for ; n > 0 && len(c.idx) > 0; n-- {
		i := c.nodes[0].next
		c.unlink(i)
		out = append(out, c.nodes[i].name)
		delete(c.idx, c.nodes[i].name)
		c.nodes[i].name = ""
		c.free = append(c.free, i)
	}
	return out
}

func (c *csShadow) unlink(i int32) {
	p, n := c.nodes[i].prev, c.nodes[i].next
	c.nodes[p].next = n
	c.nodes[n].prev = p
}

func (c *csShadow) pushYoung(i int32) {
	last := c.nodes[0].prev
	c.nodes[i].prev, c.nodes[i].next = last, 0
	c.nodes[last].next = i
	c.nodes[0].prev = i
}
