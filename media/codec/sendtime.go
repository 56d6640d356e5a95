package codec

import "encoding/binary"

// AbsSendTime returns the abs-send-time of an RTP packet: the value of its
// one-byte-header extension element id (the negotiated id of
// http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time), 24 bits of
// seconds in 6.18 fixed point, wrapping every 64 s. ok is false when the
// packet has no such element (or is malformed).
func AbsSendTime(pkt []byte, id uint8) (v uint32, ok bool) {
	if id == 0 || id > 14 || len(pkt) < 12 || pkt[0]>>6 != 2 || pkt[0]&0x10 == 0 {
		return 0, false
	}
	off := 12 + 4*int(pkt[0]&0x0f)
	if len(pkt) < off+4 || binary.BigEndian.Uint16(pkt[off:]) != 0xbede {
		return 0, false // no extension, or the two-byte form
	}
	end := off + 4 + 4*int(binary.BigEndian.Uint16(pkt[off+2:]))
	if end > len(pkt) {
		return 0, false
	}
	for i := off + 4; i < end; {
		b := pkt[i]
		if b == 0 { // padding
			i++
			continue
		}
		eid, n := b>>4, int(b&0x0f)+1
		if eid == 15 {
			return 0, false // reserved: stop
		}
		if i+1+n > end {
			return 0, false
		}
		if eid == id {
			if n != 3 {
				return 0, false
			}
			return uint32(pkt[i+1])<<16 | uint32(pkt[i+2])<<8 | uint32(pkt[i+3]), true
		}
		i += 1 + n
	}
	return 0, false
}
