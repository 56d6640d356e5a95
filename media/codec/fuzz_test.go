package codec

import (
	"testing"

	"github.com/pion/rtp/codecs"
)

var fuzzMimes = []string{MimeTypeVP8, MimeTypeVP9, MimeTypeH264, MimeTypeAV1, MimeTypeOpus, "video/unknown"}

// FuzzIsKeyframe feeds arbitrary payloads to every parser: they must never
// panic, and a keyframe must always also be a frame start. The seed corpus
// holds real VP8 packets from testdata/bot.ivf and handcrafted packets of
// every codec.
func FuzzIsKeyframe(f *testing.F) {
	frames := readIVF(f, botIVF)
	pay := &codecs.VP8Payloader{EnablePictureID: true}
	for _, n := range []int{0, 1, 50} {
		for i, p := range pay.Payload(1188, frames[n]) {
			if i > 1 {
				break
			}
			f.Add(uint8(0), p[:min(len(p), 64)])
		}
	}
	seeds := []struct {
		mime uint8
		p    []byte
	}{
		{1, []byte{0x98, 0x81, 0x23, 0x82}},
		{1, []byte{0xa8, 0x05, 0x00, 0x00, 0x82}},
		{2, []byte{0x78, 0x00, 0x04, 0x67, 0x42, 0xc0, 0x1f, 0x00, 0x03, 0x65, 0x88, 0x84}},
		{2, []byte{0x7c, 0x85, 0x88, 0x84}},
		{2, []byte{0x79, 0x00, 0x01, 0x00, 0x02, 0x67, 0x42}},
		{3, []byte{0x18, 0x0a, 0x0b, 0x00}},
		{3, []byte{0x00, 0x82, 0x01, 0x1a}},
		{4, []byte{0xfc, 0xff, 0xfe}},
		{5, []byte{0x10}},
	}
	for _, s := range seeds {
		f.Add(s.mime, s.p)
	}
	f.Fuzz(func(t *testing.T, m uint8, p []byte) {
		mime := fuzzMimes[int(m)%len(fuzzMimes)]
		key := IsKeyframe(mime, p)
		start := IsFrameStart(mime, p)
		if key && !start {
			t.Fatalf("%s %x: keyframe but not frame start", mime, p)
		}
		if n, err := OpusSamples(p); err == nil && (n <= 0 || n > opusMaxSamples) {
			t.Fatalf("OpusSamples(%x) = %d", p, n)
		}
	})
}
