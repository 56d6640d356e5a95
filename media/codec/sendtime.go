package codec

import "encoding/binary"

// AbsSendTime returns the abs-send-time of an RTP packet: the value of its
// one-byte-header extension element id (the negotiated id of
// http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time), 24 bits of
// seconds in 6.18 fixed point, wrapping every 64 s. ok is false when the
// packet has no such element (or is malformed).
func AbsSendTime(pkt []byte, id uint8) (v uint32, ok bool) {
	b, ok := extension(pkt, id)
	if !ok || len(b) != 3 {
		return 0, false
	}
	return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]), true
}

// AudioLevel reads the ssrc-audio-level header extension (RFC 6464) of id
// in an RTP packet: the level in -dBov (0 the loudest, 127 silence) and
// whether the sender's voice activity detection says it is speech.
func AudioLevel(pkt []byte, id uint8) (level uint8, voice bool, ok bool) {
	b, ok := extension(pkt, id)
	if !ok || len(b) < 1 {
		return 0, false, false
	}
	return b[0] & 0x7f, b[0]&0x80 != 0, true
}

// extension finds the one-byte-header extension element of id (RFC 8285)
// in an RTP packet and returns its data.
func extension(pkt []byte, id uint8) ([]byte, bool) {
	if id == 0 || id > 14 || len(pkt) < 12 || pkt[0]>>6 != 2 || pkt[0]&0x10 == 0 {
		return nil, false
	}
	off := 12 + 4*int(pkt[0]&0x0f)
	if len(pkt) < off+4 || binary.BigEndian.Uint16(pkt[off:]) != 0xbede {
		return nil, false // no extension, or the two-byte form
	}
	end := off + 4 + 4*int(binary.BigEndian.Uint16(pkt[off+2:]))
	if end > len(pkt) {
		return nil, false
	}
	for i := off + 4; i < end; {
		b := pkt[i]
		if b == 0 { // padding
			i++
			continue
		}
		eid, n := b>>4, int(b&0x0f)+1
		if eid == 15 {
			return nil, false // reserved: stop
		}
		if i+1+n > end {
			return nil, false
		}
		if eid == id {
			return pkt[i+1 : i+1+n], true
		}
		i += 1 + n
	}
	return nil, false
}
