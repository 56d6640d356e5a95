package media

import (
	"sync/atomic"
	"time"
)

// PublisherStats is a snapshot of a Publisher's counters.
type PublisherStats struct {
	Boot      uint64
	Latest    uint64 // newest seq, 0 if none
	KeySeq    uint64 // newest keyframe seq, 0 if none
	Published uint64 // packets published (signed once each)
	Keyframes uint64 // keyframe packets published
	BytesIn   uint64 // RTP bytes in
	BytesOut  uint64 // Data wire bytes sent (all replies, all Interests)
	// MediaBytesOut is the part of BytesOut that carried media packets
	// (ServedRing + HeldAnswered Data; not metadata, "gone" or control).
	MediaBytesOut uint64

	ServedRing    uint64 // Interests answered at once from the ring
	Held          uint64 // Interests held for a future seq
	HeldAnswered  uint64 // held Interests answered by Publish
	HeldNow       uint64 // Interests held right now
	Expired       uint64 // held Interests expired unanswered
	HeldDropped   uint64 // Interests not held because the table was full
	TooOld        uint64 // Interests for an evicted seq (answered "gone")
	BeyondHorizon uint64 // Interests too far ahead (ignored)
	StaleBoot     uint64 // Interests for another boot (answered "gone" if older)
	Malformed     uint64 // Interests with a name that does not parse
	Dropped       uint64 // Interests ignored by the test hook
	MetaServed    uint64 // meta Interests answered
	GoneSent      uint64 // "gone" answers sent
	ControlDrops  uint64 // control answers dropped (worker queue full)

	PLIReceived      uint64 // keyframe requests received
	KeyframeRequests uint64 // OnKeyframeRequest calls
	PLISuppressed    uint64 // requests not passed on (rate limit or a newer keyframe exists)

	SignErrors  uint64
	ReplyErrors uint64
}

// pubCounters are the publisher's atomic counters.
type pubCounters struct {
	published, keyframes, bytesIn, bytesOut              atomic.Uint64
	mediaBytesOut                                        atomic.Uint64
	servedRing, held, heldAnswered, expired, heldDropped atomic.Uint64
	tooOld, beyondHorizon, staleBoot, malformed, dropped atomic.Uint64
	metaServed, goneSent, controlDrops                   atomic.Uint64
	pliReceived, keyframeRequests, pliSuppressed         atomic.Uint64
	signErrors, replyErrors                              atomic.Uint64
}

func (c *pubCounters) snapshot() PublisherStats {
	return PublisherStats{
		Published:        c.published.Load(),
		Keyframes:        c.keyframes.Load(),
		BytesIn:          c.bytesIn.Load(),
		BytesOut:         c.bytesOut.Load(),
		MediaBytesOut:    c.mediaBytesOut.Load(),
		ServedRing:       c.servedRing.Load(),
		Held:             c.held.Load(),
		HeldAnswered:     c.heldAnswered.Load(),
		Expired:          c.expired.Load(),
		HeldDropped:      c.heldDropped.Load(),
		TooOld:           c.tooOld.Load(),
		BeyondHorizon:    c.beyondHorizon.Load(),
		StaleBoot:        c.staleBoot.Load(),
		Malformed:        c.malformed.Load(),
		Dropped:          c.dropped.Load(),
		MetaServed:       c.metaServed.Load(),
		GoneSent:         c.goneSent.Load(),
		ControlDrops:     c.controlDrops.Load(),
		PLIReceived:      c.pliReceived.Load(),
		KeyframeRequests: c.keyframeRequests.Load(),
		PLISuppressed:    c.pliSuppressed.Load(),
		SignErrors:       c.signErrors.Load(),
		ReplyErrors:      c.replyErrors.Load(),
	}
}

// ProducerStats counts what a Producer's shared handlers saw.
type ProducerStats struct {
	PLIMalformed uint64 // keyframe requests with a bad name
	PLIUnknown   uint64 // keyframe requests for a stream not published here
	ControlDrops uint64 // control jobs dropped (worker queue full)
	Panics       uint64 // panics recovered in its handlers and its worker's jobs
}

// FetcherStats is a snapshot of a Fetcher's counters and state.
type FetcherStats struct {
	Boot       uint64 // publisher boot being fetched, 0 before discovery
	CurrentSeq uint64 // last seq delivered or skipped
	Latest     uint64 // newest seq known to exist
	KeySeq     uint64 // newest keyframe seq known
	Window     int    // Interests kept outstanding ahead
	Bitrate    uint64 // the publisher's measured bits/s (its newest metadata), 0 if unknown

	Received       uint64 // media Data accepted (verified, well formed)
	Delivered      uint64 // packets passed to OnPacket
	Lost           uint64 // seqs skipped (hole after the reorder wait, or gone)
	Holes          uint64 // seqs found missing (a later one arrived first): repaired, late or lost
	Duplicates     uint64 // Data for a seq already received or delivered (e.g. both answers of a retransmission)
	Late           uint64 // Data for a seq skipped already: it came too late to be used
	VerifyFailures uint64 // answers that failed verification (or whose verification timed out)
	Malformed      uint64 // bad name, content type, content or size
	Reasked        uint64 // Interests re-expressed after a bad answer (Malformed or VerifyFailures)
	Retransmitted  uint64 // Interests re-expressed for a missing packet
	Refreshed      uint64 // Interests re-expressed after expiring unanswered while idle, or by Refresh
	Refreshes      uint64 // Refresh calls acted on
	Timeouts       uint64
	Nacks          uint64
	Gone           uint64 // "gone" answers from the publisher
	Resyncs        uint64 // jumps forward (to a keyframe) within a boot
	// KeyframesAwaited: starts at a keyframe asked for (AwaitKeyframe)
	KeyframesAwaited uint64
	Restarts         uint64 // publisher restarts followed (new boot)
	MetaQueries      uint64
	RTTProbes        uint64 // metadata queries sent to measure the RTT of a flowing stream
	PLISent          uint64
	EventsDropped    uint64 // callbacks dropped because the event queue was full
	Panics           uint64 // panics recovered while handling an answer or in OnPacket

	FirstPacket time.Duration // from Run to the first OnPacket
	SRTT        time.Duration // smoothed RTT of Interests for packets that existed (RFC 6298)
	RTTVar      time.Duration // its mean deviation
	RTO         time.Duration // the wait before asking again for a missing packet
	Jitter      time.Duration // RFC 3550 interarrival jitter estimate
}
