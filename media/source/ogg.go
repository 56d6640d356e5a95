package source

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/peets/peets/media/codec"
)

const (
	oggPageHeaderSize = 27
	oggContinued      = 0x01 // header type: first packet continues from the previous page
	oggLacingMax      = 255
	opusTagsMagic     = "OpusTags"
	oggCapturePattern = "OggS"
)

// loadOgg parses a whole Opus Ogg file into Opus packets (one RTP packet
// each) with durations in the 48 kHz RTP clock, read from each packet's TOC.
//
// pion's oggreader checks each page (structure, CRC) and returns the page
// payload, which may hold several packets, or parts of packets that span
// pages. The payload is split into packets with the page's segment (lacing)
// table, read from the same, checksum-verified, page bytes: a lacing value
// below 255 ends a packet. The OpusHead page and the OpusTags packet are
// skipped; chained or multiplexed streams are not supported.
func loadOgg(data []byte) ([]frame, error) {
	if len(data) < oggPageHeaderSize || !bytes.HasPrefix(data, []byte(oggCapturePattern)) {
		return nil, fmt.Errorf("%w: not an Ogg file", ErrCorrupt)
	}
	serial := binary.LittleEndian.Uint32(data[14:18])
	br := bytes.NewReader(data)
	r, head, err := oggreader.NewWith(br)
	if err != nil {
		return nil, fmt.Errorf("%w: Ogg Opus header: %v", ErrCorrupt, err)
	}
	if head.Channels == 0 || head.Channels > 2 {
		return nil, fmt.Errorf("%w: Opus with %d channels", ErrUnsupported, head.Channels)
	}

	var packets [][]byte
	var partial []byte
	inPacket := false // partial holds the start of an unfinished packet
	for page := 1; ; page++ {
		off := len(data) - br.Len()
		payload, ph, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) && off == len(data) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: Ogg page %d: %v", ErrCorrupt, page, truncated(err))
		}
		if ph.Serial != serial {
			return nil, fmt.Errorf("%w: Ogg page %d: several logical streams", ErrUnsupported, page)
		}
		continued := data[off+5]&oggContinued != 0
		if continued != inPacket {
			return nil, fmt.Errorf("%w: Ogg page %d: packet continuation mismatch", ErrCorrupt, page)
		}
		nseg := int(data[off+26])
		lacing := data[off+oggPageHeaderSize : off+oggPageHeaderSize+nseg]
		pos := 0
		for _, l := range lacing {
			partial = append(partial, payload[pos:pos+int(l)]...)
			pos += int(l)
			inPacket = true
			if l < oggLacingMax {
				packets = append(packets, partial)
				partial, inPacket = nil, false
			}
		}
	}
	if inPacket {
		return nil, fmt.Errorf("%w: Ogg file ends inside a packet", ErrCorrupt)
	}

	var frames []frame
	for i, p := range packets {
		if i == 0 && bytes.HasPrefix(p, []byte(opusTagsMagic)) {
			continue
		}
		if len(p) == 0 {
			continue // a zero-length packet carries no audio to send
		}
		n, err := codec.OpusSamples(p)
		if err != nil {
			return nil, fmt.Errorf("%w: Opus packet %d: %v", ErrCorrupt, i, err)
		}
		frames = append(frames, frame{data: p, samples: uint32(n), key: true})
	}
	if len(frames) == 0 {
		return nil, fmt.Errorf("%w: Ogg file has no audio packets", ErrCorrupt)
	}
	return frames, nil
}
