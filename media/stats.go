package media

import (
	"sync/atomic"

	"github.com/peets/peets/internal/metric"
)

// PublisherStats is a snapshot of a Publisher's counters.
type PublisherStats struct {
	Boot      uint64 `json:"boot_us" metric:"gauge"`
	Latest    uint64 `json:"latest_seq" metric:"gauge"`   // newest seq, 0 if none
	KeySeq    uint64 `json:"keyframe_seq" metric:"gauge"` // newest keyframe seq, 0 if none
	Published uint64 `json:"packets_published"`           // packets published (signed once each)
	Keyframes uint64 `json:"keyframe_packets_published"`  // keyframe packets published
	BytesIn   uint64 `json:"rtp_bytes_in"`                // RTP bytes in
	BytesOut  uint64 `json:"bytes_out"`                   // Data wire bytes sent (all replies, all Interests)
	// MediaBytesOut is the part of BytesOut that carried media packets
	// (ServedRing + HeldAnswered Data; not metadata, "gone" or control).
	MediaBytesOut uint64 `json:"media_bytes_out"`

	ServedRing    uint64 `json:"interests_served_from_ring"`        // Interests answered at once from the ring
	Held          uint64 `json:"interests_held"`                    // Interests held for a future seq
	HeldAnswered  uint64 `json:"held_interests_answered"`           // held Interests answered by Publish
	HeldNow       uint64 `json:"interests_held_now" metric:"gauge"` // Interests held right now
	Expired       uint64 `json:"held_interests_expired"`            // held Interests expired unanswered
	HeldDropped   uint64 `json:"interests_not_held_table_full"`     // Interests not held because the table was full
	TooOld        uint64 `json:"interests_too_old"`                 // Interests for an evicted seq (answered "gone")
	BeyondHorizon uint64 `json:"interests_beyond_horizon"`          // Interests too far ahead (ignored)
	StaleBoot     uint64 `json:"interests_stale_boot"`              // Interests for another boot (answered "gone" if older)
	Malformed     uint64 `json:"interests_malformed"`               // Interests with a name that does not parse
	Dropped       uint64 `json:"interests_dropped_test_hook"`       // Interests ignored by the test hook
	MetaServed    uint64 `json:"meta_served"`                       // meta Interests answered
	GoneSent      uint64 `json:"gone_sent"`                         // "gone" answers sent
	ControlDrops  uint64 `json:"control_drops"`                     // control answers dropped (worker queue full)

	PLIReceived      uint64 `json:"keyframe_requests_received"`   // keyframe requests received
	KeyframeRequests uint64 `json:"keyframe_requests_passed_on"`  // OnKeyframeRequest calls
	PLISuppressed    uint64 `json:"keyframe_requests_suppressed"` // requests not passed on (rate limit or a newer keyframe exists)

	SignErrors  uint64 `json:"sign_errors"`
	ReplyErrors uint64 `json:"reply_errors"`
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
	PLIMalformed uint64 `json:"keyframe_requests_malformed"`      // keyframe requests with a bad name
	PLIUnknown   uint64 `json:"keyframe_requests_unknown_stream"` // keyframe requests for a stream not published here
	ControlDrops uint64 `json:"control_drops"`                    // control jobs dropped (worker queue full)
	Panics       uint64 `json:"panics"`                           // panics recovered in its handlers and its worker's jobs
}

