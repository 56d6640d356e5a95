package source

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"

	"github.com/pion/webrtc/v4/pkg/media/ivfreader"

	"github.com/peets/peets/media/codec"
)

const (
	ivfFileHeaderSize  = 32
	ivfFrameHeaderSize = 12
	ivfFourCCVP8       = "VP80"
	// defaultFrameTicks is the duration given to a lone frame (30 fps).
	defaultFrameTicks = VideoClockRate / 30
)

// loadIVF parses a whole VP8 IVF file into frames with durations in the
// 90 kHz RTP clock. It uses pion's ivfreader for the structure and reads each
// frame's presentation timestamp from the raw frame header (ivfreader's
// converted Timestamp does not follow the IVF time base convention, so it is
// not used). The IVF header's time base is rate (bytes 16-19, pion's
// TimebaseDenominator) over scale (bytes 20-23, pion's TimebaseNumerator):
// seconds = pts * scale / rate.
func loadIVF(data []byte) ([]frame, error) {
	br := bytes.NewReader(data)
	r, hdr, err := ivfreader.NewWith(br)
	if err != nil {
		return nil, fmt.Errorf("%w: IVF header: %v", ErrCorrupt, err)
	}
	if hdr.FourCC != ivfFourCCVP8 {
		return nil, fmt.Errorf("%w: IVF codec %q, want %q", ErrUnsupported, hdr.FourCC, ivfFourCCVP8)
	}
	rate, scale := uint64(hdr.TimebaseDenominator), uint64(hdr.TimebaseNumerator)
	toTicks := func(pts uint64) (uint64, bool) {
		hi, lo := bits.Mul64(pts, scale*VideoClockRate)
		if hi != 0 {
			return 0, false
		}
		return lo / rate, true
	}

	var frames []frame
	var ticks []uint64
	var firstPTS, prevPTS uint64
	for {
		off := len(data) - br.Len()
		payload, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) && off == len(data) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: IVF frame %d: %v", ErrCorrupt, len(frames), truncated(err))
		}
		pts := binary.LittleEndian.Uint64(data[off+4 : off+ivfFrameHeaderSize])
		if len(frames) == 0 {
			firstPTS = pts
		} else if pts <= prevPTS {
			return nil, fmt.Errorf("%w: IVF frame %d: timestamp %d not after %d", ErrCorrupt, len(frames), pts, prevPTS)
		}
		prevPTS = pts
		if len(payload) == 0 {
			return nil, fmt.Errorf("%w: IVF frame %d is empty", ErrCorrupt, len(frames))
		}
		tk, ok := toTicks(pts - firstPTS)
		if !ok {
			return nil, fmt.Errorf("%w: IVF frame %d: timestamp overflow", ErrCorrupt, len(frames))
		}
		ticks = append(ticks, tk)
		frames = append(frames, frame{data: payload, key: codec.IsVP8KeyframeData(payload)})
	}
	if len(frames) == 0 {
		return nil, fmt.Errorf("%w: IVF file has no frames", ErrCorrupt)
	}
	if !frames[0].key {
		return nil, fmt.Errorf("%w: IVF file does not start with a key frame", ErrCorrupt)
	}
	for i := range frames {
		var d uint64
		switch {
		case i+1 < len(frames):
			d = ticks[i+1] - ticks[i]
		case i > 0:
			d = uint64(frames[i-1].samples) // the last frame lasts as long as the one before
		default:
			d, _ = toTicks(1)
		}
		if d == 0 {
			if i+1 < len(frames) {
				return nil, fmt.Errorf("%w: IVF frame %d lasts less than one 90 kHz tick", ErrCorrupt, i)
			}
			d = defaultFrameTicks
		}
		if d > math.MaxUint32/2 {
			return nil, fmt.Errorf("%w: IVF frame %d lasts too long", ErrCorrupt, i)
		}
		frames[i].samples = uint32(d)
	}
	return frames, nil
}
