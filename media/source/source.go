// Package source is a real-time RTP source that plays media files: a VP8 IVF
// file for video and an Opus Ogg file for audio. It paces packets at real
// time (or faster, for benchmarks), loops seamlessly (sequence numbers and
// timestamps continue across loops) and answers keyframe requests. It backs
// the synthetic participant of `peets bot`, tests and benchmarks.
//
// OpenDefault plays the bot media embedded in the binary (see assets/ and
// testdata/README.md); Open plays files from disk.
package source

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/peets/peets/media/codec"
)

// Sentinel errors; the errors returned wrap one of these (or, for a file
// that cannot be read, the os error such as fs.ErrNotExist).
var (
	ErrNoMedia        = errors.New("source: no media file given")
	ErrCorrupt        = errors.New("source: corrupt media file")
	ErrUnsupported    = errors.New("source: unsupported media")
	ErrInvalidOptions = errors.New("source: invalid options")
	ErrRunning        = errors.New("source: already running")
)

// Stream names, used in Packet.Stream and StreamInfo.ID / Kind.
const (
	StreamVideo = "video"
	StreamAudio = "audio"
)

// RTP parameters. Payload types follow pion's default media engine (and
// Chrome's usual offer).
const (
	DefaultMTU       = 1200
	VideoPayloadType = 96
	AudioPayloadType = 111
	VideoClockRate   = 90000
	AudioClockRate   = 48000

	minMTU = 64
	maxMTU = math.MaxUint16
)

// Packet is one RTP packet emitted by Run.
type Packet struct {
	// Stream is StreamVideo or StreamAudio.
	Stream string
	// RTP is the packet; marshal it with RTP.Marshal(). SSRC and payload
	// type are fixed per stream; sequence numbers and timestamps are
	// continuous across loops. Video packets carry the marker bit on the
	// last packet of each frame; audio only on the very first packet. The
	// packet and its payload belong to the receiver.
	RTP *rtp.Packet
	// Keyframe is set on the first packet of a key frame (video) and on
	// every audio packet, agreeing with codec.IsKeyframe.
	Keyframe bool
	// Captured is when the packet's frame was emitted.
	Captured time.Time
}

// StreamInfo describes one RTP stream of a Source.
type StreamInfo struct {
	ID, Kind, MimeType string
	ClockRate          uint32
	// Channels is the SDP channel count: 2 for Opus (RFC 7587 always
	// signals opus/48000/2, whatever the file holds), 0 for video.
	Channels    uint16
	PayloadType uint8
	SSRC        uint32
}

