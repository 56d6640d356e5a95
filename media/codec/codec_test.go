package codec

import (
	"testing"

	"github.com/pion/webrtc/v4"
)

func TestMimeConstantsMatchPion(t *testing.T) {
	for _, c := range []struct{ ours, pion string }{
		{MimeTypeVP8, webrtc.MimeTypeVP8},
		{MimeTypeVP9, webrtc.MimeTypeVP9},
		{MimeTypeH264, webrtc.MimeTypeH264},
		{MimeTypeAV1, webrtc.MimeTypeAV1},
		{MimeTypeOpus, webrtc.MimeTypeOpus},
	} {
		if c.ours != c.pion {
			t.Errorf("%q != pion %q", c.ours, c.pion)
		}
	}
}

// vp8Key is the start of a VP8 key frame: frame tag with P=0, start code.
var vp8Key = []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}

// vp8Delta is the start of a VP8 inter frame (P=1).
var vp8Delta = []byte{0x31, 0x0b, 0x00, 0x00, 0x00, 0x00}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestTable(t *testing.T) {
	tests := []struct {
		name       string
		mime       string
		payload    []byte
		start, key bool
	}{
		// VP8
		{"vp8 key minimal", MimeTypeVP8, cat([]byte{0x10}, vp8Key), true, true},
		{"vp8 key lower-case mime", "video/vp8", cat([]byte{0x10}, vp8Key), true, true},
		{"vp8 key 15-bit picture id", MimeTypeVP8, cat([]byte{0x90, 0x80, 0x81, 0x23}, vp8Key), true, true},
		{"vp8 key 7-bit picture id", MimeTypeVP8, cat([]byte{0x90, 0x80, 0x05}, vp8Key), true, true},
		{"vp8 key I+L+T+K", MimeTypeVP8, cat([]byte{0x90, 0xf0, 0x81, 0x23, 0x07, 0x40}, vp8Key), true, true},
		{"vp8 key L only", MimeTypeVP8, cat([]byte{0x90, 0x40, 0x07}, vp8Key), true, true},
		{"vp8 key K only", MimeTypeVP8, cat([]byte{0x90, 0x10, 0x1f}, vp8Key), true, true},
		{"vp8 delta", MimeTypeVP8, cat([]byte{0x90, 0x80, 0x81, 0x23}, vp8Delta), true, false},
		{"vp8 continuation S=0", MimeTypeVP8, cat([]byte{0x80, 0x80, 0x81, 0x23}, vp8Key), false, false},
		{"vp8 partition 1", MimeTypeVP8, cat([]byte{0x11}, vp8Key), false, false},
		{"vp8 key without start code", MimeTypeVP8, []byte{0x10, 0x50, 0x42, 0x00, 0x00, 0x00, 0x00}, true, false},
		{"vp8 truncated descriptor", MimeTypeVP8, []byte{0x90, 0x80}, false, false},
		{"vp8 descriptor only", MimeTypeVP8, []byte{0x90, 0x80, 0x81, 0x23}, false, false},
		{"vp8 empty", MimeTypeVP8, nil, false, false},
		// VP9
		{"vp9 key flexible", MimeTypeVP9, []byte{0x88 | 0x10, 0x81, 0x23, 0x82}, true, true},
		{"vp9 key no pid", MimeTypeVP9, []byte{0x08, 0x82}, true, true},
		{"vp9 delta P=1", MimeTypeVP9, []byte{0xc8 | 0x10, 0x81, 0x23, 0x02, 0x86}, true, false},
		{"vp9 middle packet B=0", MimeTypeVP9, []byte{0x90, 0x81, 0x23, 0x86}, false, false},
		{"vp9 key SID 0 with L", MimeTypeVP9, []byte{0xa8, 0x05, 0x00, 0x00, 0x82}, true, true},
		{"vp9 upper spatial layer", MimeTypeVP9, []byte{0xa8, 0x05, 0x03, 0x00, 0x82}, true, false},
		{"vp9 truncated pid", MimeTypeVP9, []byte{0x88, 0x81}, false, false},
		{"vp9 truncated L", MimeTypeVP9, []byte{0xa8, 0x05}, false, false},
		// H264
		{"h264 single SPS", MimeTypeH264, []byte{0x67, 0x42, 0xc0, 0x1f}, true, true},
		{"h264 single IDR first slice", MimeTypeH264, []byte{0x65, 0x88, 0x84}, true, true},
		{"h264 single IDR second slice", MimeTypeH264, []byte{0x65, 0x41, 0x9a}, false, false},
		{"h264 single non-IDR first slice", MimeTypeH264, []byte{0x41, 0x9a, 0x00}, true, false},
		{"h264 PPS", MimeTypeH264, []byte{0x68, 0xce, 0x3c, 0x80}, true, false},
		{"h264 STAP-A SPS PPS IDR", MimeTypeH264, []byte{
			0x78,
			0x00, 0x04, 0x67, 0x42, 0xc0, 0x1f,
			0x00, 0x04, 0x68, 0xce, 0x3c, 0x80,
			0x00, 0x03, 0x65, 0x88, 0x84,
		}, true, true},
		{"h264 STAP-A PPS IDR", MimeTypeH264, []byte{
			0x78, 0x00, 0x04, 0x68, 0xce, 0x3c, 0x80, 0x00, 0x03, 0x65, 0x88, 0x84,
		}, true, true},
		{"h264 STAP-A SEI slice", MimeTypeH264, []byte{
			0x78, 0x00, 0x02, 0x06, 0x05, 0x00, 0x03, 0x41, 0x9a, 0x00,
		}, true, false},
		{"h264 STAP-A bad size", MimeTypeH264, []byte{0x78, 0x00, 0x40, 0x67, 0x42}, false, false},
		{"h264 STAP-B SPS", MimeTypeH264, []byte{0x79, 0x00, 0x01, 0x00, 0x02, 0x67, 0x42}, true, true},
		{"h264 FU-A IDR start", MimeTypeH264, []byte{0x7c, 0x85, 0x88, 0x84}, true, true},
		{"h264 FU-A IDR middle", MimeTypeH264, []byte{0x7c, 0x05, 0x88, 0x84}, false, false},
		{"h264 FU-A IDR end", MimeTypeH264, []byte{0x7c, 0x45, 0x88, 0x84}, false, false},
		{"h264 FU-A non-IDR start", MimeTypeH264, []byte{0x7c, 0x81, 0x9a}, true, false},
		{"h264 FU-B IDR start", MimeTypeH264, []byte{0x7d, 0x85, 0x00, 0x01, 0x88}, true, true},
		{"h264 FU-A truncated", MimeTypeH264, []byte{0x7c}, false, false},
		{"h264 empty", MimeTypeH264, nil, false, false},
		// AV1
		{"av1 new sequence", MimeTypeAV1, []byte{0x18, 0x0a, 0x0b, 0x00}, true, true},
		{"av1 frame W=1", MimeTypeAV1, []byte{0x10, 0x32, 0x10}, true, false},
		{"av1 frame header W=0", MimeTypeAV1, []byte{0x00, 0x02, 0x1a, 0x00}, true, false},
		{"av1 tile group W=1", MimeTypeAV1, []byte{0x10, 0x22, 0x10}, false, false},
		{"av1 continuation", MimeTypeAV1, []byte{0x98, 0x0a}, false, false},
		{"av1 endless leb128", MimeTypeAV1, []byte{0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x32}, false, false},
		// audio
		{"opus", MimeTypeOpus, []byte{0x78, 0x01}, true, true},
		{"opus upper", "AUDIO/OPUS", []byte{0xfc}, true, true},
		{"pcmu", "audio/PCMU", []byte{0xff}, true, true},
		{"opus empty", MimeTypeOpus, nil, false, false},
		// unknown
		{"unknown video", "video/H265", []byte{0x26, 0x01, 0xaf}, false, false},
		{"empty mime", "", []byte{0x10, 0x50}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsFrameStart(tc.mime, tc.payload); got != tc.start {
				t.Errorf("IsFrameStart = %v, want %v", got, tc.start)
			}
			if got := IsKeyframe(tc.mime, tc.payload); got != tc.key {
				t.Errorf("IsKeyframe = %v, want %v", got, tc.key)
			}
		})
	}
}

