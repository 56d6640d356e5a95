package source

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/peets/peets/media/codec"
)

// TestLayersAndTalk: a source with simulcast layers plays each as its own
// stream of group "cam" (answering keyframe requests per layer), and with a
// talk schedule its audio packets carry the level: speech during the
// schedule's talk, silence otherwise, by media time.
func TestLayersAndTalk(t *testing.T) {
	dir := t.TempDir()
	var layers []Layer
	for _, rid := range []string{"l", "m", "h"} {
		p := filepath.Join(dir, rid+".ivf")
		if err := os.WriteFile(p, embeddedIVF, 0o600); err != nil {
			t.Fatal(err)
		}
		layers = append(layers, Layer{RID: rid, Path: p})
	}
	o := fast(false)
	o.Layers = layers
	o.Talk = &Talk{Period: 4 * time.Second, On: time.Second, Offset: time.Second}
	s, err := OpenDefault(o)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	ssrcs := map[uint32]bool{}
	for _, st := range s.Streams() {
		ids = append(ids, st.ID)
		ssrcs[st.SSRC] = true
		if st.Kind == StreamVideo && (st.Group != LayerGroup || st.ID != LayerGroup+"."+st.RID) {
			t.Errorf("layer %+v", st)
		}
		if st.Kind == StreamAudio && st.AudioLevel != AudioLevelID {
			t.Errorf("audio %+v: no level extension", st)
		}
	}
	if !slices.Equal(ids, []string{"cam.l", "cam.m", "cam.h", "audio"}) || len(ssrcs) != 4 {
		t.Fatalf("streams %v, %d SSRCs", ids, len(ssrcs))
	}
	perStream := map[string]int{}
	var levels []uint8
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Run(ctx, func(p Packet) {
		perStream[p.Stream]++
		if p.Stream == StreamAudio {
			b, _ := p.RTP.Marshal()
			l, voice, ok := codec.AudioLevel(b, AudioLevelID)
			if !ok || voice != (l == TalkLevel) {
				t.Errorf("audio packet %d: level %d voice %v ok %v", len(levels), l, voice, ok)
			}
			levels = append(levels, l)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if perStream["cam.l"] == 0 || perStream["cam.l"] != perStream["cam.h"] {
		t.Fatalf("packets per stream %v", perStream)
	}
	// 40 ms packets: talking from 1 s to 2 s of every 4 s of media time.
	for i, l := range levels {
		at := i * 40
		talking := at%4000 >= 1000 && at%4000 < 2000
		if talking != (l == TalkLevel) {
			t.Fatalf("packet %d (%d ms): level %d", i, at, l)
		}
	}
	if o.Talk.Period > 0 && len(levels) < 200 {
		t.Fatalf("%d audio packets", len(levels))
	}
	o.Layers = append(o.Layers, Layer{RID: "l", Path: layers[0].Path})
	if _, err := OpenDefault(o); err == nil {
		t.Error("two layers of one rid accepted")
	}
}
