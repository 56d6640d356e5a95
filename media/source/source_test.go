package source

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/pion/webrtc/v4/pkg/media/ivfreader"

	"github.com/peets/peets/media/codec"
)

// Properties of the committed bot media (see testdata/README.md).
const (
	botFrames       = 250
	botKeyframes    = 5
	botGOP          = 50
	botFrameTicks   = 3600 // 90 kHz ticks per frame at 25 fps
	botOpusPackets  = 251
	botOpusTicks    = 1920 // 40 ms at 48 kHz, as a page sends (a=ptime:40)
	headerAndVP8Hdr = 12 + 4
)

func TestOpenDefaultStreams(t *testing.T) {
	s := mustOpenDefault(t, Options{})
	st := s.Streams()
	if len(st) != 2 {
		t.Fatalf("streams = %+v", st)
	}
	v, a := st[0], st[1]
	if v.ID != StreamVideo || v.Kind != "video" || v.MimeType != "video/VP8" || v.ClockRate != 90000 || v.PayloadType != 96 {
		t.Errorf("video stream %+v", v)
	}
	if a.ID != StreamAudio || a.Kind != "audio" || a.MimeType != "audio/opus" || a.ClockRate != 48000 || a.Channels != 2 || a.PayloadType != 111 {
		t.Errorf("audio stream %+v", a)
	}
	if v.SSRC == 0 || a.SSRC == 0 || v.SSRC == a.SSRC {
		t.Errorf("SSRCs %d %d", v.SSRC, a.SSRC)
	}
	if len(s.videos[0].frames) != botFrames || len(s.videos[0].keys) != botKeyframes || len(s.audio.frames) != botOpusPackets {
		t.Errorf("frames: video %d (keys %v), audio %d", len(s.videos[0].frames), s.videos[0].keys, len(s.audio.frames))
	}
	for i, k := range s.videos[0].keys {
		if k != i*botGOP {
			t.Errorf("key frames at %v, want every %d", s.videos[0].keys, botGOP)
			break
		}
	}
	if d := s.videos[0].loopDuration(); d != 10*time.Second {
		t.Errorf("video duration %v", d)
	}
	if d := s.audio.loopDuration(); d != 10040*time.Millisecond {
		t.Errorf("audio duration %v", d)
	}
}

// TestOnePass plays the media once and checks packet counts against an
// independent read of the IVF file.
func TestOnePass(t *testing.T) {
	s := mustOpenDefault(t, fast(false))
	r, err := runUntil(t, s, nil)
	if err != nil {
		t.Fatalf("Run = %v, want nil at end of media", err)
	}

	ivf, _ := Embedded()
	ir, _, err := ivfreader.NewWith(bytes.NewReader(ivf))
	if err != nil {
		t.Fatal(err)
	}
	want, nframes := 0, 0
	for {
		f, _, err := ir.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		nframes++
		per := DefaultMTU - headerAndVP8Hdr
		want += (len(f) + per - 1) / per
	}
	if len(r.video) != want || len(frames(r.video)) != nframes {
		t.Errorf("video: %d packets in %d frames, want %d in %d", len(r.video), len(frames(r.video)), want, nframes)
	}
	if len(r.audio) != botOpusPackets {
		t.Errorf("audio: %d packets, want %d", len(r.audio), botOpusPackets)
	}
	for _, p := range r.video {
		if b, err := p.RTP.Marshal(); err != nil || len(b) > DefaultMTU {
			t.Fatalf("video packet of %d bytes (%v) exceeds MTU", len(b), err)
		}
	}
	markers := 0
	for _, p := range r.audio {
		if p.RTP.Marker {
			markers++
		}
	}
	if markers != 1 || !r.audio[0].RTP.Marker {
		t.Errorf("audio markers = %d, want only the first packet", markers)
	}
}

// checkContinuity checks that a stream's packets have constant SSRC/PT,
// consecutive sequence numbers, one timestamp per frame advancing by
// frameTicks, and the marker bit on the last packet of each video frame.
func checkContinuity(t *testing.T, info StreamInfo, ps []Packet, frameTicks uint32) {
	t.Helper()
	for i, p := range ps {
		h := p.RTP.Header
		if h.SSRC != info.SSRC || h.PayloadType != info.PayloadType || h.Version != 2 {
			t.Fatalf("%s packet %d: header %+v", info.ID, i, h)
		}
		if i == 0 {
			continue
		}
		prev := ps[i-1].RTP.Header
		if h.SequenceNumber != prev.SequenceNumber+1 {
			t.Fatalf("%s packet %d: seq %d after %d", info.ID, i, h.SequenceNumber, prev.SequenceNumber)
		}
		newFrame := info.Kind == StreamAudio || prev.Marker
		switch {
		case newFrame && h.Timestamp-prev.Timestamp != frameTicks:
			t.Fatalf("%s packet %d: timestamp step %d, want %d", info.ID, i, h.Timestamp-prev.Timestamp, frameTicks)
		case !newFrame && h.Timestamp != prev.Timestamp:
			t.Fatalf("%s packet %d: timestamp changed inside a frame", info.ID, i)
		}
	}
}

