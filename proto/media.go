package proto

import (
	"encoding/binary"
	"errors"
	"fmt"

	enc "github.com/named-data/ndnd/std/encoding"
)

// Media Data contents.
//
// A media packet S/t=<boot>/seq=<n> carries exactly one RTP packet, byte for
// byte as the publisher's source produced it (header, extensions, payload,
// padding), ContentType BLOB. Sequence numbers start at 1 for every boot and
// grow by one per packet. On video, the last packet of a frame is signed
// and carries the manifest of the frame's other packets, which are signed
// DigestSha256 (manifest.go); the layout of a signed packet is:
//
//	Data           = 0x06 L Name Content SignatureInfo SignatureValue
//	Name           = 0x07 L <components of S> t=<boot> seq=<n>
//	Content        = 0x15 L <the RTP packet>
//	SignatureInfo  = 0x16 0x03 0x1b 0x01 0x05   (SignatureType Ed25519, no KeyLocator)
//	SignatureValue = 0x17 0x40 <64 octets>
//
// Choices, each saving bytes on every packet:
//   - No MetaInfo (9 bytes: its TL 2, ContentType 3, FreshnessPeriod 4).
//     ContentType BLOB is the default when absent. No FreshnessPeriod: a
//     media packet never changes, so a cached copy is always right; caches
//     (YaNFD, NFD) keep Data without FreshnessPeriod and give them to any
//     Interest without MustBeFresh, which is how fetchers ask (the first
//     expression and the first retransmission; later retransmissions set
//     MustBeFresh and reach the publisher's ring). A receiver accepts a
//     MetaInfo if present (ContentType BLOB or NACK, any FreshnessPeriod).
//   - (No KeyLocator, about 45 bytes, was a choice here until stock NDN
//     verifiers were to check media: signed packets now carry it, and the
//     packets inside a video frame, DigestSha256, carry none.)
//   - t=<boot> keeps 8 bytes: microseconds since the Unix epoch, which is
//     what the Timestamp component means in the NDN naming conventions (rev.
//     3). Seconds would save 4 bytes per packet (0.007 of the overhead
//     ratio below), but two boots of one stream within one second (a
//     proxy restarting fast, a browser track published again) would then
//     reuse names, and the old boot's packets, still in caches and validly
//     signed by the same key, would be served for the new boot's names.
//     Microseconds rule that out without keeping state across restarts.
//   - seq=<n> and t=<boot> use the shortest NonNegativeInteger (1, 2, 4 or 8
//     octets).
//
// Bytes a media Data adds to its RTP packet, with s the encoded components
// of S (45 for /peets/user/pub/bench123456/media/video):
//
//	Data TL       2 (value < 253 bytes) or 4
//	Name          2 + s + 10 (t=) + 3, 4, 6 or 10 (seq=: 4 for 256..65535)
//	Content TL    2 (RTP packet < 253 bytes) or 4
//	SignatureInfo 5, SignatureValue 66
//
// In the fanout benchmark (the bot's VP8 + Opus: 55.5 video packets/s of
// 940 bytes, 50 audio packets/s of 93 bytes) that is 140 bytes per video
// packet (ratio 1.149) and 136 per audio packet (ratio 2.46), overall about
// 1.26 (1.28 before MetaInfo was dropped).
// (Those figures are for a signature per packet. A video packet inside a
// frame now carries a DigestSha256 of 34 bytes instead of 66; the frame's
// last one 5 bytes of MetaInfo and 2 + 16 per packet of manifest more.)
//
// The answer to a meta Interest (S/32=meta/t=<boot>/v=<latest>, ContentType
// Blob), the answer to a keyframe request (ContentType Blob) and the
// publisher's "gone" answer (ContentType Nack, under the media name asked for,
// meaning "this seq of this boot will never be served: here is where the
// stream is now") all carry a StreamMeta, encoded as a flat sequence of TLV
// elements:
//
//	StreamMeta = Boot Latest [Oldest] [KeySeq] [MimeType] [ClockRate] [Rate]
//	Boot      = 0x80 TLV-LENGTH NonNegativeInteger
//	Latest    = 0x82 TLV-LENGTH NonNegativeInteger  newest seq, 0 = none yet
//	Oldest    = 0x84 TLV-LENGTH NonNegativeInteger  oldest seq still served
//	KeySeq    = 0x86 TLV-LENGTH NonNegativeInteger  newest keyframe seq, 0 = none
//	MimeType  = 0x88 TLV-LENGTH *OCTET (UTF-8, e.g. "video/VP8")
//	ClockRate = 0x8a TLV-LENGTH NonNegativeInteger  RTP clock rate, Hz
//	Rate      = 0x8c TLV-LENGTH NonNegativeInteger  packets/s measured by the publisher
//	Bitrate   = 0x8e TLV-LENGTH NonNegativeInteger  bits/s of RTP measured by the publisher
//	KeyEpoch  = 0x90 TLV-LENGTH NonNegativeInteger  the packets are encrypted with the
//	                                                room's media key of this epoch (4.8); absent or 0: clear
//
// Elements may come in any order, each at most once. Following the NDN
// evolvability rule, an unknown element of even type is skipped and one of
// odd type is an error; new optional fields must use even types.

