package adapt

import "time"

// MinTrain is the fewest packets a probe train needs.
const MinTrain = 4

// TrainRate estimates the capacity of the path from a probe train: packets
// that left the publisher back to back (packets already published, asked
// for all at once) and arrived spread out by the narrowest link they
// crossed, the rest of the traffic on it included. The rate is the bytes
// after the first packet over the time from the first arrival to the last.
// sizes[i] is the size of the packet that arrived at arrivals[i]; arrivals
// are in order. ok is false for a train too short or too fast to measure
// (then the path is at least as fast as the sender could send).
func TrainRate(arrivals []time.Time, sizes []int) (bitsPerSecond float64, ok bool) {
	if len(arrivals) < MinTrain || len(arrivals) != len(sizes) {
		return 0, false
	}
	span := arrivals[len(arrivals)-1].Sub(arrivals[0])
	if span <= 0 {
		return 0, false
	}
	bytes := 0
	for _, s := range sizes[1:] {
		bytes += s
	}
	return float64(bytes*8) / span.Seconds(), true
}
