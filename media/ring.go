package media

import "encoding/binary"

// ring keeps the newest len(slots) packets of a stream indexed by seq
// (seqs are consecutive from 1). It does no locking: its owner does.
type ring struct {
	slots []ringEntry
}

type ringEntry struct {
	seq  uint64 // 0: empty
	buf  []byte // Data wire (publisher) or RTP packet (fetcher)
	flag bool   // keyframe (publisher)
}

func newRing(size int) ring {
	return ring{slots: make([]ringEntry, size)}
}

func (r *ring) size() uint64 { return uint64(len(r.slots)) }

// put stores buf as seq, evicting seq-size.
func (r *ring) put(seq uint64, buf []byte, flag bool) {
	r.slots[seq%r.size()] = ringEntry{seq: seq, buf: buf, flag: flag}
}

// get returns the entry stored for seq, if still there.
func (r *ring) get(seq uint64) (ringEntry, bool) {
	if seq == 0 {
		return ringEntry{}, false
	}
	e := r.slots[seq%r.size()]
	return e, e.seq == seq
}

// reset empties the ring.
func (r *ring) reset() {
	clear(r.slots)
}

// findRTP returns the newest stored RTP packet whose RTP sequence number is
// rtpSeq, scanning back from newest.
func (r *ring) findRTP(newest uint64, rtpSeq uint16) []byte {
	for i := uint64(0); i < r.size() && i < newest; i++ {
		e, ok := r.get(newest - i)
		if !ok {
			continue
		}
		if len(e.buf) >= 4 && binary.BigEndian.Uint16(e.buf[2:4]) == rtpSeq {
			return e.buf
		}
	}
	return nil
}