// StreamMeta TLV types.
const (
	TTMetaBoot      = 0x80
	TTMetaLatest    = 0x82
	TTMetaOldest    = 0x84
	TTMetaKeySeq    = 0x86
	TTMetaMimeType  = 0x88
	TTMetaClockRate = 0x8a
	TTMetaRate      = 0x8c
	TTMetaBitrate   = 0x8e
	TTMetaKeyEpoch  = 0x90
)

// Limits of media contents.
const (
	// MaxMetaSize bounds an encoded StreamMeta.
	MaxMetaSize = 512
	// MaxMimeTypeLen bounds StreamMeta.MimeType.
	MaxMimeTypeLen = 128
)

// Sentinel errors of media content parsing.
var (
	ErrBadMeta = errors.New("malformed stream metadata")
)

// StreamMeta describes where a stream is: the content of meta, keyframe
// request and "gone" answers.
type StreamMeta struct {
	Boot      uint64
	Latest    uint64 // newest published seq; 0 if none yet
	Oldest    uint64 // oldest seq the publisher still serves; 0 if none
	KeySeq    uint64 // newest keyframe seq; 0 if none
	MimeType  string
	ClockRate uint64
	Rate      uint64 // packets/s, 0 if unknown
	Bitrate   uint64 // bits/s of RTP measured by the publisher, 0 if unknown
	KeyEpoch  uint64 // media key epoch the packets are encrypted with; 0: in the clear
}

// Encode returns the TLV encoding of m (see the package documentation).
func (m *StreamMeta) Encode() []byte {
	b := make([]byte, 0, 64+len(m.MimeType))
	b = appendNNI(b, TTMetaBoot, m.Boot)
	b = appendNNI(b, TTMetaLatest, m.Latest)
	if m.Oldest != 0 {
		b = appendNNI(b, TTMetaOldest, m.Oldest)
	}
	if m.KeySeq != 0 {
		b = appendNNI(b, TTMetaKeySeq, m.KeySeq)
	}
	if m.MimeType != "" {
		b = appendTL(b, TTMetaMimeType, len(m.MimeType))
		b = append(b, m.MimeType...)
	}
	if m.ClockRate != 0 {
		b = appendNNI(b, TTMetaClockRate, m.ClockRate)
	}
	if m.Rate != 0 {
		b = appendNNI(b, TTMetaRate, m.Rate)
	}
	if m.Bitrate != 0 {
		b = appendNNI(b, TTMetaBitrate, m.Bitrate)
	}
	if m.KeyEpoch != 0 {
		b = appendNNI(b, TTMetaKeyEpoch, m.KeyEpoch)
	}
	return b
}