func TestOpusSamples(t *testing.T) {
	tests := []struct {
		name    string
		packet  []byte
		samples int
		wantErr bool
	}{
		{"silk 10ms", []byte{0 << 3}, 480, false},
		{"silk 20ms", []byte{1 << 3}, 960, false},
		{"silk 60ms", []byte{3 << 3}, 2880, false},
		{"hybrid 20ms", []byte{13 << 3}, 960, false},
		{"celt 2.5ms", []byte{16 << 3}, 120, false},
		{"celt 20ms fullband", []byte{31 << 3}, 960, false},
		{"celt 20ms two frames", []byte{31<<3 | 1}, 1920, false},
		{"celt 20ms code 2", []byte{31<<3 | 2}, 1920, false},
		{"code 3 x3 of 20ms", []byte{31<<3 | 3, 3}, 2880, false},
		{"code 3 too long", []byte{31<<3 | 3, 7}, 0, true},
		{"code 3 zero frames", []byte{31<<3 | 3, 0}, 0, true},
		{"code 3 truncated", []byte{31<<3 | 3}, 0, true},
		{"empty", nil, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := OpusSamples(tc.packet)
			if (err != nil) != tc.wantErr || n != tc.samples {
				t.Fatalf("OpusSamples = %d, %v; want %d, err=%v", n, err, tc.samples, tc.wantErr)
			}
		})
	}
	if d, err := OpusDuration([]byte{31 << 3}); err != nil || d.Milliseconds() != 20 {
		t.Fatalf("OpusDuration = %v, %v", d, err)
	}
}