// TestLoopContinuity plays three loops and checks that sequence numbers and
// timestamps run on across the loop boundaries, and that the Keyframe flags
// agree with codec.IsKeyframe.
func TestLoopContinuity(t *testing.T) {
	s := mustOpenDefault(t, fast(true))
	const loops = 3
	r, err := runUntil(t, s, func(r *recorder, _ Packet) bool {
		return r.videoFrames >= loops*botFrames+3 && len(r.audio) >= loops*botOpusPackets+3
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	st := s.Streams()
	checkContinuity(t, st[0], r.video, botFrameTicks)
	checkContinuity(t, st[1], r.audio, botOpusTicks)

	for i, p := range r.video {
		if p.Keyframe != codec.IsKeyframe(st[0].MimeType, p.RTP.Payload) {
			t.Fatalf("video packet %d: Keyframe=%v disagrees with codec.IsKeyframe", i, p.Keyframe)
		}
	}
	// Video may run ahead while the stop condition waits for audio, so
	// count key frames in exactly loops*botFrames+1 frames: the loops plus
	// the first frame of the next one.
	fs := frames(r.video)
	keys := 0
	for _, f := range fs[:loops*botFrames+1] {
		for _, p := range f {
			if p.Keyframe {
				keys++
			}
		}
	}
	if keys != loops*botKeyframes+1 {
		t.Errorf("%d keyframe packets in %d loops, want %d", keys, loops, loops*botKeyframes+1)
	}
	for i, p := range r.audio {
		if !p.Keyframe || !codec.IsKeyframe(st[1].MimeType, p.RTP.Payload) {
			t.Fatalf("audio packet %d not a start point", i)
		}
	}
	if !fs[botFrames][0].Keyframe || !fs[2*botFrames][0].Keyframe {
		t.Error("loop does not restart on a key frame")
	}
}

// TestRequestKeyframe requests key frames at chosen points and checks that
// the very next video frame is a key frame, with continuous timestamps.
func TestRequestKeyframe(t *testing.T) {
	for _, tc := range []struct {
		name      string
		loop      bool
		at        int // request after this many video frames
		wantFrame int // file frame expected next
	}{
		{"mid GOP jumps forward", true, 10, botGOP},
		{"just before key frame", true, botGOP - 1, botGOP},
		{"on key frame boundary", true, botGOP, botGOP},
		{"last GOP wraps to start", true, botFrames - 10, 0},
		{"last GOP without loop goes back", false, botFrames - 10, botFrames - botGOP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustOpenDefault(t, fast(tc.loop))
			s.audio = nil // video only
			requested := false
			r, _ := runUntil(t, s, func(r *recorder, p Packet) bool {
				n := r.videoFrames
				if p.RTP.Marker && n == tc.at && !requested {
					requested = true
					s.RequestKeyframe()
				}
				return requested && n > tc.at+2
			})
			fs := frames(r.video)
			next := fs[tc.at][0]
			if !next.Keyframe || !codec.IsKeyframe("video/VP8", next.RTP.Payload) {
				t.Fatalf("frame after the request is not a key frame")
			}
			got := bytes.Equal(frameData(t, fs[tc.at]), s.videos[0].frames[tc.wantFrame].data)
			if !got {
				t.Errorf("sent frame is not file frame %d", tc.wantFrame)
			}
			checkContinuity(t, s.Streams()[0], r.video, botFrameTicks)
		})
	}
}

// frameData reassembles a VP8 frame from its packets (4-byte descriptors).
func frameData(t *testing.T, ps []Packet) []byte {
	t.Helper()
	var b []byte
	for _, p := range ps {
		b = append(b, p.RTP.Payload[4:]...)
	}
	return b
}

// TestRequestKeyframeRealtime measures the delay from a request (made from
// another goroutine, like a PLI handler) to the key frame, at 4x speed
// (10 ms frames): at most one frame interval plus scheduling slack.
func TestRequestKeyframeRealtime(t *testing.T) {
	const speed = 4
	interval := time.Second / 25 / speed
	s := mustOpenDefault(t, Options{Loop: true, Speed: speed})
	s.audio = nil
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	started := make(chan struct{})
	got := make(chan time.Time, 1)
	var requestedAt time.Time
	var frames int
	done := make(chan error, 1)
	armed := make(chan struct{})
	go func() {
		done <- s.Run(ctx, func(p Packet) {
			if p.RTP.Marker {
				frames++
				if frames == 3 {
					close(started)
				}
			}
			select {
			case <-armed:
				if p.Keyframe {
					select {
					case got <- p.Captured:
					default:
					}
				}
			default:
			}
		})
	}()
	<-started
	time.Sleep(interval / 3) // land mid-interval
	requestedAt = time.Now()
	close(armed)
	s.RequestKeyframe()
	select {
	case at := <-got:
		lat := at.Sub(requestedAt)
		t.Logf("keyframe %v after the request (frame interval %v)", lat, interval)
		if lat > interval+20*time.Millisecond {
			t.Errorf("keyframe latency %v > one frame interval %v (+20ms slack)", lat, interval)
		}
	case <-ctx.Done():
		t.Fatal("no keyframe")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v", err)
	}
}

// TestCancelPrompt cancels a real-time run and expects Run to return at once.
func TestCancelPrompt(t *testing.T) {
	s := mustOpenDefault(t, Options{Loop: true})
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan struct{})
	done := make(chan error, 1)
	var once bool
	go func() {
		done <- s.Run(ctx, func(Packet) {
			if !once {
				once = true
				close(first)
			}
		})
	}()
	<-first
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 50*time.Millisecond {
			t.Errorf("Run returned %v after cancel", d)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not stop")
	}
}

