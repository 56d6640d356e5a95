package codec

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
)

// botIVF is the committed test video (a symlink to media/source/assets).
const botIVF = "../../testdata/bot.ivf"

// readIVF returns the frames of an IVF file.
func readIVF(tb testing.TB, path string) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	r, hdr, err := ivfreader.NewWith(bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	if hdr.FourCC != "VP80" {
		tb.Fatalf("FourCC %q", hdr.FourCC)
	}
	var frames [][]byte
	for {
		f, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			return frames
		}
		if err != nil {
			tb.Fatal(err)
		}
		frames = append(frames, f)
	}
}

// TestRealVP8Packets packetizes every frame of testdata/bot.ivf with pion's
// VP8 payloader (with and without PictureID, at two MTUs) and checks that
// exactly the first packet of each key frame is reported as a keyframe,
// agreeing with the IVF frame headers.
func TestRealVP8Packets(t *testing.T) {
	frames := readIVF(t, botIVF)
	for _, tc := range []struct {
		name      string
		pictureID bool
		mtu       uint16
	}{
		{"pictureID mtu1188", true, 1188},
		{"plain mtu1188", false, 1188},
		{"pictureID mtu300", true, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pay := &codecs.VP8Payloader{EnablePictureID: tc.pictureID}
			keys, packets := 0, 0
			for n, f := range frames {
				wantKey := f[0]&0x01 == 0 // IVF frame tag P bit
				if wantKey != IsVP8KeyframeData(f) {
					t.Fatalf("frame %d: IsVP8KeyframeData disagrees with P bit", n)
				}
				for i, p := range pay.Payload(tc.mtu, f) {
					packets++
					if got := IsFrameStart(MimeTypeVP8, p); got != (i == 0) {
						t.Fatalf("frame %d packet %d: IsFrameStart = %v", n, i, got)
					}
					if got := IsKeyframe(MimeTypeVP8, p); got != (i == 0 && wantKey) {
						t.Fatalf("frame %d packet %d: IsKeyframe = %v, want %v", n, i, got, i == 0 && wantKey)
					}
					if IsKeyframe(MimeTypeVP8, p) {
						keys++
					}
				}
			}
			// bot.ivf: 250 frames at 25 fps with a key frame every 50.
			if keys != 5 || len(frames) != 250 {
				t.Fatalf("got %d keyframes in %d frames, want 5 in 250", keys, len(frames))
			}
			t.Logf("%d frames, %d packets, %d keyframes", len(frames), packets, keys)
		})
	}
}
