package forwarder

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/named-data/ndnd/std/ndn"
)

// errFraming reports a stream whose TLV framing cannot be trusted any more
// (a frame that is no NDN packet type and longer than any NDN packet, or
// longer than maxSkipFrame): the connection must be dropped, since the
// next frame boundary is unknown.
var errFraming = errors.New("stream is not TLV-framed (a frame that is no NDN packet, or a frame beyond 1 MiB)")

// errOversize reports an Interest, Data or LpPacket frame longer than
// ndn.MaxNDNPacketSize: the stream's framing is intact (the TLV-LENGTH is
// known), so the frame is skipped and dropped, and the stream goes on.
const errOversize malformedErr = "packet larger than 8800 bytes (skipped)"

// maxSkipFrame is the longest oversized frame skipped rather than taken for
// lost framing.
const maxSkipFrame = 1 << 20

// frameHeaderMax is the largest TLV header (two 9-byte VAR-NUMBERs).
const frameHeaderMax = 18

// frameBufSize holds several maximum-size frames, so that one read syscall
// usually brings many small packets.
const frameBufSize = 4 * (ndn.MaxNDNPacketSize + frameHeaderMax)

// frameReader splits a byte stream into TLV frames. Unlike ndnd's
// ReadTlvStream it never trusts a length: a length that cannot be an NDN
// packet is errFraming instead of a negative slice bound.
type frameReader struct {
	r        io.Reader
	buf      []byte
	off, end int // unconsumed bytes are buf[off:end]
	skip     int // bytes of an oversized frame still to drop
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: r, buf: make([]byte, frameBufSize)}
}

// reset starts over on a new stream, dropping buffered bytes.
func (fr *frameReader) reset(r io.Reader) {
	fr.r, fr.off, fr.end, fr.skip = r, 0, 0, 0
}

// fill reads once from the stream, compacting the buffer first if the room
// left could not hold a whole frame. Bytes read are kept even if an error
// comes with them; the error then returns with the next fill.
func (fr *frameReader) fill() error {
	if len(fr.buf)-fr.end < ndn.MaxNDNPacketSize+frameHeaderMax {
		fr.end = copy(fr.buf, fr.buf[fr.off:fr.end])
		fr.off = 0
	}
	for {
		n, err := fr.r.Read(fr.buf[fr.end:])
		fr.end += n
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// next returns the next complete frame in the buffer, or nil if more bytes
// are needed (call fill). The frame aliases the buffer: it is valid until
// the next fill. A frame may still be malformed inside: validate it. An
// oversized packet is reported once, as errOversize, and skipped (the
// stream goes on: call next again); errFraming ends the stream.
func (fr *frameReader) next() ([]byte, error) {
	if fr.skip > 0 {
		n := min(fr.skip, fr.end-fr.off)
		fr.off += n
		fr.skip -= n
		if fr.skip > 0 {
			return nil, nil
		}
	}
	b := fr.buf[fr.off:fr.end]
	typ, n, _ := readVarNum(b)
	if n == 0 {
		return nil, nil
	}
	l, m, _ := readVarNum(b[n:])
	if m == 0 {
		return nil, nil
	}
	if l > ndn.MaxNDNPacketSize {
		if l > maxSkipFrame || (typ != tInterest && typ != tData && typ != tLpPacket) {
			return nil, errFraming
		}
		fr.skip = n + m + int(l)
		return nil, errOversize
	}
	size := n + m + int(l)
	if len(b) < size {
		return nil, nil
	}
	fr.off += size
	return b[:size:size], nil
}

// each hands every frame of the stream to f until the stream ends (fill's
// error), its framing is lost (errFraming) or f returns an error. An
// oversized packet, skipped, is handed to f as a nil frame with
// errOversize.
func (fr *frameReader) each(f func(frame []byte, skipped error) error) error {
	for {
		if err := fr.fill(); err != nil {
			return err
		}
		for {
			frame, err := fr.next()
			if errors.Is(err, errOversize) {
				if err := f(nil, err); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			if frame == nil {
				break
			}
			if err := f(frame, nil); err != nil {
				return err
			}
		}
	}
}

// frameSummary describes a rejected frame for logs: its size and first bytes.
func frameSummary(frame []byte) string {
	const show = 24
	if len(frame) <= show {
		return fmt.Sprintf("%d bytes: %s", len(frame), hex.EncodeToString(frame))
	}
	return fmt.Sprintf("%d bytes: %s...", len(frame), hex.EncodeToString(frame[:show]))
}
