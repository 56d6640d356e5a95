// Package codec inspects RTP payloads without decoding them: it tells whether
// a packet starts a frame and whether it starts a keyframe (a point where a
// new receiver can begin decoding), for the codecs a browser sends (VP8, VP9,
// H264, AV1 and audio such as Opus).
//
// All functions are allocation-free, never panic on malformed input and
// return false when a payload is too short or malformed to tell.
package codec

import "strings"

// Mime types, spelled as pion/webrtc's webrtc.MimeTypeXXX constants.
// Comparisons in this package are case-insensitive.
const (
	MimeTypeVP8  = "video/VP8"
	MimeTypeVP9  = "video/VP9"
	MimeTypeH264 = "video/H264"
	MimeTypeAV1  = "video/AV1"
	MimeTypeOpus = "audio/opus"
)

// kind is the payload format a mime type maps to.
type kind int

const (
	kindUnknown kind = iota
	kindAudio
	kindVP8
	kindVP9
	kindH264
	kindAV1
)

// kindOf maps a mime type (case-insensitive) to a payload format. Every
// "audio/..." type is kindAudio.
func kindOf(mimeType string) kind {
	switch {
	case strings.EqualFold(mimeType, MimeTypeVP8):
		return kindVP8
	case strings.EqualFold(mimeType, MimeTypeVP9):
		return kindVP9
	case strings.EqualFold(mimeType, MimeTypeH264):
		return kindH264
	case strings.EqualFold(mimeType, MimeTypeAV1):
		return kindAV1
	case len(mimeType) >= 6 && strings.EqualFold(mimeType[:6], "audio/"):
		return kindAudio
	}
	return kindUnknown
}

// IsKeyframe reports whether the RTP payload (the bytes after the RTP header)
// is the first packet of a keyframe for the given mime type, that is a packet
// from which a receiver can start decoding:
//
//   - VP8: start of partition 0 (S=1, PID=0) whose frame header has P=0
//     (and the keyframe start code).
//   - VP9: start of a frame (B=1) that is not inter-picture predicted (P=0),
//     on the base spatial layer when layer indices are present.
//   - H264: the start of an access unit that holds an SPS, or the first slice
//     of an IDR picture; single NAL units, STAP-A/B and FU-A/B are understood.
//   - AV1: conservatively, only the first packet of a new coded video
//     sequence (aggregation header N=1, Z=0).
//   - audio/*: every non-empty packet (each is a start point).
//
// Unknown video mime types give false. IsKeyframe implies IsFrameStart.
func IsKeyframe(mimeType string, payload []byte) bool {
	switch kindOf(mimeType) {
	case kindAudio:
		return len(payload) > 0
	case kindVP8:
		return vp8Keyframe(payload)
	case kindVP9:
		start, key := vp9Inspect(payload)
		return start && key
	case kindH264:
		start, key := h264Inspect(payload)
		return start && key
	case kindAV1:
		return av1Keyframe(payload)
	}
	return false
}

// IsFrameStart reports whether the RTP payload is the first packet of a
// frame (for audio: any non-empty packet):
//
//   - VP8: S=1 and PID=0.
//   - VP9: B=1.
//   - H264: a parameter set, SEI or access unit delimiter, or a slice whose
//     first_mb_in_slice is 0 (single NAL, first NAL of a STAP, FU start).
//   - AV1: not a continuation (Z=0) and either N=1 or the first OBU is a
//     sequence header, temporal delimiter, frame header or frame.
//
// Unknown video mime types give false.
func IsFrameStart(mimeType string, payload []byte) bool {
	switch kindOf(mimeType) {
	case kindAudio:
		return len(payload) > 0
	case kindVP8:
		_, ok := vp8FrameStart(payload)
		return ok
	case kindVP9:
		start, _ := vp9Inspect(payload)
		return start
	case kindH264:
		start, _ := h264Inspect(payload)
		return start
	case kindAV1:
		return av1FrameStart(payload)
	}
	return false
}
