package codec

// Numbering is where a VP8 or VP9 payload descriptor carries the frame
// numbering a receiver orders frames and finds references by: the picture
// ID (7 or 15 bits) and the TL0PICIDX (8 bits, the index of the last
// base-temporal-layer frame). Two simulcast layers of one camera number
// their frames independently, so a stream that switches from one to the
// other must renumber them (Chromium's VP8 reference finder otherwise
// holds back the new layer's frames as waiting for pictures that will
// never come).
type Numbering struct {
	PID     uint16 // picture ID
	PIDBits uint8  // 0: no picture ID; 7 or 15
	TL0     uint8  // TL0PICIDX
	HasTL0  bool
	pidAt   int // offset of the picture ID in the payload
	tl0At   int
}

// ParseNumbering reads the numbering of a VP8 or VP9 payload (the RTP
// payload, descriptor first). false: another codec, or a descriptor too
// short to hold what its flags announce.
func ParseNumbering(mimeType string, payload []byte) (Numbering, bool) {
	switch kindOf(mimeType) {
	case kindVP8:
		return vp8Numbering(payload)
	case kindVP9:
		return vp9Numbering(payload)
	}
	return Numbering{}, false
}

// readPID reads a picture ID at p[i] (M bit: 15 bits, else 7).
func (n *Numbering) readPID(p []byte, i int) (int, bool) {
	if i >= len(p) {
		return 0, false
	}
	n.pidAt = i
	if p[i]&0x80 != 0 {
		if i+1 >= len(p) {
			return 0, false
		}
		n.PID, n.PIDBits = uint16(p[i]&0x7f)<<8|uint16(p[i+1]), 15
		return i + 2, true
	}
	n.PID, n.PIDBits = uint16(p[i]&0x7f), 7
	return i + 1, true
}

func vp8Numbering(p []byte) (Numbering, bool) {
	var n Numbering
	if len(p) < 1 {
		return n, false
	}
	if p[0]&vp8BitX == 0 {
		return n, true // no extension: nothing numbered
	}
	if len(p) < 2 {
		return n, false
	}
	x, i := p[1], 2
	if x&vp8BitI != 0 {
		var ok bool
		if i, ok = n.readPID(p, i); !ok {
			return n, false
		}
	}
	if x&vp8BitL != 0 {
		if i >= len(p) {
			return n, false
		}
		n.TL0, n.HasTL0, n.tl0At = p[i], true, i
	}
	return n, true
}

// vp9Numbering: the picture ID follows the first octet (I); in
// non-flexible mode (F clear) with layer indices (L), the TL0PICIDX
// follows the layer indices octet.
func vp9Numbering(p []byte) (Numbering, bool) {
	var n Numbering
	if len(p) < 1 {
		return n, false
	}
	b0, i := p[0], 1
	if b0&vp9BitI != 0 {
		var ok bool
		if i, ok = n.readPID(p, i); !ok {
			return n, false
		}
	}
	if b0&vp9BitL != 0 {
		i++ // layer indices
		if b0&vp9BitF == 0 {
			if i >= len(p) {
				return n, false
			}
			n.TL0, n.HasTL0, n.tl0At = p[i], true, i
		}
	}
	return n, true
}

// Rewrite writes pid (taken modulo the descriptor's width) and tl0 into
// payload, which n was parsed from; fields the descriptor lacks are left
// alone.
func (n Numbering) Rewrite(payload []byte, pid uint16, tl0 uint8) {
	switch n.PIDBits {
	case 15:
		pid &= 0x7fff
		payload[n.pidAt] = 0x80 | byte(pid>>8)
		payload[n.pidAt+1] = byte(pid)
	case 7:
		payload[n.pidAt] = byte(pid & 0x7f)
	}
	if n.HasTL0 {
		payload[n.tl0At] = tl0
	}
}

// PIDAhead reports whether picture ID a is newer than b, on a circle of
// 2^bits (7 or 15).
func PIDAhead(a, b uint16, bits uint8) bool {
	m := uint16(1)<<bits - 1
	d := (a - b) & m
	return d != 0 && d < (m+1)/2
}
