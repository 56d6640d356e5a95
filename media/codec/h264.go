package codec

// H264 NAL unit types (ITU-T H.264 table 7-1) and RTP packetization types
// (RFC 6184 section 5.2).
const (
	h264NALSlice = 1
	h264NALIDR   = 5
	h264NALSEI   = 6
	h264NALSPS   = 7
	h264NALPPS   = 8
	h264NALAUD   = 9
	h264STAPA    = 24
	h264STAPB    = 25
	h264FUA      = 28
	h264FUB      = 29

	h264TypeMask = 0x1f
	h264FUStart  = 0x80
)

// h264Inspect returns whether the payload starts an access unit (frame) and
// whether it carries what a decoder needs to start (SPS or the first slice of
// an IDR picture).
func h264Inspect(p []byte) (start, key bool) {
	if len(p) < 1 {
		return false, false
	}
	switch t := p[0] & h264TypeMask; {
	case t >= 1 && t <= 23:
		return h264NAL(t, p[1:])
	case t == h264STAPA || t == h264STAPB:
		i := 1
		if t == h264STAPB {
			i += 2 // DON
		}
		first := true
		for i+2 <= len(p) {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if size == 0 || i+size > len(p) {
				break
			}
			s, k := h264NAL(p[i]&h264TypeMask, p[i+1:i+size])
			if first {
				start = s
				first = false
			}
			key = key || k
			i += size
		}
		return start, key
	case t == h264FUA || t == h264FUB:
		i := 2
		if t == h264FUB {
			i += 2 // DON
		}
		if len(p) < i || p[1]&h264FUStart == 0 {
			return false, false
		}
		return h264NAL(p[1]&h264TypeMask, p[i:])
	}
	return false, false
}

// h264NAL classifies one NAL unit of type t whose bytes after the NAL header
// are rest.
func h264NAL(t byte, rest []byte) (start, key bool) {
	switch t {
	case h264NALSPS:
		return true, true
	case h264NALPPS, h264NALSEI, h264NALAUD:
		return true, false
	case h264NALSlice, h264NALIDR:
		// first_mb_in_slice is ue(v); its value is 0 iff the first bit is 1.
		first := len(rest) > 0 && rest[0]&0x80 != 0
		return first, first && t == h264NALIDR
	}
	return false, false
}
