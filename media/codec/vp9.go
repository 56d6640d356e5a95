package codec

// VP9 RTP payload descriptor (RFC 9628 section 4.2), first octet:
//
//	 0 1 2 3 4 5 6 7
//	+-+-+-+-+-+-+-+-+
//	|I|P|L|F|B|E|V|Z|
//	+-+-+-+-+-+-+-+-+
//
// followed, when I is set, by a 7- or 15-bit picture ID (M bit) and, when L
// is set, by the layer indices octet |TID|U| SID |D|.
const (
	vp9BitI = 0x80
	vp9BitP = 0x40
	vp9BitL = 0x20
	vp9BitF = 0x10
	vp9BitB = 0x08
	vp9BitM = 0x80
)

// vp9Inspect returns whether p starts a (layer) frame and whether that frame
// is a keyframe: not inter-picture predicted and on spatial layer 0.
func vp9Inspect(p []byte) (start, key bool) {
	if len(p) < 1 {
		return false, false
	}
	b0 := p[0]
	if b0&vp9BitB == 0 {
		return false, false
	}
	i := 1
	if b0&vp9BitI != 0 {
		if i >= len(p) {
			return false, false
		}
		if p[i]&vp9BitM != 0 {
			i += 2
		} else {
			i++
		}
	}
	sid := 0
	if b0&vp9BitL != 0 {
		if i >= len(p) {
			return false, false
		}
		sid = int(p[i]>>1) & 0x07
		i++
	}
	if i > len(p) {
		return false, false
	}
	return true, b0&vp9BitP == 0 && sid == 0
}