// FetcherStats is a snapshot of a Fetcher's counters and state.
type FetcherStats struct {
	Boot       uint64 `json:"boot_us" metric:"gauge"`               // publisher boot being fetched, 0 before discovery
	CurrentSeq uint64 `json:"current_seq" metric:"gauge"`           // last seq delivered or skipped
	Latest     uint64 `json:"latest_seq" metric:"gauge"`            // newest seq known to exist
	KeySeq     uint64 `json:"keyframe_seq" metric:"gauge"`          // newest keyframe seq known
	Window     int    `json:"window_interests"`                     // Interests kept outstanding ahead
	Bitrate    uint64 `json:"publisher_bitrate_bps" metric:"gauge"` // the publisher's measured bits/s (its newest metadata), 0 if unknown

	Received  uint64 `json:"packets_received"`  // media Data accepted (verified, well formed)
	Delivered uint64 `json:"packets_delivered"` // packets passed to OnPacket
	// BytesDelivered: the RTP bytes of the packets delivered.
	BytesDelivered uint64 `json:"bytes_delivered"`
	// MarkersDelivered: delivered packets with the RTP marker bit: for
	// video, the last packet of each frame (so frames delivered); for
	// Opus, the first of each talkspurt.
	MarkersDelivered uint64 `json:"markers_delivered"`
	Lost             uint64 `json:"packets_lost"` // seqs skipped (hole after the reorder wait, or gone)
	Holes            uint64 `json:"holes"`        // seqs found missing (a later one arrived first): reordered, repaired, late or lost
	// Reordered: holes filled by the answer to the Interest first sent for
	// them (before any retransmission, or too soon after one to be its
	// answer): a later packet had only overtaken the packet on the way (a forwarder with several forwarding threads, as ndnd fw,
	// reorders a stream's Data), so not a loss. Holes - Reordered are the
	// packets that went missing.
	Reordered      uint64 `json:"reordered"`
	Duplicates     uint64 `json:"duplicates"`      // Data for a seq already received or delivered (e.g. both answers of a retransmission)
	Late           uint64 `json:"late"`            // Data for a seq skipped already: it came too late to be used
	VerifyFailures uint64 `json:"verify_failures"` // answers that failed verification (or whose verification timed out)
	Malformed      uint64 `json:"malformed"`       // bad name, content type, content or size
	Reasked        uint64 `json:"reasked"`         // Interests re-expressed after a bad answer (Malformed or VerifyFailures)
	Retransmitted  uint64 `json:"retransmitted"`   // Interests re-expressed for a missing packet
	Refreshed      uint64 `json:"refreshed"`       // Interests re-expressed after expiring unanswered while idle, or by Refresh
	Refreshes      uint64 `json:"refreshes"`       // Refresh calls acted on
	Timeouts       uint64 `json:"timeouts"`
	Nacks          uint64 `json:"nacks"`
	Gone           uint64 `json:"gone"`    // "gone" answers from the publisher
	Resyncs        uint64 `json:"resyncs"` // jumps forward (to a keyframe) within a boot
	// KeyframesAwaited: starts at a keyframe asked for (AwaitKeyframe)
	KeyframesAwaited uint64 `json:"keyframes_awaited"`
	Restarts         uint64 `json:"restarts"` // publisher restarts followed (new boot)
	MetaQueries      uint64 `json:"meta_queries"`
	RTTProbes        uint64 `json:"rtt_probes"` // metadata queries sent to measure the RTT of a flowing stream
	PLISent          uint64 `json:"keyframe_requests_sent"`
	EventsDropped    uint64 `json:"events_dropped"` // callbacks dropped because the event queue was full
	Panics           uint64 `json:"panics"`         // panics recovered while handling an answer or in OnPacket

	FirstPacket metric.Millis `json:"first_packet_ms"` // from Run to the first OnPacket
	SRTT        metric.Millis `json:"srtt_ms"`         // smoothed RTT of Interests for packets that existed (RFC 6298)
	RTTVar      metric.Millis `json:"rttvar_ms"`       // its mean deviation
	RTO         metric.Millis `json:"rto_ms"`          // the wait before asking again for a missing packet
	// ReorderWindow: the longest a packet was seen overtaken lately (a
	// hole filled by its first Interest's answer): the first
	// retransmission of a hole waits at least this (RACK's reordering
	// window, RFC 8985), so a reordering path is not asked twice.
	ReorderWindow metric.Millis `json:"reorder_window_ms"`
	Jitter        metric.Millis `json:"jitter_ms"` // RFC 3550 interarrival jitter estimate
	// RTT: the RTT samples (Interest to Data for packets that existed), by bucket.
	RTT metric.Hist `json:"rtt_ms"`
	// BufferDelay: how long each delivered packet waited, verified, for
	// the packets before it (the proxy's reorder buffer: holes being
	// repaired or given up).
	BufferDelay metric.Hist `json:"buffer_delay_ms"`
}
