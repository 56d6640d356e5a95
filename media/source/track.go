package source

import (
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// frame is one coded video frame or Opus packet.
type frame struct {
	data    []byte
	samples uint32 // duration in the stream's clock (RTP timestamp increment)
	key     bool
}

// track is one stream: its frames, its packetizer and its play position.
// Only the goroutine running the track touches pk, next and started.
type track struct {
	info      StreamInfo
	frames    []frame
	keys      []int // indices of key frames (video)
	pk        rtp.Packetizer
	payloader rtp.Payloader
	keyReq    atomic.Bool   // a keyframe was asked for (video)
	media     time.Duration // media time played (audio levels)

	next    int  // index of the next frame to send
	started bool // a packet was sent (audio marker bit)
}

// newTrack makes a track with a random SSRC, initial sequence number and
// initial timestamp.
func newTrack(info StreamInfo, frames []frame, payloader rtp.Payloader, mtu int) *track {
	info.SSRC = rand.Uint32() | 1 // never 0
	t := &track{info: info, frames: frames, payloader: payloader}
	for i, f := range frames {
		if f.key {
			t.keys = append(t.keys, i)
		}
	}
	t.pk = newPacketizer(info, mtu, payloader)
	return t
}

func newPacketizer(info StreamInfo, mtu int, payloader rtp.Payloader) rtp.Packetizer {
	return rtp.NewPacketizerWithOptions(uint16(mtu), payloader, rtp.NewRandomSequencer(), info.ClockRate,
		rtp.WithSSRC(info.SSRC), rtp.WithPayloadType(info.PayloadType), rtp.WithTimestamp(rand.Uint32()))
}

// loopDuration is the media duration of one pass over the file.
func (t *track) loopDuration() time.Duration {
	var n uint64
	for _, f := range t.frames {
		n += uint64(f.samples)
	}
	return samplesToDuration(n, t.info.ClockRate)
}

// keyframeFrom returns the index of the frame to send instead of frame i to
// answer a keyframe request: i itself if it is a key frame, else the next key
// frame, else (at the end of the file) 0 when looping or the last key frame.
func (t *track) keyframeFrom(i int, loop bool) int {
	if i < len(t.frames) && t.frames[i].key {
		return i
	}
	for _, k := range t.keys {
		if k > i {
			return k
		}
	}
	if loop || len(t.keys) == 0 {
		return 0
	}
	return t.keys[len(t.keys)-1]
}

// packetize turns frame f into Packets captured at now; talk, if set,
// gives the audio packets their level.
func (t *track) packetize(f frame, now time.Time, talk *Talk) []Packet {
	rps := t.pk.Packetize(f.data, f.samples)
	out := make([]Packet, len(rps))
	audio := t.info.Kind == StreamAudio
	for i, rp := range rps {
		if audio {
			// One packet per Opus frame: the marker bit only flags the
			// beginning of a talkspurt, i.e. the first packet.
			rp.Marker = !t.started
		}
		t.started = true
		if audio && talk != nil {
			level, voice := talk.level(t.media)
			b := level
			if voice {
				b |= 0x80
			}
			_ = rp.SetExtension(AudioLevelID, []byte{b})
		}
		out[i] = Packet{
			Stream:   t.info.ID,
			RTP:      rp,
			Keyframe: f.key && i == 0,
			Captured: now,
		}
	}
	t.media += samplesToDuration(uint64(f.samples), t.info.ClockRate)
	return out
}

// samplesToDuration converts n clock ticks to a duration.
func samplesToDuration(n uint64, clock uint32) time.Duration {
	sec := n / uint64(clock)
	rem := n % uint64(clock)
	return time.Duration(sec)*time.Second + time.Duration(rem)*time.Second/time.Duration(clock)
}