// DecodeStreamMeta parses a StreamMeta. Boot and Latest are required.
func DecodeStreamMeta(b []byte) (StreamMeta, error) {
	var m StreamMeta
	if len(b) > MaxMetaSize {
		return m, fmt.Errorf("%w: %d bytes", ErrBadMeta, len(b))
	}
	var seen uint16
	for len(b) > 0 {
		typ, n := readVarNum(b)
		if n == 0 {
			return m, fmt.Errorf("%w: truncated type", ErrBadMeta)
		}
		b = b[n:]
		l, n := readVarNum(b)
		if n == 0 || l > uint64(len(b)-n) {
			return m, fmt.Errorf("%w: truncated element 0x%x", ErrBadMeta, typ)
		}
		v := b[n : n+int(l)]
		b = b[n+int(l):]

		bit := uint16(0)
		var dst *uint64
		switch typ {
		case TTMetaBoot:
			bit, dst = 1<<0, &m.Boot
		case TTMetaLatest:
			bit, dst = 1<<1, &m.Latest
		case TTMetaOldest:
			bit, dst = 1<<2, &m.Oldest
		case TTMetaKeySeq:
			bit, dst = 1<<3, &m.KeySeq
		case TTMetaClockRate:
			bit, dst = 1<<4, &m.ClockRate
		case TTMetaRate:
			bit, dst = 1<<5, &m.Rate
		case TTMetaBitrate:
			bit, dst = 1<<7, &m.Bitrate
		case TTMetaKeyEpoch:
			bit, dst = 1<<8, &m.KeyEpoch
		case TTMetaMimeType:
			bit = 1 << 6
		default:
			if typ%2 == 1 || typ < 32 {
				return m, fmt.Errorf("%w: unknown critical element 0x%x", ErrBadMeta, typ)
			}
			continue
		}
		if seen&bit != 0 {
			return m, fmt.Errorf("%w: duplicate element 0x%x", ErrBadMeta, typ)
		}
		seen |= bit
		if dst == nil { // MimeType
			if len(v) > MaxMimeTypeLen {
				return m, fmt.Errorf("%w: mime type too long", ErrBadMeta)
			}
			m.MimeType = string(v)
			continue
		}
		x, ok := parseNNI(v)
		if !ok {
			return m, fmt.Errorf("%w: bad number in element 0x%x", ErrBadMeta, typ)
		}
		*dst = x
	}
	if seen&3 != 3 {
		return m, fmt.Errorf("%w: Boot and Latest are required", ErrBadMeta)
	}
	return m, nil
}

// ValidNumberComponent reports whether c's value is a well-formed
// NonNegativeInteger (1, 2, 4 or 8 bytes). ParseStreamName and ParsePLIName
// accept any length; strict readers check seq and boot components with it.
func ValidNumberComponent(c enc.Component) bool {
	switch len(c.Val) {
	case 1, 2, 4, 8:
		return true
	}
	return false
}

// ParseMediaName is ParseStreamName that also rejects malformed numbers in
// the t= and seq=/v= components.
func ParseMediaName(stream, name enc.Name) (StreamName, error) {
	sn, err := ParseStreamName(stream, name)
	if err != nil {
		return sn, err
	}
	for _, c := range name[len(stream):] {
		if (c.IsTimestamp() || c.IsSequenceNum() || c.IsVersion()) && !ValidNumberComponent(c) {
			return StreamName{}, fmt.Errorf("%w: %s", ErrBadSeq, c)
		}
	}
	return sn, nil
}

// ParsePLINameStrict is ParsePLIName that also rejects malformed numbers and
// stream ids that are not valid identifiers.
func ParsePLINameStrict(participant, name enc.Name) (PLIRequest, error) {
	r, err := ParsePLIName(participant, name)
	if err != nil {
		return r, err
	}
	rest := name[len(name)-2:]
	if !ValidNumberComponent(rest[0]) {
		return PLIRequest{}, fmt.Errorf("%w: %s", ErrBadBoot, rest[0])
	}
	if !ValidNumberComponent(rest[1]) {
		return PLIRequest{}, fmt.Errorf("%w: %s", ErrBadSeq, rest[1])
	}
	if err := ValidIdent(r.Stream); err != nil {
		return PLIRequest{}, err
	}
	return r, nil
}

func appendTL(b []byte, typ uint64, l int) []byte {
	b = appendVarNum(b, typ)
	return appendVarNum(b, uint64(l))
}

func appendNNI(b []byte, typ, v uint64) []byte {
	var buf [8]byte
	n := enc.Nat(v).EncodeInto(buf[:])
	b = appendTL(b, typ, n)
	return append(b, buf[:n]...)
}

func appendVarNum(b []byte, v uint64) []byte {
	switch {
	case v <= 0xfc:
		return append(b, byte(v))
	case v <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 0xfd), uint16(v))
	case v <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, 0xfe), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0xff), v)
	}
}

// readVarNum reads an NDN TLV VAR-NUMBER; n is 0 if b is too short.
func readVarNum(b []byte) (v uint64, n int) {
	if len(b) == 0 {
		return 0, 0
	}
	switch x := b[0]; {
	case x <= 0xfc:
		return uint64(x), 1
	case x == 0xfd:
		if len(b) < 3 {
			return 0, 0
		}
		return uint64(binary.BigEndian.Uint16(b[1:])), 3
	case x == 0xfe:
		if len(b) < 5 {
			return 0, 0
		}
		return uint64(binary.BigEndian.Uint32(b[1:])), 5
	default:
		if len(b) < 9 {
			return 0, 0
		}
		return binary.BigEndian.Uint64(b[1:]), 9
	}
}

func parseNNI(v []byte) (uint64, bool) {
	x, _, err := enc.ParseNat(v)
	return uint64(x), err == nil
}
