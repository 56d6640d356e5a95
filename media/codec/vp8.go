package codec

// VP8 RTP payload descriptor (RFC 7741 section 4.2):
//
//	     0 1 2 3 4 5 6 7
//	    +-+-+-+-+-+-+-+-+
//	    |X|R|N|S|R| PID | (REQUIRED)
//	    +-+-+-+-+-+-+-+-+
//	X:  |I|L|T|K| RSV   | (OPTIONAL)
//	    +-+-+-+-+-+-+-+-+
//	I:  |M| PictureID   | (OPTIONAL, 7 or 15 bits)
//	    +-+-+-+-+-+-+-+-+
//	L:  |   TL0PICIDX   | (OPTIONAL)
//	    +-+-+-+-+-+-+-+-+
//	T/K:|TID|Y| KEYIDX  | (OPTIONAL)
//	    +-+-+-+-+-+-+-+-+
const (
	vp8BitX   = 0x80
	vp8BitS   = 0x10
	vp8PIDMsk = 0x07
	vp8BitI   = 0x80
	vp8BitL   = 0x40
	vp8BitT   = 0x20
	vp8BitK   = 0x10
	vp8BitM   = 0x80
)

// vp8FrameStart parses the payload descriptor and returns the offset of the
// VP8 payload when the packet starts partition 0 of a frame (S=1, PID=0).
func vp8FrameStart(p []byte) (int, bool) {
	if len(p) < 1 {
		return 0, false
	}
	b0 := p[0]
	i := 1
	if b0&vp8BitX != 0 {
		if len(p) < 2 {
			return 0, false
		}
		x := p[1]
		i = 2
		if x&vp8BitI != 0 {
			if i >= len(p) {
				return 0, false
			}
			if p[i]&vp8BitM != 0 {
				i += 2
			} else {
				i++
			}
		}
		if x&vp8BitL != 0 {
			i++
		}
		if x&(vp8BitT|vp8BitK) != 0 {
			i++
		}
	}
	if i >= len(p) {
		return 0, false // descriptor without payload
	}
	if b0&vp8BitS == 0 || b0&vp8PIDMsk != 0 {
		return 0, false
	}
	return i, true
}

// vp8Keyframe reports whether p starts a VP8 key frame.
func vp8Keyframe(p []byte) bool {
	i, ok := vp8FrameStart(p)
	if !ok {
		return false
	}
	return IsVP8KeyframeData(p[i:])
}

// IsVP8KeyframeData reports whether frame, the beginning of a VP8 frame
// (e.g. an IVF frame, or the payload after the RTP descriptor), is a key
// frame: the frame tag's P bit is 0 and the key frame start code 9d 01 2a
// follows the 3-byte tag (RFC 6386 section 9.1).
func IsVP8KeyframeData(frame []byte) bool {
	if len(frame) < 6 {
		return false
	}
	return frame[0]&0x01 == 0 && frame[3] == 0x9d && frame[4] == 0x01 && frame[5] == 0x2a
}
