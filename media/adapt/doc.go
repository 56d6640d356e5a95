// Package adapt decides, for one subscriber, which layer of a simulcast
// video to pull: the receiver-driven rate adaptation of docs/protocol.md
// (section 4.7). Everything here is pure: the caller (the daemon's layered
// remote stream) feeds it what its fetchers measured, with explicit times,
// and acts on its decision; tests drive it with a simulated link.
//
// The signals, all measured at the subscriber:
//
//   - Queueing delay. The publisher answers held Interests the moment a
//     packet exists, so a packet's arrival time minus its capture time (its
//     RTP timestamp on the stream's clock) is the one-way delay plus a
//     constant offset. The smallest value over a window is the empty path;
//     what is above it is queueing (DelayEstimator). A queue that grows
//     means the path carries less than what is sent.
//   - Loss: packets that needed a repair or were given up, per interval.
//   - Capacity: how fast a train of packets that left the publisher
//     back to back arrives (its dispersion at the bottleneck), from probe
//     trains of already published packets of the next layer up
//     (TrainEstimator).
//
// The decision (Chooser): go down one layer at once when the path is
// overused (queueing delay or loss above their thresholds); go up only
// after the path has been quiet for a hold time and a probe train says the
// next layer fits with headroom; a layer that failed soon after going up
// doubles the hold (up to a bound), so a link at its limit is not probed
// over and over.
package adapt
