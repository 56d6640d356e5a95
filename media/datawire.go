package media

import (
	"fmt"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
)

// dataEncoder encodes the media Data of one stream and boot (NDN packet
// format v0.3, see proto/media.go):
//
//	Data = 0x06 L Name [MetaInfo] Content SignatureInfo SignatureValue
//
// Name is S/t=<boot>/seq=<n>. By default there is no MetaInfo: ContentType
// BLOB is the default, and no FreshnessPeriod (a media packet never
// changes, so a cached copy is as good as the publisher's; only a
// MustBeFresh Interest bypasses caches). Everything but the seq component, the content and the signature
// value is encoded once here, so a packet costs one allocation and one
// signature.
type dataEncoder struct {
	nameHead []byte // the components of S/t=<boot>, encoded
	metaInfo []byte // the MetaInfo TLV, or nil
	sigInfo  []byte // the SignatureInfo TLV
	sigEst   int    // signature value length, upper bound
	signer   Signer
}

// newDataEncoder prepares the encoding of prefix/t=<boot>/seq=<n> Data
// signed by s. The SignatureInfo carries s's KeyLocator, if it has one; a
// content type other than BLOB (0) or a positive freshness adds a MetaInfo
// with them.
func newDataEncoder(prefix enc.Name, boot uint64, s Signer, freshness time.Duration, contentType uint64) *dataEncoder {
	head := append(enc.Name(nil), prefix...)
	head = append(head, enc.NewTimestampComponent(boot))
	var si []byte
	si = appendNNITLV(si, 0x1b, uint64(s.Type())) // SignatureType
	if kl := s.KeyLocator(); len(kl) > 0 {
		name := kl.Bytes() // 0x07 L components
		si = appendTLVHead(si, 0x1c, len(name))
		si = append(si, name...)
	}
	var mi, fields []byte
	if contentType != 0 {
		fields = appendNNITLV(fields, 0x18, contentType) // ContentType
	}
	if ms := freshness.Milliseconds(); ms > 0 {
		fields = appendNNITLV(fields, 0x19, uint64(ms)) // FreshnessPeriod
	}
	if len(fields) > 0 {
		mi = append(appendTLVHead(nil, 0x14, len(fields)), fields...)
	}
	return &dataEncoder{
		nameHead: head.BytesInner(),
		metaInfo: mi,
		sigInfo:  append(appendTLVHead(nil, 0x16, len(si)), si...),
		sigEst:   int(s.EstimateSize()),
		signer:   s,
	}
}

// encode returns the signed Data of seq with content.
func (e *dataEncoder) encode(seq uint64, content []byte) ([]byte, error) {
	nameLen := len(e.nameHead) + 2 + enc.Nat(seq).EncodingLength() // SequenceNum 0x3a
	covered := tlvSize(nameLen) + len(e.metaInfo) + tlvSize(len(content)) + len(e.sigInfo)
	// Room for the Data TL in front (written last, right-aligned: its
	// length depends on the signature's).
	const front = 1 + 9
	buf := make([]byte, front, front+covered+tlvSize(e.sigEst))
	buf = appendTLVHead(buf, 0x07, nameLen)
	buf = append(buf, e.nameHead...)
	buf = appendNNITLV(buf, 0x3a, seq)
	buf = append(buf, e.metaInfo...)
	buf = appendTLVHead(buf, 0x15, len(content))
	buf = append(buf, content...)
	buf = append(buf, e.sigInfo...)
	sig, err := e.signer.Sign(enc.Wire{buf[front:]})
	if err != nil {
		return nil, err
	}
	if len(sig) > e.sigEst {
		return nil, fmt.Errorf("signature of %d bytes, estimated %d", len(sig), e.sigEst)
	}
	buf = appendTLVHead(buf, 0x17, len(sig))
	buf = append(buf, sig...)
	inner := len(buf) - front
	hl := tlvHeadSize(inner)
	start := front - hl
	appendTLVHead(buf[start:start], 0x06, inner)
	return buf[start:], nil
}

// tlvSize is the size of a TLV of a one-byte type with a value of n bytes.
func tlvSize(n int) int { return tlvHeadSize(n) + n }

// tlvHeadSize is the size of the type (one byte) and length of a TLV whose
// value is n bytes.
func tlvHeadSize(n int) int { return 1 + enc.TLNum(n).EncodingLength() }

// appendTLVHead appends a one-byte type and the length n.
func appendTLVHead(b []byte, typ byte, n int) []byte {
	var t [9]byte
	l := enc.TLNum(n).EncodeInto(t[:])
	return append(append(b, typ), t[:l]...)
}

// appendNNITLV appends a TLV whose value is v as a NonNegativeInteger.
func appendNNITLV(b []byte, typ byte, v uint64) []byte {
	var t [8]byte
	l := enc.Nat(v).EncodeInto(t[:])
	return append(append(b, typ, byte(l)), t[:l]...)
}
