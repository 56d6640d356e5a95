package media

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	enc "github.com/named-data/ndnd/std/encoding"
)

// Media encryption (docs/protocol.md 4.8): the RTP packet a media Data
// carries is sealed with AES-256-GCM under a key of its own stream and boot,
// derived from the room's media key, so forwarders and caches hold
// ciphertext; names stay readable for forwarding.
//
//	key   = HKDF-SHA256(secret = room media key, salt = none,
//	                    info = "peets media v1" || TLV of the name S/t=<boot>, 32 octets)
//	nonce = 4 zero octets || seq as 8 octets, big-endian
//	content (or what follows a manifest) = AES-GCM(key, nonce, RTP packet, no AAD):
//	        the ciphertext, then the 16-octet tag
//
// A key serves one stream boot, whose seqs never repeat, so no nonce is used
// twice; a packet moved to another name does not open.

// KeyEpoch is the media key epoch a publisher announces in its stream
// metadata when it encrypts (StreamMeta.KeyEpoch).
const KeyEpoch = 1

// gcmTag is the size of the tag sealing adds to each packet.
const gcmTag = 16

// mediaCipher seals and opens the packets of one stream boot. The zero
// value opens nothing: a sealed stream of a room whose media key this proxy
// does not have.
type mediaCipher struct{ aead cipher.AEAD }

func newMediaCipher(roomKey []byte, stream enc.Name, boot uint64) (*mediaCipher, error) {
	info := append([]byte("peets media v1"), stream.Append(enc.NewTimestampComponent(boot)).Bytes()...)
	key, err := hkdf.Key(sha256.New, roomKey, nil, string(info), 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &mediaCipher{aead: aead}, nil
}

func nonceOf(seq uint64) []byte {
	var n [12]byte
	binary.BigEndian.PutUint64(n[4:], seq)
	return n[:]
}

// seal appends the sealed rtp of seq to dst.
func (c *mediaCipher) seal(dst []byte, seq uint64, rtp []byte) []byte {
	return c.aead.Seal(dst, nonceOf(seq), rtp, nil)
}

// open returns the RTP packet sealed as ct for seq.
func (c *mediaCipher) open(seq uint64, ct []byte) ([]byte, error) {
	if c.aead == nil {
		return nil, fmt.Errorf("%w: sealed, and no media key for the room", ErrVerification)
	}
	pt, err := c.aead.Open(nil, nonceOf(seq), ct, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: does not decrypt with the room's media key", ErrVerification)
	}
	return pt, nil
}