// Options configure a Source.
type Options struct {
	// VideoPath is a VP8 IVF file; AudioPath an Opus Ogg file. At least one
	// is required by Open; OpenDefault fills in empty ones.
	VideoPath, AudioPath string
	// Loop restarts the files at their end; otherwise Run returns when
	// every stream has been played once.
	Loop bool
	// MTU is the largest RTP packet (header included) in bytes; default
	// DefaultMTU.
	MTU int
	// Speed scales pacing: 1 (also the default, for 0) is real time, 2 is
	// twice as fast; math.Inf(1) emits as fast as out accepts packets.
	Speed float64
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// Source plays media files as RTP streams. Its methods are safe for
// concurrent use; Run must not be called while another Run is active.
type Source struct {
	opts    Options
	log     *slog.Logger
	video   *track // nil without video
	audio   *track // nil without audio
	keyReq  atomic.Bool
	running atomic.Bool
	maxLag  time.Duration // see defaultMaxLag; tests shorten it
}

// Open validates and loads the files named in o. A missing file gives an
// error wrapping the os error (errors.Is(err, fs.ErrNotExist)); a damaged
// one ErrCorrupt; a valid file of another codec ErrUnsupported.
func Open(o Options) (*Source, error) {
	if o.VideoPath == "" && o.AudioPath == "" {
		return nil, ErrNoMedia
	}
	var video, audio []byte
	var err error
	if o.VideoPath != "" {
		if video, err = os.ReadFile(o.VideoPath); err != nil {
			return nil, fmt.Errorf("source: video: %w", err)
		}
	}
	if o.AudioPath != "" {
		if audio, err = os.ReadFile(o.AudioPath); err != nil {
			return nil, fmt.Errorf("source: audio: %w", err)
		}
	}
	return open(o, video, audio)
}

// OpenDefault is Open with the bot media embedded in the binary (see
// Embedded) standing in for each of o.VideoPath and o.AudioPath left empty.
func OpenDefault(o Options) (*Source, error) {
	var video, audio []byte
	var err error
	if o.VideoPath == "" {
		video = embeddedIVF
	} else if video, err = os.ReadFile(o.VideoPath); err != nil {
		return nil, fmt.Errorf("source: video: %w", err)
	}
	if o.AudioPath == "" {
		audio = embeddedOgg
	} else if audio, err = os.ReadFile(o.AudioPath); err != nil {
		return nil, fmt.Errorf("source: audio: %w", err)
	}
	return open(o, video, audio)
}

// open builds a Source from file contents; nil data means no such stream.
// The data is referenced, never modified.
func open(o Options, video, audio []byte) (*Source, error) {
	if err := o.normalize(); err != nil {
		return nil, err
	}
	s := &Source{opts: o, log: o.Logger, maxLag: defaultMaxLag}
	if video != nil {
		frames, err := loadIVF(video)
		if err != nil {
			return nil, fmt.Errorf("%w (video %s)", err, nameOr(o.VideoPath, "embedded bot.ivf"))
		}
		s.video = newTrack(StreamInfo{
			ID: StreamVideo, Kind: StreamVideo, MimeType: codec.MimeTypeVP8,
			ClockRate: VideoClockRate, PayloadType: VideoPayloadType,
		}, frames, &codecs.VP8Payloader{EnablePictureID: true}, o.MTU)
	}
	if audio != nil {
		frames, err := loadOgg(audio)
		if err != nil {
			return nil, fmt.Errorf("%w (audio %s)", err, nameOr(o.AudioPath, "embedded bot.ogg"))
		}
		s.audio = newTrack(StreamInfo{
			ID: StreamAudio, Kind: StreamAudio, MimeType: codec.MimeTypeOpus,
			ClockRate: AudioClockRate, Channels: 2, PayloadType: AudioPayloadType,
		}, frames, &codecs.OpusPayloader{}, o.MTU)
	}
	if s.video != nil && s.audio != nil {
		for s.audio.info.SSRC == s.video.info.SSRC {
			s.audio.info.SSRC = rand.Uint32() | 1
		}
	}
	for _, t := range s.tracks() {
		s.log.Info("media source stream", "stream", t.info.ID, "mime", t.info.MimeType,
			"ssrc", t.info.SSRC, "frames", len(t.frames), "keyframes", len(t.keys),
			"duration", t.loopDuration())
	}
	return s, nil
}

// nameOr returns path, or def when path is empty.
func nameOr(path, def string) string {
	if path == "" {
		return def
	}
	return path
}

// normalize applies defaults and validates.
func (o *Options) normalize() error {
	if o.MTU == 0 {
		o.MTU = DefaultMTU
	}
	if o.MTU < minMTU || o.MTU > maxMTU {
		return fmt.Errorf("%w: MTU %d not in [%d, %d]", ErrInvalidOptions, o.MTU, minMTU, maxMTU)
	}
	if o.Speed == 0 {
		o.Speed = 1
	}
	if math.IsNaN(o.Speed) || o.Speed < 0 {
		return fmt.Errorf("%w: Speed %v", ErrInvalidOptions, o.Speed)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// tracks returns the present tracks, video first.
func (s *Source) tracks() []*track {
	var ts []*track
	if s.video != nil {
		ts = append(ts, s.video)
	}
	if s.audio != nil {
		ts = append(ts, s.audio)
	}
	return ts
}

// Streams describes the RTP streams Run emits, video first.
func (s *Source) Streams() []StreamInfo {
	var out []StreamInfo
	for _, t := range s.tracks() {
		out = append(out, t.info)
	}
	return out
}

// RequestKeyframe asks for a key frame, as a PLI or FIR from a viewer would.
// The files have fixed key frames, so the source skips ahead: the next video
// frame it sends (one frame interval later at most) is the next key frame of
// the file, wrapping to the start of the file when looping (or, at the end
// of a non-looping file, going back to its last key frame). If the next
// frame is a key frame anyway nothing changes. The picture jumps forward by
// up to one GOP (2 s for the bot media) but never repeats, and timestamps
// stay continuous. Requests arriving before that frame is sent coalesce
// into one. Without video it does nothing.
func (s *Source) RequestKeyframe() {
	if s.video != nil {
		s.keyReq.Store(true)
	}
}

// serialOut serializes calls to out from the per-stream goroutines.
type serialOut struct {
	mu  sync.Mutex
	out func(Packet)
}

func (o *serialOut) emit(ps []Packet) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range ps {
		o.out(p)
	}
}

// errTruncated replaces io.EOF / io.ErrUnexpectedEOF in messages about a
// file that ends in the middle of a page or frame.
var errTruncated = errors.New("file is truncated")

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errTruncated
	}
	return err
}
