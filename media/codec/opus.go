package codec

import (
	"errors"
	"time"
)

// ErrBadOpusPacket is returned by OpusSamples for a packet whose TOC cannot
// be read (RFC 6716 section 3).
var ErrBadOpusPacket = errors.New("codec: malformed Opus packet")

// opusMaxSamples is the longest legal Opus packet: 120 ms at 48 kHz.
const opusMaxSamples = 5760

// OpusSamples returns the number of 48 kHz samples (the RTP timestamp
// increment) that one Opus packet carries, read from its TOC byte and, for
// code 3 packets, the frame count byte (RFC 6716 section 3.1).
func OpusSamples(packet []byte) (int, error) {
	if len(packet) < 1 {
		return 0, ErrBadOpusPacket
	}
	toc := packet[0]
	config := int(toc >> 3)
	var frame int // samples per frame at 48 kHz
	switch {
	case config < 12: // SILK-only: 10, 20, 40, 60 ms
		frame = [4]int{480, 960, 1920, 2880}[config&3]
	case config < 16: // Hybrid: 10, 20 ms
		frame = [2]int{480, 960}[config&1]
	default: // CELT-only: 2.5, 5, 10, 20 ms
		frame = [4]int{120, 240, 480, 960}[config&3]
	}
	var frames int
	switch toc & 0x03 {
	case 0:
		frames = 1
	case 1, 2:
		frames = 2
	default:
		if len(packet) < 2 {
			return 0, ErrBadOpusPacket
		}
		frames = int(packet[1] & 0x3f)
	}
	n := frames * frame
	if n == 0 || n > opusMaxSamples {
		return 0, ErrBadOpusPacket
	}
	return n, nil
}

// OpusDuration is OpusSamples as a duration.
func OpusDuration(packet []byte) (time.Duration, error) {
	n, err := OpusSamples(packet)
	if err != nil {
		return 0, err
	}
	return time.Duration(n) * time.Second / 48000, nil
}
