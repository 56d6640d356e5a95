package source

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"
)

// fast are options for deterministic tests: unpaced, embedded media.
func fast(loop bool) Options {
	return Options{Loop: loop, Speed: math.Inf(1)}
}

// recorder collects packets per stream.
type recorder struct {
	mu    sync.Mutex
	video []Packet
	audio []Packet
	// videoFrames counts complete video frames (marker bits).
	videoFrames int
}

func (r *recorder) add(p Packet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.Stream == StreamVideo {
		r.video = append(r.video, p)
		if p.RTP.Marker {
			r.videoFrames++
		}
	} else {
		r.audio = append(r.audio, p)
	}
}

// runUntil runs s, recording packets until done returns true (checked
// after every packet, on the Run goroutines: r may be read without locking,
// since out calls are serialized) or the media ends, with a safety timeout.
func runUntil(t *testing.T, s *Source, done func(r *recorder, p Packet) bool) (*recorder, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := &recorder{}
	err := s.Run(ctx, func(p Packet) {
		r.add(p)
		if done != nil && done(r, p) {
			cancel()
		}
	})
	if ctx.Err() == context.DeadlineExceeded {
		t.Fatal("run did not finish in time")
	}
	return r, err
}

// frames groups a stream's packets into frames (by marker bit for video,
// one packet per frame for audio).
func frames(ps []Packet) [][]Packet {
	var out [][]Packet
	var cur []Packet
	for _, p := range ps {
		cur = append(cur, p)
		if p.Stream == StreamAudio || p.RTP.Marker {
			out = append(out, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func mustOpenDefault(t testing.TB, o Options) *Source {
	t.Helper()
	s, err := OpenDefault(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