// TestPacing checks real-time pacing at 10x: 20 video frames (0.8 s of
// media) take about 80 ms.
func TestPacing(t *testing.T) {
	s := mustOpenDefault(t, Options{Speed: 10})
	start := time.Now()
	var lastVideo, lastAudio time.Duration
	runUntil(t, s, func(r *recorder, p Packet) bool {
		switch {
		case p.Stream == StreamVideo && r.videoFrames == 21 && lastVideo == 0:
			lastVideo = time.Since(start)
		case p.Stream == StreamAudio && len(r.audio) == 41 && lastAudio == 0:
			lastAudio = time.Since(start)
		}
		return lastVideo > 0 && lastAudio > 0
	})
	t.Logf("frame 21 at %v, audio packet 41 at %v (both due at 80ms)", lastVideo, lastAudio)
	for _, d := range []time.Duration{lastVideo, lastAudio} {
		if d < 75*time.Millisecond || d > 250*time.Millisecond {
			t.Errorf("due at 80ms, sent at %v", d)
		}
	}
}

func TestRunConcurrent(t *testing.T) {
	s := mustOpenDefault(t, Options{Loop: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan struct{})
	done := make(chan error, 1)
	var once bool
	go func() {
		done <- s.Run(ctx, func(Packet) {
			if !once {
				once = true
				close(first)
			}
		})
	}()
	<-first
	if err := s.Run(ctx, func(Packet) {}); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
	cancel()
	<-done
}

// TestRunResumes checks that a second Run continues sequence numbers and
// timestamps.
func TestRunResumes(t *testing.T) {
	s := mustOpenDefault(t, fast(true))
	s.audio = nil
	r1, _ := runUntil(t, s, func(r *recorder, _ Packet) bool { return len(r.video) >= 30 })
	r2, _ := runUntil(t, s, func(r *recorder, _ Packet) bool { return len(r.video) >= 30 })
	all := append(append([]Packet{}, r1.video...), r2.video...)
	checkContinuity(t, s.Streams()[0], all, botFrameTicks)
}

// TestTestdataSymlinks checks that testdata/ points at the embedded assets.
func TestTestdataSymlinks(t *testing.T) {
	ivf, ogg := Embedded()
	for path, want := range map[string][]byte{"../../testdata/bot.ivf": ivf, "../../testdata/bot.ogg": ogg} {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the embedded asset", path)
		}
	}
	if s, err := Open(Options{VideoPath: "../../testdata/bot.ivf", AudioPath: "../../testdata/bot.ogg"}); err != nil || len(s.Streams()) != 2 {
		t.Errorf("Open(testdata) = %v", err)
	}
}

// TestFallBehind blocks out for longer than maxLag: the stream must not burst
// the backlog but skip ahead, with continuous sequence numbers and a
// timestamp jump covering the lost time.
func TestFallBehind(t *testing.T) {
	const speed = 10 // 4 ms frames
	s := mustOpenDefault(t, Options{Loop: true, Speed: speed})
	s.audio = nil
	s.maxLag = 20 * time.Millisecond
	const block = 60 * time.Millisecond
	var sent []time.Time
	r, _ := runUntil(t, s, func(r *recorder, p Packet) bool {
		if !p.RTP.Marker {
			return false
		}
		sent = append(sent, time.Now())
		if r.videoFrames == 3 {
			time.Sleep(block)
		}
		return r.videoFrames >= 10
	})
	fs := frames(r.video)
	for i := 1; i < len(fs); i++ {
		prev, cur := fs[i-1][0].RTP, fs[i][0].RTP
		if cur.SequenceNumber != fs[i-1][len(fs[i-1])-1].RTP.SequenceNumber+1 {
			t.Fatalf("frame %d: sequence gap", i)
		}
		step := cur.Timestamp - prev.Timestamp
		if i == 3 {
			// about (block-frame) * speed * 90 kHz of skipped media
			if minStep := uint32(botFrameTicks + 30*time.Millisecond.Seconds()*speed*90000); step < minStep {
				t.Errorf("frame 3: timestamp step %d, want >= %d", step, minStep)
			}
			t.Logf("timestamp step after a %v stall: %d ticks", block, step)
		} else if step != botFrameTicks {
			t.Errorf("frame %d: timestamp step %d", i, step)
		}
	}
	// No burst: frames after the stall keep (roughly) their interval.
	if gap := sent[5].Sub(sent[4]); gap < 2*time.Millisecond {
		t.Errorf("frames 4-5 sent %v apart: burst after the stall", gap)
	}
}
