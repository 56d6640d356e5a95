package codec

// AV1 RTP aggregation header (AV1 RTP specification section 4.4):
//
//	 0 1 2 3 4 5 6 7
//	+-+-+-+-+-+-+-+-+
//	|Z|Y| W |N|-|-|-|
//	+-+-+-+-+-+-+-+-+
//
// Z: the first OBU element continues an OBU from the previous packet.
// W: number of OBU elements (0 = each element has a length field).
// N: first packet of a coded video sequence.
const (
	av1BitZ = 0x80
	av1BitN = 0x08

	av1OBUSequenceHeader    = 1
	av1OBUTemporalDelimiter = 2
	av1OBUFrameHeader       = 3
	av1OBUFrame             = 6
	av1OBUTypeShift         = 3
	av1OBUTypeMask          = 0x0f
	av1MaxLEB128Bytes       = 8
)

// av1Keyframe is deliberately conservative: only the first packet of a new
// coded video sequence counts (a sequence header followed by a key frame).
// Key frames inside a sequence are not reported.
func av1Keyframe(p []byte) bool {
	return len(p) > 1 && p[0]&av1BitZ == 0 && p[0]&av1BitN != 0
}

// av1FrameStart reports whether p begins a new temporal unit or frame.
func av1FrameStart(p []byte) bool {
	if len(p) < 2 || p[0]&av1BitZ != 0 {
		return false
	}
	if p[0]&av1BitN != 0 {
		return true
	}
	i := 1
	if w := (p[0] >> 4) & 0x03; w != 1 {
		// The first OBU element is preceded by its LEB128 length.
		n := 0
		for {
			if i >= len(p) || n == av1MaxLEB128Bytes {
				return false
			}
			b := p[i]
			i++
			n++
			if b&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(p) {
		return false
	}
	switch (p[i] >> av1OBUTypeShift) & av1OBUTypeMask {
	case av1OBUSequenceHeader, av1OBUTemporalDelimiter, av1OBUFrameHeader, av1OBUFrame:
		return true
	}
	return false
}
