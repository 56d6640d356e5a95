// Package media carries RTP streams over NDN.
//
// A Publisher (one per local stream) turns each RTP packet into ONE signed
// Data S/t=<boot>/seq=<n> whose content is the RTP packet, byte for byte,
// keeps the recent ones in a ring and answers Interests from it; an Interest
// for a packet not yet produced (within a horizon) is held and answered the
// moment the packet is published. Forwarders merge the Interests of all
// subscribers and cache the Data, so each packet leaves its publisher once.
// A Producer owns the handlers of one participant: the keyframe-request
// (PLI) handler is shared by all its streams.
//
// Media Data are encoded by the publisher itself (datawire.go): name,
// content, SignatureInfo and signature only, no MetaInfo (see proto/media.go
// for the wire format and the overhead arithmetic).
//
// A Fetcher (one per remote stream) discovers the stream with a metadata
// Interest, starts at its latest keyframe, keeps a window of Interests
// outstanding for upcoming packets (expressed in batches aligned on
// multiples of InterestBatch, so that the publisher gets them in bursts and
// all subscribers' Interests still merge in forwarders), re-expresses lost
// ones, verifies every Data and delivers RTP packets in order with a bounded
// reorder wait. Refresh re-expresses the whole window at once, for when the
// forwarder connection comes back. Only Data that verify move a fetcher:
// an answer that fails (an impostor's, registered for a longer prefix than
// the publisher's) changes nothing, and its seq is asked again after a
// back-off, with MustBeFresh (fetcher_recv.go, unverified). A panic while
// handling one packet is recovered at that boundary and counted
// (recover.go).
//
// Names are built and parsed by package proto (names.go, media.go). Every
// prefix kept here is a Clone (capacity == length): ndnd's Name.Append
// writes into spare capacity of its receiver, so concurrent Appends to one
// shared name with spare capacity race and can corrupt each other.
//
// Concurrency: ndnd runs all Interest handlers and Express callbacks on one
// engine goroutine (timeouts on timer goroutines). Code here never waits
// there: handlers answer from data at hand or keep the reply function, and
// signing runs on the publisher's caller or the producer's worker. A
// fetcher handles an arriving Data (verification, in-order delivery to
// OnPacket, the next Interests) right on the goroutine that brought it,
// normally the engine's: at a real-time packet rate a proxy is idle between
// packets and a handoff to another goroutine costs a thread wake-up, which
// costs more CPU than the handling. Its state is behind a mutex that is only
// ever tried from callbacks (whoever holds it handles what was queued
// meanwhile), so no callback waits; its deadlines are met by one timer armed
// for the next one.
package media

import (
	"errors"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
)

// Signer signs Data packets (an Ed25519 identity key in practice).
type Signer = ndn.Signer

// Verifier checks a Data packet published by owner (a participant prefix).
// It calls cb exactly once, either before returning or later from another
// goroutine (e.g. after fetching a certificate); cb must not block. It must
// be safe for concurrent use.
type Verifier interface {
	Verify(owner enc.Name, d ndn.Data, covered enc.Wire, cb func(error))
}

// Sentinel errors.
var (
	ErrClosed       = errors.New("media: closed")
	ErrConfig       = errors.New("media: bad configuration")
	ErrOversized    = errors.New("media: packet too large")
	ErrMalformed    = errors.New("media: malformed packet")
	ErrNotUnder     = errors.New("media: name not under stream")
	ErrWrongBoot    = errors.New("media: unexpected boot")
	ErrUnknown      = errors.New("media: unknown stream")
	ErrVerification = errors.New("media: verification failed")
	ErrProbe        = errors.New("media: probe failed")
)

// MaxRTPSize is the largest RTP packet accepted by default: one Ethernet MTU.
const MaxRTPSize = 1500
