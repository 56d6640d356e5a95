package adapt

import "time"

// MinTrain is the fewest packets a probe train needs.
const MinTrain = 4

// TrainRate estimates the capacity of the path from a probe train: packets
// that left the publisher back to back (packets already published, asked
// for all at once) and arrived spread out by the narrowest link they
// crossed, the rest of the traffic on it included. Only the second half of
// the train counts: a token bucket (tbf, a policer) lets its first bytes
// through at the line's speed, and the rate that lasts shows after them.
// The rate is the bytes after the half's first packet over the time from
// its arrival to the last one's. sizes[i] is the size of the packet that
// arrived at arrivals[i]; arrivals are in order. ok is false for a train
// too short or too fast to measure (then the path is at least as fast as
// the sender could send).
//
// A FIFO bottleneck never delivers a train's second half faster than its
// first (a token bucket lets the first bytes through faster, not the
// last), but a busy receiver does: its arrival times are when it read
// the packets, and it reads some together (a train through a 2 Mbit/s
// bucket measured 1.3 Gbit/s). So the rate of the first half, measured
// the same way, bounds the second's.
func TrainRate(arrivals []time.Time, sizes []int) (bitsPerSecond float64, ok bool) {
	if len(arrivals) < MinTrain || len(arrivals) != len(sizes) {
		return 0, false
	}
	from := secondHalf(len(arrivals))
	rate, ok := spanRate(arrivals, sizes, from, len(arrivals)-1)
	if !ok {
		return 0, false
	}
	if first, ok := spanRate(arrivals, sizes, 0, from); ok && first < rate {
		return first, true
	}
	return rate, true
}

// spanRate is the bits of packets from+1..to over the time from packet
// from's arrival to packet to's (ok false: no time passed).
func spanRate(arrivals []time.Time, sizes []int, from, to int) (float64, bool) {
	span := arrivals[to].Sub(arrivals[from])
	if span <= 0 {
		return 0, false
	}
	bytes := 0
	for _, s := range sizes[from+1 : to+1] {
		bytes += s
	}
	return float64(bytes*8) / span.Seconds(), true
}

// KeptPace reports whether the path kept up with a paced train (sent[i]
// is when the Interest for the packet that arrived at arrivals[i] left):
// over the train's second half, each packet's delay (arrival minus
// sending) grew by at most a quarter of the time the half took to send,
// or 5 ms. Timers on a busy machine send a paced train unevenly, and the
// arrivals follow; the delay's growth is the queue the train built,
// whatever the unevenness. A path that carries less than the pace builds
// one: at half the pace, as much as the half took to send.
func KeptPace(sent, arrivals []time.Time) bool {
	if len(arrivals) < MinTrain || len(sent) != len(arrivals) {
		return false
	}
	from := secondHalf(len(arrivals))
	last := len(arrivals) - 1
	growth := arrivals[last].Sub(sent[last]) - arrivals[from].Sub(sent[from])
	return growth <= max(5*time.Millisecond, sent[last].Sub(sent[from])/4)
}

// secondHalf is the index of the first packet of a train of n (>=
// MinTrain) that counts: the second half, at least 3 packets.
func secondHalf(n int) int {
	return min(n/2, n-3)
}
