package proto

import (
	"crypto/sha256"
	"errors"
	"fmt"
)

// Per-frame signatures (docs/protocol.md 4.1).
//
// A video stream signs one packet per frame, not every packet: a packet
// that does not end a frame (RTP marker bit clear) is signed DigestSha256,
// and the next packet that ends one (or the 16th in a row) is signed
// Ed25519 and carries a manifest: the digests of the unsigned packets just
// before it, oldest first. Its ContentType is ContentTypeManifest and its
// content is
//
//	Manifest = 0xC9 L <16-octet digest>*   (k digests: seqs n-k .. n-1)
//	then the RTP packet
//
// A packet's digest is the first 16 octets of the SHA-256 of its signed
// portion (Name, MetaInfo, Content, SignatureInfo): for a DigestSha256 Data,
// the first half of its SignatureValue. A receiver believes an unsigned
// packet once a verified manifest lists its digest.

// ContentTypeManifest is the ContentType of a media packet whose content
// starts with a manifest: an application-specific value (the NDN packet
// format leaves 1024 and above to applications).
const ContentTypeManifest = 0x5045

// Manifest sizes.
const (
	DigestSize = 16
	// MaxUnsigned is the most unsigned packets in a row a publisher sends
	// (and so a manifest lists).
	MaxUnsigned = 15
	tlvManifest = 0xC9
)

// ErrBadManifest: a manifest packet's content is malformed.
var ErrBadManifest = errors.New("malformed manifest")

// Digest is the digest a manifest lists for a packet whose signed portion
// is covered.
func Digest(covered [][]byte) [DigestSize]byte {
	h := sha256.New()
	for _, b := range covered {
		h.Write(b)
	}
	var d [DigestSize]byte
	copy(d[:], h.Sum(nil))
	return d
}

// AppendManifest appends the manifest of digests, then rtp, to b.
func AppendManifest(b []byte, digests [][DigestSize]byte, rtp []byte) []byte {
	b = append(b, tlvManifest, byte(len(digests)*DigestSize)) // <= 240: one octet
	for _, d := range digests {
		b = append(b, d[:]...)
	}
	return append(b, rtp...)
}

// SplitManifest returns the digests and the RTP packet of a manifest
// packet's content. The digests alias content.
func SplitManifest(content []byte) (digests []byte, rtp []byte, err error) {
	if len(content) < 2 || content[0] != tlvManifest {
		return nil, nil, fmt.Errorf("%w: no manifest TLV", ErrBadManifest)
	}
	l := int(content[1])
	if l > MaxUnsigned*DigestSize || l%DigestSize != 0 || 2+l > len(content) {
		return nil, nil, fmt.Errorf("%w: %d octets of digests", ErrBadManifest, l)
	}
	return content[2 : 2+l], content[2+l:], nil
}
