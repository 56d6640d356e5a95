package forwarder

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/named-data/ndnd/std/ndn"
)

// errFraming reports a stream whose TLV framing cannot be trusted any more
// (a frame longer than any NDN packet): the connection must be dropped,
// since the next frame boundary is unknown.
var errFraming = errors.New("stream is not TLV-framed (frame length beyond 8800 bytes)")

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
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: r, buf: make([]byte, frameBufSize)}
}

// reset starts over on a new stream, dropping buffered bytes.
func (fr *frameReader) reset(r io.Reader) {
	fr.r, fr.off, fr.end = r, 0, 0
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
// the next fill. A frame may still be malformed inside: validate it.
func (fr *frameReader) next() ([]byte, error) {
	b := fr.buf[fr.off:fr.end]
	_, n, _ := readVarNum(b)
	if n == 0 {
		return nil, nil
	}
	l, m, _ := readVarNum(b[n:])
	if m == 0 {
		return nil, nil
	}
	if l > ndn.MaxNDNPacketSize {
		return nil, errFraming
	}
	size := n + m + int(l)
	if len(b) < size {
		return nil, nil
	}
	fr.off += size
	return b[:size:size], nil
}

// each hands every frame of the stream to f until the stream ends (fill's
// error), its framing is lost (errFraming) or f returns an error.
func (fr *frameReader) each(f func(frame []byte) error) error {
	for {
		if err := fr.fill(); err != nil {
			return err
		}
		for {
			frame, err := fr.next()
			if err != nil {
				return err
			}
			if frame == nil {
				break
			}
			if err := f(frame); err != nil {
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
