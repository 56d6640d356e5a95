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
	"slices"
	"strings"
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
	// Group and RID name a simulcast layer (Options.Layers): ID is then
	// "<Group>.<RID>".
	Group, RID string
	// AudioLevel is the id of the RTP header extension that carries the
	// audio level (RFC 6464) in an audio stream's packets (Options.Talk),
	// 0 if none.
	AudioLevel uint8
	ClockRate  uint32
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
	// Layers, if set, replace the video by simulcast layers, lowest first,
	// each a VP8 IVF file: streams "cam.<rid>" of group "cam", as a page's
	// simulcast camera.
	Layers []Layer
	// Talk, if set, puts an audio level (RFC 6464, header extension
	// AudioLevelID) on every audio packet: speech while the schedule says
	// the bot talks, silence otherwise (the bot's own audio is the same
	// either way: receivers tell who speaks from the level alone).
	Talk *Talk
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

// Layer is one simulcast layer of Options.Layers: a VP8 IVF file, or its
// contents (Data, which takes precedence).
type Layer struct {
	RID  string
	Path string
	Data []byte
}

// LayerGroup is the group of Options.Layers' streams.
const LayerGroup = "cam"

// AudioLevelID is the header extension id of the audio level (Chromium's
// default, the one the bridge registers).
const AudioLevelID = 1

// Talk is when a bot talks: for On out of every Period of media time,
// starting at Offset.
type Talk struct {
	Period, On, Offset time.Duration
}

// Levels of Talk: a voice in conversation and silence, in -dBov.
const (
	TalkLevel    = 30
	SilenceLevel = 127
)

// level is the audio level at media time t.
func (k *Talk) level(t time.Duration) (uint8, bool) {
	if k.Period <= 0 {
		return SilenceLevel, false
	}
	at := (t - k.Offset) % k.Period
	if at < 0 {
		at += k.Period
	}
	if at < k.On {
		return TalkLevel, true
	}
	return SilenceLevel, false
}

// Source plays media files as RTP streams. Its methods are safe for
// concurrent use; Run must not be called while another Run is active.
type Source struct {
	opts    Options
	log     *slog.Logger
	videos  []*track // the video, or its simulcast layers (lowest first); none without video
	audio   *track   // nil without audio
	running atomic.Bool
	maxLag  time.Duration // see defaultMaxLag; tests shorten it
}

// Open validates and loads the files named in o. A missing file gives an
// error wrapping the os error (errors.Is(err, fs.ErrNotExist)); a damaged
// one ErrCorrupt; a valid file of another codec ErrUnsupported.
func Open(o Options) (*Source, error) {
	if o.VideoPath == "" && o.AudioPath == "" && len(o.Layers) == 0 {
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
	videoTrack := func(info StreamInfo, data []byte, name string) error {
		frames, err := loadIVF(data)
		if err != nil {
			return fmt.Errorf("%w (video %s)", err, name)
		}
		info.Kind, info.MimeType, info.ClockRate, info.PayloadType = StreamVideo, codec.MimeTypeVP8, VideoClockRate, VideoPayloadType
		s.videos = append(s.videos, newTrack(info, frames, &codecs.VP8Payloader{EnablePictureID: true}, o.MTU))
		return nil
	}
	if len(o.Layers) > 0 {
		for _, l := range o.Layers {
			b, name := l.Data, nameOr(l.Path, "embedded cam-"+l.RID+".ivf")
			if b == nil {
				var err error
				if b, err = os.ReadFile(l.Path); err != nil {
					return nil, fmt.Errorf("source: layer %s: %w", l.RID, err)
				}
			}
			if err := videoTrack(StreamInfo{ID: LayerGroup + "." + l.RID, Group: LayerGroup, RID: l.RID}, b, name); err != nil {
				return nil, err
			}
		}
	} else if video != nil {
		if err := videoTrack(StreamInfo{ID: StreamVideo}, video, nameOr(o.VideoPath, "embedded bot.ivf")); err != nil {
			return nil, err
		}
	}
	if audio != nil {
		frames, err := loadOgg(audio)
		if err != nil {
			return nil, fmt.Errorf("%w (audio %s)", err, nameOr(o.AudioPath, "embedded bot.ogg"))
		}
		info := StreamInfo{
			ID: StreamAudio, Kind: StreamAudio, MimeType: codec.MimeTypeOpus,
			ClockRate: AudioClockRate, Channels: 2, PayloadType: AudioPayloadType,
		}
		if o.Talk != nil {
			info.AudioLevel = AudioLevelID
		}
		s.audio = newTrack(info, frames, &codecs.OpusPayloader{}, o.MTU)
	}
	// Every stream its own SSRC.
	seen := map[uint32]bool{}
	for _, t := range s.tracks() {
		for seen[t.info.SSRC] {
			t.info.SSRC = rand.Uint32() | 1
			t.pk = newPacketizer(t.info, o.MTU, t.payloader)
		}
		seen[t.info.SSRC] = true
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
	for i, l := range o.Layers {
		if l.RID == "" || len(l.RID) > 16 || strings.Trim(l.RID, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" ||
			slices.ContainsFunc(o.Layers[:i], func(m Layer) bool { return m.RID == l.RID }) {
			return fmt.Errorf("%w: layer rid %q", ErrInvalidOptions, l.RID)
		}
	}
	if o.Talk != nil && (o.Talk.Period <= 0 || o.Talk.On < 0 || o.Talk.On > o.Talk.Period) {
		return fmt.Errorf("%w: talk %v of every %v", ErrInvalidOptions, o.Talk.On, o.Talk.Period)
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
	ts := slices.Clone(s.videos)
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
	for _, t := range s.videos {
		t.keyReq.Store(true)
	}
}

// RequestKeyframeOf is RequestKeyframe for one video stream (a simulcast
// layer).
func (s *Source) RequestKeyframeOf(stream string) {
	for _, t := range s.videos {
		if t.info.ID == stream {
			t.keyReq.Store(true)
		}
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
