package media

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"sync/atomic"

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

// A room's media key changes when its owner removes a member (a new epoch,
// docs/protocol.md 4.9). A publisher seals each packet with the newest
// epoch's key from the packet on; its metadata names that epoch. The
// packets carry no epoch: a receiver opens a packet with the epoch that
// opened the stream's last one, and on failure tries the newest epoch it
// knows, then the one after and the one before the last (the GCM tag tells
// which key is right),
// so a rotation costs no byte per packet and no new boot.

// MediaKeys are the room's media keys by epoch (sec.Room). Epoch is read
// for every packet published: it must be cheap.
type MediaKeys interface {
	Epoch() uint64           // the newest epoch; 0: no key, publish in the clear
	Key(epoch uint64) []byte // nil when not known here
}

// StaticKey is one media key, epoch 1 (tests and benchmarks).
type StaticKey []byte

func (k StaticKey) Epoch() uint64 {
	if len(k) == 0 {
		return 0
	}
	return 1
}

func (k StaticKey) Key(epoch uint64) []byte {
	if epoch != 1 {
		return nil
	}
	return k
}

// gcmTag is the size of the tag sealing adds to each packet.
const gcmTag = 16

func newStreamAEAD(roomKey []byte, stream enc.Name, boot uint64) (cipher.AEAD, error) {
	info := append([]byte("peets media v1"), stream.Append(enc.NewTimestampComponent(boot)).Bytes()...)
	key, err := hkdf.Key(sha256.New, roomKey, nil, string(info), 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func nonceOf(seq uint64) []byte {
	var n [12]byte
	binary.BigEndian.PutUint64(n[4:], seq)
	return n[:]
}

// sealer seals a publisher's packets with the newest epoch's key (pubMu).
type sealer struct {
	keys   MediaKeys
	stream enc.Name
	boot   uint64
	epoch  atomic.Uint64 // the epoch sealing now, for the metadata
	aead   cipher.AEAD
}

// seal appends the sealed rtp of seq to dst, with the newest key.
func (s *sealer) seal(dst []byte, seq uint64, rtp []byte) ([]byte, error) {
	if e := s.keys.Epoch(); e != s.epoch.Load() || s.aead == nil {
		key := s.keys.Key(e)
		if key == nil {
			return nil, fmt.Errorf("%w: no media key for epoch %d", ErrConfig, e)
		}
		aead, err := newStreamAEAD(key, s.stream, s.boot)
		if err != nil {
			return nil, err
		}
		s.aead = aead
		s.epoch.Store(e)
	}
	return s.aead.Seal(dst, nonceOf(seq), rtp, nil), nil
}

// opener opens the packets of one stream boot (the fetcher's goroutine).
// The zero value with nil keys opens nothing: a sealed stream of a room
// whose media key this proxy does not have.
type opener struct {
	keys   MediaKeys
	stream enc.Name
	boot   uint64
	good   uint64 // the epoch that opened the last packet
	aeads  map[uint64]cipher.AEAD
}

func newOpener(keys MediaKeys, stream enc.Name, boot, epoch uint64) *opener {
	return &opener{keys: keys, stream: stream, boot: boot, good: epoch, aeads: map[uint64]cipher.AEAD{}}
}

// open returns the RTP packet sealed as ct for seq.
func (o *opener) open(seq uint64, ct []byte) ([]byte, error) {
	if o.keys == nil {
		return nil, fmt.Errorf("%w: sealed, and no media key for the room", ErrVerification)
	}
	tried := [4]uint64{}
	for i, e := range [4]uint64{o.good, o.keys.Epoch(), o.good + 1, o.good - 1} {
		if e == 0 || slices.Contains(tried[:i], e) {
			continue
		}
		tried[i] = e
		aead := o.aead(e)
		if aead == nil {
			continue
		}
		if pt, err := aead.Open(nil, nonceOf(seq), ct, nil); err == nil {
			o.good = e
			return pt, nil
		}
	}
	return nil, fmt.Errorf("%w: does not decrypt with the room's media keys (epoch %d, newest known %d)", ErrVerification, o.good, o.keys.Epoch())
}

// aead is epoch e's cipher of the stream boot, nil when its key is not known.
func (o *opener) aead(e uint64) cipher.AEAD {
	if a, ok := o.aeads[e]; ok {
		return a
	}
	key := o.keys.Key(e)
	if key == nil {
		return nil // not cached: the key may come with a rekey
	}
	a, err := newStreamAEAD(key, o.stream, o.boot)
	if err != nil {
		return nil
	}
	if len(o.aeads) >= 8 {
		clear(o.aeads)
	}
	o.aeads[e] = a
	return a
}
