// Package linktap counts what crosses a link, by what it is: it reads the
// IPv4 packets arriving on one interface (a packet socket in the
// interface's network namespace) and sorts NDN's UDP traffic into
// Interests and Data, media packets and the rest, and spots the media Data
// and Interests that cross the link more than once for the same name (the
// duplicates and repairs a congested link should never carry). Counting is
// a pure part (Counter) fed by a thin reader (Tap, Linux only).
package linktap

import (
	"encoding/binary"
)

// Ethernet header bytes added to an IP packet's length, so that the bytes
// counted match the interface's counters.
const l2Header = 14

// Kind is what a packet is.
type Kind int

// Kinds.
const (
	KindOther     Kind = iota // not IPv4 UDP, or a fragment of one not seen
	KindUDP                   // UDP that is not NDN (e.g. WebRTC's SRTP)
	KindNDN                   // NDN that is neither below
	KindInterest              // an Interest for a media packet
	KindMediaData             // a media packet's Data
)

// Packet is one IP packet as classified.
type Packet struct {
	Bytes int    // on the wire: IP length + Ethernet header
	Kind  Kind   //
	Name  string // the NDN name's TLV value (Interest or Data), when known
	// Stream is a media packet's stream id (the component after "media").
	Stream string
	Data   bool // an NDN Data (any name)
	Cont   bool // a later fragment of a datagram: its kind is the first fragment's
	Dup    bool // set by Counter: a media packet whose name crossed before
}

// TLV types.
const (
	tInterest   = 0x05
	tData       = 0x06
	tName       = 0x07
	tLpPacket   = 0x64
	tLpFragment = 0x50
	tGeneric    = 0x08
	tTimestamp  = 0x38
	tSequence   = 0x3a
)

// fragKey names an IPv4 datagram for its later fragments.
type fragKey struct {
	src [4]byte
	id  uint16
}

// parser classifies IPv4 packets, remembering the first fragment of the
// recent fragmented datagrams.
type parser struct {
	port  uint16 // NDN's UDP port
	frags map[fragKey]Packet
}

const maxFrags = 1024

// classify sorts one IPv4 packet (from its IP header on). For the first
// fragment of a datagram it also returns the key that its later fragments
// will be found by (first is true).
func (p *parser) classify(b []byte) (pkt Packet, key fragKey, first bool) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return Packet{Bytes: len(b) + l2Header}, key, false
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	pkt = Packet{Bytes: total + l2Header}
	if ihl < 20 || total < ihl || len(b) < ihl {
		return pkt, key, false
	}
	if total > len(b) {
		total = len(b) // truncated capture: classify what is there
	}
	frag := binary.BigEndian.Uint16(b[6:8])
	more, offset := frag&0x2000 != 0, frag&0x1fff
	key = fragKey{id: binary.BigEndian.Uint16(b[4:6])}
	copy(key.src[:], b[12:16])
	if offset != 0 {
		head, ok := p.frags[key]
		if !ok {
			return pkt, key, false
		}
		if !more {
			delete(p.frags, key)
		}
		head.Bytes, head.Cont = pkt.Bytes, true
		return head, key, false
	}
	if b[9] != 17 || total < ihl+8 {
		return pkt, key, false
	}
	udp := b[ihl:total]
	src, dst := binary.BigEndian.Uint16(udp[0:2]), binary.BigEndian.Uint16(udp[2:4])
	pkt.Kind = KindUDP
	if src == p.port || dst == p.port {
		pkt.Kind = KindNDN
		pkt.Name, pkt.Stream, pkt.Data, pkt.Kind = ndnName(udp[8:])
	}
	return pkt, key, more
}

// remember keeps the first fragment of a datagram for its later fragments.
func (p *parser) remember(key fragKey, pkt Packet) {
	if p.frags == nil || len(p.frags) >= maxFrags {
		p.frags = make(map[fragKey]Packet)
	}
	p.frags[key] = pkt
}

// ndnName finds the name of the Interest or Data in an NDN datagram (bare
// or in an NDNLPv2 LpPacket), and whether it names a media packet
// (.../media/<stream>/t=<boot>/seq=<n>: then its stream). A datagram may
// be cut short (the first IP fragment): the name is near its start.
func ndnName(b []byte) (name, stream string, data bool, kind Kind) {
	typ, val, ok := tlv(b)
	if !ok {
		return "", "", false, KindNDN
	}
	if typ == tLpPacket {
		for len(val) > 0 {
			t, v, ok := tlv(val)
			if !ok {
				return "", "", false, KindNDN
			}
			if t == tLpFragment {
				return ndnName(v)
			}
			val = rest(val)
		}
		return "", "", false, KindNDN
	}
	if typ != tInterest && typ != tData {
		return "", "", false, KindNDN
	}
	t, n, ok := tlv(val)
	if !ok || t != tName {
		return "", "", typ == tData, KindNDN
	}
	kind = KindNDN
	if stream, ok := mediaStream(n); ok {
		kind = KindInterest
		if typ == tData {
			kind = KindMediaData
		}
		return string(n), stream, typ == tData, kind
	}
	return string(n), "", typ == tData, kind
}

// mediaStream says whether a name's value ends in
// media/<stream>/t=<boot>/seq=<n>, and returns the stream.
func mediaStream(n []byte) (string, bool) {
	var comps []struct {
		typ uint64
		val []byte
	}
	for len(n) > 0 {
		t, v, ok := tlv(n)
		if !ok {
			return "", false
		}
		comps = append(comps, struct {
			typ uint64
			val []byte
		}{t, v})
		n = rest(n)
	}
	k := len(comps)
	if k >= 4 && comps[k-1].typ == tSequence && comps[k-2].typ == tTimestamp &&
		comps[k-4].typ == tGeneric && string(comps[k-4].val) == "media" {
		return string(comps[k-3].val), true
	}
	return "", false
}

// tlv reads the first TLV element of b. The value may be cut short when b
// is (a truncated datagram): ok is false only when the type or length
// cannot be read.
func tlv(b []byte) (typ uint64, val []byte, ok bool) {
	typ, n := varNum(b)
	if n == 0 {
		return 0, nil, false
	}
	l, m := varNum(b[n:])
	if m == 0 {
		return 0, nil, false
	}
	v := b[n+m:]
	if uint64(len(v)) > l {
		v = v[:l]
	}
	return typ, v, true
}

// rest is what follows the first TLV element of b (nil if it is cut short).
func rest(b []byte) []byte {
	_, n := varNum(b)
	if n == 0 {
		return nil
	}
	l, m := varNum(b[n:])
	if m == 0 || uint64(len(b)-n-m) < l {
		return nil
	}
	return b[n+m+int(l):]
}

// varNum reads an NDN TLV variable-size number; n is 0 if b is too short.
func varNum(b []byte) (v uint64, n int) {
	if len(b) == 0 {
		return 0, 0
	}
	switch c := b[0]; {
	case c < 253:
		return uint64(c), 1
	case c == 253 && len(b) >= 3:
		return uint64(binary.BigEndian.Uint16(b[1:3])), 3
	case c == 254 && len(b) >= 5:
		return uint64(binary.BigEndian.Uint32(b[1:5])), 5
	case c == 255 && len(b) >= 9:
		return binary.BigEndian.Uint64(b[1:9]), 9
	}
	return 0, 0
}
