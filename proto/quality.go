package proto

import (
	"errors"
	"fmt"
	"math"
)

// TypeQuality is the proxy's periodic view of the call's media, server to
// page (data Quality): what its fetchers get of every remote stream, and
// which layers of the page's own camera others pull.
const TypeQuality = "quality"

// Quality is the data of quality, sent every second or two while the page
// is joined. The page combines it with its own getStats to show each
// tile's connection quality.
type Quality struct {
	Streams []StreamQuality `json:"streams"`
	// Uplink is the page's own camera as others pull it; absent when this
	// proxy publishes no simulcast camera.
	Uplink *Uplink `json:"uplink,omitempty"`
}

// StreamQuality is what the proxy fetches of one remote stream.
type StreamQuality struct {
	Participant string `json:"participant"` // the publisher's user id
	Stream      string `json:"stream"`      // stream id, or the simulcast group ("cam")
	Kind        string `json:"kind"`        // audio | video
	// Simulcast only: the layer (rid) reaching the page, the one being
	// switched to ("" if none), the highest the publisher offers, and how
	// many it offers.
	// LayerIndex is the layer's place, 0 for the lowest.
	Layer      string `json:"layer,omitempty"`
	Target     string `json:"target,omitempty"`
	Top        string `json:"top,omitempty"`
	Layers     int    `json:"layers,omitempty"`
	LayerIndex int    `json:"layer_index"`
	// Over the last window (a few seconds): packets delivered per second,
	// packets given up as lost and packets found missing on arrival
	// (repaired or not), in percent of the packets due; the bits of RTP
	// delivered per second; for video, frames delivered per second (RTP
	// markers); the mean time a packet waited in the reorder buffer.
	PacketRate    float64 `json:"packets_per_s"`
	LossPct       float64 `json:"loss_pct"`
	HolesPct      float64 `json:"holes_pct"`
	Bitrate       float64 `json:"bitrate_bps"`
	FrameRate     float64 `json:"frames_per_s,omitempty"`
	BufferDelayMs float64 `json:"buffer_delay_ms"`
	// StalledMs is how long no packet of the stream has been delivered (0
	// while it flows).
	StalledMs int64   `json:"stalled_ms"`
	SRTTMs    float64 `json:"srtt_ms"` // smoothed Interest-Data round trip
}

// Uplink is the publisher's view of the page's simulcast camera.
type Uplink struct {
	// Receivers counts the room's members that fetch media.
	Receivers int `json:"receivers"`
	// Sending is the highest layer (rid) the page sends, Pulled the
	// highest one any subscriber pulls ("": none), Top the highest the
	// page was asked to send.
	Sending string `json:"sending"`
	Pulled  string `json:"pulled"`
	Top     string `json:"top"`
	// Reduced: others pull a lower layer than the page sends, so they see
	// its video at reduced quality (their downlinks or this uplink).
	Reduced bool `json:"reduced"`
}

var errBadQuality = errors.New("bad quality data")

func (q *Quality) validate() error {
	if len(q.Streams) > MaxListLen {
		return fmt.Errorf("%w: too many streams", errBadQuality)
	}
	for _, s := range q.Streams {
		if s.Participant == "" || (s.Kind != KindAudio && s.Kind != KindVideo) {
			return fmt.Errorf("%w: stream needs participant and kind", errBadQuality)
		}
		for _, f := range []string{s.Participant, s.Stream, s.Layer, s.Target, s.Top} {
			if len(f) > MaxIDLen {
				return fmt.Errorf("%w: field too long", errBadQuality)
			}
		}
		for _, v := range []float64{s.PacketRate, s.LossPct, s.HolesPct, s.Bitrate, s.FrameRate, s.BufferDelayMs, s.SRTTMs} {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: bad number", errBadQuality)
			}
		}
	}
	if u := q.Uplink; u != nil {
		for _, f := range []string{u.Sending, u.Pulled, u.Top} {
			if len(f) > MaxIDLen {
				return fmt.Errorf("%w: field too long", errBadQuality)
			}
		}
	}
	return nil
}
